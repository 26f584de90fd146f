"""Throttle and digest state per alert key, behind a small backend interface (as Sentry's digests).

`AlertThrottle` applies the pure policy of rules.py to stored state; the storage is a
`ThrottleBackend`: `RedisThrottleBackend` in the console (shared by every worker, atomic per key
with WATCH/MULTI), `MemoryThrottleBackend` for tests of the policy without Redis.
No Django imports: the Redis client is handed in.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import orjson

from console.alerts.rules import (
    AlertEvent,
    AlertKind,
    Decision,
    KeyState,
    ThrottlePolicy,
    after_digest,
    decide,
    is_digest_due,
)

T = TypeVar("T")
# A state is kept a little past its window so a clock skew between workers cannot resurrect a storm.
STATE_GRACE = timedelta(minutes=5)


class ThrottleError(RuntimeError):
    """The throttle store could not be updated (e.g. a key kept changing under us)."""


StateUpdate = Callable[[KeyState | None], tuple[T, KeyState | None]]


class ThrottleBackend(ABC):
    """Where key states live. Each update of one key is atomic against other processes."""

    @abstractmethod
    def update(self, key: str, change: StateUpdate[T], *, expires_at: Callable[[KeyState], datetime | None]) -> T:
        """Read the key's state, apply `change`, store what it returns (None deletes); return its result."""

    @abstractmethod
    def due_keys(self, now: datetime) -> list[str]:
        """Keys whose digest is due at `now`."""

    @abstractmethod
    def keys_with_prefix(self, prefix: str, now: datetime) -> list[str]:
        """Keys with a live state whose name starts with `prefix`."""

    @abstractmethod
    def get(self, key: str) -> KeyState | None:
        """The stored state of `key`, if any."""


class MemoryThrottleBackend(ThrottleBackend):
    """In-process store for tests and single-process use."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[KeyState, datetime | None]] = {}
        self._lock = threading.Lock()

    def update(self, key, change, *, expires_at):
        with self._lock:
            current = self._states.get(key)
            result, new_state = change(current[0] if current else None)
            if new_state is None:
                self._states.pop(key, None)
            else:
                self._states[key] = (new_state, expires_at(new_state))
            return result

    def due_keys(self, now: datetime) -> list[str]:
        with self._lock:
            return sorted(k for k, (s, _) in self._states.items() if is_digest_due(s, now))

    def keys_with_prefix(self, prefix: str, now: datetime) -> list[str]:
        with self._lock:
            return sorted(
                k for k, (_, until) in self._states.items() if k.startswith(prefix) and (until is None or until > now)
            )

    def get(self, key: str) -> KeyState | None:
        entry = self._states.get(key)
        return entry[0] if entry else None


class RedisThrottleBackend(ThrottleBackend):
    """States as JSON strings with an expiry; a sorted set of digest due times; one of live keys."""

    def __init__(self, client: Any, *, namespace: str = "mhc:alerts:", retries: int = 20) -> None:
        self.client = client
        self.namespace = namespace
        self.retries = retries
        self._due = f"{namespace}due"
        self._live = f"{namespace}live"

    def _state_key(self, key: str) -> str:
        return f"{self.namespace}state:{key}"

    def update(self, key, change, *, expires_at):
        import redis  # the client's own package: only needed when Redis is the store

        state_key = self._state_key(key)
        for _ in range(self.retries):
            with self.client.pipeline() as pipe:
                try:
                    pipe.watch(state_key)
                    raw = pipe.get(state_key)
                    current = KeyState.from_dict(orjson.loads(raw)) if raw else None
                    result, new_state = change(current)
                    pipe.multi()
                    if new_state is None:
                        pipe.delete(state_key)
                        pipe.zrem(self._due, key)
                        pipe.zrem(self._live, key)
                    else:
                        until = expires_at(new_state)
                        ttl_ms = max(1000, int(((until or _utcnow()) + STATE_GRACE - _utcnow()).total_seconds() * 1000))
                        pipe.set(state_key, orjson.dumps(new_state.as_dict()), px=ttl_ms)
                        if new_state.digest_due_at is not None:
                            pipe.zadd(self._due, {key: new_state.digest_due_at.timestamp()})
                        else:
                            pipe.zrem(self._due, key)
                        pipe.zadd(self._live, {key: (until or _utcnow()).timestamp() + STATE_GRACE.total_seconds()})
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise ThrottleError(f"alert key {key!r} changed {self.retries} times while being updated")

    def due_keys(self, now: datetime) -> list[str]:
        return [k.decode() if isinstance(k, bytes) else k for k in self.client.zrangebyscore(self._due, "-inf", now.timestamp())]

    def keys_with_prefix(self, prefix: str, now: datetime) -> list[str]:
        self.client.zremrangebyscore(self._live, "-inf", now.timestamp())
        keys = [k.decode() if isinstance(k, bytes) else k for k in self.client.zrange(self._live, 0, -1)]
        return sorted(k for k in keys if k.startswith(prefix))

    def get(self, key: str) -> KeyState | None:
        raw = self.client.get(self._state_key(key))
        return KeyState.from_dict(orjson.loads(raw)) if raw else None


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class AlertThrottle:
    """Decides per event (send now / hold for digest / drop) and hands out due digests."""

    def __init__(self, backend: ThrottleBackend,
                 policy_for: Callable[[AlertKind, str | None], ThrottlePolicy]) -> None:
        self.backend = backend
        self.policy_for = policy_for  # (kind, migration slug or None) -> its rule's policy

    def _expiry(self, kind: AlertKind, migration: str | None = None) -> Callable[[KeyState], datetime | None]:
        policy = self.policy_for(kind, migration)
        return lambda state: state.expires_at(policy)

    def offer(self, event: AlertEvent) -> Decision:
        """Record `event` against its key and say whether to send it at once."""
        policy = self.policy_for(event.kind, event.migration)
        return self.backend.update(event.key, lambda state: decide(state, event, policy),
                                   expires_at=self._expiry(event.kind, event.migration))

    def set_baseline(self, key: str, kind: AlertKind, baseline: int, migration: str | None = None) -> None:
        """Remember a number with the key (a group's count when alerted), for later activity."""
        from dataclasses import replace

        def change(state: KeyState | None) -> tuple[None, KeyState | None]:
            return None, (None if state is None else replace(state, baseline=baseline))

        self.backend.update(key, change, expires_at=self._expiry(kind, migration))

    def take_due_digests(self, now: datetime) -> list[tuple[str, KeyState]]:
        """Atomically take every digest due at `now`; each key stays quiet for another window."""
        taken: list[tuple[str, KeyState]] = []
        for key in self.backend.due_keys(now):
            def change(state: KeyState | None) -> tuple[KeyState | None, KeyState | None]:
                if state is None or not is_digest_due(state, now):
                    return None, state  # another process took it
                return state, after_digest(state, now)

            held = self.backend.get(key)
            state = self.backend.update(key, change, expires_at=self._expiry(_kind_of(held), _migration_of(held)))
            if state is not None and state.held:
                taken.append((key, state))
        return taken

    def watched(self, prefix: str, now: datetime) -> dict[str, KeyState]:
        """Live states of keys starting with `prefix` (e.g. 'group:'), for activity scans."""
        states = {key: self.backend.get(key) for key in self.backend.keys_with_prefix(prefix, now)}
        return {key: state for key, state in states.items() if state is not None}


def _kind_of(state: KeyState | None) -> AlertKind:
    return state.held[0].kind if state and state.held else AlertKind.NEW_GROUP


def _migration_of(state: KeyState | None) -> str | None:
    return state.held[0].migration if state and state.held else None
