"""Every write of the NUMA app: samples, silence, roll-ups, retention, pinning events, gains.

Entry points (Celery tasks, the API, the agent, admin, demo setup) call these functions and hold
no logic of their own. Kernel parsing and the maths live in the Django-free numa/sources.py,
numa/rates.py and numa/gains.py.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from numa import alerts as numa_alerts
from numa.conf import MAX_TOP_PROCESSES, numa_setting
from numa.kubelet import (
    KUBELET_DEFAULTS,
    MAX_POLICY_LENGTH,
    POLICY_KEYS,
    PolicyChange,
    policy_changes,
)
from numa.models import Host, HourRollup, MinuteRollup, PinningEvent, RawSample
from numa.placement import compact_sample, container_placements, top_process_rows
from numa.rates import HostRates, RatesInputError, rates_between
from numa.sources import HostSample, NumaSourceError

logger = logging.getLogger(__name__)

# A sample stamped further ahead of the console's clock than this is refused (clock skew).
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_HOSTNAME_LENGTH = 253
METRIC_FIELDS: tuple[str, ...] = (
    "remote_share",
    "numa_miss_share",
    "migrated_pages_per_s",
    "migrated_mib_per_s",
    "hint_faults_per_s",
    "hint_fault_locality",
    "cpu_cores",
    "work_per_s",
)


class NumaSampleError(ValueError):
    """A sample (from the API, the agent or a task) is malformed or cannot be stored."""


class PinningEventError(ValueError):
    """A pinning event is malformed (unknown kind, naive time, unknown host...)."""


# The hourly checks (eBPF/perf measurement, kubelet configz read) run at most this often per host.
HOURLY_CHECKS_EVERY = timedelta(hours=1)
# The kubelet reading travels with the extras (agent body "extras"), under this name.
KUBELET_EXTRA_NAME = "kubelet_configz"
KUBELET_EVENT_WHO = "kubelet"
# A change of a kubelet policy is recorded as the pinning event of that manager.
POLICY_EVENT_KINDS: dict[str, str] = {
    "cpuManagerPolicy": PinningEvent.Kind.CPU_MANAGER_STATIC,
    "memoryManagerPolicy": PinningEvent.Kind.MEMORY_MANAGER,
    "topologyManagerPolicy": PinningEvent.Kind.TOPOLOGY_SINGLE_NUMA_NODE,
}
MAX_EXTRAS = 20
MAX_CGROUPS_PER_SAMPLE = 5000
MAX_REASON_LENGTH = 500
MAX_SOURCE_LENGTH = 2000


# --------------------------------------------------------------------------- samples


def sample_from_payload(payload: Any) -> HostSample:
    """A HostSample from an untrusted dict (API body); NumaSampleError names what is wrong."""
    if not isinstance(payload, dict):
        raise NumaSampleError("sample must be a JSON object")
    try:
        sample = HostSample.from_dict(payload)
    except NumaSourceError as error:
        raise NumaSampleError(str(error)) from None
    validate_sample(sample)
    # Only posted samples need their processes and cgroups checked: the worker's own collector
    # builds them typed, and checking 300 cgroups costs ~10 ms per sample.
    _validate_processes(sample)
    _validate_cgroups(sample)
    return sample


def _is_counter_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str)
        and isinstance(number, int)
        and not isinstance(number, bool)
        and number >= 0
        for key, number in value.items()
    )


def validate_sample(sample: HostSample, *, now: datetime | None = None) -> None:
    """Raise NumaSampleError when a sample cannot be a real collection of a host."""
    now = now or timezone.now()
    hostname = sample.hostname
    if not isinstance(hostname, str) or not hostname.strip() or len(hostname) > MAX_HOSTNAME_LENGTH:
        raise NumaSampleError("hostname must be a non-empty string of at most 253 characters")
    if any(character.isspace() or character == "/" for character in hostname):
        raise NumaSampleError(f"hostname {hostname!r} contains whitespace or '/'")
    for name in ("wall_time_s", "monotonic_s"):
        value = getattr(sample, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise NumaSampleError(f"{name} must be a non-negative number, got {value!r}")
    if sample_time(sample) > now + MAX_FUTURE_SKEW:
        raise NumaSampleError(
            f"wall_time_s {sample.wall_time_s} is more than 5 minutes in the future"
        )
    if not isinstance(sample.user_hz, int) or sample.user_hz <= 0:
        raise NumaSampleError(f"user_hz must be a positive integer, got {sample.user_hz!r}")
    if not _is_counter_dict(sample.vmstat):
        raise NumaSampleError("vmstat must map counter names to non-negative integers")
    if not _is_counter_dict(sample.host_cpu_ticks):
        raise NumaSampleError("host_cpu_ticks must map names to non-negative integers")
    seen_nodes: set[int] = set()
    for node in sample.nodes:
        if not isinstance(node.node_id, int) or node.node_id < 0 or node.node_id in seen_nodes:
            raise NumaSampleError(
                f"node ids must be distinct non-negative integers, got {node.node_id!r}"
            )
        seen_nodes.add(node.node_id)
        for name in ("numastat", "cpu_ticks", "meminfo_kb"):
            if not _is_counter_dict(getattr(node, name)):
                raise NumaSampleError(
                    f"node{node.node_id}.{name} must map names to non-negative integers"
                )
        if not isinstance(node.cpus, list) or not all(isinstance(cpu, int) for cpu in node.cpus):
            raise NumaSampleError(f"node{node.node_id}.cpus must be a list of CPU ids")
    if not isinstance(sample.unavailable, dict):
        raise NumaSampleError("unavailable must be an object of metric -> reason")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_cpu_list(value: Any) -> bool:
    return isinstance(value, list) and all(_is_int(cpu) and cpu >= 0 for cpu in value)


def _validate_processes(sample: HostSample) -> None:
    if len(sample.processes) > MAX_TOP_PROCESSES:
        raise NumaSampleError(f"at most {MAX_TOP_PROCESSES} processes per sample")
    for index, process in enumerate(sample.processes):
        where = f"processes[{index}]"
        if not _is_int(process.pid) or process.pid <= 0:
            raise NumaSampleError(f"{where}.pid must be a positive integer")
        if not isinstance(process.comm, str) or len(process.comm) > 64:
            raise NumaSampleError(f"{where}.comm must be a string of at most 64 characters")
        if not _is_int(process.cpu_ticks) or process.cpu_ticks < 0:
            raise NumaSampleError(f"{where}.cpu_ticks must be a non-negative integer")
        if process.last_cpu is not None and not _is_int(process.last_cpu):
            raise NumaSampleError(f"{where}.last_cpu must be an integer or null")
        # numa_preferred_nid is -1 when the process has no preferred node: signed integers.
        if not isinstance(process.sched_numa, dict) or not all(
            isinstance(key, str) and _is_int(value) for key, value in process.sched_numa.items()
        ):
            raise NumaSampleError(f"{where}.sched_numa must map names to integers")


def _validate_cgroups(sample: HostSample) -> None:
    if len(sample.cgroups) > MAX_CGROUPS_PER_SAMPLE:
        raise NumaSampleError(f"at most {MAX_CGROUPS_PER_SAMPLE} cgroups per sample")
    for index, cgroup in enumerate(sample.cgroups):
        where = f"cgroups[{index}]"
        if not isinstance(cgroup.path, str) or not cgroup.path or len(cgroup.path) > 1000:
            raise NumaSampleError(f"{where}.path must be a non-empty string")
        if not _is_counter_dict(cgroup.memory_stat):
            raise NumaSampleError(f"{where}.memory_stat must map names to non-negative integers")
        if not isinstance(cgroup.numa_stat_bytes, dict) or not all(
            isinstance(item, str)
            and isinstance(per_node, dict)
            and all(_is_int(node) and _is_int(value) for node, value in per_node.items())
            for item, per_node in cgroup.numa_stat_bytes.items()
        ):
            raise NumaSampleError(f"{where}.numa_stat_bytes must map items to {{node: bytes}}")
        for name in ("cpus_effective", "mems_effective"):
            value = getattr(cgroup, name)
            if value is not None and not _is_cpu_list(value):
                raise NumaSampleError(f"{where}.{name} must be a list of ids or null")


def sample_time(sample: HostSample) -> datetime:
    """The sample's wall time, aware UTC, to the microsecond (the idempotency key)."""
    return datetime.fromtimestamp(round(sample.wall_time_s, 6), tz=dt_timezone.utc)


