"""Periodic tasks of the mismatch groups, merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here)."""

BEAT_SCHEDULE: dict[str, dict] = {
    # Digests are due 5 minutes at the earliest: a minute between scans is invisible in them.
    "groups-scan-activity": {"task": "verifiers.groups.scan_group_activity", "schedule": 60.0},
}
