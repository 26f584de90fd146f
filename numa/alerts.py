"""Alert events of NUMA: a host whose collector stopped reporting.

Built from the host rows the silence check marked, published after its transaction commits.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.urls import reverse

from console import alerts
from console.alerts import AlertEvent, AlertKind, local_time
from numa.models import Host


def collector_silent_event(host: Host, *, now: datetime) -> AlertEvent:
    return AlertEvent(
        kind=AlertKind.COLLECTOR_SILENT, key=f"collector:{host.pk}", occurred_at=now, subject=host.hostname,
        title=f"NUMA collector on {host.hostname} is silent",
        url_path=reverse("numa-host", args=[host.hostname]),
        facts={"Host": host.hostname, "Last sample": local_time(host.last_seen) or "never",
               "Silent since": local_time(host.silent_since), "Delivery": host.get_delivery_display()},
    )


def alert_on_silent_hosts(host_ids: list[int], *, now: datetime) -> list[AlertEvent]:
    """Publish one alert per newly silent host once the current transaction commits."""
    if not host_ids:
        return []
    events = [collector_silent_event(host, now=now) for host in Host.objects.filter(pk__in=host_ids).order_by("pk")]
    transaction.on_commit(lambda: alerts.publish(events))
    return events
