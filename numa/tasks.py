"""Celery tasks of the NUMA app (thin: each calls one service).

numa.collect runs ON the host, routed to its own queue `numa.<hostname>`; numa.dispatch_collect
runs on the default queue every N seconds (beat) and sends one collect to each host's queue;
numa.maintain rolls up and prunes every minute.

Once an hour per host (claimed atomically, so two collects never both do it), numa.collect also
runs the short eBPF/perf measurement and reads the kubelet's configz, after the sample is stored
so the 10-second rates are never delayed by it.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import redis as redis_lib
from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from numa import services
from numa.conf import cgroup_root, numa_count_setting, numa_setting, numa_text_setting
from numa.extras import measure_extras, probe_extras
from numa.kubelet import KubeletPolicies, read_kubelet_policies
from numa.models import Host
from numa.placement import collect_configured_sample

logger = logging.getLogger(__name__)


@shared_task(name="numa.collect", ignore_result=True)
def collect(host_id: int) -> dict[str, Any]:
    """Collect this host's NUMA counters and store the rates (idempotent per sample time)."""
    # Only the name: the row's JSON (counters, containers) is read once, under lock, by the service.
    host = Host.objects.only("pk", "hostname").get(pk=host_id)
    here = socket.gethostname()
    if host.hostname != here:
        raise services.NumaSampleError(
            f"numa.collect for {host.hostname!r} ran on {here!r}: queue {host.queue_name} "
            "is consumed by "
            "the wrong worker"
        )
    sample = collect_configured_sample(
        top_processes=numa_count_setting("NUMA_TOP_PROCESSES"), cgroup_root=cgroup_root()
    )
    sample.hostname = host.hostname  # the queue name is the identity, whatever /proc says
    row, created = services.record_sample(sample=sample, delivery=Host.Delivery.WORKER)
    result: dict[str, Any] = {"sample_id": row.pk, "created": created}
    if services.claim_hourly_checks(host_id=host.pk):
        events = services.record_hourly_checks(
            hostname=host.hostname,
            extras=measure_host_extras(),
            kubelet_reading=read_configured_kubelet().to_dict(),
        )
        result["pinning_events"] = [event.pk for event in events]
    return result


def measure_host_extras() -> dict[str, Any]:
    """The short eBPF/perf measurement as stored on the host (never raises)."""
    seconds = numa_setting("NUMA_EXTRAS_SECONDS")
    return services.extras_from_measurements(measure_extras(seconds=seconds), probe_extras())


def read_configured_kubelet() -> KubeletPolicies:
    """numa.kubelet.read_kubelet_policies() with the NUMA_KUBELET_* settings (never raises)."""
    return read_kubelet_policies(
        numa_text_setting("NUMA_KUBELET_CONFIGZ_URL"),
        token_file=numa_text_setting("NUMA_KUBELET_TOKEN_FILE") or None,
        ca_file=numa_text_setting("NUMA_KUBELET_CA_FILE") or None,
    )


def _pending_collects(queues: list[str]) -> list[int]:
    """Messages waiting in each queue (Redis list length); a dead worker's queue must not grow."""
    client = redis_lib.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    try:
        pipeline = client.pipeline(transaction=False)
        for queue in queues:
            pipeline.llen(queue)
        return [int(length) for length in pipeline.execute()]
    finally:
        client.close()


@shared_task(name="numa.dispatch_collect", ignore_result=True)
def dispatch_collect() -> dict[str, Any]:
    """Send numa.collect to every enabled worker host's queue, then mark silent hosts."""
    interval = numa_setting("NUMA_COLLECT_INTERVAL_SECONDS")
    targets = list(
        Host.objects.filter(enabled=True, delivery=Host.Delivery.WORKER).only("pk", "hostname")
    )
    pending = _pending_collects([host.queue_name for host in targets]) if targets else []
    sent: list[str] = []
    for host, waiting in zip(targets, pending):
        if waiting:
            continue  # the previous ask is still queued: the worker is busy or gone
        collect.apply_async(args=(host.pk,), queue=host.queue_name, expires=interval * 3)
        sent.append(host.hostname)
    silent = services.mark_silent_hosts()
    return {"sent": sent, "silent": silent}


@shared_task(name="numa.maintain", ignore_result=True)
def maintain() -> dict[str, Any]:
    """Roll up the recent samples and delete what is past its retention."""
    return {"rollup": services.rollup_recent(), "pruned": services.prune_old_data()}


@worker_ready.connect
def register_worker_host(sender: Any = None, **_: Any) -> None:
    """A worker that consumes numa.<its hostname> registers that host for collection."""
    try:
        queues = {queue.name for queue in sender.app.amqp.queues.consume_from.values()}
    except AttributeError:
        return
    hostname = socket.gethostname()
    if f"numa.{hostname}" in queues:
        try:
            services.register_host(hostname=hostname, delivery=Host.Delivery.WORKER)
        except Exception:  # noqa: BLE001 - a worker must start even with the database down
            logger.exception("could not register NUMA host %s", hostname)
