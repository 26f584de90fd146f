"""Reads of the write verifier for its page (per-minute roll-ups and groups, never scans of samples).

Its match rate over time is verifiers.selectors.match_rate_series, shared with the read side."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Sum
from django.db.models.functions import Lower
from django.utils import timezone

from verifiers.models import MismatchGroup, OutcomeCount
from verifiers.write.verdicts import KIND, NO_CAPTURE_SUBJECT

COUNT_FIELDS = ("matched", "mismatched", "errored", "stale", "orphaned", "unverifiable")


def _since(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def totals(*, hours: float = 24.0) -> dict[str, int]:
    """Outcome totals over the last hours, with commits without a capture counted apart."""
    base = OutcomeCount.objects.filter(kind=KIND, minute__gte=_since(hours))
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


def groups_by_table(*, limit: int = 100) -> list[dict[str, Any]]:
    """Write mismatch/error groups, by table then most recent, with their differing columns."""
    groups = (MismatchGroup.objects.filter(kind=KIND).exclude(outcome="unverifiable")
              .order_by(Lower("subject"), "-last_seen")[:limit])
    result = []
    for group in groups:
        columns = sorted({f"{str(d.get('pattern') or '').removeprefix('$.')} {d.get('kind') or ''}".strip()
                          for d in group.differences or []})
        result.append({"group": group, "columns": columns})
    return result


def unverifiable_reasons(*, limit: int = 20) -> list[MismatchGroup]:
    """The most recent reasons statements could not be verified (one group per reason and table)."""
    return list(MismatchGroup.objects.filter(kind=KIND, outcome="unverifiable").order_by("-last_seen")[:limit])
