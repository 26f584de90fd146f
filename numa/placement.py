"""What is pinned where: per-container placement and the top processes' NUMA fields, made
compact enough to keep the latest of on each host row.

Inputs are numa.sources samples (cgroup v2 leaves, /proc/PID/sched fields) and the per-cgroup
counter rates numa.rates already computes; outputs are small JSON-safe dicts for the host page.
Also the collector call with the configured container/process options, which degrades a
missing cgroup root to "not available" instead of failing the whole sample.

Pure module: no Django.
"""

from __future__ import annotations

import os
import re
from dataclasses import fields
from typing import Any, Unpack

from numa.sources import CgroupSample, HostSample, ProcessSample, SampleOptions, collect_host_sample

# Containers kept on the host row; a node runs at most a few hundred (kubelet max-pods 110).
MAX_CONTAINERS = 200
# The only cgroup counters the next sample's rates need (memory.stat has ~60 keys per cgroup).
CGROUP_RATE_KEYS: tuple[str, ...] = ("numa_pages_migrated", "numa_hint_faults", "numa_pte_updates")
# memory.numa_stat items that make up a container's resident memory per node.
RESIDENT_ITEMS: tuple[str, ...] = ("anon", "file", "kernel_stack", "shmem")
# A pod's cgroup: kubepods-burstable-pod<uid with _>.slice (systemd driver) or pod<uid> (cgroupfs).
_POD_PATTERN = re.compile(r"(?:^|-)pod([0-9a-fA-F][0-9a-fA-F_-]*)(?:\.slice)?$")
_BARE_CONTAINER_ID = re.compile(r"[0-9a-f]{32,}")
_CONTAINER_PREFIXES: tuple[str, ...] = ("cri-containerd-", "crio-", "docker-", "libpod-")
SHORT_ID_LENGTH = 12


def format_cpulist(cpus: list[int] | None) -> str | None:
    """The kernel's list format for sorted ids: [0, 1, 2, 5] -> "0-2,5"; None stays None."""
    if cpus is None:
        return None
    ordered = sorted(set(cpus))
    ranges: list[str] = []
    index = 0
    while index < len(ordered):
        start = index
        while index + 1 < len(ordered) and ordered[index + 1] == ordered[index] + 1:
            index += 1
        low, high = ordered[start], ordered[index]
        ranges.append(str(low) if low == high else f"{low}-{high}")
        index += 1
    return ",".join(ranges)


def node_cpulists(sample: HostSample) -> dict[int, list[int]]:
    """Node id -> its CPUs, from a sample."""
    return {node.node_id: list(node.cpus) for node in sample.nodes}


def cpu_to_node(cpulists: dict[int, list[int]]) -> dict[int, int]:
    """CPU id -> its node."""
    return {cpu: node for node, cpus in cpulists.items() for cpu in cpus}


def nodes_of_cpus(cpus: list[int], cpulists: dict[int, list[int]]) -> list[int]:
    """The NUMA nodes the given CPUs belong to (sorted)."""
    node_by_cpu = cpu_to_node(cpulists)
    return sorted({node_by_cpu[cpu] for cpu in cpus if cpu in node_by_cpu})


def node_of_cpu(cpu: int | None, cpulists: dict[int, list[int]]) -> int | None:
    if cpu is None:
        return None
    for node, node_cpus in cpulists.items():
        if cpu in node_cpus:
            return node
    return None


def container_labels(path: str) -> tuple[str, str | None]:
    """(short container name, pod uid or None) from a cgroup path.

    kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1f2e....slice/
    cri-containerd-0123456789abcdef....scope -> ("0123456789ab", "1f2e...").
    Paths that are not Kubernetes containers (system.slice/nginx.service) keep their last part.
    """
    last = path.rstrip("/").rsplit("/", 1)[-1]
    name = last.removesuffix(".scope")
    for prefix in _CONTAINER_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :][:SHORT_ID_LENGTH]
            break
    if _BARE_CONTAINER_ID.fullmatch(name):  # cgroupfs driver: .../pod<uid>/<container id>
        name = name[:SHORT_ID_LENGTH]
    pod: str | None = None
    for part in path.split("/")[:-1]:
        match = _POD_PATTERN.search(part)
        if match:
            pod = match.group(1).replace("_", "-")
    return name, pod


