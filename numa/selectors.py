"""Every read of the NUMA app: host lists, time series at the right resolution, stored gains,
and the small summary the overview page shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.timezone import get_default_timezone

from numa.models import EventGain, Host, HourRollup, MinuteRollup, PinningEvent, RawSample

# Series resolution: raw samples up to this span, minute roll-ups up to the next, then hours.
RAW_SERIES_MAX_SPAN = timedelta(hours=2)
MINUTE_SERIES_MAX_SPAN = timedelta(days=3)
SERIES_FIELDS: tuple[str, ...] = (
    "remote_share",
    "migrated_pages_per_s",
    "migrated_mib_per_s",
    "hint_faults_per_s",
    "hint_fault_locality",
    "cpu_cores",
    "node_cpu_cores",
    "work_per_s",
)
def console_zone() -> ZoneInfo:
    return get_default_timezone()


# Per-host JSON only the host page reads: left out of lists (a host may carry 200 containers).
HOST_DETAIL_FIELDS: tuple[str, ...] = ("last_counters", "containers", "top_processes", "kubelet")
BYTES_PER_MIB = 1024 * 1024


def hosts() -> QuerySet[Host]:
    """All hosts, live ones first, then demo (synthetic) ones (without the per-host detail JSON)."""
    return Host.objects.defer(*HOST_DETAIL_FIELDS).order_by("delivery", "hostname")


def host_by_name(hostname: str) -> Host | None:
    return Host.objects.filter(hostname=hostname).first()


def host_series(*, host: Host, since: datetime, until: datetime | None = None) -> dict[str, Any]:
    """The host's metrics over [since, until) from raw samples, minute or hour roll-ups by span.

    Returns {"resolution": "raw"|"minute"|"hour", "points": [{"t": datetime, field: value...}]}.
    """
    until = until or timezone.now()
    span = until - since
    rows: QuerySet[Any]
    if span <= RAW_SERIES_MAX_SPAN:
        resolution, rows = (
            "raw",
            RawSample.objects.filter(
                host=host, sampled_at__gte=since, sampled_at__lt=until, interval_s__isnull=False
            ).order_by("sampled_at"),
        )
        time_field = "sampled_at"
    else:
        resolution, rollup = (
            ("minute", MinuteRollup) if span <= MINUTE_SERIES_MAX_SPAN else ("hour", HourRollup)
        )
        rows = rollup.objects.filter(
            host=host, bucket_start__gte=since, bucket_start__lt=until
        ).order_by("bucket_start")
        time_field = "bucket_start"
    points = [
        {"t": values.pop(time_field), **values}
        for values in rows.values(time_field, *SERIES_FIELDS)
    ]
    if resolution == "minute":
        # Samples newer than the last roll-up (maintain runs each minute) keep the chart live.
        tail_start = points[-1]["t"] + timedelta(minutes=1) if points else since
        tail = RawSample.objects.filter(
            host=host, sampled_at__gte=tail_start, sampled_at__lt=until, interval_s__isnull=False
        ).order_by("sampled_at")
        points.extend(
            {"t": values.pop("sampled_at"), **values}
            for values in tail.values("sampled_at", *SERIES_FIELDS)
        )
    return {"resolution": resolution, "points": points}


def overview_summary() -> dict[str, Any]:
    """What the overview needs: per host the latest remote share and migration rate, and the
    last computed cluster gain. Two small queries over denormalised columns."""
    host_rows = [
        {
            "hostname": host.hostname,
            "url": reverse("numa-host", args=[host.hostname]),
            "remote_share": host.latest_remote_share,
            "migrated_pages_per_s": host.latest_migrated_pages_per_s,
            "cpu_cores": host.latest_cpu_cores,
            "sampled_at": host.latest_sampled_at,
            "silent": host.silent,
            "synthetic": host.delivery == Host.Delivery.SYNTHETIC,
        }
        for host in Host.objects.filter(enabled=True)
        .order_by("delivery", "hostname")
        .only(
            "hostname",
            "delivery",
            "latest_remote_share",
            "latest_migrated_pages_per_s",
            "latest_cpu_cores",
            "latest_sampled_at",
            "silent",
        )
    ]
    stored = (
        EventGain.objects.filter(computed_at__isnull=False)
        .select_related("event__host")
        .order_by("-computed_at")
        .only("report", "computed_at", "event__kind", "event__changed_at", "event__host__hostname")
        .first()
    )
    last_gain = None
    if stored is not None and stored.report:
        event = stored.event
        cluster = stored.report.get("cluster", {})
        last_gain = {
            "event_id": event.pk,
            "event": str(event),
            "kind": event.kind,
            "changed_at": event.changed_at,
            "gain": cluster.get("gain"),
            "ci_low": cluster.get("ci_low"),
            "ci_high": cluster.get("ci_high"),
            "significant": cluster.get("significant"),
            "computed_at": stored.computed_at,
            "demo": bool(stored.report.get("demo")),
            "url": reverse("numa") + f"?event={event.pk}",
        }
    return {"hosts": host_rows, "last_gain": last_gain}


def events_for_page(limit: int = 50) -> QuerySet[PinningEvent]:
    """The latest events with their hosts and stored gains (one query)."""
    return PinningEvent.objects.select_related("host", "gain").order_by("-changed_at")[:limit]


def event_gain(event: PinningEvent) -> EventGain | None:
    """The event's stored gain (result, status and progress), or None if never asked for."""
    return EventGain.objects.filter(event=event).first()


def _container_row(row: dict[str, Any]) -> dict[str, Any]:
    memory = row.get("memory_bytes_by_node") or {}
    total = sum(memory.values())
    return {
        **row,
        "memory_mib": total / BYTES_PER_MIB if memory else None,
        "memory_nodes": [
            {"node": node, "mib": value / BYTES_PER_MIB, "share": value / total if total else None}
            for node, value in sorted(memory.items(), key=lambda item: int(item[0]))
        ],
    }


def _kubelet_view(host: Host) -> dict[str, Any]:
    reading = host.kubelet or {}
    policies = reading.get("policies") or {}
    defaulted = set(reading.get("defaulted") or [])
    return {
        "read": bool(reading),
        "available": bool(reading.get("available")),
        "reason": _why_not(reading.get("reason")),
        "source": reading.get("source") or "",
        "read_at": host.kubelet_read_at,
        "policies_read_at": _parse_time(reading.get("policies_read_at")),
        "policies": [
            {"key": key, "value": value, "defaulted": key in defaulted}
            for key, value in policies.items()
        ],
        "details": sorted((reading.get("details") or {}).items()),
    }


def _why_not(reason: Any) -> str | None:
    """The reason without the "not available: " prefix the page already shows as a badge."""
    if not isinstance(reason, str):
        return None
    return reason.removeprefix("not available: ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def host_placement(*, host: Host) -> dict[str, Any]:
    """What the host page shows about placement: per container CPUs/memory nodes (pinned first),
    the top processes' NUMA fields, the kubelet's policies and the eBPF/perf extras."""
    containers = [_container_row(row) for row in host.containers or []]
    extras = [
        {
            "name": name,
            **entry,
            "reason": _why_not(entry.get("reason")),
            "values": sorted((entry.get("values") or {}).items()),
        }
        for name, entry in sorted((host.extras or {}).items())
    ]
    return {
        "containers": containers,
        "pinned_containers": sum(1 for row in containers if row.get("pinned")),
        "aligned_containers": sum(1 for row in containers if row.get("aligned")),
        "processes": list(host.top_processes or []),
        "kubelet": _kubelet_view(host),
        "extras": extras,
        "extras_measured": any(entry["values"] for entry in extras),
    }
