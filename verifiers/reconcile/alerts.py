"""Alert events of the reconciliation: a run that found differences, or failed.

Built from the run in memory when it finishes and published once its transaction commits.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from console import alerts
from console.alerts import AlertEvent, AlertKind, local_time
from verifiers.models import ReconciliationRun


def run_event(run: ReconciliationRun, *, min_accounts: int = 1, now: datetime | None = None) -> AlertEvent | None:
    """The alert of a failed run, or of one with at least `min_accounts` accounts or a total off; else None."""
    totals_off = [currency for currency, total in (run.totals or {}).items() if _nonzero(total.get("difference"))]
    failed = run.status == ReconciliationRun.Status.FAILED
    if not failed and run.accounts_with_differences < min_accounts and not totals_off:
        return None
    status = "failed" if failed else "found differences"
    return AlertEvent(
        kind=AlertKind.RECONCILIATION, key=f"reconciliation:source:{run.source_id}", occurred_at=now or timezone.now(),
        title=f"Reconciliation of {run.source.name} at {local_time(run.cutoff)} {status}",
        url_path=reverse("reconciliation-run", args=[run.pk]), subject=run.source.name,
        migration=run.source.migration.slug, migration_name=run.source.migration.name,
        severity="high" if failed or totals_off else "medium",
        facts={
            "Status": run.get_status_display(), "Cut-off": local_time(run.cutoff),
            "Accounts checked": run.accounts_checked, "Accounts with differences": run.accounts_with_differences,
            "Totals off (currency)": ", ".join(totals_off) or "none",
            "Duration": f"{(run.duration_ms or 0) / 1000:,.1f} s", "Error": (run.error or "")[:500],
        },
    )


def _nonzero(value: Any) -> bool:
    try:
        return value is not None and Decimal(str(value)) != 0
    except (InvalidOperation, ValueError):
        return False


def alert_on_run(run: ReconciliationRun) -> AlertEvent | None:
    """Publish the run's alert, if it has one, after the current transaction commits."""
    threshold = alerts.threshold(AlertKind.RECONCILIATION, run.source.migration.slug)
    event = run_event(run, min_accounts=int(threshold) if threshold is not None else 1)
    if event is not None:
        transaction.on_commit(lambda: alerts.publish([event]))
    return event
