"""Reads of the write verifier for its page (per-minute roll-ups and groups, never scans of samples).

Its match rate over time is verifiers.selectors.match_rate_series, shared with the read side."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from verifiers.models import MismatchGroup, OutcomeCount
from verifiers.write.verdicts import KIND, NO_CAPTURE_SUBJECT

COUNT_FIELDS = ("matched", "mismatched", "errored", "stale", "orphaned", "unverifiable")


def _since(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def _in(rows: QuerySet, migration_ids: Sequence[int] | None) -> QuerySet:
    """Rows of those migrations only (None: all): pages pass their console.migration_scope."""
    return rows if migration_ids is None else rows.filter(migration_id__in=migration_ids)


def totals(*, hours: float = 24.0, migration_ids: Sequence[int] | None = None) -> dict[str, int]:
    """Outcome totals over the last hours, with commits without a capture counted apart."""
    base = _in(OutcomeCount.objects.filter(kind=KIND, minute__gte=_since(hours)), migration_ids)
    summed = base.aggregate(**{name: Sum(name) for name in COUNT_FIELDS})
    result: dict[str, Any] = {name: int(summed[name] or 0) for name in COUNT_FIELDS}
    lone = base.filter(subject=NO_CAPTURE_SUBJECT).aggregate(n=Sum("orphaned"))["n"] or 0
    result["commits_without_capture"] = int(lone)
    result["orphaned_captures"] = result["orphaned"] - int(lone)
    judged = result["matched"] + result["mismatched"] + result["errored"]
    result["judged"] = judged
    result["match_rate"] = result["matched"] / judged if judged else None
    result["match_percent"] = None if result["match_rate"] is None else result["match_rate"] * 100
    return result


def groups_by_table(*, limit: int = 100, migration_ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
    """Write mismatch/error groups, by table then most recent, with their differing columns."""
    groups = (_in(MismatchGroup.objects.filter(kind=KIND), migration_ids).exclude(outcome="unverifiable")
              .order_by(Lower("subject"), "-last_seen")[:limit])
    result = []
    for group in groups:
        columns = sorted({f"{str(d.get('pattern') or '').removeprefix('$.')} {d.get('kind') or ''}".strip()
                          for d in group.differences or []})
        result.append({"group": group, "columns": columns})
    return result


def unverifiable_reasons(*, limit: int = 20, migration_ids: Sequence[int] | None = None) -> list[MismatchGroup]:
    """The most recent reasons statements could not be verified (one group per reason and table)."""
    return list(_in(MismatchGroup.objects.filter(kind=KIND, outcome="unverifiable"), migration_ids)
                .order_by("-last_seen")[:limit])
