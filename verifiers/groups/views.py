"""The mismatch group pages, read and write groups alike: list, side-by-side diff, reverify, triage."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from console.access import holds, object_to_act_on, require_in_migration, viewable_migrations
from console.migration_scope import migration_scope
from console.roles import REVERIFY, TRIAGE
from verifiers.groups import diffview, selectors, services, tasks
from verifiers.models import MismatchGroup


def group_list(request: HttpRequest) -> HttpResponse:
    groups = selectors.mismatch_groups(kind=request.GET.get("kind") or None,
                                       status=request.GET.get("status") or None,
                                       subject=request.GET.get("subject") or None,
                                       migration_ids=migration_scope(request).ids)
    page = Paginator(groups, 50).get_page(request.GET.get("page"))
    return render(request, "verifiers/groups/list.html",
                  # Groups of both verifiers: the navigation marks Read or Write only for one kind's list.
                  {"active": request.GET.get("kind", ""), "page": page, "filters": request.GET})


def _parsed(value: Any) -> Any:
    """A stored body as a JSON value when it is JSON text; other text as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _side_html(value: Any, highlights: diffview.Highlights) -> str:
    """One side of the diff: pretty JSON, the differing lines wrapped in <span class="hl">."""
    if isinstance(value, str):
        return escape(value)
    return mark_safe("".join(  # noqa: S308 - every line's text is escaped here
        f'<span class="hl">{escape(line.text)}</span>\n' if line.highlighted else f"{escape(line.text)}\n"
        for line in diffview.pretty_lines(value, highlights)
    ))


def group_detail(request: HttpRequest, group_id: int) -> HttpResponse:
    group = get_object_or_404(MismatchGroup, pk=group_id)
    require_in_migration(request.user, group.migration_id)
    samples = []
    for sample in group.samples.all()[:20]:
        legacy_side = diffview.highlights_for(sample.differences, "legacy")
        candidate_side = diffview.highlights_for(sample.differences, "candidate")
        if group.kind == "write":  # expected (the candidate's) rows left, actual (legacy) rows right
            left = _side_html(_parsed(sample.candidate), candidate_side)
            right = _side_html(_parsed(sample.legacy), legacy_side)
        else:
            left = _side_html(_parsed(sample.legacy.get("body", sample.legacy)), legacy_side)
            right = _side_html(_parsed(sample.candidate.get("body", sample.candidate)), candidate_side)
        samples.append({"sample": sample, "left": left, "right": right,
                        "request": json.dumps(sample.request, indent=2, ensure_ascii=False, default=str)})
    return render(request, "verifiers/groups/detail.html", {
        "active": group.kind, "group": group, "samples": samples,
        "together": list(selectors.occurs_together_with(group)
                         .filter(migration__in=viewable_migrations(request.user))[:20]),
        "can_reverify": holds(request.user, REVERIFY, group.migration_id),
        "can_triage": holds(request.user, TRIAGE, group.migration_id),
    })


@require_POST
def group_reverify(request: HttpRequest, group_id: int) -> HttpResponse:
    group = object_to_act_on(request.user, MismatchGroup, group_id, REVERIFY, "You may not reverify groups.")
    sample_id = request.POST.get("sample")
    if sample_id:  # only a sample of this group: the check above covers no other migration's
        sample = get_object_or_404(group.samples, pk=sample_id)
        tasks.reverify_samples.delay([sample.pk])
    else:
        tasks.reverify_group.delay(group.pk)
    messages.info(request, "Reverification queued; refresh in a few seconds.")
    return redirect("group-detail", group_id=group.pk)


@require_POST
def group_status(request: HttpRequest, group_id: int) -> HttpResponse:
    object_to_act_on(request.user, MismatchGroup, group_id, TRIAGE, "You may not triage groups.")
    action = request.POST.get("action", "")
    if action not in ("acknowledge", "ignore", "reopen"):
        messages.error(request, f"Unknown action {action!r}.")
    else:
        services.change_group_status(group_id=group_id, action=action, user_name=request.user.get_username())
    return redirect("group-detail", group_id=group_id)
