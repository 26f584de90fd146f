"""Periodic tasks of the whole verifiers app, merged into CELERY_BEAT_SCHEDULE (no Django here)."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    # 04:30 console time: after the midnight reconciliation, before the working day.
    # Stall limits are minutes (VERIFIER_STALL_SECONDS): a check a minute tells within one more.
    "verifiers-check-progress": {"task": "verifiers.check_progress", "schedule": 60.0},
    "verifiers-prune": {"task": "verifiers.prune", "schedule": crontab(hour=4, minute=30)},
}
