"""Demo configuration of the write verifier: the demo ledgers as verified databases, and their table rules.

The demo ledger (console/demo/schema.py) numbers entries and audit rows from sequences, so the
candidate's rolled-back shadow run and the legacy's real commit get different ids: those rows
are matched on their natural keys instead, and server-generated columns are not compared. The
same holds for the MariaDB fx deposit ledger (console/demo/fx_ledger.py), the second verified
database, whose entries are matched on the write's request_id.
"""

from __future__ import annotations

from django.conf import settings

from console.demo.setup.reconcile import connection_fields
from verifiers.models import VerifiedDatabase, WriteTableRule

DEMO_DATABASE_NAME = "demo ledger"
FX_DATABASE_NAME = "demo fx deposits"  # = console.demo.fx_ledger.FX_VERIFIED_DATABASE

DEMO_TABLE_RULES: dict[str, dict] = {
    "accounts": {"key_columns": ["id"], "version_column": "version", "excluded_columns": ["updated_at"]},
    "transfers": {"key_columns": ["id"], "version_column": "", "excluded_columns": ["created_at"]},
    "entries": {"key_columns": ["transfer_id", "account_id"], "version_column": "",
                "excluded_columns": ["id", "created_at", "business_time"]},
    "audit_log": {"key_columns": ["transfer_id", "action"], "version_column": "",
                  "excluded_columns": ["id", "created_at"]},
    # The fx deposit ledger's tables (MariaDB).
    "deposit_accounts": {"key_columns": ["id"], "version_column": "version", "excluded_columns": ["updated_at"]},
    "deposit_entries": {"key_columns": ["request_id"], "version_column": "",
                        "excluded_columns": ["id", "business_time"]},
}


def setup_demo(command) -> None:
    """Idempotent: create or refresh the demo's verified database and table rules."""
    dsn = settings.DEMO_LEDGER_URL
    VerifiedDatabase.objects.update_or_create(
        name=DEMO_DATABASE_NAME,
        defaults={"dsn": dsn, "dsn_env_var": "", "statement_timeout_ms": 2000, "commit_delay_ms": 200,
                  "capture_ttl_s": 120, "enabled": True},
    )
    databases = [DEMO_DATABASE_NAME]
    fx_url = settings.DEMO_FX_LEDGER_URL
    if fx_url:  # the fx writers name it in their captures; reconcile's step creates the ledger
        VerifiedDatabase.objects.update_or_create(
            name=FX_DATABASE_NAME,
            defaults={**connection_fields(fx_url, "DEMO_FX_LEDGER_URL"), "statement_timeout_ms": 2000,
                      "commit_delay_ms": 200, "capture_ttl_s": 120, "enabled": True},
        )
        databases.append(FX_DATABASE_NAME)
    for table, fields in DEMO_TABLE_RULES.items():
        WriteTableRule.objects.update_or_create(table=table, defaults={**fields, "rules": {}})
    command.stdout.write(f"write verifier: verified databases {', '.join(map(repr, databases))} and "
                         f"{len(DEMO_TABLE_RULES)} table rules")
