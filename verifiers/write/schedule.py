"""Periodic tasks of this part, merged into CELERY_BEAT_SCHEDULE by console/settings.py (no Django here).

The drain runs every second: it checks committed captures whose commit delay has passed and
turns captures whose commit never came (and commits without a capture) into "orphaned"
outcomes. Commits also queue a drain at once, so this is the backstop, not the fast path.
"""

BEAT_SCHEDULE: dict[str, dict] = {
    "write-verifier-drain": {
        "task": "verifiers.write.process_due",
        "schedule": 1.0,
        # A drain that could not start within a few seconds is superseded by the next one.
        "options": {"expires": 5},
    },
}
