"""The hourly checks of a host: the short eBPF/perf measurement and the kubelet's policies, stored
on the host; a policy change seen in configz becomes a PinningEvent (worker task and agent API)."""

from __future__ import annotations

import json
import shutil
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from numa import ingest, samples, tasks
from numa.extras import ExtraMeasurement
from numa.kubelet import read_kubelet_policies
from numa.models import Host, PinningEvent
from numa.tests.helpers import (
    FIXTURES,
    advanced,
    container_later,
    container_sample,
    fake_measurements,
    fake_statuses,
    fixture_sample,
)

pytestmark = pytest.mark.django_db
KUBELET = FIXTURES / "kubelet"
SAMPLES = "/api/v1/numa/samples"


def _reading(name: str) -> dict:
    return read_kubelet_policies(str(KUBELET / name)).to_dict()


def _host(hostname: str = "two-node-host") -> Host:
    ingest.record_sample(sample=fixture_sample("two_node"))
    return Host.objects.get(hostname=hostname)


# ------------------------------------------------------------------ kubelet policies -> events


def test_first_kubelet_read_is_the_baseline_and_creates_no_event() -> None:
    host = _host()
    events = ingest.record_hourly_checks(
        hostname=host.hostname, extras={}, kubelet_reading=_reading("configz_default.json")
    )
    host.refresh_from_db()
    assert events == [] and not PinningEvent.objects.exists()
    assert host.kubelet["policies"]["cpuManagerPolicy"] == "none"
    assert host.kubelet_read_at is not None


def test_policy_change_between_reads_creates_one_event_per_changed_manager() -> None:
    host = _host()
    ingest.record_hourly_checks(
        hostname=host.hostname, extras={}, kubelet_reading=_reading("configz_default.json")
    )
    events = ingest.record_hourly_checks(
        hostname=host.hostname, extras={}, kubelet_reading=_reading("configz_pinned.json")
    )
    assert {event.kind for event in events} == {
        PinningEvent.Kind.CPU_MANAGER_STATIC,
        PinningEvent.Kind.MEMORY_MANAGER,
        PinningEvent.Kind.TOPOLOGY_SINGLE_NUMA_NODE,
    }
    cpu_event = PinningEvent.objects.get(kind=PinningEvent.Kind.CPU_MANAGER_STATIC)
    assert cpu_event.who == "kubelet" and cpu_event.host == host
    assert "seen in kubelet configz" in cpu_event.note
    assert "cpuManagerPolicy: none -> static" in cpu_event.note


def test_the_same_policies_read_again_create_nothing() -> None:
    host = _host()
    for _ in range(3):
        ingest.record_hourly_checks(
            hostname=host.hostname, extras={}, kubelet_reading=_reading("configz_pinned.json")
        )
    assert not PinningEvent.objects.exists()


def test_failed_read_keeps_the_last_policies_and_the_next_read_compares_to_them(
    tmp_path: Path,
) -> None:
    host = _host()
    ingest.record_hourly_checks(
        hostname=host.hostname, extras={}, kubelet_reading=_reading("configz_default.json")
    )
    failed = read_kubelet_policies(str(tmp_path / "gone.json")).to_dict()
    ingest.record_hourly_checks(hostname=host.hostname, extras={}, kubelet_reading=failed)
    host.refresh_from_db()
    assert not host.kubelet["available"] and "gone.json" in host.kubelet["reason"]
    assert host.kubelet["policies"]["cpuManagerPolicy"] == "none"
    ingest.record_hourly_checks(
        hostname=host.hostname, extras={}, kubelet_reading=_reading("configz_pinned.json")
    )
    assert PinningEvent.objects.filter(kind=PinningEvent.Kind.CPU_MANAGER_STATIC).count() == 1


def test_hourly_checks_of_an_unknown_host_are_refused() -> None:
    with pytest.raises(samples.NumaSampleError, match="unknown host"):
        ingest.record_hourly_checks(hostname="ghost", extras={})


def test_hourly_claim_goes_to_one_caller_per_hour() -> None:
    host = _host()
    now = timezone.now()
    assert ingest.claim_hourly_checks(host_id=host.pk, now=now)
    assert not ingest.claim_hourly_checks(host_id=host.pk, now=now + timedelta(minutes=59))
    assert ingest.claim_hourly_checks(host_id=host.pk, now=now + timedelta(minutes=61))


# ------------------------------------------------------------------ the worker's collect task


@pytest.fixture
def this_host(monkeypatch, settings, tmp_path: Path) -> tuple[Host, Path, list[float]]:
    """This machine as a worker host, kubelet configz in a file we can change, fake extras."""
    configz = tmp_path / "configz.json"
    shutil.copy(KUBELET / "configz_default.json", configz)
    settings.NUMA_KUBELET_CONFIGZ_URL = str(configz)
    settings.NUMA_CGROUP_ROOT = str(FIXTURES / "two_node/sys/fs/cgroup")
    calls: list[float] = []

    def measure(seconds: float = 1.0, **_: object) -> dict[str, ExtraMeasurement]:
        calls.append(seconds)
        return fake_measurements()

    monkeypatch.setattr(tasks, "measure_extras", measure)
    monkeypatch.setattr(tasks, "probe_extras", fake_statuses)
    return ingest.register_host(hostname=socket.gethostname()), configz, calls


