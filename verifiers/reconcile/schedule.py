"""Periodic tasks of this part, merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here).

The nightly runs are not here: each LedgerSource has its own django-celery-beat PeriodicTask
(cut-off time and time zone editable by admins), kept in sync by services.sync_schedule.
"""

BEAT_SCHEDULE: dict[str, dict] = {
    # Fails runs whose worker died (heartbeat older than RECONCILE_STALE_AFTER_S), with that reason.
    "reconcile-watchdog": {"task": "verifiers.reconcile.fail_stale_runs", "schedule": 60.0},
}
