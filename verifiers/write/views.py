"""The Write page: match rate per table, groups by table and columns, unverifiable reasons, pairing."""

from __future__ import annotations

from datetime import timedelta

import redis
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.timezone import get_default_timezone

from console.dashboard import charts
from console.migration_scope import migration_scope
from verifiers.selectors import match_rate_series
from verifiers.write import selectors, services

REFRESH_SECONDS = 15


def _panels_context(migration_ids: list[int]) -> dict:
    try:
        store = services.write_store().counts()
    except redis.RedisError:
        store = None
    return {
        "chart": charts.figure_json(charts.match_rate_figure(
            match_rate_series(kind=services.KIND, hours=6, bucket=timedelta(minutes=1), top_subjects=None,
                              migration_ids=migration_ids).subjects,
            get_default_timezone(), show_stale=True, y_title="% rows matched")),
        "totals": selectors.totals(hours=24, migration_ids=migration_ids),
        "groups": selectors.groups_by_table(migration_ids=migration_ids),
        "unverifiable": selectors.unverifiable_reasons(migration_ids=migration_ids),
        "store": store,
    }


def write_page(request: HttpRequest) -> HttpResponse:
    context = _panels_context(migration_scope(request).ids)
    if request.GET.get("partial") == "panels":
        return render(request, "verifiers/write/_panels.html", context)
    return render(request, "verifiers/write/page.html", {**context, "active": "write", "refresh_seconds": REFRESH_SECONDS})
