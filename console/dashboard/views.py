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
from console.migration_scope import MigrationScope, migration_scope
from verifiers.selectors import match_rate_series

REFRESH_SECONDS = {"headline": 20, "programme": 30, "rates": 30, "groups": 15, "reconciliation": 30, "numa": 30,
                   "queues": 10}


def _hours(request: HttpRequest) -> int:
    try:
        hours = int(request.GET.get("hours", selectors.DEFAULT_RATE_HOURS))
    except ValueError:
        return selectors.DEFAULT_RATE_HOURS
    return hours if hours in selectors.RATE_HOURS_CHOICES else selectors.DEFAULT_RATE_HOURS


def _programme_context(hours: int, scope: MigrationScope) -> dict[str, Any]:
    """The migrations in scope side by side (shown when the user may view more than one)."""
    return {"programme": selectors.programme_table(scope.migrations) if len(scope.viewable) > 1 else [],
            "severities": selectors.SEVERITIES}


def _rates_context(hours: int, scope: MigrationScope) -> dict[str, Any]:
    zone = get_default_timezone()
    read = match_rate_series(kind="read", hours=hours, migration_ids=scope.ids)
    write = match_rate_series(kind="write", hours=hours, migration_ids=scope.ids)
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


def _groups_context(hours: int, scope: MigrationScope) -> dict[str, Any]:
    return {"groups": selectors.open_groups_by_severity(scope.ids)}


def _reconciliation_context(hours: int, scope: MigrationScope) -> dict[str, Any]:
    return {"reconciliation": selectors.reconciliation_summary(scope.ids)}


def _numa_context(hours: int, scope: MigrationScope) -> dict[str, Any]:
    """NUMA hosts serve the whole programme: not filtered by migration."""
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


def _queues_context(hours: int, scope: MigrationScope) -> dict[str, Any]:
    """Each verifier's backlog and whether it keeps up (Celery workers are not pinged here: slow).
    The queues are shared by all migrations: not filtered."""
    try:
        return {"queues": verifier_progress(live_celery_workers=None), "queues_problem": None}
    except redis.RedisError as error:
        return {"queues": [], "queues_problem": f"Redis did not answer: {error}"}


def _headline_context(hours: int, scope: MigrationScope) -> dict[str, Any]:
    context = {**_rates_context(hours, scope), **_groups_context(hours, scope),
               **_reconciliation_context(hours, scope), **_numa_context(hours, scope)}
    return _with_headline(context)


def _with_headline(context: dict[str, Any]) -> dict[str, Any]:
    context["headline"] = selectors.headline(
        context["read"], context["write"], context["groups"], context["reconciliation"], context["numa"]
    )
    return context


PARTIALS: dict[str, Callable[[int, MigrationScope], dict[str, Any]]] = {
    "headline": _headline_context,
    "programme": _programme_context,
    "rates": _rates_context,
    "groups": _groups_context,
    "reconciliation": _reconciliation_context,
    "numa": _numa_context,
    "queues": _queues_context,
}


def _partial_urls(hours: int, scope: MigrationScope) -> dict[str, str]:
    query = f"?hours={hours}" + (f"&{scope.param}" if scope.param else "")
    return {name: reverse("overview-partial", args=[name]) + query for name in PARTIALS}


# The cards of the overview page that refresh on their own, in page order: above the grid, then in it.
# Each card's element id is its section name but for the NUMA one (its CSS makes it span the grid).
CARDS_ABOVE_GRID = ("programme", "rates")
GRID_CARDS = ("groups", "reconciliation", "queues", "numa")
CARD_ELEMENT_IDS = {"numa": "numa-hosts"}


def _card(name: str, partial_urls: dict[str, str]) -> dict[str, Any]:
    """What templates/console/partials/card.html needs to draw the section `name` and refresh it."""
    return {"element_id": CARD_ELEMENT_IDS.get(name, name), "title_id": f"{name}-title",
            "refresh_url": partial_urls[name], "refresh_seconds": REFRESH_SECONDS[name],
            "template": f"console/partials/{name}.html"}


@never_cache
def overview_page(request: HttpRequest) -> HttpResponse:
    hours = _hours(request)
    scope = migration_scope(request)
    context: dict[str, Any] = {"active": "overview", "partial_urls": _partial_urls(hours, scope),
                               "refresh_seconds": REFRESH_SECONDS, "scope": scope}
    for name in ("programme", "rates", "groups", "reconciliation", "numa", "queues"):
        context.update(PARTIALS[name](hours, scope))
    _with_headline(context)
    urls = context["partial_urls"]
    # The programme card shows only when there is a programme of several migrations to show.
    shown_above_grid = [name for name in CARDS_ABOVE_GRID if name != "programme" or context["programme"]]
    context["cards_above_grid"] = [_card(name, urls) for name in shown_above_grid]
    context["grid_cards"] = [_card(name, urls) for name in GRID_CARDS]
    return render(request, "console/overview.html", context)


@never_cache
def overview_partial(request: HttpRequest, name: str) -> HttpResponse:
    builder = PARTIALS.get(name)
    if builder is None:
        raise Http404(f"no overview section named {name!r}")
    scope = migration_scope(request)
    return render(request, f"console/partials/{name}.html", {"scope": scope, **builder(_hours(request), scope)})
