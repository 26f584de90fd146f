"""Celery tasks of the reconciliation: thin, take primary keys, safe to run twice.

coordinate -> chord(compute_part x ranges) -> finish. The coordinator returns as soon as the
chord is sent (its snapshot is held by a keeper thread, see keeper.py), so runs never wait for
a free worker slot held by their own coordinator, whatever the pool size.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from verifiers.reconcile import services


@shared_task(name="verifiers.reconcile.coordinate")
def coordinate(run_id: int, queue: str | None = None) -> str:
    """Wait for pre-cut-off transactions, export the snapshot and fan out the parts (on ``queue``)."""
    return services.coordinate_run(run_id=run_id, queue=queue)


# Parts are not retried: a retry could not import the snapshot again once the coordinator
# closed it; the callback records the error and an operator starts a new run.
@shared_task(name="verifiers.reconcile.compute_part", acks_late=False)
def compute_part(run_id: int, snapshot_id: str, key_range: dict[str, Any]) -> dict[str, Any]:
    """One key range inside the exported snapshot (errors are returned, not raised)."""
    return services.compute_part(run_id=run_id, snapshot_id=snapshot_id, key_range=key_range)


@shared_task(name="verifiers.reconcile.finish")
def finish(part_results: list[dict[str, Any]], run_id: int) -> str:
    """Chord callback: combine, compare with the counterpart, record the run."""
    return services.finish_run(run_id=run_id, part_results=part_results)


@shared_task(name=services.RUN_TASK_NAME)
def scheduled_run(source_id: int) -> int | None:
    """Beat entry point of a source's nightly run (its PeriodicTask passes the source id)."""
    run = services.start_scheduled_run(source_id=source_id)
    return run.pk if run else None


@shared_task(name="verifiers.reconcile.fail_stale_runs")
def fail_stale_runs() -> list[int]:
    """Watchdog (beat, every minute): fail runs whose worker died, with that reason."""
    return services.fail_stale_runs()
