"""Every write of NUMA samples: hosts, samples and their rates, hourly checks (extras, kubelet
policies), silence, roll-ups, retention and pinning events.

Entry points (Celery tasks, the API, the agent, admin, demo setup) call these functions and hold
no logic of their own. What a sample may hold is numa/samples.py; the counter maths are
numa/rates.py and numa/rollups.py (all without Django). Gains are numa/gain_runs.py.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from numa import alerts as numa_alerts
from numa.conf import numa_setting
from numa.kubelet import PolicyChange, policy_changes
from numa.models import Host, HourRollup, MinuteRollup, PinningEvent, RawSample
from numa.placement import compact_sample, container_placements, top_process_rows
from numa.rates import HostRates, RatesInputError, rates_between
from numa.rollups import (
    METRIC_FIELDS,
    NODE_METRIC_FIELDS,
    bucket_of,
    rate_columns,
    topology,
    weighted_means,
    work_per_s,
)
from numa.samples import (
    MAX_HOSTNAME_LENGTH,
    NumaSampleError,
    check_work_total,
    clean_kubelet_reading,
    sample_time,
    split_extras,
    validate_sample,
)
from numa.sources import HostSample, NumaSourceError

logger = logging.getLogger(__name__)

# The hourly checks (eBPF/perf measurement, kubelet configz read) run at most this often per host.
HOURLY_CHECKS_EVERY = timedelta(hours=1)
KUBELET_EVENT_WHO = "kubelet"
# A change of a kubelet policy is recorded as the pinning event of that manager.
POLICY_EVENT_KINDS: dict[str, str] = {
    "cpuManagerPolicy": PinningEvent.Kind.CPU_MANAGER_STATIC,
    "memoryManagerPolicy": PinningEvent.Kind.MEMORY_MANAGER,
    "topologyManagerPolicy": PinningEvent.Kind.TOPOLOGY_SINGLE_NUMA_NODE,
}


class PinningEventError(ValueError):
    """A pinning event is malformed (unknown kind, naive time, unknown host...)."""


# --------------------------------------------------------------------------- samples


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
    validate_sample(sample, now=timezone.now())
    check_work_total(work_total)
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
                columns = rate_columns(rates)
            except (NumaSourceError, RatesInputError) as error:
                # e.g. the agent restarted with a reset monotonic clock: the next interval is fine.
                logger.info("no rate for %s at %s: %s", host.hostname, sampled_at, error)
                columns = {}
            if columns:
                columns["work_per_s"] = work_per_s(
                    work_total, host.last_work_total, columns["interval_s"]
                )
        row = RawSample.objects.create(host=host, sampled_at=sampled_at, **columns)

        now = timezone.now()
        host.first_seen = host.first_seen or now
        host.last_seen = now
        host.silent = False
        host.silent_since = None
        host.node_count = len(sample.nodes)
        host.topology = topology(sample)
        host.numa_balancing = sample.numa_balancing
        host.unavailable = dict(sample.unavailable)
        host.last_counters = compact_sample(sample)
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
    update_fields = [*METRIC_FIELDS, *NODE_METRIC_FIELDS, "samples", "covered_s"]
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
        bucket_of(since, "minute"),
        bucket_of(until, "minute") + timedelta(minutes=1),
    )
    by_minute: dict[datetime, list[RawSample]] = defaultdict(list)
    for sample in RawSample.objects.filter(
        host=host, sampled_at__gte=minute_start, sampled_at__lt=minute_end, interval_s__isnull=False
    ).only(*METRIC_FIELDS, *NODE_METRIC_FIELDS, "interval_s", "sampled_at"):
        by_minute[bucket_of(sample.sampled_at, "minute")].append(sample)
    minutes = _upsert_rollups(
        MinuteRollup,
        host.pk,
        {start: weighted_means(rows, "interval_s") for start, rows in by_minute.items()},
    )
    hour_start, hour_end = bucket_of(since, "hour"), bucket_of(until, "hour") + timedelta(hours=1)
    by_hour: dict[datetime, list[MinuteRollup]] = defaultdict(list)
    for rollup in MinuteRollup.objects.filter(
        host=host, bucket_start__gte=hour_start, bucket_start__lt=hour_end
    ):
        by_hour[bucket_of(rollup.bucket_start, "hour")].append(rollup)
    hours = _upsert_rollups(
        HourRollup,
        host.pk,
        {start: weighted_means(rows, "covered_s") for start, rows in by_hour.items()},
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


# ------------------------------------------------------------------ pinning events


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
