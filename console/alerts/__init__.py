"""Alert e-mails: new mismatch groups, mismatch rates over threshold, reconciliations with
differences or failed, silent NUMA collectors; throttled per key with Sentry-style digests.

The entry points below are what other parts call (lazily, after their transaction commits).
They import the Django side only when called, so importing this package is always safe.
"""

from __future__ import annotations

__all__ = [
    "check_mismatch_rates", "notify_collector_silent", "notify_new_groups", "notify_reconciliation",
    "notify_samples_lost",
]


def notify_new_groups(group_ids: list[int]) -> None:
    """Alert on mismatch groups just created (first one per group at once, the rest digested)."""
    from console.alerts import services

    services.alert_new_groups(group_ids=group_ids)


def notify_reconciliation(run_id: int) -> None:
    """Alert on a finished reconciliation run that found differences or failed."""
    from console.alerts import services

    services.alert_reconciliation(run_id=run_id)


def notify_collector_silent(host_id: int) -> None:
    """Alert that a NUMA host's collector stopped reporting."""
    from console.alerts import services

    services.alert_collector_silent(host_id=host_id)


def notify_samples_lost(epoch_id: int) -> None:
    """Alert that accepted read samples were lost (Redis came back empty; ReadStreamEpoch id)."""
    from console.alerts import services

    services.alert_samples_lost(epoch_id=epoch_id)


def check_mismatch_rates() -> int:
    """Alert on routes whose mismatch rate over the last 5 minutes is over threshold; returns how many."""
    from console.alerts import services

    return len(services.check_mismatch_rates())
