"""Measure the overview page: p50/p95/max over N requests of a viewer through Django's test client.

Prints the figures (never asserts them). Run after `manage.py seed_volume` on a database of its own:
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/mhc_bench manage.py benchmark_overview --requests 60
"""

from __future__ import annotations

import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test import Client

from console.dashboard.views import PARTIALS
from console.roles import VIEWERS, ensure_roles

BENCH_USER = "benchmark-overview"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(share * len(ordered) + 0.5)) - 1))
    return ordered[rank]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--requests", type=int, default=60, help="measured requests per URL (>= 50 advised)")
        parser.add_argument("--warmup", type=int, default=5)
        parser.add_argument("--partials", action="store_true", help="also measure each refresh partial")
        parser.add_argument("--hours", type=int, default=6, choices=[1, 6, 24])

    def handle(self, *args, requests: int, warmup: int, partials: bool, hours: int, **options) -> None:
        if requests < 1:
            raise CommandError("--requests must be at least 1")
        user, _ = get_user_model().objects.get_or_create(username=BENCH_USER, defaults={"is_active": True})
        user.groups.add(ensure_roles()[VIEWERS])  # the pages need a role; a viewer sees every migration
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        self._volume()
        urls = [f"/?hours={hours}"]
        if partials:
            urls += [f"/overview/partials/{name}/?hours={hours}" for name in PARTIALS]
        for url in urls:
            timings = self._measure(client, url, requests, warmup)
            self.stdout.write(
                f"{url:45s} n={len(timings):3d}  p50 {statistics.median(timings):7.1f} ms  "
                f"p95 {percentile(timings, 0.95):7.1f} ms  max {max(timings):7.1f} ms"
            )

    def _measure(self, client: Client, url: str, requests: int, warmup: int) -> list[float]:
        for _ in range(warmup):
            self._get(client, url)
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            self._get(client, url)
            timings.append((time.perf_counter() - started) * 1000)
        return timings

    def _get(self, client: Client, url: str) -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"GET {url} answered {response.status_code}")
        connection.queries_log.clear()  # DEBUG keeps every query: do not let the log grow

    def _volume(self) -> None:
        with connection.cursor() as cursor:
            figures = []
            for table in ("console_migration", "verifiers_outcomecount", "verifiers_fiveminuteoutcomecount",
                          "verifiers_mismatchgroup", "verifiers_mismatchsample"):
                cursor.execute(f"SELECT count(*) FROM {table}")
                figures.append(f"{table.split('_', 1)[1]} {cursor.fetchone()[0]:,}")
        self.stdout.write("volume: " + ", ".join(figures))
