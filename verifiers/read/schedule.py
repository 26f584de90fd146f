"""Periodic tasks of this part, merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here)."""

BEAT_SCHEDULE: dict[str, dict] = {
    # Verifier workers heartbeat every batch loop; this reports missing workers and a growing backlog.
    "read-verifier-check-workers": {"task": "verifiers.read.check_workers", "schedule": 60.0},
    # The rate looks at 5 minutes of per-minute roll-ups: checking every minute is enough.
    "read-check-mismatch-rates": {"task": "verifiers.read.check_mismatch_rates", "schedule": 60.0},
}