def compact_counters(sample: HostSample) -> dict[str, Any]:
    """The parts of a sample the next rate needs (numa.placement.compact_sample)."""
    return compact_sample(sample)


def _topology(sample: HostSample) -> dict[str, Any]:
    return {
        "cpulists": {str(node.node_id): node.cpus for node in sample.nodes},
        "distances": {str(node.node_id): node.distance for node in sample.nodes},
        "memory_kb": {str(node.node_id): node.meminfo_kb.get("MemTotal") for node in sample.nodes},
        "online_cpus": sample.online_cpus,
    }


def register_host(*, hostname: str, delivery: str = Host.Delivery.WORKER) -> Host:
    """Create the host if new (idempotent); an existing host keeps its settings."""
    if not hostname or len(hostname) > MAX_HOSTNAME_LENGTH:
        raise NumaSampleError(f"hostname {hostname!r} is empty or too long")
    if delivery not in Host.Delivery.values:
        raise NumaSampleError(
            f"delivery {delivery!r} is not one of {', '.join(Host.Delivery.values)}"
        )
    host, _ = Host.objects.get_or_create(hostname=hostname, defaults={"delivery": delivery})
    return host


def _rate_columns(rates: HostRates) -> dict[str, Any]:
    hint_faults = rates.vmstat_per_s.get("numa_hint_faults")
    return {
        "interval_s": rates.interval_s,
        "rebooted": rates.rebooted,
        "reset_counters": rates.reset_counters[:50],
        "remote_share": rates.remote_share,
        "numa_miss_share": rates.numa_miss_share,
        "migrated_pages_per_s": rates.migrated_pages_per_s,
        "migrated_mib_per_s": rates.migrated_mib_per_s,
        "hint_faults_per_s": hint_faults,
        "hint_fault_locality": rates.hint_fault_locality,
        "cpu_cores": rates.cpu_cores_used,
        "node_cpu_cores": {
            str(node.node_id): node.cpu_cores_used
            for node in rates.nodes
            if node.cpu_cores_used is not None
        },
        "node_remote_share": {
            str(node.node_id): node.remote_share
            for node in rates.nodes
            if node.remote_share is not None
        },
    }


