"""Pages of the read verifier (thin: selectors + services); the group pages are verifiers.groups.views."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.timezone import get_default_timezone
from django.views.decorators.http import require_POST

from console.access import object_to_act_on
from console.dashboard import charts
from console.migration_scope import migration_scope
from console.query_params import hours_param
from console.roles import CHANGE_RULES
from verifiers.groups import selectors as group_selectors
from verifiers.models import NoiseSuggestion
from verifiers.read import selectors, services
from verifiers.selectors import match_rate_series


def read_page(request: HttpRequest) -> HttpResponse:
    scope = migration_scope(request)
    ids = scope.ids
    series = match_rate_series(kind="read", hours=hours_param(request.GET.get("hours"), default=6), bucket=timedelta(minutes=1),
                               top_subjects=None, migration_ids=ids)
    context = {
        "active": "read",
        "chart": charts.figure_json(charts.match_rate_figure(series.subjects, get_default_timezone()))
        if series.subjects else "",
        "totals": selectors.totals_since(kind="read", migration_ids=ids),
        "groups": group_selectors.mismatch_groups(kind="read", migration_ids=ids)[:100],
        "noise": selectors.noise_suggestions(migration_ids=ids)[:50],
        "secondary_unusable": selectors.secondary_unusable_by_route(scope.migrations),
        "several_migrations": len(scope.migrations) > 1,
        "can_configure": request.user.has_perm(CHANGE_RULES),
    }
    return render(request, "verifiers/read/read.html", context)


@require_POST
def accept_noise(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    object_to_act_on(request.user, NoiseSuggestion, suggestion_id, CHANGE_RULES, "Only admins change comparison rules.")
    if request.POST.get("decision") == "dismiss":
        services.dismiss_noise_suggestion(suggestion_id=suggestion_id)
    else:
        route = services.accept_noise_suggestion(suggestion_id=suggestion_id)
        messages.success(request, f"Added an ignore rule to {route}.")
    return redirect("read")
