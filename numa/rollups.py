"""The stored metric columns of a sample and their roll-ups (pure; no Django).

A sample row holds the rates between it and the host's previous sample (rate_columns); a minute
or hour bucket holds their interval-weighted means (weighted_means). numa/ingest.py stores both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Any

from numa.rates import HostRates
from numa.sources import HostSample

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
# Per-node metrics, stored as {"<node id>": value}.
NODE_METRIC_FIELDS: tuple[str, ...] = ("node_cpu_cores", "node_remote_share")
MAX_RESET_COUNTERS = 50


def rate_columns(rates: HostRates) -> dict[str, Any]:
    """The metric columns of a sample row from the rates since the host's previous sample."""
    hint_faults = rates.vmstat_per_s.get("numa_hint_faults")
    return {
        "interval_s": rates.interval_s,
        "rebooted": rates.rebooted,
        "reset_counters": rates.reset_counters[:MAX_RESET_COUNTERS],
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


def work_per_s(
    work_total: float | None, previous_total: float | None, interval_s: float | None
) -> float | None:
    """Work done per second since the previous sample; None when unknown or the counter reset."""
    if not interval_s or work_total is None or previous_total is None:
        return None
    delta = work_total - previous_total
    return delta / interval_s if delta >= 0 else None


def topology(sample: HostSample) -> dict[str, Any]:
    """What the host page shows about the nodes: CPUs, distances and memory per node."""
    return {
        "cpulists": {str(node.node_id): node.cpus for node in sample.nodes},
        "distances": {str(node.node_id): node.distance for node in sample.nodes},
        "memory_kb": {str(node.node_id): node.meminfo_kb.get("MemTotal") for node in sample.nodes},
        "online_cpus": sample.online_cpus,
    }


def weighted_means(rows: Iterable[Any], weight_field: str) -> dict[str, Any]:
    """Weighted means of the metric columns over rows (each metric over the rows that have it).

    Rows are anything with the metric attributes (sample rows, minute roll-ups); weight_field is
    interval_s for samples, covered_s for roll-ups.
    """
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    node_sums: dict[str, dict[str, list[float]]] = {
        name: defaultdict(lambda: [0.0, 0.0]) for name in NODE_METRIC_FIELDS
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


def bucket_of(moment: datetime, unit: str) -> datetime:
    """The start of the UTC minute or hour ("minute" / "hour") holding moment."""
    moment = moment.astimezone(dt_timezone.utc)
    if unit == "minute":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)
