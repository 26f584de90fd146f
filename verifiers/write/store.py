"""The Redis store of write captures: expected state waiting for the legacy commit.

No Django here: callers pass a redis client. Layout (prefix ``mhc:write:`` by default):

    capture:<id>     hash {data: capture JSON, delay_ms, committed_at}; TTL = capture TTL + grace
    seen:<id>        capture id accepted before (idempotent ingest), long TTL
    committed:<id>   commit notice received (value: epoch seconds), long TTL
    deadlines        zset id -> epoch when the capture becomes orphaned (expired keys vanish,
                     so the deadline index is what the orphan scan reads, never the keys)
    due              zset id -> epoch when the committed capture may be checked (commit delay)
    waits            zset id -> epoch when a commit that came without a capture is reported
    processing       zset "<task>:<id>" -> lease end; claimed work not yet finished. A worker
                     killed mid-batch leaves its members here, and the next claim takes them
                     again once the lease ends (recording is idempotent on sample ids).

Every state change is one Lua script, so a capture and its commit racing each other (or two
workers claiming) never lose or double-schedule an id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import redis

DEFAULT_PREFIX: Final = "mhc:write:"
# How long an accepted capture id / commit notice is remembered (duplicate deliveries).
DEFAULT_SEEN_TTL_S: Final = 24 * 3600
# A commit may arrive just before its capture (two HTTP calls racing): wait this long.
DEFAULT_COMMIT_GRACE_S: Final = 30.0
# A claimed batch not finished within this is claimed again by the next drain.
DEFAULT_LEASE_S: Final = 120.0
# The capture hash outlives its orphan deadline by this, so the orphan scan can still read it.
CAPTURE_KEY_GRACE_S: Final = 900

TASK_CHECK: Final = "check"
TASK_ORPHAN: Final = "orphan"
TASK_NO_CAPTURE: Final = "nocapture"

# KEYS: capture, seen, committed, deadlines, due, waits
# ARGV: id, data, key_ttl_s, orphan_deadline, delay_ms, now, seen_ttl_s
_ADD_CAPTURE_LUA = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[7])) then
  return 'duplicate'
end
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'delay_ms', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
local committed_at = redis.call('GET', KEYS[3])
if committed_at then
  redis.call('ZREM', KEYS[6], ARGV[1])
  redis.call('HSET', KEYS[1], 'committed_at', committed_at)
  redis.call('ZADD', KEYS[5], tonumber(ARGV[6]) + tonumber(ARGV[5]) / 1000, ARGV[1])
  return 'committed'
end
redis.call('ZADD', KEYS[4], tonumber(ARGV[4]), ARGV[1])
return 'stored'
"""

# KEYS: capture, committed, deadlines, due, waits
# ARGV: id, now, seen_ttl_s, wait_deadline
_ADD_COMMIT_LUA = """
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', tonumber(ARGV[3])) then
  return 'duplicate'
end
if redis.call('ZREM', KEYS[3], ARGV[1]) == 1 then
  local delay_ms = tonumber(redis.call('HGET', KEYS[1], 'delay_ms') or '0')
  redis.call('HSET', KEYS[1], 'committed_at', ARGV[2])
  redis.call('ZADD', KEYS[4], tonumber(ARGV[2]) + delay_ms / 1000, ARGV[1])
  return 'scheduled'
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 'late'
end
redis.call('ZADD', KEYS[5], tonumber(ARGV[4]), ARGV[1])
return 'waiting'
"""

