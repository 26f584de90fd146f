"""Tests of numa.rates: counters to rates, resets, reboots and derived values."""

from __future__ import annotations

import copy

import pytest

from numa.rates import RatesInputError, rates_between
from numa.sources import HostSample, collect_host_sample
from numa.tests.helpers import FIXTURES
from numa.tests.helpers import unchanged_later as later


@pytest.fixture
def two_node() -> HostSample:
    root = FIXTURES / "two_node"
    sample = collect_host_sample(
        str(root / "sys"), str(root / "proc"), cgroup_root=str(root / "sys/fs/cgroup")
    )
    sample.monotonic_s = 1000.0
    sample.wall_time_s = 1_700_000_000.0
    sample.user_hz = 100
    sample.page_size_bytes = 4096
    return sample


def test_unchanged_counters_give_zero_rates(two_node: HostSample) -> None:
    rates = rates_between(two_node, later(two_node))
    assert rates.interval_s == 10.0
    assert rates.vmstat_per_s["numa_hit"] == 0.0
    assert rates.nodes[0].numastat_per_s["local_node"] == 0.0
    assert rates.reset_counters == []
    assert rates.remote_share is None  # no accesses: no share


def test_counter_increase_becomes_a_per_second_rate(two_node: HostSample) -> None:
    current = later(two_node, 20.0)
    current.vmstat["numa_hit"] += 4000
    current.nodes[1].numastat["numa_hit"] += 1000
    rates = rates_between(two_node, current)
    assert rates.vmstat_per_s["numa_hit"] == 200.0
    assert rates.nodes[1].numastat_per_s["numa_hit"] == 50.0


def test_remote_share_per_node_and_host(two_node: HostSample) -> None:
    current = later(two_node)
    current.nodes[0].numastat["local_node"] += 900
    current.nodes[0].numastat["other_node"] += 100
    current.nodes[1].numastat["local_node"] += 500
    current.nodes[1].numastat["other_node"] += 500
    rates = rates_between(two_node, current)
    assert rates.nodes[0].remote_share == pytest.approx(0.1)
    assert rates.nodes[1].remote_share == pytest.approx(0.5)
    assert rates.remote_share == pytest.approx(600 / 2000)


def test_numa_miss_share(two_node: HostSample) -> None:
    current = later(two_node)
    current.nodes[0].numastat["numa_hit"] += 750
    current.nodes[0].numastat["numa_miss"] += 250
    rates = rates_between(two_node, current)
    assert rates.nodes[0].numa_miss_share == pytest.approx(0.25)
    assert rates.numa_miss_share == pytest.approx(0.25)


def test_counter_that_went_down_is_marked_reset_never_negative(two_node: HostSample) -> None:
    current = later(two_node)
    current.nodes[1].numastat["other_node"] = 5  # was 23000
    current.vmstat["numa_pages_migrated"] = 0  # was 7000
    rates = rates_between(two_node, current)
    assert "node1.other_node" in rates.reset_counters
    assert "vmstat.numa_pages_migrated" in rates.reset_counters
    assert "other_node" not in rates.nodes[1].numastat_per_s
    assert rates.nodes[1].remote_share is None
    assert rates.migrated_pages_per_s is None
    assert all(value >= 0 for value in rates.vmstat_per_s.values())


def test_changed_boot_id_is_a_reboot_with_no_rates(two_node: HostSample) -> None:
    current = later(two_node)
    current.boot_id = "00000000-0000-0000-0000-000000000000"
    current.monotonic_s = 5.0  # monotonic clock restarted at boot
    current.vmstat["numa_hit"] += 10  # meaningless across a reboot
    rates = rates_between(two_node, current)
    assert rates.rebooted is True
    assert rates.vmstat_per_s == {}
    assert rates.cpu_cores_used is None
    assert "vmstat.numa_hit" in rates.reset_counters
    assert "cpu" in rates.reset_counters
    assert rates.interval_s == 10.0  # taken from wall time


