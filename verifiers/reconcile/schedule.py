"""Periodic tasks of this part, merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here).

Empty on purpose: each LedgerSource has its own django-celery-beat PeriodicTask (cut-off time
and time zone editable by admins), kept in sync by services.sync_schedule.
"""

BEAT_SCHEDULE: dict[str, dict] = {}