# KEYS: processing, due, deadlines, waits; ARGV: now, lease_until, limit
_CLAIM_LUA = """
local out = {}
local limit = tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit)
for _, member in ipairs(expired) do
  redis.call('ZADD', KEYS[1], ARGV[2], member)
  out[#out + 1] = member
end
local sources = {{KEYS[2], 'check:'}, {KEYS[3], 'orphan:'}, {KEYS[4], 'nocapture:'}}
for _, source in ipairs(sources) do
  if #out >= limit then break end
  local ids = redis.call('ZRANGEBYSCORE', source[1], '-inf', ARGV[1], 'LIMIT', 0, limit - #out)
  for _, id in ipairs(ids) do
    redis.call('ZREM', source[1], id)
    local member = source[2] .. id
    redis.call('ZADD', KEYS[1], ARGV[2], member)
    out[#out + 1] = member
  end
end
return out
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True, slots=True)
class ClaimedWork:
    """One unit of claimed work: check a committed capture, report an orphan or a lone commit."""

    task: str  # TASK_CHECK | TASK_ORPHAN | TASK_NO_CAPTURE
    capture_id: str

    @property
    def member(self) -> str:
        return f"{self.task}:{self.capture_id}"


@dataclass(frozen=True, slots=True)
class StoredCapture:
    """A capture as loaded back: its JSON and, once known, when the commit notice came."""

    data: bytes
    committed_at: float | None


@dataclass(frozen=True, slots=True)
class StoreCounts:
    awaiting_commit: int
    due: int
    processing: int
    commits_waiting_for_capture: int


class WriteCaptureStore:
    """Captures waiting for their commit, commits waiting for their check, and the claims."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        seen_ttl_s: int = DEFAULT_SEEN_TTL_S,
        commit_grace_s: float = DEFAULT_COMMIT_GRACE_S,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.seen_ttl_s = seen_ttl_s
        self.commit_grace_s = commit_grace_s
        self.lease_s = lease_s
        self._add_capture = client.register_script(_ADD_CAPTURE_LUA)
        self._add_commit = client.register_script(_ADD_COMMIT_LUA)
        self._claim = client.register_script(_CLAIM_LUA)

    # --- keys -------------------------------------------------------------------------------
    def _key(self, name: str) -> str:
        return self.prefix + name

    def capture_key(self, capture_id: str) -> str:
        return self._key(f"capture:{capture_id}")

    # --- writes -----------------------------------------------------------------------------
    def add_capture(self, capture_id: str, data: bytes, *, ttl_s: int, commit_delay_ms: int, now: float) -> str:
        """Store a capture; 'stored', 'committed' (its commit came first) or 'duplicate'."""
        return self.add_captures([(capture_id, data, ttl_s, commit_delay_ms)], now=now)[0]

    def add_captures(self, captures: list[tuple[str, bytes, int, int]], *, now: float) -> list[str]:
        """Store many (id, data, ttl_s, commit_delay_ms) in one round trip; a status per capture."""
        pipe = self.client.pipeline(transaction=False)
        for capture_id, data, ttl_s, commit_delay_ms in captures:
            self._add_capture(
                keys=[
                    self.capture_key(capture_id), self._key(f"seen:{capture_id}"),
                    self._key(f"committed:{capture_id}"), self._key("deadlines"), self._key("due"), self._key("waits"),
                ],
                args=[capture_id, data, int(ttl_s) + CAPTURE_KEY_GRACE_S, now + ttl_s, int(commit_delay_ms), now,
                      self.seen_ttl_s],
                client=pipe,
            )
        return [_text(result) for result in pipe.execute()] if captures else []

    def add_commit(self, capture_id: str, *, now: float) -> str:
        """Note a commit: 'scheduled', 'waiting' (no capture yet), 'late' (orphaned) or 'duplicate'."""
        return self.add_commits([capture_id], now=now)[0]

    def add_commits(self, capture_ids: list[str], *, now: float) -> list[str]:
        """Note many commits in one round trip; a status per id."""
        pipe = self.client.pipeline(transaction=False)
        for capture_id in capture_ids:
            self._add_commit(
                keys=[
                    self.capture_key(capture_id), self._key(f"committed:{capture_id}"), self._key("deadlines"),
                    self._key("due"), self._key("waits"),
                ],
                args=[capture_id, repr(now), self.seen_ttl_s, now + self.commit_grace_s],
                client=pipe,
            )
        return [_text(result) for result in pipe.execute()] if capture_ids else []

    def claim(self, *, now: float, limit: int) -> list[ClaimedWork]:
        """Claim up to ``limit`` units of work that are due (expired leases first)."""
        members = self._claim(
            keys=[self._key("processing"), self._key("due"), self._key("deadlines"), self._key("waits")],
            args=[now, now + self.lease_s, int(limit)],
        )
        claimed = []
        for member in members:
            text = member.decode() if isinstance(member, bytes) else str(member)
            task, _, capture_id = text.partition(":")
            claimed.append(ClaimedWork(task, capture_id))
        return claimed

    def load(self, capture_ids: list[str]) -> dict[str, StoredCapture | None]:
        """The captures still in Redis (None for ids whose key expired or never existed)."""
        pipe = self.client.pipeline(transaction=False)
        for capture_id in capture_ids:
            pipe.hmget(self.capture_key(capture_id), "data", "committed_at")
        loaded: dict[str, StoredCapture | None] = {}
        for capture_id, (data, committed_at) in zip(capture_ids, pipe.execute()):
            loaded[capture_id] = (
                None if data is None else StoredCapture(data, float(committed_at) if committed_at else None)
            )
        return loaded

    def finish(self, work: list[ClaimedWork]) -> None:
        """Forget finished work and the captures it consumed."""
        if not work:
            return
        pipe = self.client.pipeline(transaction=True)
        pipe.zrem(self._key("processing"), *[item.member for item in work])
        consumed = [self.capture_key(item.capture_id) for item in work if item.task != TASK_NO_CAPTURE]
        if consumed:
            pipe.delete(*consumed)
        pipe.execute()

    def note_commit_migrations(self, capture_ids: list[str], migration_id: int) -> None:
        """Remember which migration sent these commit notes (only consoles with several migrations
        do): a commit whose capture never came, or expired, is reported in that migration."""
        pipe = self.client.pipeline(transaction=False)
        for capture_id in capture_ids:
            pipe.set(self._key(f"commit-migration:{capture_id}"), migration_id, ex=self.seen_ttl_s)
        pipe.execute()

    def commit_migrations(self, capture_ids: list[str]) -> dict[str, int]:
        """Capture id -> migration id noted with its commit (ids without one are left out)."""
        if not capture_ids:
            return {}
        values = self.client.mget([self._key(f"commit-migration:{capture_id}") for capture_id in capture_ids])
        return {capture_id: int(value) for capture_id, value in zip(capture_ids, values) if value is not None}

    # --- reads ------------------------------------------------------------------------------
    def counts(self) -> StoreCounts:
        pipe = self.client.pipeline(transaction=False)
        for name in ("deadlines", "due", "processing", "waits"):
            pipe.zcard(self._key(name))
        awaiting, due, processing, waits = pipe.execute()
        return StoreCounts(awaiting, due, processing, waits)

    def oldest_due_at(self) -> float | None:
        """Epoch seconds at which the longest-waiting committed capture became due for its check."""
        first = self.client.zrange(self._key("due"), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def next_due_in(self, *, now: float) -> float | None:
        """Seconds until the earliest due check (0 if overdue), None if nothing is committed."""
        first = self.client.zrange(self._key("due"), 0, 0, withscores=True)
        if not first:
            return None
        return max(0.0, float(first[0][1]) - now)
