"""Admin of the NUMA app: hosts (delivery, work metric, enable) and pinning events."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from numa.models import Host, PinningEvent


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = (
        "hostname",
        "delivery",
        "enabled",
        "node_count",
        "last_seen",
        "silent",
        "work_metric_name",
    )
    list_filter = ("delivery", "enabled", "silent")
    search_fields = ("hostname",)
    readonly_fields = (
        "first_seen",
        "last_seen",
        "silent",
        "silent_since",
        "node_count",
        "topology",
        "numa_balancing",
        "unavailable",
        "extras",
        "extras_probed_at",
        "containers",
        "top_processes",
        "kubelet",
        "kubelet_read_at",
        "latest_sampled_at",
        "latest_remote_share",
        "latest_migrated_pages_per_s",
        "latest_cpu_cores",
    )
    fields = ("hostname", "delivery", "enabled", "work_metric_name", *readonly_fields)


@admin.register(PinningEvent)
class PinningEventAdmin(admin.ModelAdmin):
    list_display = ("host", "kind", "changed_at", "who", "note", "gain_computed_at")
    list_filter = ("kind", "host")
    date_hierarchy = "changed_at"
    search_fields = ("host__hostname", "note", "who")
    autocomplete_fields = ("host",)
    readonly_fields = ("created_at",)
    list_select_related = ("host", "gain")

    @admin.display(description="gain computed")
    def gain_computed_at(self, obj: PinningEvent) -> Any:
        gain = getattr(obj, "gain", None)  # no EventGain row: the reverse accessor raises
        return gain.computed_at if gain is not None else None

    def save_model(self, request: HttpRequest, obj: PinningEvent, form, change: bool) -> None:
        # Record who entered the event unless the form said who made the change.
        if not obj.who:
            obj.who = request.user.get_username()
        super().save_model(request, obj, form, change)