def record_sample(
    *,
    sample: HostSample,
    delivery: str = Host.Delivery.WORKER,
    work_total: float | None = None,
    extras: dict[str, Any] | None = None,
) -> tuple[RawSample, bool]:
    """Store one collection of a host: rates against its previous sample, latest values, topology.

    Registers the host on its first sample. Idempotent on (host, sample time): a repeated
    sample returns the stored row and False. A sample older than the host's latest is refused.
    """
    validate_sample(sample)
    if work_total is not None and (
        not isinstance(work_total, (int, float)) or not math.isfinite(work_total)
    ):
        raise NumaSampleError(f"work_total must be a finite number, got {work_total!r}")
    sampled_at = sample_time(sample)
    kubelet_reading: dict[str, Any] | None = None
    if extras is not None:
        extras, kubelet_reading = split_extras(extras)
    if not Host.objects.filter(hostname=sample.hostname).exists():
        register_host(hostname=sample.hostname, delivery=delivery)
    with transaction.atomic():
        # Row lock: two collections of one host (beat and a manual run) must not interleave.
        host = Host.objects.select_for_update().get(hostname=sample.hostname)
        existing = RawSample.objects.filter(host=host, sampled_at=sampled_at).first()
        if existing is not None:
            return existing, False
        if host.latest_sampled_at is not None and sampled_at < host.latest_sampled_at:
            raise NumaSampleError(
                f"sample of {host.hostname} at {sampled_at.isoformat()} is older than its latest "
                f"({host.latest_sampled_at.isoformat()})"
            )
        columns: dict[str, Any] = {}
        previous: HostSample | None = None
        rates: HostRates | None = None
        if host.last_counters:
            try:
                previous = HostSample.from_dict(host.last_counters)
                rates = rates_between(previous, sample)
                columns = _rate_columns(rates)
            except (NumaSourceError, RatesInputError) as error:
                # e.g. the agent restarted with a reset monotonic clock: the next interval is fine.
                logger.info("no rate for %s at %s: %s", host.hostname, sampled_at, error)
                columns = {}
            interval = columns.get("interval_s")
            if interval and work_total is not None and host.last_work_total is not None:
                work_delta = work_total - host.last_work_total
                columns["work_per_s"] = work_delta / interval if work_delta >= 0 else None
        row = RawSample.objects.create(host=host, sampled_at=sampled_at, **columns)

        now = timezone.now()
        host.first_seen = host.first_seen or now
        host.last_seen = now
        host.silent = False
        host.silent_since = None
        host.node_count = len(sample.nodes)
        host.topology = _topology(sample)
        host.numa_balancing = sample.numa_balancing
        host.unavailable = dict(sample.unavailable)
        host.last_counters = compact_counters(sample)
        host.last_work_total = work_total
        host.latest_sampled_at = sampled_at
        if columns:
            host.latest_remote_share = row.remote_share
            host.latest_migrated_pages_per_s = row.migrated_pages_per_s
            host.latest_cpu_cores = row.cpu_cores
        host.containers = container_placements(
            sample, rates.cgroup_counters_per_s if rates is not None else {}
        )
        host.top_processes = top_process_rows(previous if rates is not None else None, sample)
        if extras is not None:
            _apply_hourly_checks(host, extras, kubelet_reading, now)
        host.save()
    return row, True


