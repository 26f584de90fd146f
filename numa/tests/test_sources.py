"""Tests of numa.sources against fixture trees in kernel formats and this machine."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from numa.sources import (
    HostSample,
    NumaSourceError,
    collect_host_sample,
    parse_cpulist,
)

FIXTURES = Path(__file__).parent / "fixtures"


def sample_of(tree: str, top_processes: int = 0) -> HostSample:
    root = FIXTURES / tree
    return collect_host_sample(str(root / "sys"), str(root / "proc"), top_processes)


# ------------------------------------------------------------------ cpulist


def test_cpulist_parses_ranges_and_singles() -> None:
    assert parse_cpulist("0-3,8-11\n") == [0, 1, 2, 3, 8, 9, 10, 11]
    assert parse_cpulist("0,2,5-6") == [0, 2, 5, 6]


def test_cpulist_empty_means_no_cpus() -> None:
    assert parse_cpulist("\n") == []


def test_cpulist_rejects_backwards_range() -> None:
    with pytest.raises(ValueError):
        parse_cpulist("5-3")


# ------------------------------------------------------------------ fixture trees


def test_two_node_tree_has_both_nodes_with_cpulists_and_distances() -> None:
    sample = sample_of("two_node")
    assert [node.node_id for node in sample.nodes] == [0, 1]
    assert sample.nodes[0].cpus == [0, 1, 2, 3, 8, 9, 10, 11]
    assert sample.nodes[1].cpus == [4, 5, 6, 7, 12, 13, 14, 15]
    assert sample.nodes[0].distance == [10, 21]
    assert sample.nodes[1].distance == [21, 10]


def test_two_node_numastat_counters_are_read_exactly() -> None:
    node1 = sample_of("two_node").nodes[1]
    assert node1.numastat == {
        "numa_hit": 800000,
        "numa_miss": 3000,
        "numa_foreign": 2000,
        "interleave_hit": 400,
        "local_node": 780000,
        "other_node": 23000,
    }


def test_node_meminfo_values_are_in_kb_by_key() -> None:
    node1 = sample_of("two_node").nodes[1]
    assert node1.meminfo_kb["MemTotal"] == 33030144
    assert node1.meminfo_kb["MemUsed"] == 33030144 - 33030144 // 2
    assert "FilePages" in node1.meminfo_kb and "AnonPages" in node1.meminfo_kb
    # HugePages_* lines carry no unit but are still read
    assert node1.meminfo_kb["HugePages_Total"] == 0


def test_cpu_ticks_are_summed_per_node_from_the_cpulists() -> None:
    sample = sample_of("two_node")
    # fixture: cpuN has user = 1000 + N
    assert sample.nodes[0].cpu_ticks["user"] == sum(1000 + n for n in (0, 1, 2, 3, 8, 9, 10, 11))
    assert sample.nodes[1].cpu_ticks["user"] == sum(1000 + n for n in (4, 5, 6, 7, 12, 13, 14, 15))
    assert sample.host_cpu_ticks["user"] == sum(1000 + n for n in range(16))
    assert sample.online_cpus == 16


def test_vmstat_keeps_numa_and_migration_counters_only() -> None:
    vmstat = sample_of("two_node").vmstat
    assert vmstat["numa_hint_faults"] == 50000
    assert vmstat["numa_hint_faults_local"] == 40000
    assert vmstat["numa_pages_migrated"] == 7000
    assert vmstat["pgmigrate_success"] == 7500
    assert vmstat["thp_migration_success"] == 3
    assert vmstat["numa_other"] == 12000 + 23000
    assert "nr_free_pages" not in vmstat


def test_host_identity_balancing_and_boot_id_are_read() -> None:
    sample = sample_of("two_node")
    assert sample.hostname == "two-node-host"
    assert sample.boot_id == "5b0f3c52-6a43-4b8e-9c1d-2f7e8a9b0c11"
    assert sample.numa_balancing == 1
    assert sample.unavailable == {}


def test_four_node_tree_reads_the_distance_matrix() -> None:
    sample = sample_of("four_node")
    assert [node.distance for node in sample.nodes] == [
        [10, 16, 16, 22],
        [16, 10, 22, 16],
        [16, 22, 10, 16],
        [22, 16, 16, 10],
    ]
    assert sample.nodes[3].cpus == [12, 13, 14, 15]
    assert sample.nodes[2].numastat["other_node"] == 3000


def test_one_node_tree_copied_from_a_real_host_parses_cleanly() -> None:
    sample = sample_of("one_node")
    assert len(sample.nodes) == 1
    assert sample.nodes[0].numastat["numa_hit"] == 2444757
    assert sample.nodes[0].meminfo_kb["MemTotal"] == 6121684
    assert sample.numa_balancing == 0
    assert sample.unavailable == {}


# ------------------------------------------------------------------ degraded trees


def test_kernel_without_numa_degrades_to_an_unavailable_entry() -> None:
    sample = sample_of("no_numa")
    assert sample.nodes == []
    assert sample.unavailable["nodes"] == "/sys/devices/system/node missing: kernel without NUMA"
    assert "vmstat.numa" in sample.unavailable
    assert "numa_balancing" in sample.unavailable
    assert sample.numa_balancing is None
    # host CPU still works
    assert sample.host_cpu_ticks["user"] == 1000 + 1001


def test_truncated_numastat_names_the_node_and_line() -> None:
    sample = sample_of("truncated")
    assert sample.unavailable["node1.numastat"] == "numastat of node1 truncated at line 3"
    # lines before the cut are kept; node0 is untouched
    assert sample.nodes[1].numastat == {"numa_hit": 800000, "numa_miss": 3000}
    assert sample.nodes[0].numastat["other_node"] == 12000


def _copy_tree(tmp_path: Path, tree: str) -> Path:
    target = tmp_path / tree
    shutil.copytree(FIXTURES / tree, target)
    return target


def test_missing_numastat_file_is_reported_not_raised(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, "two_node")
    os.remove(root / "sys/devices/system/node/node0/numastat")
    sample = collect_host_sample(str(root / "sys"), str(root / "proc"))
    assert "node0.numastat" in sample.unavailable
    assert "missing" in sample.unavailable["node0.numastat"]
    assert sample.nodes[0].numastat == {}


def test_numastat_without_trailing_newline_drops_the_possibly_cut_value(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, "two_node")
    path = root / "sys/devices/system/node/node0/numastat"
    path.write_text(path.read_text().rstrip("\n"))
    sample = collect_host_sample(str(root / "sys"), str(root / "proc"))
    assert "other_node" not in sample.nodes[0].numastat
    assert sample.unavailable["node0.numastat"] == "numastat of node0 truncated at line 6"


def test_garbage_cpulist_and_distance_are_reported(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, "two_node")
    (root / "sys/devices/system/node/node1/cpulist").write_text("4-x\n")
    (root / "sys/devices/system/node/node1/distance").write_text("21\n")
    sample = collect_host_sample(str(root / "sys"), str(root / "proc"))
    assert "malformed" in sample.unavailable["node1.cpulist"]
    assert "1 entries for 2 nodes" in sample.unavailable["node1.distance"]


def test_truncated_proc_stat_is_reported(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, "two_node")
    (root / "proc/stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 1 2\n")
    sample = collect_host_sample(str(root / "sys"), str(root / "proc"))
    assert sample.unavailable["cpu"] == "/proc/stat truncated at line 2"


def test_missing_boot_id_is_reported(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path, "two_node")
    os.remove(root / "proc/sys/kernel/random/boot_id")
    sample = collect_host_sample(str(root / "sys"), str(root / "proc"))
    assert sample.boot_id is None
    assert "boot_id" in sample.unavailable


def test_root_that_does_not_exist_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NumaSourceError, match="sys_root"):
        collect_host_sample(str(tmp_path / "nope"), "/proc")
    with pytest.raises(NumaSourceError, match="proc_root"):
        collect_host_sample("/sys", str(tmp_path / "nope"))
    with pytest.raises(NumaSourceError, match="cgroup_root"):
        collect_host_sample("/sys", "/proc", cgroup_root=str(tmp_path / "nope"))


def test_negative_top_processes_is_rejected() -> None:
    with pytest.raises(NumaSourceError, match="top_processes"):
        collect_host_sample(top_processes=-1)


# ------------------------------------------------------------------ processes and cgroups


def test_top_processes_are_ordered_by_cpu_time_with_sched_numa_fields() -> None:
    sample = sample_of("two_node", top_processes=5)
    assert [process.pid for process in sample.processes] == [4242, 4343]
    java = sample.processes[0]
    assert java.comm == "java"
    assert java.cpu_ticks == 98000
    assert java.last_cpu == 5
    assert java.sched_numa == {
        "mm->numa_scan_seq": 41,
        "numa_pages_migrated": 1234,
        "numa_preferred_nid": 1,
        "total_numa_faults": 5678,
    }


def test_process_name_with_spaces_and_parentheses_is_parsed() -> None:
    odd = sample_of("two_node", top_processes=5).processes[1]
    assert odd.comm == "my (odd) name"
    assert odd.cpu_ticks == 15
    assert odd.sched_numa["numa_preferred_nid"] == -1


def test_top_processes_limit_is_respected() -> None:
    assert len(sample_of("two_node", top_processes=1).processes) == 1
    assert sample_of("two_node").processes == []


def test_leaf_cgroup_gets_numa_stat_memory_stat_and_cpuset() -> None:
    root = FIXTURES / "two_node"
    sample = collect_host_sample(
        str(root / "sys"), str(root / "proc"), cgroup_root=str(root / "sys/fs/cgroup")
    )
    assert len(sample.cgroups) == 1  # kubepods.slice is not a leaf
    container = sample.cgroups[0]
    assert container.path.endswith("cri-containerd-abc123.scope")
    assert container.numa_stat_bytes["anon"] == {0: 83886080, 1: 20971520}
    assert container.memory_stat["numa_pages_migrated"] == 321
    assert container.memory_stat["numa_hint_faults"] == 2500
    assert "pgfault" not in container.memory_stat
    assert container.cpus_effective == [4, 5, 6, 7, 12, 13, 14, 15]
    assert container.mems_effective == [1]


# ------------------------------------------------------------------ serialisation


def test_sample_survives_a_json_round_trip() -> None:
    root = FIXTURES / "two_node"
    sample = collect_host_sample(
        str(root / "sys"),
        str(root / "proc"),
        top_processes=2,
        cgroup_root=str(root / "sys/fs/cgroup"),
    )
    restored = HostSample.from_dict(json.loads(json.dumps(sample.to_dict())))
    assert restored == sample


def test_from_dict_rejects_a_dict_that_is_not_a_sample() -> None:
    with pytest.raises(NumaSourceError):
        HostSample.from_dict({"hostname": "x", "unexpected": 1})


# ------------------------------------------------------------------ this machine


def test_live_machine_has_node0_with_cpus_and_counters() -> None:
    sample = collect_host_sample(top_processes=3)
    node0 = sample.node(0)
    assert node0 is not None
    assert node0.cpus, "node0 should own at least one CPU"
    assert node0.numastat["numa_hit"] > 0
    assert node0.meminfo_kb["MemTotal"] > 0
    assert sample.host_cpu_ticks["user"] > 0
    assert sample.boot_id
    assert 0 < len(sample.processes) <= 3
