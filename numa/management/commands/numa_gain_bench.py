"""What a pinning event's gain costs, and what the page request costs now that a task computes it.

    manage.py numa_gain_bench [--hosts 100] [--days 16]

Seeds --hosts demo hosts (half pinned by one rollout, half controls) with hour roll-ups over
--days, then prints (median of 3 runs, wall seconds): the gain computed in one go (what the page
request used to do inline), the numa.compute_gain task body, the recompute POST (it only queues)
and the page GET showing the stored result. Writes to the configured database: use a scratch one
(DATABASE_URL=.../mhc_numa_bench). Leaves its hosts behind (names bench-gain-*), replaced per run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.test import Client, override_settings
from django.utils import timezone

from console.roles import OPERATORS, ensure_roles
from numa import gain_runs
from numa.models import EventGain, Host, HourRollup, PinningEvent

ROUNDS = 3
PREFIX = "bench-gain-"


def _wall(function: Callable[[], Any], rounds: int = ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _seed(hosts: int, days: int) -> PinningEvent:
    Host.objects.filter(hostname__startswith=PREFIX).delete()
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    event_at = now - timedelta(days=days // 2)
    created = Host.objects.bulk_create(
        Host(hostname=f"{PREFIX}{index:03d}", delivery=Host.Delivery.SYNTHETIC)
        for index in range(hosts)
    )
    rows = []
    for index, host in enumerate(created):
        pinned = index < hosts // 2
        for hour in range(days * 24):
            start = now - timedelta(hours=hour)
            base = 8.0 + (index % 7) + (hour % 24) / 12
            after = start >= event_at
            rows.append(
                HourRollup(
                    host=host, bucket_start=start, samples=360, covered_s=3600.0,
                    cpu_cores=base * (0.91 if pinned and after else 1.0),
                    remote_share=0.2, migrated_pages_per_s=50.0, hint_faults_per_s=20.0,
                )
            )
    HourRollup.objects.bulk_create(rows, batch_size=5000)
    events = [
        PinningEvent(host=host, changed_at=event_at + timedelta(minutes=index),
                     kind=PinningEvent.Kind.CPU_MANAGER_STATIC, who="numa_gain_bench")
        for index, host in enumerate(created[: hosts // 2])
    ]
    PinningEvent.objects.bulk_create(events)
    return PinningEvent.objects.select_related("host").get(host=created[0])


def _ok(response: Any, status: int) -> None:
    if response.status_code != status:
        raise CommandError(f"{response.request['PATH_INFO']} answered {response.status_code}")


def _operator_client() -> Client:
    user, _ = get_user_model().objects.get_or_create(username="numa-gain-bench")
    user.groups.add(ensure_roles()[OPERATORS])
    client = Client()
    client.force_login(user)
    return client


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--hosts", type=int, default=100)
        parser.add_argument("--days", type=int, default=16)
        parser.add_argument(
            "--compute-rounds", type=int, default=ROUNDS, help="runs of the two computations"
        )

    @override_settings(ALLOWED_HOSTS=["testserver"])  # the test client's host name
    def handle(
        self, *args: Any, hosts: int, days: int, compute_rounds: int, **options: Any
    ) -> None:
        event = _seed(hosts, days)
        window, gap = timedelta(days=7), timedelta(hours=1)
        inline = _wall(
            lambda: gain_runs.gain_report(event=event, window=window, gap=gap), compute_rounds
        )

        def task_body() -> None:
            gain = gain_runs.request_gain(event=event, window=window, gap=gap, queue=False)
            gain_runs.compute_gain(event_id=event.pk, generation=gain.generation)

        task = _wall(task_body, compute_rounds)
        client = _operator_client()
        body = {"event": event.pk, "window_days": "7", "gap_hours": "1"}
        with mock.patch("numa.tasks.compute_gain.apply_async"):  # queue nowhere: time the request only
            post = _wall(lambda: _ok(client.post("/numa/", body), 302))
        EventGain.objects.filter(event=event).delete()
        gain_runs.compute_gain_now(event=event, window=window, gap=gap)
        page = _wall(lambda: _ok(client.get(f"/numa/?event={event.pk}"), 200))
        report = EventGain.objects.get(event=event).report or {}
        self.stdout.write(
            f"{hosts} hosts, {days} days of hour roll-ups, 7-day windows; wall s, median of "
            f"{compute_rounds} (computations) and {ROUNDS} (requests)\n"
            f"  gain computed in one go (the page request before)   {inline:8.3f}\n"
            f"  numa.compute_gain task body (with progress rows)    {task:8.3f}\n"
            f"  recompute POST (queues the task)                    {post:8.3f}\n"
            f"  page GET showing the stored result                  {page:8.3f}\n"
            f"  cluster gain {report['cluster']['gain']:.3f} over {len(report['hosts']) + len(report['controls'])} hosts"
        )
