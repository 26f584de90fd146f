"""Periodic tasks of the NUMA app, merged into CELERY_BEAT_SCHEDULE (no Django here).

The collect interval is NUMA_COLLECT_INTERVAL_SECONDS from the environment (default 10).
"""

import os

_COLLECT_INTERVAL_S = float(os.environ.get("NUMA_COLLECT_INTERVAL_SECONDS") or 10)

BEAT_SCHEDULE: dict[str, dict] = {
    # Asks each registered host's own worker (queue numa.<hostname>) to collect, and marks silence.
    "numa-dispatch-collect": {
        "task": "numa.dispatch_collect",
        "schedule": _COLLECT_INTERVAL_S,
        "options": {"expires": _COLLECT_INTERVAL_S},
    },
    # Minute/hour roll-ups of recent samples and retention.
    "numa-maintain": {"task": "numa.maintain", "schedule": 60.0, "options": {"expires": 60.0}},
}
