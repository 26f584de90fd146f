"""Print what NUMA collection costs inside Celery's task body on this host (CPU ms per sample),
and the cost of the dispatcher, the extras probe, a minute's maintenance and overview_summary().

    manage.py numa_task_bench [--samples 200]
Writes to the configured database (use a scratch one: DATABASE_URL=.../mhc_numa_bench).
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand

from numa import ingest, selectors, tasks
from numa.extras import probe_extras
from numa.models import Host

ROUNDS = 3
INTERVAL_S = 10.0


def _cost(function: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(median CPU ms, median wall ms) per call over ROUNDS rounds of `repeat` calls."""
    cpu_rounds, wall_rounds = [], []
    for _ in range(ROUNDS):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(repeat):
            function()
        cpu_rounds.append((time.process_time() - cpu_start) * 1000 / repeat)
        wall_rounds.append((time.perf_counter() - wall_start) * 1000 / repeat)
    return statistics.median(cpu_rounds), statistics.median(wall_rounds)


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--samples", type=int, default=200)

    def handle(self, *args: Any, samples: int, **options: Any) -> None:
        host = ingest.register_host(hostname=socket.gethostname())
        Host.objects.filter(pk=host.pk).update(extras_probed_at=None)
        tasks.collect(host.pk)  # warm up: imports, first probe of the extras
        rows = [
            (
                "numa.collect task body (collect + rates + store)",
                _cost(lambda: tasks.collect(host.pk), samples),
            ),
            ("probe_extras() (hourly)", _cost(lambda: probe_extras(), 5)),
            (
                "numa.dispatch_collect (1 host, incl. Redis LLEN)",
                _cost(lambda: tasks.dispatch_collect(), 20),
            ),
            ("numa.maintain (roll-up + prune)", _cost(lambda: tasks.maintain(), 5)),
            ("selectors.overview_summary()", _cost(lambda: selectors.overview_summary(), 50)),
        ]
        self.stdout.write(f"median of {ROUNDS} rounds, ms per call (CPU of this process / wall)")
        for name, (cpu_ms, wall_ms) in rows:
            self.stdout.write(f"  {name:52s} cpu {cpu_ms:8.3f}  wall {wall_ms:8.3f}")
        share = rows[0][1][0] / (INTERVAL_S * 1000) * 100
        self.stdout.write(
            f"collect at a {INTERVAL_S:g} s interval: {share:.4f}% of one core "
            "(plus the worker's own message handling, not counted here)"
        )
