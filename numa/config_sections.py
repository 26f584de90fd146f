"""The NUMA configuration sections (see console.configuration): hosts and pinning events."""

from __future__ import annotations

from console.configuration.sections import Section, register_section
from numa.models import Host, PinningEvent

# Everything a host reports about itself; configuration is only which hosts and how they deliver.
HOST_STATE = ("first_seen", "last_seen", "silent", "silent_since", "node_count", "topology", "numa_balancing",
              "unavailable", "extras", "extras_probed_at", "containers", "top_processes", "kubelet",
              "kubelet_read_at", "last_counters", "last_work_total", "latest_sampled_at", "latest_remote_share",
              "latest_migrated_pages_per_s", "latest_cpu_cores")


def register() -> None:
    register_section(Section(
        name="numa_hosts", model=Host, key=("hostname",),
        fields=("delivery", "enabled", "work_metric_name"), state_fields=HOST_STATE))
    register_section(Section(
        name="pinning_events", model=PinningEvent, key=("host", "changed_at", "kind"),
        fields=("note", "who"), references={"host": "numa_hosts"},
        state_fields=("created_at",)))
