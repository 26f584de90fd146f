"""Every read of the NUMA app: host lists, time series at the right resolution, gain reports,
and the small summary the overview page shows."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Avg, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.timezone import get_default_timezone

from numa.gains import SeriesPoint, cluster_gain, host_gain
from numa.models import Host, HourRollup, MinuteRollup, PinningEvent, RawSample

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
KERNEL_CHECK_FIELDS: tuple[str, ...] = (
    "remote_share",
    "migrated_pages_per_s",
    "hint_faults_per_s",
    "hint_fault_locality",
)


class GainRequestError(ValueError):
    """Gain windows chosen on the page are not usable (non-positive window, negative gap...)."""


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
    elif span <= MINUTE_SERIES_MAX_SPAN:
        resolution, rows = (
            "minute",
            MinuteRollup.objects.filter(
                host=host, bucket_start__gte=since, bucket_start__lt=until
            ).order_by("bucket_start"),
        )
        time_field = "bucket_start"
    else:
        resolution, rows = (
            "hour",
            HourRollup.objects.filter(
                host=host, bucket_start__gte=since, bucket_start__lt=until
            ).order_by("bucket_start"),
        )
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
    event = (
        PinningEvent.objects.filter(last_gain_at__isnull=False)
        .select_related("host")
        .order_by("-last_gain_at")
        .only("pk", "kind", "changed_at", "last_gain", "last_gain_at", "host__hostname")
        .first()
    )
    last_gain = None
    if event is not None and event.last_gain:
        cluster = event.last_gain.get("cluster", {})
        last_gain = {
            "event_id": event.pk,
            "event": str(event),
            "kind": event.kind,
            "changed_at": event.changed_at,
            "gain": cluster.get("gain"),
            "ci_low": cluster.get("ci_low"),
            "ci_high": cluster.get("ci_high"),
            "significant": cluster.get("significant"),
            "computed_at": event.last_gain_at,
            "demo": bool(event.last_gain.get("demo")),
            "url": reverse("numa") + f"?event={event.pk}",
        }
    return {"hosts": host_rows, "last_gain": last_gain}


# --------------------------------------------------------------------------- gains


def _gain_series(
    host: Host, start: datetime, end: datetime, window: timedelta
) -> list[SeriesPoint]:
    """Hour roll-ups for windows of a day or more, minute roll-ups below (in the console zone)."""
    model = HourRollup if window >= timedelta(days=1) else MinuteRollup
    zone = console_zone()
    uses_work = bool(host.work_metric_name)
    return [
        SeriesPoint(
            timestamp=bucket_start.astimezone(zone),
            cpu_seconds_per_second=cpu,
            work_per_second=work if uses_work else None,
        )
        for bucket_start, cpu, work in model.objects.filter(
            host=host, bucket_start__gte=start, bucket_start__lt=end
        )
        .values_list("bucket_start", "cpu_cores", "work_per_s")
        .order_by("bucket_start")
    ]


def _window_means(
    host: Host, model: type[MinuteRollup] | type[HourRollup], start: datetime, end: datetime
) -> dict[str, float | None]:
    return model.objects.filter(host=host, bucket_start__gte=start, bucket_start__lt=end).aggregate(
        **{name: Avg(name) for name in KERNEL_CHECK_FIELDS}
    )


def _host_gain_dict(gain: Any) -> dict[str, Any]:
    return {
        "host": gain.host,
        "gain": gain.gain,
        "unit": gain.unit,
        "before_value": gain.before_value,
        "after_value": gain.after_value,
        "ci_low": gain.ci_low,
        "ci_high": gain.ci_high,
        "mean_cpu_before": gain.mean_cpu_before,
        "before_points": gain.before_points,
        "after_points": gain.after_points,
        "reason": gain.reason,
    }


def event_gain_report(
    *, event: PinningEvent, window: timedelta, gap: timedelta, resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """CPU gain of a pinning event per host and across the cluster, with the kernel-side check.

    Treated hosts: the event's host and every host with an event of the same kind within the
    rollout gap after it. Control hosts: hosts with data but no pinning event over the whole
    span, subtracted as difference in differences. JSON-ready (times as ISO strings).
    """
    if window <= timedelta(0):
        raise GainRequestError(f"window must be positive, got {window}")
    if gap < timedelta(0):
        raise GainRequestError(f"gap must not be negative, got {gap}")
    start = event.changed_at - window
    end = event.changed_at + gap + window
    rollout = PinningEvent.objects.filter(
        kind=event.kind, changed_at__gte=event.changed_at, changed_at__lte=event.changed_at + gap
    ).select_related("host")
    treated_hosts = {event.host.pk: event.host} | {other.host.pk: other.host for other in rollout}
    synthetic = event.host.delivery == Host.Delivery.SYNTHETIC
    pinned_in_span = set(
        PinningEvent.objects.filter(changed_at__gte=start, changed_at__lt=end).values_list(
            "host_id", flat=True
        )
    )
    model = HourRollup if window >= timedelta(days=1) else MinuteRollup
    control_candidates = Host.objects.exclude(pk__in=pinned_in_span | set(treated_hosts)).filter(
        pk__in=model.objects.filter(bucket_start__gte=start, bucket_start__lt=end).values_list("host_id", flat=True)
    )
    # Demo hosts are compared only with demo hosts, live ones only with live ones.
    control_candidates = (
        control_candidates.filter(delivery=Host.Delivery.SYNTHETIC)
        if synthetic
        else control_candidates.exclude(delivery=Host.Delivery.SYNTHETIC)
    )

    def gains_of(host_list: list[Host]) -> list[Any]:
        return [
            host_gain(
                _gain_series(host, start, end, window),
                event.changed_at,
                window,
                gap,
                host=host.hostname,
                resamples=resamples,
                seed=seed,
            )
            for host in host_list
        ]

    treated = gains_of(sorted(treated_hosts.values(), key=lambda host: host.hostname))
    controls = gains_of(list(control_candidates.order_by("hostname")))
    cluster = cluster_gain(treated, control_hosts=controls, resamples=resamples, seed=seed)

    kernel_rows = []
    for host in sorted(treated_hosts.values(), key=lambda host: host.hostname):
        before = _window_means(host, model, start, event.changed_at)
        after = _window_means(host, model, event.changed_at + gap, end)
        row: dict[str, Any] = {"host": host.hostname}
        for name in KERNEL_CHECK_FIELDS:
            row[name] = {"before": before[name], "after": after[name]}
        kernel_rows.append(row)
    return {
        "event_id": event.pk,
        "event": str(event),
        "kind": event.kind,
        "changed_at": event.changed_at.isoformat(),
        "window_s": window.total_seconds(),
        "gap_s": gap.total_seconds(),
        "before": [start.isoformat(), event.changed_at.isoformat()],
        "after": [(event.changed_at + gap).isoformat(), end.isoformat()],
        "demo": synthetic,
        "hosts": [_host_gain_dict(gain) for gain in treated],
        "controls": [_host_gain_dict(gain) for gain in controls],
        "cluster": {
            "gain": cluster.gain,
            "treated_gain": cluster.treated_gain,
            "control_gain": cluster.control_gain,
            "ci_low": cluster.ci_low,
            "ci_high": cluster.ci_high,
            "confidence": cluster.confidence,
            "significant": cluster.significant,
            "host_weights": cluster.host_weights,
            "skipped_hosts": cluster.skipped_hosts,
        },
        "kernel_check": {
            "hosts": kernel_rows,
            "verdict": kernel_verdict(kernel_rows, cluster.gain),
        },
    }


def kernel_verdict(rows: list[dict[str, Any]], gain: float | None) -> dict[str, Any]:
    """Does the kernel side agree with a CPU gain? Less migration, fewer hint faults, less remote.

    Per metric: "lower", "higher" or "no data", summed over hosts (before vs after means).
    """
    lower_is_better = ("remote_share", "migrated_pages_per_s", "hint_faults_per_s")
    outcome: dict[str, str] = {}
    for name in lower_is_better:
        before = [
            row[name]["before"]
            for row in rows
            if row[name]["before"] is not None and row[name]["after"] is not None
        ]
        after = [
            row[name]["after"]
            for row in rows
            if row[name]["before"] is not None and row[name]["after"] is not None
        ]
        if not before:
            outcome[name] = "no data"
        else:
            outcome[name] = "lower" if sum(after) < sum(before) else "not lower"
    checked = [value for value in outcome.values() if value != "no data"]
    if gain is None or not checked:
        agrees = None
    elif gain > 0:
        agrees = all(value == "lower" for value in checked)
    else:
        agrees = not all(value == "lower" for value in checked)
    return {"metrics": outcome, "agrees": agrees}


def events_for_page(limit: int = 50) -> QuerySet[PinningEvent]:
    return PinningEvent.objects.select_related("host").order_by("-changed_at")[:limit]


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
