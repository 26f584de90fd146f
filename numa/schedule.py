"""Periodic tasks of the NUMA app, merged into CELERY_BEAT_SCHEDULE (no Django here).

Settings pass the collect interval (NUMA_COLLECT_INTERVAL_SECONDS, default 10).
"""


def beat_schedule(collect_interval_s: float = 10.0) -> dict[str, dict]:
    return {
        # Asks each registered host's own worker (queue numa.<hostname>) to collect, and marks silence.
        "numa-dispatch-collect": {
            "task": "numa.dispatch_collect",
            "schedule": collect_interval_s,
            "options": {"expires": collect_interval_s},
        },
        # Minute/hour roll-ups of recent samples and retention.
        "numa-maintain": {"task": "numa.maintain", "schedule": 60.0, "options": {"expires": 60.0}},
    }
