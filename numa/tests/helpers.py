"""Test helpers: HostSamples read from the fixture trees, advanced by known counter deltas."""

from __future__ import annotations

import copy
import time
from pathlib import Path

from numa.extras import ExtraMeasurement, ExtraStatus
from numa.placement import collect_configured_sample
from numa.sources import HostSample, collect_host_sample

FIXTURES = Path(__file__).resolve().parent / "fixtures"


# Bodies the samples endpoint refuses, each with (part of) the message that names what is wrong:
# the same whether the pure schema check or the API answers.
MALFORMED_BODIES = [
    ([1, 2], "body must be a JSON object"),
    ({"sample": {}, "bonus": 1}, "'bonus' was unexpected"),
    ({"sample": "text"}, 'body.sample: "text" is not of type "object"'),
    ({"sample": {"hostname": "h"}}, 'body.sample: "monotonic_s" is a required property'),
    ({"work_total": 1}, '"sample" is a required property'),
]


def fixture_sample(name: str = "two_node", *, wall_time_s: float | None = None) -> HostSample:
    """A sample read from fixtures/<name>, stamped at wall_time_s (default: now)."""
    root = FIXTURES / name
    sample = collect_host_sample(sys_root=str(root / "sys"), proc_root=str(root / "proc"))
    sample.wall_time_s = wall_time_s if wall_time_s is not None else time.time() - 60
    sample.monotonic_s = 1000.0
    return sample


def unchanged_later(sample: HostSample, seconds: float = 10.0) -> HostSample:
    """A deep copy taken `seconds` later with every counter unchanged."""
    later = copy.deepcopy(sample)
    later.wall_time_s += seconds
    later.monotonic_s += seconds
    return later


def container_sample(*, top_processes: int = 5) -> HostSample:
    """fixtures/two_node read with its cgroups and top processes, stamped a minute ago."""
    root = FIXTURES / "two_node"
    sample = collect_configured_sample(
        sys_root=str(root / "sys"),
        proc_root=str(root / "proc"),
        top_processes=top_processes,
        cgroup_root=str(root / "sys/fs/cgroup"),
    )
    sample.wall_time_s = time.time() - 60
    sample.monotonic_s = 1000.0
    return sample


def container_later(sample: HostSample, seconds: float = 10.0) -> HostSample:
    """The same host later: the container migrated 50 pages, java ran 2 cores and migrated 30."""
    later = unchanged_later(sample, seconds)
    later.cgroups[0].memory_stat["numa_pages_migrated"] += 50
    later.cgroups[0].memory_stat["numa_hint_faults"] += 400
    java = next(process for process in later.processes if process.comm == "java")
    java.cpu_ticks += int(2 * seconds * later.user_hz)
    java.sched_numa["numa_pages_migrated"] += 30
    return later


def advanced(
    sample: HostSample,
    seconds: float = 10.0,
    *,
    local_node: int = 900,
    other_node: int = 100,
    pages_migrated: int = 50,
    busy_ticks_per_node: int = 500,
    hostname: str | None = None,
) -> HostSample:
    """The same host `seconds` later: each node gained local/other allocations and busy ticks."""
    later = unchanged_later(sample, seconds)
    if hostname:
        later.hostname = hostname
    for node in later.nodes:
        node.numastat["local_node"] = node.numastat.get("local_node", 0) + local_node
        node.numastat["other_node"] = node.numastat.get("other_node", 0) + other_node
        node.numastat["numa_hit"] = node.numastat.get("numa_hit", 0) + local_node
        if node.cpu_ticks:
            node.cpu_ticks["user"] += busy_ticks_per_node
    if later.host_cpu_ticks:
        later.host_cpu_ticks["user"] += busy_ticks_per_node * max(1, len(later.nodes))
    later.vmstat["numa_pages_migrated"] = (
        later.vmstat.get("numa_pages_migrated", 0) + pages_migrated
    )
    return later


def fake_measurements(seconds: float = 2.0, **_: object) -> dict[str, ExtraMeasurement]:
    """What measure_extras() returns where perf works and bpftrace is missing."""
    return {
        "perf_node_loads": ExtraMeasurement(
            name="perf_node_loads",
            available=True,
            values={"node_loads_per_s": 1000.0, "remote_load_share": 0.25},
        ),
        "migrate_misplaced_time": ExtraMeasurement(
            name="migrate_misplaced_time",
            available=False,
            reason="not available: bpftrace not on PATH",
        ),
    }


def fake_statuses(**_: object) -> dict[str, ExtraStatus]:
    return {"perf_node_loads": ExtraStatus(name="perf_node_loads", available=True, tool="perf")}
