"""Periodic tasks of this part, merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here)."""

BEAT_SCHEDULE: dict[str, dict] = {}
