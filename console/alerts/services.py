"""Alert use cases: turn what happened into events, throttle them, send e-mails and digests.

Every entry point (the notify_* hooks, the periodic tasks, the admin) calls one function here.
Immediate alerts go out from a Celery task (one SMTP connection per batch) so the caller, often a
verifier worker on its hot path, never waits for a mail server.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db.models import Sum
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from console.alerts import render
from console.alerts.models import AlertRecipient, AlertRule, SentAlert
from console.alerts.rules import (
    AlertEvent,
    AlertKind,
    Decision,
    KeyState,
    ThrottlePolicy,
    mismatch_rate,
    rate_over_threshold,
    recipients_for,
)
from console.alerts.throttle import AlertThrottle, RedisThrottleBackend, ThrottleBackend

logger = logging.getLogger(__name__)

RATE_WINDOW = timedelta(minutes=5)
# A route needs this many compared samples in the window before its rate means anything.
RATE_MIN_COMPARED = 20
MAX_DIFFERENCES_SHOWN = 3

_backend_override: ThrottleBackend | None = None


class AlertInputError(ValueError):
    """An alert was asked for something that does not exist or is not alertable; names it."""


# --------------------------------------------------------------------------- configuration


def use_throttle_backend(backend: ThrottleBackend | None) -> None:
    """Swap the throttle store (tests use the in-memory one); None goes back to Redis."""
    global _backend_override
    _backend_override = backend


def throttle() -> AlertThrottle:
    backend = _backend_override or RedisThrottleBackend(
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    )
    rules = {rule.kind: rule for rule in AlertRule.objects.all()}

    def policy_for(kind: AlertKind) -> ThrottlePolicy:
        rule = rules.get(_rule_kind(kind).value)
        window = timedelta(minutes=rule.window_minutes) if rule else ThrottlePolicy().window
        return ThrottlePolicy(window=window)

    return AlertThrottle(backend, policy_for)


def _rule_kind(kind: AlertKind) -> AlertKind:
    return AlertKind.NEW_GROUP if kind is AlertKind.GROUP_ACTIVITY else kind


def rule_for(kind: AlertKind) -> AlertRule:
    """The stored rule of a kind, or the default (enabled, 30 min window) when none is stored."""
    return AlertRule.objects.filter(kind=_rule_kind(kind).value).first() or AlertRule(kind=_rule_kind(kind).value)


def subscribed_recipients() -> list[tuple[str, frozenset[str]]]:
    return [(email, frozenset(kinds or ())) for email, kinds in
            AlertRecipient.objects.filter(active=True).values_list("email", "kinds")]


def _path(name: str, *args: Any, fallback: str) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # the page's part is not installed yet: keep the documented URL
        return fallback


def _local(moment: datetime | None) -> str:
    return "" if moment is None else timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


# --------------------------------------------------------------------------- events


def group_event(group: Any, *, now: datetime) -> AlertEvent:
    from verifiers.models import MismatchSample

    sample = MismatchSample.objects.filter(group=group).order_by("-captured_at").only("differences").first()
    shown = []
    for difference in (sample.differences if sample else [])[:MAX_DIFFERENCES_SHOWN]:
        shown.append({
            "path": str(difference.get("path") or difference.get("pattern") or ""),
            "kind": str(difference.get("kind") or ""),
            "legacy": _short(difference.get("legacy")),
            "candidate": _short(difference.get("candidate")),
        })
    # A resolved group that mismatched again is announced as a regression, not as new.
    reopened = group.status == "open" and group.status_changed_by == "regression"
    return AlertEvent(
        kind=AlertKind.NEW_GROUP, key=f"group:{group.pk}", occurred_at=now,
        title=f"Reopened after it was resolved: {group.title}" if reopened else group.title,
        url_path=_path("group-detail", group.pk, fallback=f"/groups/{group.pk}/"),
        facts={
            "Verifier": group.get_kind_display(), "Subject": group.subject, "Severity": group.severity,
            "Outcome": group.outcome, "Mismatches so far": group.count, "First seen": _local(group.first_seen),
            "differences": shown,
        },
    )


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else ("" if value is None else json.dumps(value, ensure_ascii=False, default=str))
    return text if len(text) <= limit else text[:limit] + "…"


def alert_new_groups(*, group_ids: list[int], now: datetime | None = None) -> list[Decision]:
    """One event per new group; those sent at once go out together in one task."""
    from verifiers.models import MismatchGroup

    if not group_ids:
        return []
    if not all(isinstance(gid, int) for gid in group_ids):
        raise AlertInputError(f"group ids must be integers, got {group_ids!r}")
    now = now or timezone.now()
    groups = list(MismatchGroup.objects.filter(pk__in=group_ids).order_by("pk"))
    events = [group_event(group, now=now) for group in groups]
    decisions = raise_alerts(events)
    gate = throttle()
    for group, decision in zip(groups, decisions):
        if decision is Decision.SEND_NOW:
            gate.set_baseline(f"group:{group.pk}", AlertKind.NEW_GROUP, group.count)
    return decisions


def alert_reconciliation(*, run_id: int, now: datetime | None = None) -> Decision | None:
    """Alert on a failed run, or one with at least `threshold` accounts (default 1) or totals off."""
    from verifiers.models import ReconciliationRun

    run = ReconciliationRun.objects.select_related("source").filter(pk=run_id).first()
    if run is None:
        raise AlertInputError(f"reconciliation run {run_id} does not exist")
    rule = rule_for(AlertKind.RECONCILIATION)
    totals_off = [c for c, t in (run.totals or {}).items() if t.get("difference") not in (None, "0", "0.0000")
                  and _decimal_nonzero(t.get("difference"))]
    failed = run.status == ReconciliationRun.Status.FAILED
    min_accounts = int(rule.threshold) if rule.threshold is not None else 1
    if not failed and run.accounts_with_differences < min_accounts and not totals_off:
        return None
    status = "failed" if failed else "found differences"
    event = AlertEvent(
        kind=AlertKind.RECONCILIATION, key=f"reconciliation:source:{run.source_id}", occurred_at=now or timezone.now(),
        title=f"Reconciliation of {run.source.name} at {_local(run.cutoff)} {status}",
        url_path=_path("reconciliation-run", run.pk, fallback=f"/reconciliation/runs/{run.pk}/"),
        facts={
            "Status": run.get_status_display(), "Cut-off": _local(run.cutoff),
            "Accounts checked": run.accounts_checked, "Accounts with differences": run.accounts_with_differences,
            "Totals off (currency)": ", ".join(totals_off) or "none",
            "Duration": f"{(run.duration_ms or 0) / 1000:,.1f} s", "Error": (run.error or "")[:500],
        },
    )
    return raise_alerts([event])[0]


def _decimal_nonzero(value: Any) -> bool:
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(str(value)) != 0
    except (InvalidOperation, ValueError):
        return False


def alert_collector_silent(*, host_id: int, now: datetime | None = None) -> Decision:
    from numa.models import Host

    host = Host.objects.filter(pk=host_id).first()
    if host is None:
        raise AlertInputError(f"NUMA host {host_id} does not exist")
    event = AlertEvent(
        kind=AlertKind.COLLECTOR_SILENT, key=f"collector:{host.pk}", occurred_at=now or timezone.now(),
        title=f"NUMA collector on {host.hostname} is silent",
        url_path=_path("numa-host", host.hostname, fallback=f"/numa/hosts/{host.hostname}/"),
        facts={"Host": host.hostname, "Last sample": _local(host.last_seen) or "never",
               "Silent since": _local(host.silent_since), "Delivery": host.get_delivery_display()},
    )
    return raise_alerts([event])[0]


def alert_samples_lost(*, epoch_id: int, now: datetime | None = None) -> Decision:
    """Alert that a read stream epoch ended with accepted samples that were never judged."""
    from verifiers.models import ReadStreamEpoch

    epoch = ReadStreamEpoch.objects.filter(pk=epoch_id).first()
    if epoch is None:
        raise AlertInputError(f"read stream epoch {epoch_id} does not exist")
    event = AlertEvent(
        kind=AlertKind.SAMPLES_LOST, key="samples-lost:read", occurred_at=now or timezone.now(),
        title=f"{epoch.lost or 0:,} accepted read samples were lost: Redis came back empty",
        url_path=_path("overview", fallback="/"),
        facts={"Lost (accepted, never judged)": f"{epoch.lost or 0:,}", "Accepted": f"{epoch.accepted:,}",
               "Judged or skipped": f"{epoch.finished:,}", "Stream since": _local(epoch.started_at),
               "Noticed at": _local(epoch.ended_at),
               "What to do": "Ask the gateways to resend the samples of that period; verification goes on."},
    )
    return raise_alerts([event])[0]


def check_mismatch_rates(*, now: datetime | None = None) -> list[AlertEvent]:
    """Routes over their mismatch-rate threshold in the last 5 minutes of OutcomeCount roll-ups."""
    from verifiers.models import OutcomeCount, Route

    now = now or timezone.now()
    rule = rule_for(AlertKind.MISMATCH_RATE)
    if not rule.enabled:
        return []
    thresholds: dict[str, tuple[Any, float]] = {}
    for route in Route.objects.filter(enabled=True):
        threshold = route.mismatch_rate_alert if route.mismatch_rate_alert is not None else rule.threshold
        if threshold is not None:
            thresholds[f"{route.method.upper()} {route.template}"] = (route, threshold)
    if not thresholds:
        return []
    # The unique (kind, subject, minute) index serves this: a few rows per route, never samples.
    rows = (
        OutcomeCount.objects.filter(kind="read", subject__in=list(thresholds), minute__gte=now - RATE_WINDOW, minute__lte=now)
        .values("subject").annotate(matched=Sum("matched"), mismatched=Sum("mismatched"))
    )
    events = []
    for row in rows:
        route, threshold = thresholds[row["subject"]]
        if not rate_over_threshold(row["matched"], row["mismatched"], threshold, min_compared=RATE_MIN_COMPARED):
            continue
        rate = mismatch_rate(row["matched"], row["mismatched"]) or 0.0
        events.append(AlertEvent(
            kind=AlertKind.MISMATCH_RATE, key=f"rate:{route.pk}", occurred_at=now,
            title=f"{row['subject']}: {rate:.1%} mismatches over 5 minutes (threshold {threshold:.1%})",
            url_path=_path("group-list", fallback="/groups/") + f"?subject={row['subject']}",
            facts={"Route": row["subject"], "Mismatch rate": f"{rate:.2%}", "Threshold": f"{threshold:.2%}",
                   "Compared": f"{row['matched'] + row['mismatched']:,}", "Mismatched": f"{row['mismatched']:,}"},
        ))
    raise_alerts(events)
    return events


def scan_group_activity(*, now: datetime | None = None) -> int:
    """Hold 'N more mismatches' events for groups alerted within their window; returns how many."""
    from verifiers.models import MismatchGroup

    now = now or timezone.now()
    gate = throttle()
    watched = gate.watched("group:", now)
    ids = {int(key.split(":", 1)[1]): state for key, state in watched.items() if state.baseline is not None}
    if not ids:
        return 0
    held = 0
    for group in MismatchGroup.objects.filter(pk__in=list(ids)).only("pk", "title", "count", "subject", "last_seen"):
        state = ids[group.pk]
        grown = group.count - (state.baseline or 0)
        if grown <= 0:
            continue
        event = AlertEvent(
            kind=AlertKind.GROUP_ACTIVITY, key=f"group:{group.pk}", occurred_at=now, title=group.title,
            url_path=_path("group-detail", group.pk, fallback=f"/groups/{group.pk}/"),
            facts={"Subject": group.subject, "Mismatches so far": group.count, "Last seen": _local(group.last_seen)},
            occurrences=grown,
        )
        if raise_alerts([event])[0] is Decision.HOLD:
            held += 1
        gate.set_baseline(event.key, AlertKind.NEW_GROUP, group.count)
    return held


# --------------------------------------------------------------------------- throttling and sending


def raise_alerts(events: list[AlertEvent]) -> list[Decision]:
    """Throttle each event; send those due at once in one background batch. Masks before storing."""
    gate = throttle()
    enabled = {kind: rule_for(kind).enabled for kind in {e.kind for e in events}}
    decisions: list[Decision] = []
    to_send: list[AlertEvent] = []
    for event in events:
        if not enabled[event.kind]:
            decisions.append(Decision.DROP)
            continue
        event = render.mask_event(event)
        decision = gate.offer(event)
        decisions.append(decision)
        if decision is Decision.SEND_NOW:
            to_send.append(event)
    if to_send:
        from console.alerts.tasks import send_alerts

        send_alerts.delay([event.as_dict() for event in to_send])
    return decisions


def send_alert_emails(*, events: list[AlertEvent], now: datetime | None = None) -> int:
    """One e-mail per event and subscribed recipient, all over one SMTP connection; returns sent."""
    now = now or timezone.now()
    recipients = subscribed_recipients()
    outgoing: list[tuple[EmailMultiAlternatives, AlertEvent, list[str]]] = []
    for event in events:
        addresses = recipients_for(event.kind, recipients)
        if not addresses:
            continue
        rendered = render.render_alert(event, base_url=settings.CONSOLE_BASE_URL)
        for address in addresses:
            outgoing.append((_message(rendered, address), event, addresses))
    sent = _send_batch([m for m, _, _ in outgoing])
    for event in events:
        addresses = recipients_for(event.kind, recipients)
        if addresses:
            SentAlert.objects.create(
                kind=event.kind.value, key=event.key, digest=False, subject=render.alert_subject(event)[:300],
                url=settings.CONSOLE_BASE_URL + event.url_path, recipients=addresses, events=event.occurrences,
                sent_at=now,
            )
    return sent


def flush_digests(*, now: datetime | None = None) -> int:
    """Send every digest due at `now`: one e-mail per recipient, one SMTP connection; returns sent."""
    now = now or timezone.now()
    taken = throttle().take_due_digests(now)
    if not taken:
        return 0
    recipients = subscribed_recipients()
    per_address: dict[str, list[tuple[str, KeyState]]] = defaultdict(list)
    for key, state in taken:
        for address in recipients_for(state.held[-1].kind, recipients):
            per_address[address].append((key, state))
    messages = [
        _message(render.render_digest(items, base_url=settings.CONSOLE_BASE_URL, now=now), address)
        for address, items in per_address.items()
    ]
    sent = _send_batch(messages)
    for key, state in taken:
        latest = state.held[-1]
        SentAlert.objects.create(
            kind=latest.kind.value, key=key, digest=True, subject=f"Digest: {latest.title}"[:300],
            url=settings.CONSOLE_BASE_URL + latest.url_path,
            recipients=[a for a, items in per_address.items() if any(k == key for k, _ in items)],
            events=state.held_count, sent_at=now,
        )
    return sent


def _message(rendered: render.RenderedEmail, address: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(subject=rendered.subject, body=rendered.text, to=[address])
    message.attach_alternative(rendered.html, "text/html")
    return message


def _send_batch(messages: list[EmailMultiAlternatives]) -> int:
    if not messages:
        return 0
    # One connection for the whole batch (EMAIL_TIMEOUT bounds every SMTP call).
    connection = get_connection(fail_silently=False)
    with connection:
        return connection.send_messages(messages) or 0


def send_test_alert(*, to: str) -> int:
    """Send one sample alert to `to` (admin action: check the mail path end to end)."""
    event = AlertEvent(kind=AlertKind.NEW_GROUP, key="test", occurred_at=timezone.now(),
                       title="Test alert from the migration health console", url_path="/",
                       facts={"Note": "If you can read this, alert e-mails reach you."})
    rendered = render.render_alert(event, base_url=settings.CONSOLE_BASE_URL)
    return _send_batch([_message(rendered, to)])


def deactivate_recipients(*, recipient_ids: list[int]) -> int:
    return AlertRecipient.objects.filter(pk__in=recipient_ids).update(active=False)


__all__ = [
    "AlertInputError", "alert_collector_silent", "alert_new_groups", "alert_reconciliation", "alert_samples_lost", "check_mismatch_rates",
    "flush_digests", "raise_alerts", "scan_group_activity", "send_alert_emails", "send_test_alert",
    "use_throttle_backend",
]