def _memory_by_node(cgroup: CgroupSample) -> dict[str, int]:
    totals: dict[str, int] = {}
    for item in RESIDENT_ITEMS:
        for node, value in cgroup.numa_stat_bytes.get(item, {}).items():
            totals[str(node)] = totals.get(str(node), 0) + value
    return totals


def container_placement(
    cgroup: CgroupSample,
    *,
    node_by_cpu: dict[int, int],
    rates_per_s: dict[str, float] | None,
) -> dict[str, Any]:
    """One container's placement: CPUs and memory nodes allowed, where its memory is, how fast
    NUMA balancing moves it. `pinned` = its CPUs are a strict subset of the host's; `aligned` =
    its CPUs and allowed memory sit on the same single node."""
    name, pod = container_labels(cgroup.path)
    cpus = cgroup.cpus_effective
    cpu_nodes = (
        sorted({node_by_cpu[cpu] for cpu in cpus if cpu in node_by_cpu})
        if cpus is not None
        else None
    )
    memory = _memory_by_node(cgroup)
    memory_total = sum(memory.values())
    local_share: float | None = None
    if cpu_nodes and memory_total:
        local_share = sum(memory.get(str(node), 0) for node in cpu_nodes) / memory_total
    rates = rates_per_s or {}
    return {
        "name": name,
        "pod": pod,
        "cpus": format_cpulist(cgroup.cpus_effective),
        "cpu_nodes": cpu_nodes,
        "mems": format_cpulist(cgroup.mems_effective),
        "pinned": bool(cpus is not None and node_by_cpu and set(cpus) < node_by_cpu.keys()),
        "aligned": bool(
            cpu_nodes is not None
            and len(cpu_nodes) == 1
            and cgroup.mems_effective is not None
            and sorted(set(cgroup.mems_effective)) == cpu_nodes
        ),
        "memory_bytes_by_node": memory,
        "memory_on_cpu_nodes_share": local_share,
        "numa_pages_migrated_per_s": rates.get("numa_pages_migrated"),
        "numa_hint_faults_per_s": rates.get("numa_hint_faults"),
    }


def container_placements(
    sample: HostSample,
    cgroup_rates: dict[str, dict[str, float]],
    limit: int = MAX_CONTAINERS,
) -> list[dict[str, Any]]:
    """Placement of every leaf cgroup in the sample, pinned ones first, then the biggest."""
    node_by_cpu = cpu_to_node(node_cpulists(sample))
    rows = [
        container_placement(
            cgroup, node_by_cpu=node_by_cpu, rates_per_s=cgroup_rates.get(cgroup.path)
        )
        for cgroup in sample.cgroups
    ]
    rows.sort(
        key=lambda row: (
            not row["pinned"],
            -sum(row["memory_bytes_by_node"].values()),
            row["pod"] or "",
            row["name"],
        )
    )
    return rows[:limit]


def _process_interval_s(previous: HostSample | None, sample: HostSample) -> float | None:
    if previous is None or previous.boot_id != sample.boot_id:
        return None
    interval = sample.monotonic_s - previous.monotonic_s
    return interval if interval > 0 else None


def _preferred_node(process: ProcessSample) -> int | None:
    preferred = process.sched_numa.get("numa_preferred_nid")
    return preferred if preferred is not None and preferred >= 0 else None


