"""Celery delivery: collect on the host's own queue, the dispatcher, maintenance; a real worker."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from numa import services, tasks
from numa.models import Host, MinuteRollup, RawSample

pytestmark = pytest.mark.django_db


def test_collect_reads_this_machine_and_stores_a_sample() -> None:
    host = services.register_host(hostname=socket.gethostname())
    tasks.collect(host.pk)
    tasks.collect(host.pk)
    host.refresh_from_db()
    assert RawSample.objects.filter(host=host).count() == 2
    assert host.node_count >= 1 or "nodes" in host.unavailable  # node 0 live, or why not
    assert set(host.extras) >= {"sched_move_numa", "perf_node_loads"}
    assert RawSample.objects.filter(host=host, interval_s__isnull=False).get().cpu_cores is not None


def test_collect_refuses_to_run_for_another_host() -> None:
    host = services.register_host(hostname="somewhere-else")
    with pytest.raises(services.NumaSampleError, match="wrong worker"):
        tasks.collect(host.pk)
    assert not RawSample.objects.exists()


def test_dispatcher_sends_one_collect_per_worker_host_and_never_piles_up(redis_client) -> None:
    services.register_host(hostname="busy-host")
    services.register_host(hostname="agent-host", delivery=Host.Delivery.AGENT)
    services.register_host(hostname="demo-host", delivery=Host.Delivery.SYNTHETIC)
    first = tasks.dispatch_collect()
    second = tasks.dispatch_collect()  # nobody consumed the first ask
    assert first["sent"] == ["busy-host"] and second["sent"] == []
    assert redis_client.llen("numa.busy-host") == 1
    assert redis_client.llen("numa.agent-host") == 0


def test_dispatcher_marks_silent_hosts(monkeypatch) -> None:
    monkeypatch.setattr("console.alerts.publish", lambda events: [])
    host = services.register_host(hostname="gone", delivery=Host.Delivery.AGENT)
    Host.objects.filter(pk=host.pk).update(last_seen=timezone.now() - timedelta(hours=1))
    assert tasks.dispatch_collect()["silent"] == [host.pk]


def test_maintain_rolls_up_recent_samples() -> None:
    host = services.register_host(hostname=socket.gethostname())
    tasks.collect(host.pk)
    time.sleep(0.05)
    tasks.collect(host.pk)
    result = tasks.maintain()
    assert result["rollup"]["minutes"] >= 1
    assert MinuteRollup.objects.filter(host=host).exists()


def test_beat_schedule_names_registered_tasks() -> None:
    from celery import current_app

    from numa.schedule import beat_schedule

    assert {entry["task"] for entry in beat_schedule().values()} <= set(current_app.tasks)


@pytest.mark.timeout(120)
def test_real_worker_on_the_host_queue_collects_when_the_dispatcher_asks(
    celery_worker_process,
) -> None:
    hostname = socket.gethostname()
    celery_worker_process(queues=f"celery,numa.{hostname}", name="numa")
    # The worker consuming numa.<hostname> registers its host when it becomes ready.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not Host.objects.filter(hostname=hostname).exists():
        time.sleep(0.1)
    host = Host.objects.get(hostname=hostname)
    assert host.delivery == Host.Delivery.WORKER
    tasks.dispatch_collect.delay()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not RawSample.objects.filter(host=host).exists():
        time.sleep(0.2)
    assert RawSample.objects.filter(host=host).exists()
    host.refresh_from_db()
    assert host.last_seen is not None and not host.silent
