"""The overview page and its partials (each section reloads itself through console.js)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.timezone import get_default_timezone
from django.views.decorators.cache import never_cache

from console.dashboard import charts, selectors
from console.dashboard.formatting import format_count, format_share
from console.health import verifier_progress
from verifiers.selectors import match_rate_series

REFRESH_SECONDS = {"headline": 20, "rates": 30, "groups": 15, "reconciliation": 30, "numa": 30, "queues": 10}


def _hours(request: HttpRequest) -> int:
    try:
        hours = int(request.GET.get("hours", selectors.DEFAULT_RATE_HOURS))
    except ValueError:
        return selectors.DEFAULT_RATE_HOURS
    return hours if hours in selectors.RATE_HOURS_CHOICES else selectors.DEFAULT_RATE_HOURS


def _rates_context(hours: int) -> dict[str, Any]:
    zone = get_default_timezone()
    read = match_rate_series(kind="read", hours=hours)
    write = match_rate_series(kind="write", hours=hours)
    now = timezone.now()
    window = (now - timedelta(hours=hours), now)

    def figure(title: str, series) -> str:
        if not series.overall:
            return ""
        return charts.figure_json(charts.match_rate_figure(series.subjects, zone, overall=series.overall,
                                                           title=title, window=window))

    return {
        "hours": hours, "hours_choices": selectors.RATE_HOURS_CHOICES, "read": read, "write": write,
        "read_figure": figure("Read: match rate", read), "write_figure": figure("Write: match rate", write),
    }


def _groups_context(hours: int) -> dict[str, Any]:
    return {"groups": selectors.open_groups_by_severity()}


def _reconciliation_context(hours: int) -> dict[str, Any]:
    return {"reconciliation": selectors.reconciliation_summary()}


def _numa_context(hours: int) -> dict[str, Any]:
    numa = selectors.numa_summary()
    hosts = (numa or {}).get("hosts") or []
    shown = [{**host, "remote_text": format_share(host.get("remote_share"), 2),
              "migrated_text": format_count(host.get("migrated_pages_per_s")),
              "cores_text": "–" if host.get("cpu_cores") is None else f"{host['cpu_cores']:,.2f}"} for host in hosts]
    gain = (numa or {}).get("last_gain")
    return {"numa": numa, "numa_hosts": shown,
            "numa_gain_text": format_share(gain.get("gain")) if gain else "",
            "numa_figure": charts.figure_json(charts.remote_share_figure(hosts)) if any(
                h.get("remote_share") is not None for h in hosts) else ""}


def _queues_context(hours: int) -> dict[str, Any]:
    """Each verifier's backlog and whether it keeps up (Celery workers are not pinged here: slow)."""
    try:
        return {"queues": verifier_progress(live_celery_workers=None), "queues_problem": None}
    except redis.RedisError as error:
        return {"queues": [], "queues_problem": f"Redis did not answer: {error}"}


def _headline_context(hours: int) -> dict[str, Any]:
    context = {**_rates_context(hours), **_groups_context(hours), **_reconciliation_context(hours),
               **_numa_context(hours)}
    return _with_headline(context)


def _with_headline(context: dict[str, Any]) -> dict[str, Any]:
    context["headline"] = selectors.headline(
        context["read"], context["write"], context["groups"], context["reconciliation"], context["numa"]
    )
    return context


PARTIALS: dict[str, Callable[[int], dict[str, Any]]] = {
    "headline": _headline_context,
    "rates": _rates_context,
    "groups": _groups_context,
    "reconciliation": _reconciliation_context,
    "numa": _numa_context,
    "queues": _queues_context,
}


def _partial_urls(hours: int) -> dict[str, str]:
    return {name: reverse("overview-partial", args=[name]) + f"?hours={hours}" for name in PARTIALS}


@never_cache
def overview_page(request: HttpRequest) -> HttpResponse:
    hours = _hours(request)
    context: dict[str, Any] = {"active": "overview", "partial_urls": _partial_urls(hours),
                               "refresh_seconds": REFRESH_SECONDS}
    for name in ("rates", "groups", "reconciliation", "numa", "queues"):
        context.update(PARTIALS[name](hours))
    _with_headline(context)
    return render(request, "console/overview.html", context)


@never_cache
def overview_partial(request: HttpRequest, name: str) -> HttpResponse:
    builder = PARTIALS.get(name)
    if builder is None:
        raise Http404(f"no overview section named {name!r}")
    return render(request, f"console/partials/{name}.html", builder(_hours(request)))
