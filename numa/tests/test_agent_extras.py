"""manage.py numa_agent with containers, top processes, the kubelet's configz and extras."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from numa.extras import ExtraMeasurement
from numa.management.commands import numa_agent
from numa.models import Host
from numa.tests.helpers import FIXTURES

TWO_NODE = FIXTURES / "two_node"


@pytest.mark.django_db(transaction=True)
def test_agent_sends_containers_processes_kubelet_and_measured_extras(run_agent, monkeypatch) -> None:
    measured: list[float] = []

    def measure(seconds: float = 1.0, **_: object) -> dict[str, ExtraMeasurement]:
        measured.append(seconds)
        return {
            "perf_node_loads": ExtraMeasurement(
                name="perf_node_loads", available=True, values={"remote_load_share": 0.5}
            )
        }

    monkeypatch.setattr(numa_agent, "measure_extras", measure)
    run_agent(
        cgroup_root=str(TWO_NODE / "sys/fs/cgroup"),
        top_processes=2,
        kubelet_configz=str(FIXTURES / "kubelet/configz_pinned.json"),
        extras_seconds=0.5,
    )
    host = Host.objects.get(hostname="two-node-host")
    assert measured == [0.5]  # hourly: once for two samples
    assert host.extras["perf_node_loads"]["values"] == {"remote_load_share": 0.5}
    assert host.kubelet["policies"]["memoryManagerPolicy"] == "Static"
    assert host.containers[0]["aligned"] and len(host.top_processes) == 2


def test_agent_refuses_too_many_top_processes() -> None:
    with pytest.raises(CommandError, match="top-processes"):
        call_command("numa_agent", console="http://x", token="t", count=1, top_processes=500)


def test_agent_cgroup_root_off_reads_no_containers() -> None:
    body = numa_agent.build_body(
        str(TWO_NODE / "sys"),
        str(TWO_NODE / "proc"),
        None,
        None,
        cgroup_root=numa_agent._cgroup_root_option("off"),
    )
    assert body["sample"]["cgroups"] == [] and "extras" not in body