def test_collect_measures_extras_and_reads_the_kubelet_once_an_hour(this_host) -> None:
    host, _, measure_calls = this_host
    tasks.collect(host.pk)
    tasks.collect(host.pk)
    assert measure_calls == [2]  # NUMA_EXTRAS_SECONDS default, and only once
    host.refresh_from_db()
    assert host.extras["perf_node_loads"]["values"]["remote_load_share"] == 0.25
    assert host.kubelet["available"] and host.kubelet["policies"]["topologyManagerPolicy"] == "none"
    # The configured cgroup tree was read: the container's placement is on the host row.
    assert host.containers[0]["cpus"] == "4-7,12-15"


def test_collect_turns_a_kubelet_policy_change_into_a_pinning_event(this_host) -> None:
    host, configz, _ = this_host
    tasks.collect(host.pk)
    shutil.copy(KUBELET / "configz_pinned.json", configz)
    tasks.collect(host.pk)  # within the hour: not read again
    assert not PinningEvent.objects.exists()
    Host.objects.filter(pk=host.pk).update(extras_probed_at=timezone.now() - timedelta(hours=2))
    result = tasks.collect(host.pk)
    assert len(result["pinning_events"]) == 3
    assert set(PinningEvent.objects.values_list("who", flat=True)) == {"kubelet"}


def test_collect_without_kubelet_settings_says_why(this_host, settings) -> None:
    host, _, _ = this_host
    settings.NUMA_KUBELET_CONFIGZ_URL = ""
    tasks.collect(host.pk)
    host.refresh_from_db()
    assert not host.kubelet["available"]
    assert "NUMA_KUBELET_CONFIGZ_URL not set" in host.kubelet["reason"]


def test_collect_honours_top_processes_setting(this_host, settings) -> None:
    host, _, _ = this_host
    settings.NUMA_TOP_PROCESSES = 2
    tasks.collect(host.pk)
    host.refresh_from_db()
    assert len(host.top_processes) == 2
    settings.NUMA_TOP_PROCESSES = 0
    tasks.collect(host.pk)
    host.refresh_from_db()
    assert host.top_processes == []


# ------------------------------------------------------------------ the agent's API path


def _post(body: dict, token: str) -> tuple[int, dict]:
    response = Client().post(
        SAMPLES,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    return response.status_code, response.json()


def test_agent_posts_kubelet_policies_with_its_extras_and_a_change_becomes_an_event(machine_token) -> None:
    token = machine_token
    first = fixture_sample("two_node")
    extras = {"perf_node_loads": {"available": False, "reason": "perf not on PATH", "tool": None}}
    status, _ = _post(
        {
            "sample": first.to_dict(),
            "extras": {**extras, samples.KUBELET_EXTRA_NAME: _reading("configz_default.json")},
        },
        token,
    )
    assert status == 201
    host = Host.objects.get()
    assert host.extras == extras  # the kubelet reading is kept apart from the extras
    assert host.kubelet["policies"]["cpuManagerPolicy"] == "none"
    status, _ = _post(
        {
            "sample": advanced(first, 10).to_dict(),
            "extras": {samples.KUBELET_EXTRA_NAME: _reading("configz_pinned.json")},
        },
        token,
    )
    assert status == 201
    assert PinningEvent.objects.filter(host=host, who="kubelet").count() == 3


def test_agent_with_a_malformed_kubelet_reading_gets_400_and_nothing_is_stored(machine_token) -> None:
    status, answer = _post(
        {
            "sample": fixture_sample("two_node").to_dict(),
            "extras": {samples.KUBELET_EXTRA_NAME: {"available": "maybe"}},
        },
        machine_token,
    )
    assert status == 400 and "kubelet_configz.available" in answer["error"]
    assert not Host.objects.exists()


# ------------------------------------------------------------------ the host page


def test_host_page_shows_what_is_pinned_where_processes_and_policies(
    operator_client: Client,
) -> None:
    first = container_sample()
    ingest.record_sample(sample=first)
    ingest.record_sample(sample=container_later(first))
    ingest.record_hourly_checks(
        hostname="two-node-host",
        extras=samples.extras_from_measurements(fake_measurements(), fake_statuses()),
        kubelet_reading=_reading("configz_pinned.json"),
    )
    html = operator_client.get("/numa/hosts/two-node-host/").content.decode()
    assert "What is pinned where" in html and "<code>abc123</code>" in html
    assert "4-7,12-15" in html and "one node" in html and "13.3%" in html  # memory on node 1
    assert "java" in html and "2.00" in html  # java's CPU cores between the two samples
    assert "single-numa-node" in html and "cpuManagerPolicy" in html
    assert "remote_load_share" in html and "bpftrace not on PATH" in html


def test_host_page_explains_missing_kubelet_and_containers(operator_client: Client) -> None:
    ingest.record_sample(sample=fixture_sample("one_node"))
    host = Host.objects.get()
    ingest.record_hourly_checks(
        hostname=host.hostname, extras={}, kubelet_reading=read_kubelet_policies("").to_dict()
    )
    html = operator_client.get(f"/numa/hosts/{host.hostname}/").content.decode()
    assert "NUMA_KUBELET_CONFIGZ_URL not set" in html
    assert "No containers reported" in html
