"""Pages of the read verifier (thin: selectors + services); the group pages are verifiers.groups.views."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from verifiers import charts
from verifiers.groups import selectors as group_selectors
from verifiers.read import selectors, services


def read_page(request: HttpRequest) -> HttpResponse:
    series = selectors.match_rates_per_minute(kind="read", hours=float(request.GET.get("hours", 6)))
    context = {
        "active": "read",
        "chart": charts.match_rate_figure(series, ZoneInfo(settings.TIME_ZONE)) if series else "",
        "totals": selectors.totals_since(kind="read"),
        "groups": group_selectors.mismatch_groups(kind="read")[:100],
        "noise": selectors.noise_suggestions()[:50],
        "can_configure": request.user.has_perm("verifiers.change_route"),
    }
    return render(request, "verifiers/read/read.html", context)


@require_POST
def accept_noise(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    if not request.user.has_perm("verifiers.change_route"):
        raise PermissionDenied("Only admins change comparison rules.")
    if request.POST.get("decision") == "dismiss":
        services.dismiss_noise_suggestion(suggestion_id=suggestion_id)
    else:
        route = services.accept_noise_suggestion(suggestion_id=suggestion_id)
        messages.success(request, f"Added an ignore rule to {route}.")
    return redirect("read")
