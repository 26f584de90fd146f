"""Celery discovers `verifiers.tasks`; the tasks live with their part of the app."""

from importlib import import_module

from celery import shared_task

from verifiers.retention import prune_verification_data

for _part in ("read", "write", "reconcile"):
    try:
        import_module(f"verifiers.{_part}.tasks")
    except ModuleNotFoundError as error:
        if error.name != f"verifiers.{_part}.tasks":
            raise


@shared_task(name="verifiers.prune")
def prune() -> dict[str, int]:
    """Daily: delete stored samples, dedupe ids and counts older than the retention policy."""
    return prune_verification_data()