def test_migrated_pages_and_mib_per_second(two_node: HostSample) -> None:
    current = later(two_node)
    current.vmstat["numa_pages_migrated"] += 2560  # 10 MiB of 4 KiB pages
    rates = rates_between(two_node, current)
    assert rates.migrated_pages_per_s == pytest.approx(256.0)
    assert rates.migrated_mib_per_s == pytest.approx(1.0)


def test_page_size_can_be_given(two_node: HostSample) -> None:
    current = later(two_node)
    current.vmstat["numa_pages_migrated"] += 10
    rates = rates_between(two_node, current, page_size_bytes=2 * 1024 * 1024)
    assert rates.migrated_mib_per_s == pytest.approx(2.0)


def test_hint_fault_locality_is_local_over_all_hint_faults(two_node: HostSample) -> None:
    current = later(two_node)
    current.vmstat["numa_hint_faults"] += 1000
    current.vmstat["numa_hint_faults_local"] += 800
    assert rates_between(two_node, current).hint_fault_locality == pytest.approx(0.8)


def test_hint_fault_locality_is_none_without_hint_faults(two_node: HostSample) -> None:
    assert rates_between(two_node, later(two_node)).hint_fault_locality is None


def test_cpu_use_in_cores_per_node_and_host(two_node: HostSample) -> None:
    current = later(two_node, 10.0)
    # node0 busy for 3 cores over 10 s at USER_HZ 100 = 3000 ticks
    current.nodes[0].cpu_ticks["user"] += 2000
    current.nodes[0].cpu_ticks["system"] += 1000
    current.nodes[0].cpu_ticks["idle"] += 5000  # idle does not count
    current.host_cpu_ticks["user"] += 2000
    current.host_cpu_ticks["system"] += 1000
    current.host_cpu_ticks["steal"] += 700  # steal is not this host's work
    rates = rates_between(two_node, current)
    assert rates.nodes[0].cpu_cores_used == pytest.approx(3.0)
    assert rates.nodes[1].cpu_cores_used == pytest.approx(0.0)
    assert rates.cpu_cores_used == pytest.approx(3.0)


def test_cpu_ticks_going_down_mark_cpu_reset(two_node: HostSample) -> None:
    current = later(two_node)
    current.host_cpu_ticks["user"] = 0
    rates = rates_between(two_node, current)
    assert rates.cpu_cores_used is None
    assert "cpu" in rates.reset_counters


def test_cgroup_counters_become_rates_but_sizes_do_not(two_node: HostSample) -> None:
    current = later(two_node)
    path = current.cgroups[0].path
    current.cgroups[0].memory_stat["numa_pages_migrated"] += 50
    current.cgroups[0].memory_stat["anon"] += 4096
    rates = rates_between(two_node, current)
    assert rates.cgroup_counters_per_s[path]["numa_pages_migrated"] == pytest.approx(5.0)
    assert "anon" not in rates.cgroup_counters_per_s[path]


def test_new_node_in_current_sample_has_no_rates(two_node: HostSample) -> None:
    previous = copy.deepcopy(two_node)
    previous.nodes = previous.nodes[:1]
    rates = rates_between(previous, later(two_node))
    assert rates.nodes[1].numastat_per_s == {}
    # host share falls back to /proc/vmstat when a node has no data
    assert rates.remote_share is None


def test_samples_of_different_hosts_are_rejected(two_node: HostSample) -> None:
    other = later(two_node)
    other.hostname = "elsewhere"
    with pytest.raises(RatesInputError, match="different hosts"):
        rates_between(two_node, other)


def test_time_going_backwards_is_rejected(two_node: HostSample) -> None:
    with pytest.raises(RatesInputError, match="not later"):
        rates_between(later(two_node), two_node)


def test_live_samples_give_non_negative_rates() -> None:
    first = collect_host_sample()
    second = collect_host_sample()
    second.monotonic_s = max(second.monotonic_s, first.monotonic_s + 1e-6)
    rates = rates_between(first, second)
    assert all(value >= 0 for value in rates.vmstat_per_s.values())
    assert rates.cpu_cores_used is None or rates.cpu_cores_used >= 0
