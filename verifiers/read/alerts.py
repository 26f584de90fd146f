"""Alert events of the read verifier: routes whose mismatch rate is over their threshold.

Computed from the per-minute OutcomeCount roll-ups and handed to console.alerts.publish.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from console import alerts
from console.alerts import AlertEvent, AlertKind
from console.alerts.rules import mismatch_rate, rate_over_threshold
from verifiers.models import OutcomeCount, Route

RATE_WINDOW = timedelta(minutes=5)
# A route needs this many compared samples in the window before its rate means anything.
RATE_MIN_COMPARED = 20


def rate_events(*, now: datetime | None = None) -> list[AlertEvent]:
    """Routes over their mismatch-rate threshold (their own, else their migration's rule's) in the last 5 minutes.

    Counted per migration: the same route template in two migrations is two routes.
    """
    now = now or timezone.now()
    defaults: dict[str, float | None] = {}
    thresholds: dict[tuple[int | None, str], tuple[Route, float]] = {}
    for route in Route.objects.filter(enabled=True).select_related("migration"):
        slug = route.migration.slug
        if slug not in defaults:
            defaults[slug] = alerts.threshold(AlertKind.MISMATCH_RATE, slug)
        threshold = route.mismatch_rate_alert if route.mismatch_rate_alert is not None else defaults[slug]
        if threshold is not None:
            thresholds[(route.migration_id, f"{route.method.upper()} {route.template}")] = (route, threshold)
    if not thresholds:
        return []
    # The unique (migration, kind, subject, minute) index serves this: a few rows per route, never samples.
    rows = (
        OutcomeCount.objects.filter(kind="read", subject__in=list({subject for _, subject in thresholds}),
                                    minute__gte=now - RATE_WINDOW, minute__lte=now)
        .values("migration_id", "subject").annotate(matched=Sum("matched"), mismatched=Sum("mismatched"))
    )
    events = []
    for row in rows:
        if (row["migration_id"], row["subject"]) not in thresholds:
            continue
        route, threshold = thresholds[(row["migration_id"], row["subject"])]
        if not rate_over_threshold(row["matched"], row["mismatched"], threshold, min_compared=RATE_MIN_COMPARED):
            continue
        rate = mismatch_rate(row["matched"], row["mismatched"]) or 0.0
        events.append(AlertEvent(
            kind=AlertKind.MISMATCH_RATE, key=f"rate:{route.pk}", occurred_at=now, subject=row["subject"],
            title=f"{row['subject']}: {rate:.1%} mismatches over 5 minutes (threshold {threshold:.1%})",
            url_path=reverse("group-list"), url_query={"subject": row["subject"], "migration": route.migration.slug},
            migration=route.migration.slug, migration_name=route.migration.name,
            facts={"Route": row["subject"], "Mismatch rate": f"{rate:.2%}", "Threshold": f"{threshold:.2%}",
                   "Compared": f"{row['matched'] + row['mismatched']:,}", "Mismatched": f"{row['mismatched']:,}"},
        ))
    return events


def check_mismatch_rates(*, now: datetime | None = None) -> list[AlertEvent]:
    """Publish an alert per route over its threshold; returns the events (the throttle may hold them)."""
    events = rate_events(now=now)
    alerts.publish(events)
    return events
