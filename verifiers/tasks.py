"""Celery discovers `verifiers.tasks`; the tasks live with their part of the app."""

from celery import shared_task

from verifiers import alerts as verifier_alerts
from verifiers.groups import tasks as group_tasks  # noqa: F401 - registers the reverify tasks
from verifiers.read import tasks as read_tasks  # noqa: F401 - registers the read tasks
from verifiers.reconcile import tasks as reconcile_tasks  # noqa: F401 - registers the reconcile tasks
from verifiers.retention import prune_verification_data
from verifiers.write import tasks as write_tasks  # noqa: F401 - registers the write tasks


@shared_task(name="verifiers.prune")
def prune() -> dict[str, int]:
    """Daily: delete stored samples, dedupe ids and counts older than the retention policy."""
    return prune_verification_data()


@shared_task(name="verifiers.check_progress")
def check_progress() -> int:
    """Alert when a verifier stopped making progress while work waits; returns stalled verifiers."""
    return len(verifier_alerts.check_progress())
