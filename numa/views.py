"""NUMA pages (thin): /numa/ (every host, pinning gains) and /numa/hosts/<hostname>/."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from numa import charts, selectors, services
from numa.models import Host, PinningEvent

VIEW_PERMISSION = "numa.view_host"
# Hosts drawn on the NUMA page; the rest are one click away on their own page.
MAX_HOST_CHARTS = 12
PAGE_SERIES_SPAN = timedelta(hours=6)
DEMO_SERIES_SPAN = timedelta(days=14)
DEFAULT_WINDOW_DAYS = 7.0
DEFAULT_GAP_HOURS = 24.0
HOST_SPANS_HOURS = (1, 6, 24, 72, 24 * 14)


def _require_view(request: HttpRequest) -> None:
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied("You need the NUMA view permission (Operators or Admins).")


def _figure_json(figure: dict[str, Any]) -> str:
    return json.dumps(figure, cls=DjangoJSONEncoder, separators=(",", ":"))


def _float_param(value: str | None, default: float, name: str, low: float, high: float) -> float:
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError:
        raise selectors.GainRequestError(f"{name} must be a number, got {value!r}") from None
    if not low <= number <= high:
        raise selectors.GainRequestError(
            f"{name} must be between {low:g} and {high:g}, got {number:g}"
        )
    return number


def _host_cards(zone: Any) -> list[dict[str, Any]]:
    now = timezone.now()
    cards = []
    for host in selectors.hosts().filter(enabled=True)[:MAX_HOST_CHARTS]:
        span = DEMO_SERIES_SPAN if host.delivery == Host.Delivery.SYNTHETIC else PAGE_SERIES_SPAN
        series = selectors.host_series(host=host, since=now - span, until=now)
        cards.append(
            {
                "host": host,
                "resolution": series["resolution"],
                "points": len(series["points"]),
                "figure": _figure_json(charts.host_series_figure(series["points"], zone)),
            }
        )
    return cards


def numa_page(request: HttpRequest) -> HttpResponse:
    _require_view(request)
    if request.GET.get("partial") == "hosts":
        return render(request, "numa/_hosts_table.html", {"hosts": selectors.hosts()})
    zone = selectors.console_zone()
    events = list(selectors.events_for_page())
    context: dict[str, Any] = {
        "active": "numa",
        "hosts": selectors.hosts(),
        "cards": _host_cards(zone),
        "events": events,
        "window_days": DEFAULT_WINDOW_DAYS,
        "gap_hours": DEFAULT_GAP_HOURS,
        "can_add_events": request.user.has_perm("numa.add_pinningevent"),
    }
    selected: PinningEvent | None = None
    event_id = request.POST.get("event") or request.GET.get("event")
    if event_id:
        selected = (
            PinningEvent.objects.select_related("host").filter(pk=event_id).first()
            if event_id.isdigit()
            else None
        )
        if selected is None:
            raise Http404("No such pinning event.")
    elif events:
        computed = [event for event in events if event.last_gain]
        selected = computed[0] if computed else events[0]
    context["selected"] = selected

    if request.method == "POST" and selected is not None:
        try:
            window_days = _float_param(
                request.POST.get("window_days"), DEFAULT_WINDOW_DAYS, "window (days)", 0.01, 90
            )
            gap_hours = _float_param(
                request.POST.get("gap_hours"), DEFAULT_GAP_HOURS, "gap (hours)", 0, 24 * 14
            )
            services.compute_event_gain(
                event=selected, window=timedelta(days=window_days), gap=timedelta(hours=gap_hours)
            )
        except selectors.GainRequestError as error:
            messages.error(request, str(error))
        return redirect(reverse("numa") + f"?event={selected.pk}#gain")

    if selected is not None:
        selected.refresh_from_db()
        report = selected.last_gain
        if report:
            context["report"] = report
            context["window_days"] = round(report["window_s"] / 86400, 3)
            context["gap_hours"] = round(report["gap_s"] / 3600, 3)
            context["gain_bars"] = _figure_json(charts.gain_bars_figure(report))
            context["gain_timeline"] = _figure_json(_timeline(report, zone))
    return render(request, "numa/index.html", context)


def _timeline(report: dict[str, Any], zone: Any) -> dict[str, Any]:
    from datetime import datetime

    start = datetime.fromisoformat(report["before"][0])
    end = datetime.fromisoformat(report["after"][1])
    series = {}
    for row in report["hosts"]:
        host = selectors.host_by_name(row["host"])
        if host is not None:
            series[host.hostname] = selectors.host_series(host=host, since=start, until=end)[
                "points"
            ]
    return charts.gain_timeline_figure(series, report, zone)


def host_page(request: HttpRequest, hostname: str) -> HttpResponse:
    _require_view(request)
    host = get_object_or_404(Host, hostname=hostname)
    zone = selectors.console_zone()
    hours = request.GET.get("hours", "")
    span_hours = (
        int(hours)
        if hours.isdigit() and int(hours) in HOST_SPANS_HOURS
        else (24 * 14 if host.delivery == Host.Delivery.SYNTHETIC else 1)
    )
    now = timezone.now()
    series = selectors.host_series(host=host, since=now - timedelta(hours=span_hours), until=now)
    context = {
        "active": "numa",
        "host": host,
        "span_hours": span_hours,
        "spans": HOST_SPANS_HOURS,
        "resolution": series["resolution"],
        "point_count": len(series["points"]),
        "figure": _figure_json(
            charts.host_series_figure(series["points"], zone, title=host.hostname)
        ),
        "placement": selectors.host_placement(host=host),
        "unavailable": sorted((host.unavailable or {}).items()),
        "nodes": [
            {
                "id": node,
                "cpus": cpus,
                "distance": (host.topology.get("distances") or {}).get(node),
                "memory_kb": (host.topology.get("memory_kb") or {}).get(node),
            }
            for node, cpus in sorted(
                (host.topology.get("cpulists") or {}).items(), key=lambda item: int(item[0])
            )
        ],
        "events": host.pinning_events.order_by("-changed_at")[:20],
    }
    if request.GET.get("partial") == "chart":
        return render(request, "numa/_host_chart.html", context)
    return render(request, "numa/host.html", context)
