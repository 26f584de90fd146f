"""Alert policy, pure: when an alert goes out at once, when it waits for a digest, and what is over a threshold.

No Django, no Redis: the throttle state of one key is a small value object, and every decision is a
function of (state, event time, policy) returning the new state. The storage lives in throttle.py.

The shape follows Sentry's digests: the first event of a key is sent at once; events of the same key
within the throttle window are held for a digest, which is due `digest_min` after the first held
event, pushed back by `digest_increment` with each new event, but never later than `digest_max`
after the first held event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from console.alerts.events import SUBSCRIPTION_OF, AlertEvent, AlertKind, AlertPolicyError

# Events kept per pending digest: the count goes on, the list stops (a storm must not fill Redis).
MAX_HELD_EVENTS = 50


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How long a key stays quiet after an alert and how digests are held."""

    window: timedelta = timedelta(minutes=30)
    digest_min: timedelta = timedelta(minutes=5)
    digest_increment: timedelta = timedelta(minutes=5)
    digest_max: timedelta = timedelta(minutes=30)

    def __post_init__(self) -> None:
        for name in ("window", "digest_min", "digest_increment", "digest_max"):
            if getattr(self, name) <= timedelta(0):
                raise AlertPolicyError(f"ThrottlePolicy.{name} must be positive, got {getattr(self, name)}")
        if self.digest_max < self.digest_min:
            raise AlertPolicyError(
                f"ThrottlePolicy.digest_max ({self.digest_max}) is shorter than digest_min ({self.digest_min})"
            )


@dataclass(frozen=True, slots=True)
class KeyState:
    """Throttle state of one key: when it last alerted, and the digest it is collecting."""

    alerted_at: datetime | None = None
    digest_first_at: datetime | None = None
    digest_due_at: datetime | None = None
    held: tuple[AlertEvent, ...] = ()
    held_count: int = 0  # events (occurrences) held, including those beyond MAX_HELD_EVENTS
    baseline: int | None = None  # e.g. the group's count when it was alerted (for activity events)

    def as_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "alerted_at": iso(self.alerted_at), "digest_first_at": iso(self.digest_first_at),
            "digest_due_at": iso(self.digest_due_at), "held": [e.as_dict() for e in self.held],
            "held_count": self.held_count, "baseline": self.baseline,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "KeyState":
        def moment(name: str) -> datetime | None:
            value = data.get(name)
            return datetime.fromisoformat(value) if value else None

        return cls(
            alerted_at=moment("alerted_at"), digest_first_at=moment("digest_first_at"),
            digest_due_at=moment("digest_due_at"),
            held=tuple(AlertEvent.from_dict(e) for e in data.get("held") or ()),
            held_count=int(data.get("held_count") or 0), baseline=data.get("baseline"),
        )

    def expires_at(self, policy: ThrottlePolicy) -> datetime | None:
        """When the state can be forgotten: window over and no digest pending."""
        moments = [m for m in (self.alerted_at and self.alerted_at + policy.window, self.digest_due_at) if m]
        return max(moments) if moments else None


class Decision(StrEnum):
    SEND_NOW = "send_now"
    HOLD = "hold"  # added to the key's digest
    DROP = "drop"  # nothing to say (activity of a key that is not being watched)


def decide(state: KeyState | None, event: AlertEvent, policy: ThrottlePolicy) -> tuple[Decision, KeyState | None]:
    """What to do with `event` given its key's state; returns the decision and the new state."""
    now = event.occurred_at
    quiet = state is not None and state.alerted_at is not None and now < state.alerted_at + policy.window
    pending = state is not None and state.digest_due_at is not None
    if event.kind is AlertKind.GROUP_ACTIVITY and not (quiet or pending):
        # Activity only means something beside an alert sent within the window.
        return Decision.DROP, state
    if not quiet and not pending:
        return Decision.SEND_NOW, KeyState(alerted_at=now, baseline=state.baseline if state else None)
    assert state is not None
    first = state.digest_first_at or now
    due = now + policy.digest_min if state.digest_due_at is None else max(state.digest_due_at, now + policy.digest_increment)
    due = min(due, first + policy.digest_max)
    held = (state.held + (event,))[-MAX_HELD_EVENTS:]
    return Decision.HOLD, replace(
        state, digest_first_at=first, digest_due_at=due, held=held, held_count=state.held_count + event.occurrences
    )


def is_digest_due(state: KeyState, now: datetime) -> bool:
    return state.digest_due_at is not None and state.digest_due_at <= now


def after_digest(state: KeyState, now: datetime) -> KeyState:
    """The state once its digest went out: empty digest; the key stays quiet until its window ends.

    The window still counts from the alert, not the digest, so an ongoing problem costs one alert
    and at most a digest or two per window rather than a digest every half hour forever.
    """
    return KeyState(alerted_at=state.alerted_at or now, baseline=state.baseline)


def mismatch_rate(matched: int, mismatched: int) -> float | None:
    """Share of compared samples that mismatched; None when nothing was compared."""
    compared = matched + mismatched
    return None if compared == 0 else mismatched / compared


def rate_over_threshold(matched: int, mismatched: int, threshold: float, *, min_compared: int = 20) -> bool:
    """True when enough samples were compared and the mismatch share exceeds `threshold`."""
    if not 0.0 <= threshold <= 1.0:
        raise AlertPolicyError(f"mismatch rate threshold must be between 0 and 1, got {threshold}")
    if matched + mismatched < min_compared:
        return False
    rate = mismatch_rate(matched, mismatched)
    return rate is not None and rate > threshold


Recipient = tuple[str, frozenset[str]] | tuple[str, frozenset[str], str | None]


def recipients_for(kind: AlertKind, recipients: Sequence[Recipient], migration: str | None = None) -> list[str]:
    """E-mail addresses subscribed to `kind` (its subscription kind), in order, without duplicates.

    A recipient is (email, kinds) or (email, kinds, migration slug): one limited to a migration
    receives that migration's alerts only; one without receives every migration's and the
    programme-wide ones (`migration` None).
    """
    wanted = SUBSCRIPTION_OF[kind].value
    seen: dict[str, None] = {}
    for recipient in recipients:
        email, kinds = recipient[0], recipient[1]
        scope = recipient[2] if len(recipient) > 2 else None
        if scope is not None and scope != migration:
            continue
        if wanted in kinds and email.lower() not in {s.lower() for s in seen}:
            seen[email] = None
    return list(seen)
