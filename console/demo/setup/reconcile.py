"""Registers the demo ledger (console/demo/schema.py) as a ledger source (idempotent)."""

from __future__ import annotations

from urllib.parse import urlsplit

DEMO_SOURCE_NAME = "demo ledger"
DEMO_MAPPING = {
    "accounts_table": "accounts",
    "account_key": "id",
    "balance_column": "balance",
    "currency_column": "currency",
    "opening_balance_column": "opening_balance",
    "version_column": "version",
    "entries_table": "entries",
    "entry_account_column": "account_id",
    "entry_amount_column": "amount",
    "entry_time_column": "business_time",
}
# The demo ledger's view of the bank's books per cut-off date (console/demo/schema.py).
DEMO_COUNTERPART = {"counterpart_table": "bank_books", "counterpart_date_column": "as_of"}


def setup_demo(command) -> None:
    """Create or refresh the demo ledger source and its nightly schedule."""
    from django.conf import settings

    from verifiers.models import LedgerSource
    from verifiers.reconcile import services

    url = settings.DEMO_LEDGER_URL
    # A DSN with a password stays in the environment (the model refuses secrets).
    connection = {"dsn": "", "dsn_env_var": "DEMO_LEDGER_URL"} if urlsplit(url).password else {
        "dsn": url, "dsn_env_var": ""}
    source = LedgerSource.objects.filter(name=DEMO_SOURCE_NAME).first() or LedgerSource(name=DEMO_SOURCE_NAME)
    for field, value in {**DEMO_MAPPING, **DEMO_COUNTERPART, **connection}.items():
        setattr(source, field, value)
    # The demo world starts after setup_demo, so the ledger may not exist yet: no live check.
    services.save_ledger_source(source=source, check_ledger=False)
    command.stdout.write(f"reconciliation: ledger source {source.name!r} -> {url.split('@')[-1]}")
