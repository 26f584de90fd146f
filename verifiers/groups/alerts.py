"""Alert events of the mismatch groups: new or reopened groups, and more occurrences of alerted ones.

Built here from the groups' own rows and handed to console.alerts.publish (the alerting never
reads a group back).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from console import alerts
from console.alerts import AlertEvent, AlertKind, Decision, local_time
from verifiers.groups.recording import RecordSummary
from verifiers.models import MismatchGroup, MismatchSample

logger = logging.getLogger(__name__)

MAX_DIFFERENCES_SHOWN = 3
KEY_PREFIX = "group:"


def group_key(group_id: int) -> str:
    return f"{KEY_PREFIX}{group_id}"


def group_event(group: MismatchGroup, *, now: datetime, latest_differences: list[dict[str, Any]]) -> AlertEvent:
    """The alert of a new group, or of a resolved one that mismatched again (a regression)."""
    shown = [
        {
            "path": str(difference.get("path") or difference.get("pattern") or ""),
            "kind": str(difference.get("kind") or ""),
            "legacy": _short(difference.get("legacy")),
            "candidate": _short(difference.get("candidate")),
        }
        for difference in latest_differences[:MAX_DIFFERENCES_SHOWN]
    ]
    reopened = group.status == MismatchGroup.Status.OPEN and group.status_changed_by == "regression"
    return AlertEvent(
        kind=AlertKind.NEW_GROUP, key=group_key(group.pk), occurred_at=now,
        title=f"Reopened after it was resolved: {group.title}" if reopened else group.title,
        url_path=reverse("group-detail", args=[group.pk]), subject=group.subject, severity=group.severity,
        baseline=group.count,  # later occurrences are counted from here (scan_group_activity)
        migration=group.migration.slug, migration_name=group.migration.name,
        facts={
            "Verifier": group.get_kind_display(), "Subject": group.subject, "Severity": group.severity,
            "Outcome": group.outcome, "Mismatches so far": group.count, "First seen": local_time(group.first_seen),
            "differences": shown,
        },
    )


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else ("" if value is None else json.dumps(value, ensure_ascii=False, default=str))
    return text if len(text) <= limit else text[:limit] + "…"


def group_events(group_ids: list[int], *, now: datetime | None = None) -> list[AlertEvent]:
    """One event per group, with the differences of its latest stored sample."""
    now = now or timezone.now()
    events = []
    for group in MismatchGroup.objects.filter(pk__in=group_ids).select_related("migration").order_by("pk"):
        sample = MismatchSample.objects.filter(group=group).order_by("-captured_at").only("differences").first()
        events.append(group_event(group, now=now, latest_differences=sample.differences if sample else []))
    return events


def alert_on_groups(summary: RecordSummary) -> None:
    """Alert on the new and reopened groups of a recorded batch, once the batch is committed.

    A failure is logged, never raised: raising would leave the batch unacknowledged and replayed.
    """
    group_ids = summary.new_group_ids + summary.reopened_group_ids
    if not group_ids:
        return
    try:
        events = group_events(group_ids)
    except Exception:  # noqa: BLE001
        logger.exception("building alerts for groups %s failed", group_ids)
        return
    transaction.on_commit(lambda: alerts.publish(events))


def scan_group_activity(*, now: datetime | None = None) -> int:
    """Hold 'N more mismatches' events for groups alerted within their window; returns how many."""
    now = now or timezone.now()
    baselines = {int(key.removeprefix(KEY_PREFIX)): baseline
                 for key, baseline in alerts.watched_baselines(KEY_PREFIX, now=now).items()}
    if not baselines:
        return 0
    events = []
    for group in (MismatchGroup.objects.filter(pk__in=list(baselines)).select_related("migration")
                  .only("pk", "title", "count", "subject", "last_seen", "migration__slug", "migration__name")):
        grown = group.count - baselines[group.pk]
        if grown > 0:
            events.append(AlertEvent(
                kind=AlertKind.GROUP_ACTIVITY, key=group_key(group.pk), occurred_at=now, title=group.title,
                url_path=reverse("group-detail", args=[group.pk]), subject=group.subject, occurrences=grown,
                baseline=group.count, migration=group.migration.slug, migration_name=group.migration.name,
                facts={"Subject": group.subject, "Mismatches so far": group.count, "Last seen": local_time(group.last_seen)},
            ))
    return sum(decision is Decision.HOLD for decision in alerts.publish(events))