def _clean_extra(name: str, entry: Any) -> dict[str, Any]:
    """One extra's JSON as posted: only known keys, each of the right type."""
    if not isinstance(entry, dict):
        raise NumaSampleError(f"extras.{name} must be an object")
    cleaned: dict[str, Any] = {}
    if "available" in entry:
        if not isinstance(entry["available"], bool):
            raise NumaSampleError(f"extras.{name}.available must be true or false")
        cleaned["available"] = entry["available"]
    for key, limit in (("reason", MAX_REASON_LENGTH), ("tool", 64)):
        if key in entry:
            if entry[key] is not None and not isinstance(entry[key], str):
                raise NumaSampleError(f"extras.{name}.{key} must be a string or null")
            cleaned[key] = entry[key][:limit] if entry[key] else entry[key]
    if "values" in entry:
        values = entry["values"]
        if not isinstance(values, dict) or not all(
            isinstance(key, str)
            and isinstance(value, (int, float))
            and not isinstance(value, bool)
            and math.isfinite(value)
            for key, value in values.items()
        ):
            raise NumaSampleError(f"extras.{name}.values must map names to finite numbers")
        cleaned["values"] = dict(values)
    return cleaned


def clean_kubelet_reading(reading: Any) -> dict[str, Any]:
    """A kubelet reading (numa.kubelet.KubeletPolicies.to_dict(), maybe from the API), checked."""
    where = f"extras.{KUBELET_EXTRA_NAME}"
    if not isinstance(reading, dict):
        raise NumaSampleError(f"{where} must be an object")
    available = reading.get("available")
    if not isinstance(available, bool):
        raise NumaSampleError(f"{where}.available must be true or false")
    source = reading.get("source") or ""
    reason = reading.get("reason")
    if not isinstance(source, str) or len(source) > MAX_SOURCE_LENGTH:
        raise NumaSampleError(f"{where}.source must be a string")
    if reason is not None and not isinstance(reason, str):
        raise NumaSampleError(f"{where}.reason must be a string or null")
    policies = reading.get("policies") or {}
    if not isinstance(policies, dict) or not all(
        key in POLICY_KEYS and isinstance(value, str) and 0 < len(value) <= MAX_POLICY_LENGTH
        for key, value in policies.items()
    ):
        raise NumaSampleError(
            f"{where}.policies must map {', '.join(POLICY_KEYS)} to policy names"
        )
    if available and set(policies) != set(POLICY_KEYS):
        raise NumaSampleError(
            f"{where}: an available reading needs all of {', '.join(POLICY_KEYS)}"
        )
    defaulted = reading.get("defaulted") or []
    details = reading.get("details") or {}
    if not isinstance(defaulted, list) or not all(key in KUBELET_DEFAULTS for key in defaulted):
        raise NumaSampleError(f"{where}.defaulted must list policy names")
    if not isinstance(details, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in details.items()
    ):
        raise NumaSampleError(f"{where}.details must map names to strings")
    return {
        "available": available,
        "source": source,
        "policies": dict(policies),
        "defaulted": list(defaulted),
        "details": {key: value[:MAX_POLICY_LENGTH] for key, value in list(details.items())[:10]},
        "reason": reason[:MAX_REASON_LENGTH] if reason else None,
    }


