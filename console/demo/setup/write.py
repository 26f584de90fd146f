"""Demo configuration of the write verifier: the demo ledgers as verified databases, and their table rules.

The demo ledger (console/demo/schema.py) numbers entries and audit rows from sequences, so the
candidate's rolled-back shadow run and the legacy's real commit get different ids: those rows
are matched on their natural keys instead, and server-generated columns are not compared. The
same holds for the MariaDB fx deposit ledger (console/demo/fx_ledger.py), the second verified
database, whose entries are matched on the write's request_id.
"""

from __future__ import annotations

from django.conf import settings

from console.demo import FX_MIGRATION, WON_MIGRATION
from console.demo.setup.migrations import demo_migration
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
}
# The fx deposit ledger's tables (MariaDB), rules of the fx migration.
FX_TABLE_RULES: dict[str, dict] = {
    "deposit_accounts": {"key_columns": ["id"], "version_column": "version", "excluded_columns": ["updated_at"]},
    "deposit_entries": {"key_columns": ["request_id"], "version_column": "",
                        "excluded_columns": ["id", "business_time"]},
}


def setup_demo(command) -> None:
    """Idempotent: create or refresh the demo's verified database and table rules."""
    dsn = settings.DEMO_LEDGER_URL
    won, fx = demo_migration(WON_MIGRATION), demo_migration(FX_MIGRATION)
    VerifiedDatabase.objects.update_or_create(
        migration=won, name=DEMO_DATABASE_NAME,
        defaults={"dsn": dsn, "dsn_env_var": "", "statement_timeout_ms": 2000, "commit_delay_ms": 200,
                  "capture_ttl_s": 120, "enabled": True},
    )
    databases = [DEMO_DATABASE_NAME]
    fx_url = settings.DEMO_FX_LEDGER_URL
    if fx_url:  # the fx writers name it in their captures; reconcile's step creates the ledger
        VerifiedDatabase.objects.update_or_create(
            migration=fx, name=FX_DATABASE_NAME,
            defaults={**connection_fields(fx_url, "DEMO_FX_LEDGER_URL"), "statement_timeout_ms": 2000,
                      "commit_delay_ms": 200, "capture_ttl_s": 120, "enabled": True},
        )
        databases.append(FX_DATABASE_NAME)
    for migration, rules in ((won, DEMO_TABLE_RULES), (fx, FX_TABLE_RULES)):
        for table, fields in rules.items():
            WriteTableRule.objects.update_or_create(migration=migration, table=table,
                                                    defaults={**fields, "rules": {}})
    command.stdout.write(f"write verifier: verified databases {', '.join(map(repr, databases))} and "
                         f"{len(DEMO_TABLE_RULES) + len(FX_TABLE_RULES)} table rules")
