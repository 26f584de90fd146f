"""CPU cost of the per-container and top-process collection on a Kubernetes-sized node.

Builds a cgroup v2 tree like a full node's (110 pods x (1 pause + 2 containers) = 330 leaf
cgroups, systemd driver, each with memory.stat, memory.numa_stat and cpusets copied from the
two-node fixture) in a temporary directory, then measures, in process CPU time:

* collect_configured_sample() of this machine with top 5 processes and that cgroup tree;
* the same plus what record_sample does with it (rates, placements, compaction, JSON size);
* the agent's way: collect and serialise the whole sample to JSON for the POST.

Target: < 1% of one core at a 10 s interval (< 100 ms CPU per sample).

    python -m numa.benchmarks.placement_bench [samples] [pods]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from numa.placement import (
    collect_configured_sample,
    compact_sample,
    container_placements,
    sample_as_dict,
    top_process_rows,
)
from numa.rates import rates_between
from numa.sources import HostSample

INTERVAL_S = 10.0
ROUNDS = 3
CONTAINERS_PER_POD = 3  # pause + two workload containers
FIXTURE_CONTAINER = (
    Path(__file__).resolve().parent.parent
    / "tests/fixtures/two_node/sys/fs/cgroup/kubepods.slice/kubepods-pod1234.slice"
    / "cri-containerd-abc123.scope"
)
# A real memory.stat has ~60 keys; pad the fixture's with the usual size/event keys.
EXTRA_MEMORY_STAT_KEYS = (
    "sock vmalloc shmem zswap zswapped file_mapped file_dirty file_writeback swapcached "
    "anon_thp file_thp shmem_thp inactive_anon active_anon inactive_file active_file "
    "unevictable slab_reclaimable slab_unreclaimable slab workingset_activate_anon "
    "workingset_activate_file workingset_restore_anon workingset_restore_file "
    "workingset_nodereclaim pgscan pgsteal pgscan_kswapd pgscan_direct pgsteal_kswapd "
    "pgsteal_direct pgrefill pgactivate pgdeactivate pglazyfree pglazyfreed thp_fault_alloc "
    "thp_collapse_alloc"
).split()


def build_node_tree(root: Path, pods: int) -> int:
    """Write a kubepods cgroup v2 tree under root; returns the number of leaf cgroups."""
    memory_stat = (FIXTURE_CONTAINER / "memory.stat").read_text() + "".join(
        f"{key} {index * 4096}\n" for index, key in enumerate(EXTRA_MEMORY_STAT_KEYS)
    )
    numa_stat = (FIXTURE_CONTAINER / "memory.numa_stat").read_text()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    leaves = 0
    for pod in range(pods):
        pod_dir = root / "kubepods.slice" / f"kubepods-pod{pod:08x}_aaaa_bbbb_cccc_dddd.slice"
        for container in range(CONTAINERS_PER_POD):
            leaf = pod_dir / f"cri-containerd-{pod:032x}{container:032x}.scope"
            leaf.mkdir(parents=True)
            (leaf / "memory.stat").write_text(memory_stat)
            (leaf / "memory.numa_stat").write_text(numa_stat)
            (leaf / "cpuset.cpus.effective").write_text("4-7,12-15\n" if pod % 2 else "0-15\n")
            (leaf / "cpuset.mems.effective").write_text("1\n" if pod % 2 else "0-1\n")
            (leaf / "cgroup.procs").write_text("")
            leaves += 1
        (pod_dir / "memory.stat").write_text("anon 0\n")
    (root / "kubepods.slice" / "memory.stat").write_text("anon 0\n")
    return leaves


def _cpu_ms(function: Callable[[], object], samples: int) -> float:
    rounds = []
    for _ in range(ROUNDS):
        start = time.process_time()
        for _ in range(samples):
            function()
        rounds.append((time.process_time() - start) * 1000.0 / samples)
    return statistics.median(rounds)


def run(samples: int = 50, pods: int = 110) -> dict[str, float]:
    """Median CPU ms per sample for each step; prints a table."""
    with tempfile.TemporaryDirectory(prefix="numa-cgroup-bench-") as directory:
        root = Path(directory)
        leaves = build_node_tree(root, pods)

        def collect() -> HostSample:
            return collect_configured_sample(top_processes=5, cgroup_root=str(root))

        previous = collect()

        def collect_and_summarise() -> int:
            sample = collect()
            rates = rates_between(previous, sample)
            container_placements(sample, rates.cgroup_counters_per_s)
            top_process_rows(previous, sample)
            return len(json.dumps(compact_sample(sample)))

        def agent_body() -> int:
            return len(json.dumps(sample_as_dict(collect())))

        figures = {
            "baseline (nodes+vmstat+stat)": _cpu_ms(lambda: collect_configured_sample(), samples),
            f"+ top 5 processes + {leaves} cgroups": _cpu_ms(collect, samples),
            "+ rates, placements, compaction": _cpu_ms(collect_and_summarise, samples),
            "agent: collect + full JSON body": _cpu_ms(agent_body, samples),
        }
        stored = collect()
        placements_json = len(json.dumps(container_placements(stored, {})))
        compact = compact_sample(stored)
    processes = sum(1 for name in os.listdir("/proc") if name.isdigit())
    print(
        f"{samples} samples x {ROUNDS} rounds, median CPU ms per sample "
        f"({leaves} leaf cgroups, {processes} processes on this machine)"
    )
    for name, cpu_ms in figures.items():
        share = cpu_ms / (INTERVAL_S * 1000.0) * 100.0
        print(f"  {name:<40} {cpu_ms:8.3f} ms = {share:.3f}% of one core at a 10 s interval")
    print(
        f"  stored per host: containers JSON {placements_json / 1024:.1f} KiB, "
        f"last_counters JSON {len(json.dumps(compact)) / 1024:.1f} KiB"
    )
    figures["containers_json_bytes"] = float(placements_json)
    return figures


if __name__ == "__main__":
    run(
        int(sys.argv[1]) if len(sys.argv) > 1 else 50,
        int(sys.argv[2]) if len(sys.argv) > 2 else 110,
    )