def split_extras(extras: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(eBPF/perf extras, kubelet reading or None) from an extras object, both checked."""
    if not isinstance(extras, dict):
        raise NumaSampleError("extras must be an object of name -> status")
    if len(extras) > MAX_EXTRAS:
        raise NumaSampleError(f"at most {MAX_EXTRAS} extras")
    kubelet_reading: dict[str, Any] | None = None
    cleaned: dict[str, Any] = {}
    for name, entry in extras.items():
        if not isinstance(name, str) or not name or len(name) > 64:
            raise NumaSampleError("extras names must be strings of 1 to 64 characters")
        if name == KUBELET_EXTRA_NAME:
            kubelet_reading = clean_kubelet_reading(entry)
        else:
            cleaned[name] = _clean_extra(name, entry)
    return cleaned, kubelet_reading


def extras_from_measurements(
    measurements: dict[str, Any], statuses: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """numa.extras.measure_extras() (+ probe_extras() for the tool) as JSON:
    name -> {available, reason, tool, values}."""
    statuses = statuses or {}
    result: dict[str, dict[str, Any]] = {}
    for name, measurement in measurements.items():
        status = statuses.get(name)
        result[name] = {
            "available": bool(measurement.available),
            "reason": measurement.reason,
            "tool": getattr(status, "tool", None) if measurement.available else None,
            "values": {key: float(value) for key, value in measurement.values.items()},
        }
    return result


def _kubelet_note(change: PolicyChange, previous_read: str | None, now: datetime) -> str:
    window = f"between {previous_read} and {now.isoformat()}" if previous_read else ""
    return f"seen in kubelet configz: {change.describe()} {window}".strip()


def _apply_kubelet_reading(
    host: Host, reading: dict[str, Any], now: datetime
) -> list[PinningEvent]:
    """Store a kubelet reading on the (locked) host; a policy that differs from the last one
    read becomes a PinningEvent of that manager. Idempotent on (host, time, kind)."""
    known = dict((host.kubelet or {}).get("policies") or {})
    previous_read = (host.kubelet or {}).get("policies_read_at")
    stored = dict(reading)
    events: list[PinningEvent] = []
    if reading["available"]:
        for change in policy_changes(known, reading["policies"]):
            event, _ = PinningEvent.objects.get_or_create(
                host=host,
                changed_at=now,
                kind=POLICY_EVENT_KINDS[change.key],
                defaults={
                    "note": _kubelet_note(change, previous_read, now),
                    "who": KUBELET_EVENT_WHO,
                },
            )
            events.append(event)
        stored["policies_read_at"] = now.isoformat()
    else:
        # A failed read keeps the last policies seen: the next good read is compared to them.
        stored["policies"] = known
        stored["policies_read_at"] = previous_read
    host.kubelet = stored
    host.kubelet_read_at = now
    return events


def _apply_hourly_checks(
    host: Host, extras: dict[str, Any], kubelet_reading: dict[str, Any] | None, now: datetime
) -> list[PinningEvent]:
    host.extras = extras
    host.extras_probed_at = now
    if kubelet_reading is None:
        return []
    return _apply_kubelet_reading(host, kubelet_reading, now)


def claim_hourly_checks(*, host_id: int, now: datetime | None = None) -> bool:
    """True for exactly one caller per host and hour (the one that should measure extras and read
    the kubelet now); a conditional update, so concurrent collects cannot both claim."""
    now = now or timezone.now()
    due = Q(extras_probed_at__isnull=True) | Q(extras_probed_at__lte=now - HOURLY_CHECKS_EVERY)
    return bool(Host.objects.filter(due, pk=host_id).update(extras_probed_at=now))


def record_hourly_checks(
    *,
    hostname: str,
    extras: dict[str, Any],
    kubelet_reading: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> list[PinningEvent]:
    """Store a host's measured extras and kubelet policies; returns pinning events created or found
    for policy changes. The extras may carry the kubelet reading under KUBELET_EXTRA_NAME."""
    now = now or timezone.now()
    cleaned, carried = split_extras(extras)
    if kubelet_reading is not None:
        carried = clean_kubelet_reading(kubelet_reading)
    with transaction.atomic():
        host = Host.objects.select_for_update().filter(hostname=hostname).first()
        if host is None:
            raise NumaSampleError(f"unknown host {hostname!r}")
        events = _apply_hourly_checks(host, cleaned, carried, now)
        host.save(
            update_fields=["extras", "extras_probed_at", "kubelet", "kubelet_read_at"]
        )
    return events


def extras_as_dict(statuses: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """numa.extras.probe_extras() result as JSON: name -> {available, reason, tool}."""
    return {
        name: {
            key: value
            for key, value in asdict(status).items()
            if key in ("available", "reason", "tool")
        }
        for name, status in statuses.items()
    }


# --------------------------------------------------------------------------- silence


def mark_silent_hosts(*, now: datetime | None = None) -> list[int]:
    """Mark enabled, collected hosts without a sample for N intervals silent; alert once each.

    Returns the ids of hosts that became silent now (already silent hosts are not re-alerted).
    """
    now = now or timezone.now()
    interval = numa_setting("NUMA_COLLECT_INTERVAL_SECONDS")
    cutoff = now - timedelta(seconds=interval * numa_setting("NUMA_SILENT_AFTER_INTERVALS"))
    candidates = (
        Host.objects.filter(enabled=True, silent=False)
        .exclude(delivery=Host.Delivery.SYNTHETIC)
        .filter(last_seen__lt=cutoff)
    )
    newly_silent: list[int] = []
    for host_id in candidates.values_list("pk", flat=True):
        # The conditional update makes a concurrent run alert each host only once.
        if Host.objects.filter(pk=host_id, silent=False).update(silent=True, silent_since=now):
            newly_silent.append(host_id)
    numa_alerts.alert_on_silent_hosts(newly_silent, now=now)
    return newly_silent


# --------------------------------------------------------------------------- roll-ups and retention


def _weighted_means(rows: Iterable[Any], weight_field: str) -> dict[str, Any]:
    """Weighted means of the metric columns over rows (each metric over the rows that have it)."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    node_sums: dict[str, dict[str, list[float]]] = {
        "node_cpu_cores": defaultdict(lambda: [0.0, 0.0]),
        "node_remote_share": defaultdict(lambda: [0.0, 0.0]),
    }
    count = 0
    covered = 0.0
    for row in rows:
        weight = getattr(row, weight_field) or 0.0
        if weight <= 0:
            continue
        count += getattr(row, "samples", 1)
        covered += weight
        for name in METRIC_FIELDS:
            value = getattr(row, name)
            if value is not None:
                sums[name][0] += value * weight
                sums[name][1] += weight
        for name, per_node in node_sums.items():
            for node, value in (getattr(row, name) or {}).items():
                if value is not None:
                    per_node[node][0] += value * weight
                    per_node[node][1] += weight
    result: dict[str, Any] = {
        name: (sums[name][0] / sums[name][1]) if sums[name][1] else None for name in METRIC_FIELDS
    }
    for name, per_node in node_sums.items():
        result[name] = {
            node: total / weight for node, (total, weight) in sorted(per_node.items()) if weight
        }
    result["samples"] = count
    result["covered_s"] = covered
    return result


