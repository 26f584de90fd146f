"""The alert policy and the throttle store, without Django or Redis."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.alerts.events import AlertEvent, AlertKind, AlertPolicyError, with_query
from console.alerts.rules import (
    MAX_HELD_EVENTS,
    Decision,
    KeyState,
    ThrottlePolicy,
    after_digest,
    decide,
    mismatch_rate,
    rate_over_threshold,
    recipients_for,
)
from console.alerts.throttle import AlertThrottle, MemoryThrottleBackend

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=timezone.utc)
POLICY = ThrottlePolicy()


def event(minutes: float = 0, kind: AlertKind = AlertKind.NEW_GROUP, key: str = "group:1", occurrences: int = 1) -> AlertEvent:
    return AlertEvent(kind=kind, key=key, occurred_at=T0 + timedelta(minutes=minutes), title="GET /a: $.x changed",
                      url_path="/groups/1/", occurrences=occurrences)


def test_first_event_of_a_key_is_sent_at_once():
    decision, state = decide(None, event(), POLICY)
    assert decision is Decision.SEND_NOW
    assert state.alerted_at == T0 and state.digest_due_at is None


def test_second_event_within_the_window_is_held_for_five_minutes():
    _, state = decide(None, event(), POLICY)
    decision, state = decide(state, event(1), POLICY)
    assert decision is Decision.HOLD
    assert state.digest_due_at == T0 + timedelta(minutes=6)
    assert state.held_count == 1


def test_each_new_event_pushes_the_digest_back():
    _, state = decide(None, event(), POLICY)
    _, state = decide(state, event(1), POLICY)
    _, state = decide(state, event(4), POLICY)
    assert state.digest_due_at == T0 + timedelta(minutes=9)


def test_digest_is_never_held_more_than_thirty_minutes_after_its_first_event():
    _, state = decide(None, event(), POLICY)
    for minute in range(1, 29):
        _, state = decide(state, event(minute), POLICY)
    assert state.digest_due_at == T0 + timedelta(minutes=31)  # first held at minute 1, max 30


def test_event_after_the_window_is_sent_at_once_again():
    _, state = decide(None, event(), POLICY)
    decision, _ = decide(state, event(31), POLICY)
    assert decision is Decision.SEND_NOW


def test_held_events_are_capped_but_counted():
    _, state = decide(None, event(), POLICY)
    for index in range(MAX_HELD_EVENTS + 10):
        _, state = decide(state, event(0.01 * (index + 1)), POLICY)
    assert len(state.held) == MAX_HELD_EVENTS
    assert state.held_count == MAX_HELD_EVENTS + 10


def test_group_activity_without_an_alert_is_dropped():
    decision, state = decide(None, event(kind=AlertKind.GROUP_ACTIVITY, occurrences=9), POLICY)
    assert decision is Decision.DROP and state is None


def test_group_activity_after_an_alert_counts_its_occurrences():
    _, state = decide(None, event(), POLICY)
    decision, state = decide(state, event(2, kind=AlertKind.GROUP_ACTIVITY, occurrences=999), POLICY)
    assert decision is Decision.HOLD and state.held_count == 999


def test_after_a_digest_the_key_stays_quiet_until_the_window_from_the_alert_ends():
    _, state = decide(None, event(), POLICY)
    _, state = decide(state, event(1), POLICY)
    state = after_digest(state, T0 + timedelta(minutes=6))
    assert state.held == () and state.digest_due_at is None and state.alerted_at == T0
    assert decide(state, event(10), POLICY)[0] is Decision.HOLD
    assert decide(state, event(31), POLICY)[0] is Decision.SEND_NOW


def test_state_round_trips_through_a_dict():
    _, state = decide(None, event(), POLICY)
    _, state = decide(state, event(1), POLICY)
    assert KeyState.from_dict(state.as_dict()) == state


def test_malformed_stored_event_names_the_problem():
    with pytest.raises(AlertPolicyError, match="malformed"):
        AlertEvent.from_dict({"kind": "nonsense"})


def test_policy_rejects_a_maximum_shorter_than_the_minimum():
    with pytest.raises(AlertPolicyError, match="digest_max"):
        ThrottlePolicy(digest_min=timedelta(minutes=10), digest_max=timedelta(minutes=5))


def test_mismatch_rate_is_none_without_comparisons():
    assert mismatch_rate(0, 0) is None
    assert mismatch_rate(90, 10) == pytest.approx(0.1)


def test_rate_over_threshold_needs_enough_samples():
    assert not rate_over_threshold(1, 1, 0.1)  # 50 %, but only two compared
    assert rate_over_threshold(80, 20, 0.1)
    assert not rate_over_threshold(90, 10, 0.1)  # equal is not over


def test_rate_threshold_outside_zero_to_one_is_refused():
    with pytest.raises(AlertPolicyError, match="between 0 and 1"):
        rate_over_threshold(10, 10, 5)


def test_recipients_are_filtered_by_subscription_and_deduplicated():
    recipients = [("a@x.kr", frozenset({"new_group"})), ("b@x.kr", frozenset({"reconciliation"})),
                  ("A@x.kr", frozenset({"new_group"}))]
    assert recipients_for(AlertKind.NEW_GROUP, recipients) == ["a@x.kr"]
    assert recipients_for(AlertKind.GROUP_ACTIVITY, recipients) == ["a@x.kr"]
    assert recipients_for(AlertKind.RECONCILIATION, recipients) == ["b@x.kr"]


def make_throttle() -> AlertThrottle:
    return AlertThrottle(MemoryThrottleBackend(), lambda kind, migration: POLICY)


def test_throttle_sends_one_and_holds_a_burst_for_one_digest():
    gate = make_throttle()
    decisions = [gate.offer(event(i / 100)) for i in range(1000)]
    assert decisions.count(Decision.SEND_NOW) == 1
    assert decisions.count(Decision.HOLD) == 999
    assert gate.take_due_digests(T0 + timedelta(minutes=5)) == []  # not yet due
    taken = gate.take_due_digests(T0 + timedelta(minutes=31))
    assert len(taken) == 1 and taken[0][1].held_count == 999
    assert gate.take_due_digests(T0 + timedelta(minutes=40)) == []  # taken once only


def test_throttle_keys_are_independent():
    gate = make_throttle()
    assert gate.offer(event(key="group:1")) is Decision.SEND_NOW
    assert gate.offer(event(key="group:2")) is Decision.SEND_NOW


def test_throttle_keeps_a_baseline_and_lists_watched_keys():
    gate = make_throttle()
    gate.offer(event(key="group:7"))
    gate.offer(event(key="rate:1", kind=AlertKind.MISMATCH_RATE))
    gate.set_baseline("group:7", AlertKind.NEW_GROUP, 100)
    watched = gate.watched("group:", T0 + timedelta(minutes=1))
    assert list(watched) == ["group:7"] and watched["group:7"].baseline == 100
    assert gate.watched("group:", T0 + timedelta(minutes=45)) == {}  # window over


def test_link_queries_are_url_encoded():
    assert with_query("/groups/", {"subject": "GET /a/{id}?x=1&y=2"}) == "/groups/?subject=GET+%2Fa%2F%7Bid%7D%3Fx%3D1%26y%3D2"
    assert with_query("/numa/hosts/db 1/") == "/numa/hosts/db%201/"
    assert with_query("/numa/hosts/db%201/") == "/numa/hosts/db%201/"  # what reverse() encoded stays as it is


def test_an_event_with_link_query_and_baseline_survives_storage():
    stored = AlertEvent(kind=AlertKind.MISMATCH_RATE, key="rate:1", occurred_at=T0, title="t", url_path="/groups/",
                        url_query={"subject": "GET /a"}, subject="GET /a", severity="high", baseline=7)
    assert AlertEvent.from_dict(stored.as_dict()) == stored
    assert stored.link == "/groups/?subject=GET+%2Fa"
