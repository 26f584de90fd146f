"""Reads of the reconciliation part: mappings, counterparts, runs and their differences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet

from verifiers.models import AccountDifference, Counterpart, LedgerSource, ReconciliationRun
from verifiers.reconcile.balances import LedgerMapping, mapping_from_dict, zone

MAPPING_FIELDS = (
    "accounts_table", "account_key", "balance_column", "currency_column", "entries_table",
    "entry_account_column", "entry_amount_column", "entry_time_column",
    "opening_balance_column", "version_column", "currency_code", "business_time_zone",
)


def mapping_dict_for(source: LedgerSource) -> dict[str, str]:
    """The source's mapping fields as the engine's dict (blank optional columns left out)."""
    return {name: getattr(source, name) for name in MAPPING_FIELDS if getattr(source, name)}


def mapping_for(source: LedgerSource) -> LedgerMapping:
    """The engine's LedgerMapping of a source (raises balances.MappingError when malformed)."""
    return mapping_from_dict(mapping_dict_for(source))


def cutoff_date_of(source: LedgerSource, cutoff: datetime) -> date:
    """The date a counterpart for this cut-off is filed under: the cut-off's local date."""
    return cutoff.astimezone(zone(source.time_zone)).date()


def counterpart_totals(source: LedgerSource, cutoff_date: date) -> dict[str, Decimal]:
    """{currency: total} of the counterpart for one cut-off date ({} when none is known)."""
    return {
        row.currency: row.total
        for row in Counterpart.objects.filter(source=source, cutoff_date=cutoff_date)
    }


def counterparts_of(source: LedgerSource | None = None, *,
                    migration_ids: Sequence[int] | None = None) -> QuerySet[Counterpart]:
    """Counterparts, newest cut-off first: of one source, of those migrations' sources, or all."""
    rows = Counterpart.objects.select_related("source").order_by("-cutoff_date", "source__name", "currency")
    if migration_ids is not None:
        rows = rows.filter(source__migration_id__in=migration_ids)
    return rows.filter(source=source) if source else rows


def run_history(source: LedgerSource | None = None, *,
                migration_ids: Sequence[int] | None = None) -> QuerySet[ReconciliationRun]:
    """Runs, newest first: of one source, of those migrations' sources, or all."""
    runs = ReconciliationRun.objects.select_related("source").order_by("-started_at", "-id")
    if migration_ids is not None:
        runs = runs.filter(source__migration_id__in=migration_ids)
    return runs.filter(source=source) if source else runs


def last_runs_by_source(*, migration_ids: Sequence[int] | None = None) -> list[tuple[LedgerSource, ReconciliationRun | None]]:
    """Every ledger source (of those migrations, when given) with its most recent run (None: never ran)."""
    sources = LedgerSource.objects.order_by("name")
    if migration_ids is not None:
        sources = sources.filter(migration_id__in=migration_ids)
    return [(source, run_history(source).first()) for source in sources]


def differences_of(run: ReconciliationRun) -> QuerySet[AccountDifference]:
    return run.differences.order_by("account_key", "id")


def totals_rows(run: ReconciliationRun) -> list[dict[str, object]]:
    """The run's per-currency totals as rows for a table, sorted by currency."""
    rows = []
    for currency, values in sorted((run.totals or {}).items()):
        rows.append({"currency": currency, **{k: _decimal_or_none(v) for k, v in values.items()}})
    return rows


def _decimal_or_none(value: object) -> object:
    if value is None or isinstance(value, int):
        return value
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return value
