"""NUMA pages (thin): /numa/ (every host, pinning gains) and /numa/hosts/<hostname>/.

The page shows a pinning event's stored gain and its progress; a POST (operators and admins)
queues the numa.compute_gain task. No request computes a gain itself.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from console.query_params import hours_param
from numa import charts, gain_runs, selectors
from numa.event_gains import GainRequestError
from numa.models import Host, PinningEvent

VIEW_PERMISSION = "numa.view_host"
COMPUTE_PERMISSION = "numa.compute_eventgain"
# A bigint primary key has at most 19 digits; a longer "id" would fail in the database.
MAX_ID_DIGITS = 18
# Hosts drawn on the NUMA page; the rest are one click away on their own page.
MAX_HOST_CHARTS = 12
# Pinned hosts drawn on the gain timeline (the heaviest by CPU weight); the table lists them all.
MAX_TIMELINE_HOSTS = 12
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
        raise GainRequestError(f"{name} must be a number, got {value!r}") from None
    if not low <= number <= high:
        raise GainRequestError(f"{name} must be between {low:g} and {high:g}, got {number:g}")
    return number


def _event_param(raw: str | None) -> int | None:
    """The ?event= (or posted event) id; a value that is no id is a 400 naming the parameter."""
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > MAX_ID_DIGITS or int(raw) == 0:
        raise BadRequest(f"Parameter 'event' must be a pinning event id, not {raw[:40]!r}.")
    return int(raw)


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
    if request.method == "POST":
        return _request_gain(request)
    events = list(selectors.events_for_page())
    selected = _selected_event(_event_param(request.GET.get("event")), events)
    gain = selectors.event_gain(selected) if selected is not None else None
    if request.GET.get("partial") == "gain":
        return render(request, "numa/_gain_status.html", {"selected": selected, "gain": gain})
    zone = selectors.console_zone()
    context: dict[str, Any] = {
        "active": "numa",
        "hosts": selectors.hosts(),
        "cards": _host_cards(zone),
        "events": events,
        "selected": selected,
        "gain": gain,
        "window_days": DEFAULT_WINDOW_DAYS,
        "gap_hours": DEFAULT_GAP_HOURS,
        "can_add_events": request.user.has_perm("numa.add_pinningevent"),
        "can_compute": request.user.has_perm(COMPUTE_PERMISSION),
    }
    if gain is not None:
        context["window_days"] = round(gain.window_s / 86400, 3)
        context["gap_hours"] = round(gain.gap_s / 3600, 3)
    if gain is not None and gain.report:
        report = gain.report
        context["report"] = report
        context["gain_bars"] = _figure_json(charts.gain_bars_figure(report))
        context["gain_timeline"] = _figure_json(_timeline(report, zone))
    return render(request, "numa/index.html", context)


def _selected_event(event_id: int | None, events: list[PinningEvent]) -> PinningEvent | None:
    """The asked-for event (404 if unknown), else the latest one with a stored gain, else the
    latest event."""
    if event_id is not None:
        selected = PinningEvent.objects.select_related("host").filter(pk=event_id).first()
        if selected is None:
            raise Http404("No such pinning event.")
        return selected
    computed = [event for event in events if _stored_report(event)]
    return computed[0] if computed else (events[0] if events else None)


def _stored_report(event: PinningEvent) -> bool:
    gain = getattr(event, "gain", None)  # no EventGain row: the reverse accessor raises
    return gain is not None and gain.report is not None


def _request_gain(request: HttpRequest) -> HttpResponse:
    """POST: queue the gain of an event (operators and admins); the task computes it."""
    if not request.user.has_perm(COMPUTE_PERMISSION):
        raise PermissionDenied("Computing a gain needs the Operators or Admins role.")
    event_id = _event_param(request.POST.get("event"))
    if event_id is None:
        raise BadRequest("Parameter 'event' is required.")
    event = get_object_or_404(PinningEvent.objects.select_related("host"), pk=event_id)
    try:
        window_days = _float_param(
            request.POST.get("window_days"), DEFAULT_WINDOW_DAYS, "window (days)", 0.01, 90
        )
        gap_hours = _float_param(
            request.POST.get("gap_hours"), DEFAULT_GAP_HOURS, "gap (hours)", 0, 24 * 14
        )
        gain_runs.request_gain(
            event=event,
            window=timedelta(days=window_days),
            gap=timedelta(hours=gap_hours),
            who=request.user.get_username(),
        )
    except GainRequestError as error:
        messages.error(request, str(error))
    else:
        messages.info(request, f"Gain of {event} queued: a worker computes it.")
    return redirect(reverse("numa") + f"?event={event.pk}#gain")


def _timeline(report: dict[str, Any], zone: Any) -> dict[str, Any]:
    """The pinned hosts' CPU across both windows: the MAX_TIMELINE_HOSTS heaviest only, so the
    page reads a bounded number of series however large the rollout."""
    start = datetime.fromisoformat(report["before"][0])
    end = datetime.fromisoformat(report["after"][1])
    weights = report["cluster"].get("host_weights") or {}
    names = sorted(
        (row["host"] for row in report["hosts"]), key=lambda name: (-weights.get(name, 0.0), name)
    )[:MAX_TIMELINE_HOSTS]
    series = {
        host.hostname: selectors.host_series(host=host, since=start, until=end)["points"]
        for host in Host.objects.filter(hostname__in=names)
    }
    return charts.gain_timeline_figure(series, report, zone)


def host_page(request: HttpRequest, hostname: str) -> HttpResponse:
    _require_view(request)
    host = get_object_or_404(Host, hostname=hostname)
    zone = selectors.console_zone()
    default_span = 24 * 14 if host.delivery == Host.Delivery.SYNTHETIC else 1
    span_hours: float = float(
        hours_param(request.GET.get("hours"), default=default_span, maximum=max(HOST_SPANS_HOURS))
    )
    if span_hours.is_integer():
        span_hours = int(span_hours)  # "?hours=6", as the span links say
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
