"""Periodic tasks of the alerts, to be merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here)."""

BEAT_SCHEDULE: dict[str, dict] = {
    # Once a minute: digests are held 5 to 30 minutes, so a minute of lateness is invisible.
    "alerts-flush-digests": {"task": "console.alerts.flush_digests", "schedule": 60.0},
    # The rate looks at 5 minutes of per-minute roll-ups: checking every minute is enough.
    "alerts-check-mismatch-rates": {"task": "console.alerts.check_mismatch_rates", "schedule": 60.0},
    "alerts-scan-group-activity": {"task": "console.alerts.scan_group_activity", "schedule": 60.0},
}
