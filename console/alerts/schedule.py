"""Periodic tasks of the alerts, to be merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here).

The checks that produce events (mismatch rates, group activity, verifier progress) are the parts'
own tasks, scheduled in their schedule.py.
"""

BEAT_SCHEDULE: dict[str, dict] = {
    # Once a minute: digests are held 5 to 30 minutes, so a minute of lateness is invisible.
    "alerts-flush-digests": {"task": "console.alerts.flush_digests", "schedule": 60.0},
}
