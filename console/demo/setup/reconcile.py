"""Registers the demo ledgers as ledger sources (idempotent): the PostgreSQL demo ledger
(console/demo/schema.py) and the MariaDB fx deposit ledger (console/demo/fx_ledger.py), which
this step also creates and seeds when missing. Both are reconciled nightly at 00:00 Seoul."""

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


FX_SOURCE_NAME = "demo fx deposits"
FX_MAPPING = {
    "accounts_table": "deposit_accounts",
    "account_key": "id",
    "balance_column": "balance",
    "currency_column": "currency",
    "currency_code": "",
    "opening_balance_column": "opening_balance",
    "version_column": "version",
    "entries_table": "deposit_entries",
    "entry_account_column": "account_id",
    "entry_amount_column": "amount",
    "entry_time_column": "business_time",
    # DATETIME business times are Seoul wall times.
    "business_time_zone": "Asia/Seoul",
}


def connection_fields(url: str, env_var: str) -> dict[str, str]:
    # A DSN with a password stays in the environment (the model refuses secrets).
    return {"dsn": "", "dsn_env_var": env_var} if urlsplit(url).password else {"dsn": url, "dsn_env_var": ""}


def setup_demo(command) -> None:
    """Create or refresh both demo ledger sources and their nightly schedules."""
    setup_postgresql_ledger(command)
    setup_fx_ledger(command)


def setup_fx_ledger(command) -> None:
    """Create the MariaDB fx deposit ledger if missing and register it; without a reachable
    server, say so in one sentence and leave the rest of the demo as it is."""
    from django.conf import settings

    from console.demo import DemoWorldError
    from console.demo.fx_ledger import init_fx_ledger
    from verifiers.models import LedgerSource
    from verifiers.reconcile import services

    url = settings.DEMO_FX_LEDGER_URL
    try:
        summary = init_fx_ledger(url)
    except DemoWorldError as exc:
        command.stdout.write(f"reconciliation: no fx deposit ledger, {exc}; the rest of the demo is set up.")
        return
    source = LedgerSource.objects.filter(name=FX_SOURCE_NAME).first() or LedgerSource(name=FX_SOURCE_NAME)
    for field, value in {**FX_MAPPING, **DEMO_COUNTERPART, **connection_fields(url, "DEMO_FX_LEDGER_URL")}.items():
        setattr(source, field, value)
    services.save_ledger_source(source=source)  # the ledger exists now: check it live
    command.stdout.write(f"reconciliation: ledger source {source.name!r} -> {url.split('@')[-1]} "
                         f"({summary.accounts} accounts, {summary.entries} entries)")


def setup_postgresql_ledger(command) -> None:
    """Create or refresh the PostgreSQL demo ledger source and its nightly schedule."""
    from django.conf import settings

    from verifiers.models import LedgerSource
    from verifiers.reconcile import services

    url = settings.DEMO_LEDGER_URL
    connection = connection_fields(url, "DEMO_LEDGER_URL")
    source = LedgerSource.objects.filter(name=DEMO_SOURCE_NAME).first() or LedgerSource(name=DEMO_SOURCE_NAME)
    for field, value in {**DEMO_MAPPING, **DEMO_COUNTERPART, **connection}.items():
        setattr(source, field, value)
    # The demo world starts after setup_demo, so the ledger may not exist yet: no live check.
    services.save_ledger_source(source=source, check_ledger=False)
    command.stdout.write(f"reconciliation: ledger source {source.name!r} -> {url.split('@')[-1]}")