def _floor(moment: datetime, unit: str) -> datetime:
    moment = moment.astimezone(dt_timezone.utc)
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def _upsert_rollups(
    model: type[MinuteRollup] | type[HourRollup], host_id: int, buckets: dict[datetime, dict]
) -> int:
    rows: list[Any] = [  # all of `model`; mypy cannot tie a union of classes to its instances
        model(host_id=host_id, bucket_start=start, **values)
        for start, values in buckets.items()
        if values["samples"]
    ]
    if not rows:
        return 0
    update_fields = [*METRIC_FIELDS, "node_cpu_cores", "node_remote_share", "samples", "covered_s"]
    model.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["host", "bucket_start"],
        update_fields=update_fields,
    )
    return len(rows)


def rollup_host(*, host: Host, since: datetime, until: datetime) -> dict[str, int]:
    """(Re)compute the minute roll-ups of [since, until) from raw samples, then the hours touched.

    Idempotent: buckets are recomputed whole, so a late sample or a rerun changes nothing wrong.
    """
    minute_start, minute_end = (
        _floor(since, "minute"),
        _floor(until, "minute") + timedelta(minutes=1),
    )
    by_minute: dict[datetime, list[RawSample]] = defaultdict(list)
    for sample in RawSample.objects.filter(
        host=host, sampled_at__gte=minute_start, sampled_at__lt=minute_end, interval_s__isnull=False
    ).only(*METRIC_FIELDS, "node_cpu_cores", "node_remote_share", "interval_s", "sampled_at"):
        by_minute[_floor(sample.sampled_at, "minute")].append(sample)
    minutes = _upsert_rollups(
        MinuteRollup,
        host.pk,
        {start: _weighted_means(rows, "interval_s") for start, rows in by_minute.items()},
    )
    hour_start, hour_end = _floor(since, "hour"), _floor(until, "hour") + timedelta(hours=1)
    by_hour: dict[datetime, list[MinuteRollup]] = defaultdict(list)
    for rollup in MinuteRollup.objects.filter(
        host=host, bucket_start__gte=hour_start, bucket_start__lt=hour_end
    ):
        by_hour[_floor(rollup.bucket_start, "hour")].append(rollup)
    hours = _upsert_rollups(
        HourRollup,
        host.pk,
        {start: _weighted_means(rows, "covered_s") for start, rows in by_hour.items()},
    )
    return {"minutes": minutes, "hours": hours}


