"""Demo configuration of the write verifier: the demo ledger as verified database, and its table rules.

The demo ledger (console/demo/schema.py) numbers entries and audit rows from sequences, so the
candidate's rolled-back shadow run and the legacy's real commit get different ids: those rows
are matched on their natural keys instead, and server-generated columns are not compared.
"""

from __future__ import annotations

from django.conf import settings

from verifiers.models import VerifiedDatabase, WriteTableRule

DEMO_DATABASE_NAME = "demo ledger"

DEMO_TABLE_RULES: dict[str, dict] = {
    "accounts": {"key_columns": ["id"], "version_column": "version", "excluded_columns": ["updated_at"]},
    "transfers": {"key_columns": ["id"], "version_column": "", "excluded_columns": ["created_at"]},
    "entries": {"key_columns": ["transfer_id", "account_id"], "version_column": "",
                "excluded_columns": ["id", "created_at", "business_time"]},
    "audit_log": {"key_columns": ["transfer_id", "action"], "version_column": "",
                  "excluded_columns": ["id", "created_at"]},
}


def setup_demo(command) -> None:
    """Idempotent: create or refresh the demo's verified database and table rules."""
    dsn = settings.DEMO_LEDGER_URL
    VerifiedDatabase.objects.update_or_create(
        name=DEMO_DATABASE_NAME,
        defaults={"dsn": dsn, "dsn_env_var": "", "statement_timeout_ms": 2000, "commit_delay_ms": 200,
                  "capture_ttl_s": 120, "enabled": True},
    )
    for table, fields in DEMO_TABLE_RULES.items():
        WriteTableRule.objects.update_or_create(table=table, defaults={**fields, "rules": {}})
    command.stdout.write(f"write verifier: verified database {DEMO_DATABASE_NAME!r} and {len(DEMO_TABLE_RULES)} table rules")
