"""Turn two HostSamples into per-second rates and the derived NUMA health values.

Kernel counters only go up while the host stays up; a counter that went down
(wrap, CPU hot-unplug, a module reload) or a changed boot_id (reboot) means the
interval has no rate for it: it is listed in ``reset_counters`` and left out,
never reported as a negative rate.

Derived values (None when the interval has no data for them):
* remote share = d(other_node) / (d(local_node) + d(other_node)), per node and host;
  per node it is the share of the node's allocations served to CPUs of other nodes
  (numastat.rst), the host figure is the share of all allocations that were remote;
* numa_miss share = d(numa_miss) / (d(numa_hit) + d(numa_miss));
* migrated pages/s and MiB/s (NUMA balancing's numa_pages_migrated);
* hint-fault locality (balancing convergence) = d(numa_hint_faults_local) / d(numa_hint_faults);
* CPU use in cores, per node and host: busy ticks / USER_HZ / seconds, where busy is
  user+nice+system+irq+softirq (idle, iowait and steal are time this host did not run).

Pure module: no Django.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from numa.sources import HostSample

DEFAULT_PAGE_SIZE_BYTES = 4096
BUSY_CPU_FIELDS: tuple[str, ...] = ("user", "nice", "system", "irq", "softirq")
BYTES_PER_MIB = 1024 * 1024


class RatesInputError(ValueError):
    """The two samples cannot be compared (other host, time going backwards...)."""


@dataclass
class CounterDeltas:
    """Differences of a family of counters over one interval."""

    deltas: dict[str, int] = field(default_factory=dict)
    reset_counters: list[str] = field(default_factory=list)

    def rates(self, seconds: float) -> dict[str, float]:
        return {key: value / seconds for key, value in self.deltas.items()}


@dataclass
class NodeRates:
    """Rates and derived values of one NUMA node over one interval."""

    node_id: int
    numastat_per_s: dict[str, float] = field(default_factory=dict)
    reset_counters: list[str] = field(default_factory=list)
    remote_share: float | None = None
    numa_miss_share: float | None = None
    cpu_cores_used: float | None = None


@dataclass
class HostRates:
    """Rates and derived values of one host between two samples."""

    hostname: str
    interval_s: float
    start_wall_time_s: float
    end_wall_time_s: float
    rebooted: bool
    nodes: list[NodeRates] = field(default_factory=list)
    vmstat_per_s: dict[str, float] = field(default_factory=dict)
    # Counter names (e.g. "vmstat.numa_hit", "node1.other_node", "cpu") with no rate.
    reset_counters: list[str] = field(default_factory=list)
    remote_share: float | None = None
    numa_miss_share: float | None = None
    migrated_pages_per_s: float | None = None
    migrated_mib_per_s: float | None = None
    hint_fault_locality: float | None = None
    cpu_cores_used: float | None = None
    cgroup_counters_per_s: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _counter_deltas(previous: dict[str, int], current: dict[str, int]) -> CounterDeltas:
    """Deltas of counters present in both; a counter that went down is a reset."""
    result = CounterDeltas()
    for key, now in current.items():
        before = previous.get(key)
        if before is None:
            continue  # appeared in this interval (e.g. kernel upgrade): no rate yet
        if now < before:
            result.reset_counters.append(key)
        else:
            result.deltas[key] = now - before
    return result


def _share(numerator: int | None, other: int | None) -> float | None:
    """numerator / (numerator + other), None when either is unknown or both are 0."""
    if numerator is None or other is None or numerator + other == 0:
        return None
    return numerator / (numerator + other)


@dataclass
class _ShareAcrossNodes:
    """One share (e.g. remote / all accesses) per node, and summed over the nodes that had both counts."""

    part: int = 0
    rest: int = 0
    nodes: int = 0

    def add(self, part: int | None, rest: int | None) -> float | None:
        if part is not None and rest is not None:
            self.part += part
            self.rest += rest
            self.nodes += 1
        return _share(part, rest)

    def covers(self, node_count: int) -> bool:
        """Every node had both counts: the summed share stands for the host."""
        return bool(node_count) and self.nodes == node_count

    def share(self) -> float | None:
        return _share(self.part, self.rest)


def _busy_ticks_delta(previous: dict[str, int], current: dict[str, int]) -> int | None:
    """Busy ticks between two cpu-time dicts, None when missing or reset."""
    if not previous or not current:
        return None
    try:
        delta = sum(current[key] for key in BUSY_CPU_FIELDS) - sum(
            previous[key] for key in BUSY_CPU_FIELDS
        )
    except KeyError:
        return None
    return delta if delta >= 0 else None


# Counters in cgroup memory.stat (the rest are sizes in bytes, which have no rate).
_CGROUP_COUNTER_PREFIXES: tuple[str, ...] = (
    "numa_",
    "pgmigrate",
    "pgpromote",
    "pgdemote",
    "thp_migration",
    "workingset_refault",
    "workingset_activate",
    "workingset_restore",
    "workingset_nodereclaim",
)


def rates_between(
    previous: HostSample,
    current: HostSample,
    page_size_bytes: int | None = None,
) -> HostRates:
    """Per-second rates of every counter from previous to current, plus derived values.

    page_size_bytes: for migrated MiB/s; defaults to the page size the sample
    recorded, else 4 KiB.
    """
    if previous.hostname != current.hostname:
        raise RatesInputError(
            f"samples come from different hosts: {previous.hostname!r} and {current.hostname!r}"
        )
    rebooted = (
        previous.boot_id is not None
        and current.boot_id is not None
        and previous.boot_id != current.boot_id
    )
    # Monotonic clocks restart at boot, so after a reboot only wall time is meaningful.
    interval_s = (
        current.wall_time_s - previous.wall_time_s
        if rebooted
        else current.monotonic_s - previous.monotonic_s
    )
    if interval_s <= 0:
        raise RatesInputError(
            f"current sample is not later than previous (interval {interval_s:.6f} s)"
        )
    rates = HostRates(
        hostname=current.hostname,
        interval_s=interval_s,
        start_wall_time_s=previous.wall_time_s,
        end_wall_time_s=current.wall_time_s,
        rebooted=rebooted,
    )
    if rebooted:
        # Every counter restarted from zero at some unknown time inside the interval.
        rates.reset_counters = sorted(
            [f"vmstat.{key}" for key in current.vmstat]
            + [f"node{node.node_id}.{key}" for node in current.nodes for key in node.numastat]
            + ["cpu"]
        )
        rates.nodes = [NodeRates(node_id=node.node_id) for node in current.nodes]
        return rates

    vmstat = _counter_deltas(previous.vmstat, current.vmstat)
    rates.vmstat_per_s = vmstat.rates(interval_s)
    rates.reset_counters.extend(f"vmstat.{key}" for key in vmstat.reset_counters)

    user_hz = current.user_hz or 100
    remote, miss = _ShareAcrossNodes(), _ShareAcrossNodes()
    for node in current.nodes:
        before_node = previous.node(node.node_id)
        node_rates = NodeRates(node_id=node.node_id)
        rates.nodes.append(node_rates)
        if before_node is None:
            continue  # node came online in this interval
        numastat = _counter_deltas(before_node.numastat, node.numastat)
        node_rates.numastat_per_s = numastat.rates(interval_s)
        node_rates.reset_counters = numastat.reset_counters
        rates.reset_counters.extend(f"node{node.node_id}.{key}" for key in numastat.reset_counters)
        node_rates.remote_share = remote.add(numastat.deltas.get("other_node"), numastat.deltas.get("local_node"))
        node_rates.numa_miss_share = miss.add(numastat.deltas.get("numa_miss"), numastat.deltas.get("numa_hit"))
        busy = _busy_ticks_delta(before_node.cpu_ticks, node.cpu_ticks)
        if busy is not None:
            node_rates.cpu_cores_used = busy / user_hz / interval_s
        elif before_node.cpu_ticks and node.cpu_ticks:
            rates.reset_counters.append(f"node{node.node_id}.cpu")

    # Host shares: from the nodes when every node had data, else from /proc/vmstat.
    if remote.covers(len(current.nodes)):
        rates.remote_share = remote.share()
    else:
        rates.remote_share = _share(
            vmstat.deltas.get("numa_other"), vmstat.deltas.get("numa_local")
        )
    if miss.covers(len(current.nodes)):
        rates.numa_miss_share = miss.share()
    else:
        rates.numa_miss_share = _share(
            vmstat.deltas.get("numa_miss"), vmstat.deltas.get("numa_hit")
        )

    migrated = vmstat.deltas.get("numa_pages_migrated")
    if migrated is not None:
        page_size = page_size_bytes or current.page_size_bytes or DEFAULT_PAGE_SIZE_BYTES
        rates.migrated_pages_per_s = migrated / interval_s
        rates.migrated_mib_per_s = migrated * page_size / BYTES_PER_MIB / interval_s
    hint_faults = vmstat.deltas.get("numa_hint_faults")
    hint_faults_local = vmstat.deltas.get("numa_hint_faults_local")
    if hint_faults and hint_faults_local is not None:
        rates.hint_fault_locality = hint_faults_local / hint_faults

    busy = _busy_ticks_delta(previous.host_cpu_ticks, current.host_cpu_ticks)
    if busy is not None:
        rates.cpu_cores_used = busy / user_hz / interval_s
    elif previous.host_cpu_ticks and current.host_cpu_ticks:
        rates.reset_counters.append("cpu")

    previous_cgroups = {cgroup.path: cgroup for cgroup in previous.cgroups}
    for cgroup in current.cgroups:
        before_cgroup = previous_cgroups.get(cgroup.path)
        if before_cgroup is None:
            continue
        counters = {
            key: value
            for key, value in cgroup.memory_stat.items()
            if key.startswith(_CGROUP_COUNTER_PREFIXES)
        }
        deltas = _counter_deltas(before_cgroup.memory_stat, counters)
        rates.cgroup_counters_per_s[cgroup.path] = deltas.rates(interval_s)
        rates.reset_counters.extend(
            f"cgroup.{cgroup.path}.{key}" for key in deltas.reset_counters
        )
    return rates
