"""Celery tasks of the write verifier: thin, idempotent, batch-oriented.

`process_due` drains due work (committed captures, orphaned captures, commits without a
capture) in batches; beat runs it every second as the backstop and each commit queues one
(debounced) so checks start right after the commit delay. Claims live in Redis with a lease,
so two drains running at once split the work and a killed drain's batch is claimed again.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from verifiers.write import services

PROCESS_DUE_TASK = "verifiers.write.process_due"
REVERIFY_TASK = "verifiers.write.reverify_samples"


@shared_task(name=PROCESS_DUE_TASK, soft_time_limit=60, time_limit=90)
def process_due() -> dict[str, Any]:
    """Check committed captures, report orphans; returns what the drain did.

    Then queues itself for the next capture due soon, so a commit delay longer than the
    moment this run was queued for never waits for the periodic backstop.
    """
    services.release_drain_debounce()
    summary = services.drain(budget_s=20.0).as_dict()
    services.queue_drain_for_next_due()
    return summary


@shared_task(name=REVERIFY_TASK, soft_time_limit=120, time_limit=150)
def reverify_samples(sample_ids: list[int]) -> dict[str, str]:
    """Re-run the check of stored write samples now (sample ids, not objects)."""
    return {str(k): v for k, v in services.reverify_write_samples(sample_ids).items()}
