"""Alert e-mails: new mismatch groups, mismatch rates over threshold, reconciliations with
differences or failed, silent NUMA collectors, stalled verifiers; throttled per key with
Sentry-style digests.

This is the port the parts use, and all of it: a part builds `AlertEvent`s (console.alerts.events,
pure data) from what it has in memory and calls `publish(events)` after its transaction commits.
The alerts package never imports a part. The functions import the Django side only when called,
so importing this package is always safe (also while apps load).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from console.alerts.events import AlertEvent, AlertKind, with_query
from console.alerts.rules import Decision

__all__ = [
    "AlertEvent", "AlertKind", "Decision", "local_time", "publish", "threshold", "watched_baselines", "with_query",
]

logger = logging.getLogger(__name__)


def publish(events: list[AlertEvent]) -> list[Decision]:
    """Throttle, render and send `events`; returns each one's decision (send now, hold, drop).

    Alerting never fails its caller (a verifier batch, a reconciliation run): an error is logged
    and the events count as dropped.
    """
    from console.alerts import services

    try:
        return services.publish_events(list(events))
    except Exception:  # noqa: BLE001 - a mail or Redis failure must not undo what the part recorded
        logger.exception("publishing %d alert event(s) failed: %s", len(events), [e.key for e in events])
        return [Decision.DROP] * len(events)


def threshold(kind: AlertKind, migration: str | None = None) -> float | None:
    """The threshold configured on the kind's alert rule for `migration` (a slug; its own rule, else
    the rule for every migration); None when unset or the rule is off."""
    from console.alerts import services

    return services.threshold(kind, migration)


def watched_baselines(prefix: str, *, now: datetime | None = None) -> dict[str, int]:
    """Keys starting with `prefix` that alerted within their window, with the baseline kept for each."""
    from console.alerts import services

    return services.watched_baselines(prefix, now=now)


def local_time(moment: datetime | None) -> str:
    """A moment as alert e-mails show it: console time, to the minute ('' for none)."""
    return "" if moment is None else timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")
