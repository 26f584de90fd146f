"""Per-container placement and top processes: pure summaries (numa.placement), the settings that
turn them on (numa.conf), and what record_sample keeps on the host row."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from numa.conf import NumaConfigError, cgroup_root, is_cgroup_v2_root, numa_count_setting
from numa.placement import (
    CGROUP_RATE_KEYS,
    collect_configured_sample,
    compact_sample,
    container_labels,
    container_placements,
    format_cpulist,
    nodes_of_cpus,
    sample_as_dict,
    top_process_rows,
)
from numa.sources import HostSample, parse_cpulist
from numa.tests.helpers import FIXTURES, container_later, container_sample

TWO_NODE = FIXTURES / "two_node"
CONTAINER_PATH = "kubepods.slice/kubepods-pod1234.slice/cri-containerd-abc123.scope"


# ------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize(
    ("cpus", "text"),
    [([0, 1, 2, 5], "0-2,5"), ([4, 5, 6, 7, 12, 13, 14, 15], "4-7,12-15"), ([3], "3"), ([], "")],
)
def test_format_cpulist_is_the_inverse_of_the_kernel_parser(cpus: list[int], text: str) -> None:
    assert format_cpulist(cpus) == text
    assert parse_cpulist(text) == cpus


def test_format_cpulist_keeps_none_for_no_cpuset() -> None:
    assert format_cpulist(None) is None


def test_nodes_of_cpus_finds_every_node_touched() -> None:
    cpulists = {0: [0, 1], 1: [2, 3]}
    assert nodes_of_cpus([3], cpulists) == [1]
    assert nodes_of_cpus([1, 2], cpulists) == [0, 1]


@pytest.mark.parametrize(
    ("path", "name", "pod"),
    [
        (CONTAINER_PATH, "abc123", "1234"),
        (
            "kubepods.slice/kubepods-burstable.slice/"
            "kubepods-burstable-pod1f2e3d4c_5b6a_7980_abcd_ef0123456789.slice/"
            "cri-containerd-0123456789abcdef0123456789abcdef.scope",
            "0123456789ab",
            "1f2e3d4c-5b6a-7980-abcd-ef0123456789",
        ),
        (
            "kubepods/besteffort/pod1f2e3d4c-5b6a-7980-abcd-ef0123456789/"
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "0123456789ab",
            "1f2e3d4c-5b6a-7980-abcd-ef0123456789",
        ),
        ("system.slice/nginx.service", "nginx.service", None),
    ],
)
def test_container_labels_from_systemd_and_cgroupfs_paths(
    path: str, name: str, pod: str | None
) -> None:
    assert container_labels(path) == (name, pod)


def test_container_pinned_to_node_one_is_aligned_with_its_memory_share() -> None:
    [row] = container_placements(container_sample(), {})
    assert (row["name"], row["pod"]) == ("abc123", "1234")
    assert row["cpus"] == "4-7,12-15" and row["cpu_nodes"] == [1] and row["mems"] == "1"
    assert row["pinned"] and row["aligned"]
    assert row["memory_bytes_by_node"] == {"0": 83886080 + 52428800 + 16384, "1": 20971520}
    # Most of its memory sits on node 0 although it runs on node 1: the page makes that visible.
    assert row["memory_on_cpu_nodes_share"] == pytest.approx(20971520 / 157302784)
    assert row["numa_pages_migrated_per_s"] is None  # no previous sample yet


def test_container_rates_come_from_the_cgroup_counter_rates() -> None:
    sample = container_sample()
    rates = {CONTAINER_PATH: {"numa_pages_migrated": 5.0, "numa_hint_faults": 40.0}}
    [row] = container_placements(sample, rates)
    assert row["numa_pages_migrated_per_s"] == 5.0 and row["numa_hint_faults_per_s"] == 40.0


def test_unpinned_container_is_neither_pinned_nor_aligned() -> None:
    sample = container_sample()
    sample.cgroups[0].cpus_effective = list(range(16))
    sample.cgroups[0].mems_effective = [0, 1]
    [row] = container_placements(sample, {})
    assert not row["pinned"] and not row["aligned"] and row["cpu_nodes"] == [0, 1]


def test_container_without_cpuset_controller_shows_none() -> None:
    sample = container_sample()
    sample.cgroups[0].cpus_effective = None
    sample.cgroups[0].mems_effective = None
    [row] = container_placements(sample, {})
    assert row["cpus"] is None and row["cpu_nodes"] is None and not row["pinned"]
    assert row["memory_on_cpu_nodes_share"] is None


def test_pinned_containers_come_first_and_the_list_is_capped() -> None:
    sample = container_sample()
    free = copy.deepcopy(sample.cgroups[0])
    free.path, free.cpus_effective = "system.slice/big.service", None
    free.numa_stat_bytes = {"anon": {0: 10**12}}
    sample.cgroups.insert(0, free)
    rows = container_placements(sample, {})
    assert [row["name"] for row in rows] == ["abc123", "big.service"]
    assert len(container_placements(sample, {}, limit=1)) == 1


def test_top_processes_carry_nodes_and_preferred_node() -> None:
    rows = {row["comm"]: row for row in top_process_rows(None, container_sample())}
    java = rows["java"]
    assert java["pid"] == 4242 and java["last_cpu"] == 5 and java["last_node"] == 1
    assert java["preferred_node"] == 1 and java["numa_pages_migrated"] == 1234
    assert java["total_numa_faults"] == 5678 and java["cpu_cores"] is None
    assert rows["my (odd) name"]["preferred_node"] is None  # numa_preferred_nid -1


def test_top_process_rates_between_two_samples_of_the_same_process() -> None:
    sample = container_sample()
    rows = {row["comm"]: row for row in top_process_rows(sample, container_later(sample))}
    assert rows["java"]["cpu_cores"] == pytest.approx(2.0)
    assert rows["java"]["numa_pages_migrated_per_s"] == pytest.approx(3.0)


def test_a_reused_pid_gets_no_rate() -> None:
    sample = container_sample()
    later = container_later(sample)
    next(p for p in later.processes if p.pid == 4242).comm = "other"
    row = next(row for row in top_process_rows(sample, later) if row["pid"] == 4242)
    assert row["cpu_cores"] is None and row["numa_pages_migrated_per_s"] is None


def test_compact_sample_keeps_only_what_the_next_rates_need() -> None:
    sample = container_sample()
    data = json.loads(json.dumps(compact_sample(sample)))
    assert data["cgroups"] == [
        {
            "path": CONTAINER_PATH,
            "memory_stat": {
                "numa_pages_migrated": 321,
                "numa_hint_faults": 2500,
                "numa_pte_updates": 4000,
            },
        }
    ]
    assert set(data["nodes"][0]) == {"node_id", "numastat", "cpu_ticks"}
    kept = {"numa_pages_migrated"}
    assert all(set(process["sched_numa"]) <= kept for process in data["processes"])
    restored = HostSample.from_dict(data)
    assert restored.cgroups[0].numa_stat_bytes == {} and restored.cgroups[0].cpus_effective is None
    assert restored.vmstat == sample.vmstat and restored.boot_id == sample.boot_id


def test_rates_from_a_compacted_previous_sample_match_the_full_one() -> None:
    from numa.rates import rates_between

    sample = container_sample()
    later = container_later(sample)
    compacted = HostSample.from_dict(json.loads(json.dumps(compact_sample(sample))))
    full, compact = rates_between(sample, later), rates_between(compacted, later)
    # Only the NUMA counters survive compaction (the page shows no other cgroup rate).
    assert compact.cgroup_counters_per_s[CONTAINER_PATH] == {
        key: value
        for key, value in full.cgroup_counters_per_s[CONTAINER_PATH].items()
        if key in CGROUP_RATE_KEYS
    }
    assert compact.remote_share == full.remote_share
    assert compact.cpu_cores_used == full.cpu_cores_used


def test_sample_as_dict_is_the_same_json_as_to_dict() -> None:
    sample = container_sample()
    assert json.dumps(sample_as_dict(sample), sort_keys=True) == json.dumps(
        sample.to_dict(), sort_keys=True
    )


def test_missing_cgroup_root_is_unavailable_not_an_error(tmp_path: Path) -> None:
    sample = collect_configured_sample(
        sys_root=str(TWO_NODE / "sys"),
        proc_root=str(TWO_NODE / "proc"),
        cgroup_root=str(tmp_path / "nope"),
    )
    assert sample.cgroups == [] and "NUMA_CGROUP_ROOT" in sample.unavailable["cgroups"]
    assert sample.nodes  # the rest of the sample is still there


# ------------------------------------------------------------------ settings


def test_cgroup_v2_root_is_recognised_by_cgroup_controllers(tmp_path: Path) -> None:
    assert is_cgroup_v2_root(str(TWO_NODE / "sys/fs/cgroup"))
    assert not is_cgroup_v2_root(str(tmp_path))


def test_cgroup_root_setting_off_path_and_auto(settings) -> None:
    settings.NUMA_CGROUP_ROOT = "off"
    assert cgroup_root() is None
    settings.NUMA_CGROUP_ROOT = "/custom/cgroup"
    assert cgroup_root() == "/custom/cgroup"
    settings.NUMA_CGROUP_ROOT = ""
    expected = "/sys/fs/cgroup" if is_cgroup_v2_root("/sys/fs/cgroup") else None
    assert cgroup_root() == expected


def test_top_processes_setting_defaults_to_five_and_allows_zero(settings) -> None:
    del settings.NUMA_TOP_PROCESSES
    assert numa_count_setting("NUMA_TOP_PROCESSES") == 5
    settings.NUMA_TOP_PROCESSES = 0
    assert numa_count_setting("NUMA_TOP_PROCESSES") == 0


@pytest.mark.parametrize("value", ["-1", "500", "many"])
def test_bad_top_processes_setting_is_a_clear_error(settings, value: str) -> None:
    settings.NUMA_TOP_PROCESSES = value
    with pytest.raises(NumaConfigError, match="NUMA_TOP_PROCESSES"):
        numa_count_setting("NUMA_TOP_PROCESSES")


# ------------------------------------------------------------------ stored on the host


@pytest.mark.django_db
def test_record_sample_keeps_latest_containers_and_processes_on_the_host() -> None:
    from numa import ingest
    from numa.models import Host

    first = container_sample()
    ingest.record_sample(sample=first)
    host = Host.objects.get(hostname="two-node-host")
    assert host.containers[0]["aligned"] and host.containers[0]["numa_pages_migrated_per_s"] is None
    ingest.record_sample(sample=container_later(first))
    host.refresh_from_db()
    assert host.containers[0]["numa_pages_migrated_per_s"] == pytest.approx(5.0)
    assert host.containers[0]["numa_hint_faults_per_s"] == pytest.approx(40.0)
    java = next(row for row in host.top_processes if row["comm"] == "java")
    assert java["cpu_cores"] == pytest.approx(2.0) and java["last_node"] == 1


@pytest.mark.django_db
def test_host_row_keeps_only_compact_counters_between_samples() -> None:
    from numa import ingest
    from numa.models import Host

    ingest.record_sample(sample=container_sample())
    counters = Host.objects.get().last_counters
    assert counters is not None
    assert set(counters["cgroups"][0]["memory_stat"]) <= set(CGROUP_RATE_KEYS)
    assert "anon" not in counters["cgroups"][0]["memory_stat"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("processes", 0, "cpu_ticks"), "lots", "processes\\[0\\].cpu_ticks"),
        (("processes", 0, "sched_numa"), {"numa_preferred_nid": "x"}, "sched_numa"),
        (("cgroups", 0, "cpus_effective"), "4-7", "cpus_effective"),
        (("cgroups", 0, "memory_stat"), {"numa_pages_migrated": -1}, "memory_stat"),
        (("cgroups", 0, "numa_stat_bytes"), {"anon": {"0": "x"}}, "numa_stat_bytes"),
        (("cgroups", 0, "numa_stat_bytes"), {"anon": {"node0": 1}}, "numa_stat_bytes"),
    ],
)
def test_posted_processes_and_cgroups_are_validated(
    path: tuple, value: object, message: str
) -> None:
    from datetime import datetime, timezone

    from numa import samples

    data = container_sample().to_dict()
    data[path[0]][path[1]][path[2]] = value
    with pytest.raises(samples.NumaSampleError, match=message):
        samples.sample_body({"sample": json.loads(json.dumps(data))}, now=datetime.now(timezone.utc))
