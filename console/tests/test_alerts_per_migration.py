"""Alerts per migration, pure (`pytest -p no:django`): who receives a migration's alert, the event
keeping its migration through the throttle store, and the throttle window of its own rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from console.alerts.events import AlertEvent, AlertKind
from console.alerts.rules import Decision, ThrottlePolicy, recipients_for
from console.alerts.throttle import AlertThrottle, MemoryThrottleBackend

NEW = frozenset({"new_group"})
RECIPIENTS = [("won@bank", NEW, "won"), ("fx@bank", NEW, "fx"), ("programme@bank", NEW, None)]
NOW = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)


def test_a_migrations_alert_reaches_its_own_and_the_programmes_recipients():
    assert recipients_for(AlertKind.NEW_GROUP, RECIPIENTS, "fx") == ["fx@bank", "programme@bank"]
    assert recipients_for(AlertKind.GROUP_ACTIVITY, RECIPIENTS, "won") == ["won@bank", "programme@bank"]


def test_a_programme_wide_alert_reaches_only_recipients_of_every_migration():
    assert recipients_for(AlertKind.NEW_GROUP, RECIPIENTS, None) == ["programme@bank"]
    assert recipients_for(AlertKind.NEW_GROUP, [("old@bank", NEW)]) == ["old@bank"]  # (email, kinds) as before


def test_the_event_keeps_its_migration_through_the_store_and_the_throttle_uses_its_policy():
    event = AlertEvent(kind=AlertKind.NEW_GROUP, key="group:1", occurred_at=NOW, title="t", url_path="/g/1/",
                       migration="fx", migration_name="FX deposits")
    assert AlertEvent.from_dict(event.as_dict()) == event
    asked: list[tuple[AlertKind, str | None]] = []

    def policy_for(kind: AlertKind, migration: str | None) -> ThrottlePolicy:
        asked.append((kind, migration))
        return ThrottlePolicy(window=timedelta(minutes=5 if migration == "fx" else 60))

    gate = AlertThrottle(MemoryThrottleBackend(), policy_for)
    won = replace(event, key="group:2", migration="won", migration_name="Won deposits")
    later = timedelta(minutes=10)  # past fx's 5-minute window, within won's hour
    decisions = [gate.offer(e) for e in (event, replace(event, occurred_at=NOW + later),
                                         won, replace(won, occurred_at=NOW + later))]
    assert decisions == [Decision.SEND_NOW, Decision.SEND_NOW, Decision.SEND_NOW, Decision.HOLD]
    assert set(asked) >= {(AlertKind.NEW_GROUP, "fx"), (AlertKind.NEW_GROUP, "won")}