def rollup_recent(
    *, now: datetime | None = None, lookback: timedelta = timedelta(minutes=15)
) -> dict[str, int]:
    """Roll up the last `lookback` of every non-synthetic host (run every minute by beat)."""
    now = now or timezone.now()
    totals = {"minutes": 0, "hours": 0}
    for host in Host.objects.exclude(delivery=Host.Delivery.SYNTHETIC).filter(
        last_seen__gte=now - lookback
    ):
        counts = rollup_host(host=host, since=now - lookback, until=now)
        totals["minutes"] += counts["minutes"]
        totals["hours"] += counts["hours"]
    return totals


def prune_old_data(*, now: datetime | None = None) -> dict[str, int]:
    """Delete raw samples and roll-ups older than their retention (numa/conf.py)."""
    now = now or timezone.now()
    raw_cutoff = now - timedelta(hours=numa_setting("NUMA_RAW_RETENTION_HOURS"))
    minute_cutoff = now - timedelta(days=numa_setting("NUMA_MINUTE_RETENTION_DAYS"))
    hour_cutoff = now - timedelta(days=numa_setting("NUMA_HOUR_RETENTION_DAYS"))
    raw, _ = RawSample.objects.filter(sampled_at__lt=raw_cutoff).delete()
    minutes, _ = MinuteRollup.objects.filter(bucket_start__lt=minute_cutoff).delete()
    hours, _ = HourRollup.objects.filter(bucket_start__lt=hour_cutoff).delete()
    return {"raw": raw, "minutes": minutes, "hours": hours}


# ------------------------------------------------------------------ pinning events and gains


def record_pinning_event(
    *, hostname: str, changed_at: datetime, kind: str, note: str = "", who: str = ""
) -> tuple[PinningEvent, bool]:
    """Store a pinning event (idempotent on host, time and kind). The host must be known."""
    if kind not in PinningEvent.Kind.values:
        raise PinningEventError(
            f"kind {kind!r} is not one of {', '.join(PinningEvent.Kind.values)}"
        )
    if changed_at.tzinfo is None:
        raise PinningEventError("changed_at must carry a time zone")
    if kind == PinningEvent.Kind.MANUAL and not note.strip():
        raise PinningEventError("a manual event needs a note saying what changed")
    host = Host.objects.filter(hostname=hostname).first()
    if host is None:
        raise PinningEventError(f"unknown host {hostname!r}: it must have sent a sample first")
    return PinningEvent.objects.get_or_create(
        host=host, changed_at=changed_at, kind=kind, defaults={"note": note, "who": who[:150]}
    )


def compute_event_gain(
    *, event: PinningEvent, window: timedelta, gap: timedelta, resamples: int = 1000
) -> dict[str, Any]:
    """Compute the event's gain (selectors.event_gain_report) and keep it on the event."""
    from numa.selectors import event_gain_report

    report = event_gain_report(event=event, window=window, gap=gap, resamples=resamples)
    PinningEvent.objects.filter(pk=event.pk).update(last_gain=report, last_gain_at=timezone.now())
    return report