def top_process_rows(previous: HostSample | None, sample: HostSample) -> list[dict[str, Any]]:
    """The sample's top processes with their NUMA fields and, where the same process was in the
    previous sample, CPU cores used and pages migrated per second between the two."""
    cpulists = node_cpulists(sample)
    interval_s = _process_interval_s(previous, sample)
    before_by_pid = {
        process.pid: process for process in (previous.processes if previous else [])
    }
    rows: list[dict[str, Any]] = []
    for process in sample.processes:
        before = before_by_pid.get(process.pid)
        same = before is not None and before.comm == process.comm and interval_s is not None
        cpu_cores: float | None = None
        migrated_per_s: float | None = None
        migrated = process.sched_numa.get("numa_pages_migrated")
        if same and before is not None and interval_s is not None:
            ticks = process.cpu_ticks - before.cpu_ticks
            if ticks >= 0:
                cpu_cores = ticks / (sample.user_hz or 100) / interval_s
            migrated_before = before.sched_numa.get("numa_pages_migrated")
            if migrated is not None and migrated_before is not None and migrated >= migrated_before:
                migrated_per_s = (migrated - migrated_before) / interval_s
        rows.append(
            {
                "pid": process.pid,
                "comm": process.comm,
                "cpu_cores": cpu_cores,
                "last_cpu": process.last_cpu,
                "last_node": node_of_cpu(process.last_cpu, cpulists),
                "preferred_node": _preferred_node(process),
                "numa_pages_migrated": migrated,
                "numa_pages_migrated_per_s": migrated_per_s,
                "total_numa_faults": process.sched_numa.get("total_numa_faults"),
                "numa_scan_seq": process.sched_numa.get("mm->numa_scan_seq"),
            }
        )
    return rows


def sample_as_dict(sample: HostSample) -> dict[str, Any]:
    """Same JSON as HostSample.to_dict(), without dataclasses.asdict's deep copies (which cost
    more than reading 300 cgroups). Inner dicts are shared with the sample: serialise only."""
    data: dict[str, Any] = {
        item.name: getattr(sample, item.name)
        for item in fields(sample)
        if item.name not in ("nodes", "processes", "cgroups")
    }
    data["nodes"] = [dict(vars(node)) for node in sample.nodes]
    data["processes"] = [dict(vars(process)) for process in sample.processes]
    data["cgroups"] = [
        {
            **vars(cgroup),
            "numa_stat_bytes": {
                item: {str(node): value for node, value in per_node.items()}
                for item, per_node in cgroup.numa_stat_bytes.items()
            },
        }
        for cgroup in sample.cgroups
    ]
    return data


def compact_sample(sample: HostSample) -> dict[str, Any]:
    """The parts of a sample the next rates need, as a HostSample dict: per node its counters and
    CPU ticks (no meminfo, cpus, distances); per cgroup its path and rate counters only; per
    process its CPU ticks and pages migrated. About 1/5 of the full dict on a busy node."""
    data: dict[str, Any] = {
        item.name: getattr(sample, item.name)
        for item in fields(sample)
        if item.name not in ("nodes", "processes", "cgroups", "unavailable")
    }
    data["unavailable"] = {}
    data["nodes"] = [
        {"node_id": node.node_id, "numastat": node.numastat, "cpu_ticks": node.cpu_ticks}
        for node in sample.nodes
    ]
    data["cgroups"] = [
        {
            "path": cgroup.path,
            "memory_stat": {
                key: cgroup.memory_stat[key]
                for key in CGROUP_RATE_KEYS
                if key in cgroup.memory_stat
            },
        }
        for cgroup in sample.cgroups
    ]
    data["processes"] = [
        {
            "pid": process.pid,
            "comm": process.comm,
            "cpu_ticks": process.cpu_ticks,
            "last_cpu": process.last_cpu,
            "sched_numa": {
                key: value
                for key, value in process.sched_numa.items()
                if key == "numa_pages_migrated"
            },
        }
        for process in sample.processes
    ]
    return data


def collect_configured_sample(*, cgroup_root: str | None = None, **options: Unpack[SampleOptions]) -> HostSample:
    """collect_host_sample() with the container/process options; a cgroup root that is not a
    directory becomes unavailable["cgroups"] instead of an error (the rest is still collected)."""
    usable_root = cgroup_root
    reason: str | None = None
    if cgroup_root is not None and not os.path.isdir(cgroup_root):
        usable_root = None
        reason = f"cgroup root {cgroup_root} is not a directory (NUMA_CGROUP_ROOT)"
    sample = collect_host_sample(cgroup_root=usable_root, **options)
    if reason:
        sample.unavailable["cgroups"] = reason
    return sample
