"""Periodic tasks of the whole verifiers app, merged into CELERY_BEAT_SCHEDULE (no Django here)."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # 04:30 console time: after the midnight reconciliation, before the working day.
    "verifiers-prune": {"task": "verifiers.prune", "schedule": crontab(hour=4, minute=30)},
}
