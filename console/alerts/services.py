"""Alert use cases: throttle the events the parts publish, send e-mails and digests.

The parts build their events (console.alerts.events) and call console.alerts.publish; nothing here
reads a part's models. Immediate alerts go out from a Celery task (one SMTP connection per batch)
so the caller, often a verifier worker on its hot path, never waits for a mail server.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from console.alerts import render
from console.alerts.events import SUBSCRIPTION_OF, AlertEvent, AlertKind
from console.alerts.models import AlertRecipient, AlertRule, SentAlert
from console.alerts.rules import Decision, KeyState, ThrottlePolicy, recipients_for
from console.alerts.throttle import AlertThrottle, RedisThrottleBackend, ThrottleBackend

logger = logging.getLogger(__name__)

_backend_override: ThrottleBackend | None = None


# --------------------------------------------------------------------------- configuration


def use_throttle_backend(backend: ThrottleBackend | None) -> None:
    """Swap the throttle store (tests use the in-memory one); None goes back to Redis."""
    global _backend_override
    _backend_override = backend


def throttle() -> AlertThrottle:
    backend = _backend_override or RedisThrottleBackend(
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    )
    rules = {(rule.migration.slug if rule.migration else None, rule.kind): rule
             for rule in AlertRule.objects.select_related("migration")}

    def policy_for(kind: AlertKind, migration: str | None) -> ThrottlePolicy:
        wanted = _rule_kind(kind).value
        rule = rules.get((migration, wanted)) or rules.get((None, wanted))
        window = timedelta(minutes=rule.window_minutes) if rule else ThrottlePolicy().window
        return ThrottlePolicy(window=window)

    return AlertThrottle(backend, policy_for)


def _rule_kind(kind: AlertKind) -> AlertKind:
    return SUBSCRIPTION_OF[kind]


def rule_for(kind: AlertKind, migration: str | None = None) -> AlertRule:
    """The rule of a kind for `migration` (a slug): the migration's own, else the one for every
    migration, else the default (enabled, 30 min window) when none is stored."""
    rules = AlertRule.objects.filter(kind=_rule_kind(kind).value)
    own = rules.filter(migration__slug=migration).first() if migration is not None else None
    return own or rules.filter(migration__isnull=True).first() or AlertRule(kind=_rule_kind(kind).value)


def subscribed_recipients() -> list[tuple[str, frozenset[str], str | None]]:
    """(email, kinds, migration slug or None: every migration) of each active recipient."""
    return [(email, frozenset(kinds or ()), slug) for email, kinds, slug in
            AlertRecipient.objects.filter(active=True).values_list("email", "kinds", "migration__slug")]


def _migration_pk(slug: str | None) -> int | None:
    from console.models import Migration

    return None if slug is None else Migration.objects.filter(slug=slug).values_list("pk", flat=True).first()


# --------------------------------------------------------------------------- the port


def publish_events(events: list[AlertEvent]) -> list[Decision]:
    """Throttle and send the events a part built; keep each event's baseline with its key.

    A baseline (a group's count) is kept when its key alerts, and moves on with every activity
    event, so the next scan only counts what is new.
    """
    if not events:
        return []
    decisions = raise_alerts(events)
    baselines = [
        (event.key, event.kind, event.baseline, event.migration) for event, decision in zip(events, decisions)
        if event.baseline is not None and (decision is Decision.SEND_NOW or event.kind is AlertKind.GROUP_ACTIVITY)
    ]
    if baselines:
        gate = throttle()
        for key, kind, baseline, migration in baselines:
            gate.set_baseline(key, kind, baseline, migration)
    return decisions


def watched_baselines(prefix: str, *, now: datetime | None = None) -> dict[str, int]:
    """Keys starting with `prefix` alerted within their window, with the baseline kept for each."""
    states = throttle().watched(prefix, now or timezone.now())
    return {key: state.baseline for key, state in states.items() if state.baseline is not None}


def threshold(kind: AlertKind, migration: str | None = None) -> float | None:
    """The threshold of the kind's rule for `migration` (None when unset or the rule is off)."""
    rule = rule_for(kind, migration)
    return rule.threshold if rule.enabled else None


# --------------------------------------------------------------------------- throttling and sending


def raise_alerts(events: list[AlertEvent]) -> list[Decision]:
    """Throttle each event; send those due at once in one background batch. Masks before storing."""
    gate = throttle()
    enabled = {(kind, migration): rule_for(kind, migration).enabled
               for kind, migration in {(e.kind, e.migration) for e in events}}
    decisions: list[Decision] = []
    to_send: list[AlertEvent] = []
    for event in events:
        if not enabled[(event.kind, event.migration)]:
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
        addresses = recipients_for(event.kind, recipients, event.migration)
        if not addresses:
            continue
        rendered = render.render_alert(event, base_url=settings.CONSOLE_BASE_URL)
        for address in addresses:
            outgoing.append((_message(rendered, address), event, addresses))
    sent = _send_batch([m for m, _, _ in outgoing])
    for event in events:
        addresses = recipients_for(event.kind, recipients, event.migration)
        if addresses:
            SentAlert.objects.create(
                migration_id=_migration_pk(event.migration), kind=event.kind.value, key=event.key, digest=False, subject=render.alert_subject(event)[:300],
                url=settings.CONSOLE_BASE_URL + event.link, recipients=addresses, events=event.occurrences,
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
        for address in recipients_for(state.held[-1].kind, recipients, state.held[-1].migration):
            per_address[address].append((key, state))
    messages = [
        _message(render.render_digest(items, base_url=settings.CONSOLE_BASE_URL, now=now), address)
        for address, items in per_address.items()
    ]
    sent = _send_batch(messages)
    for key, state in taken:
        latest = state.held[-1]
        SentAlert.objects.create(
            migration_id=_migration_pk(latest.migration), kind=latest.kind.value, key=key, digest=True, subject=f"Digest: {latest.title}"[:300],
            url=settings.CONSOLE_BASE_URL + latest.link,
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
    "flush_digests", "publish_events", "raise_alerts", "send_alert_emails", "send_test_alert", "threshold",
    "use_throttle_backend", "watched_baselines",
]
