"""The Redis store of write captures: expected state waiting for the legacy commit.

No Django here: callers pass a redis client. Layout (prefix ``mhc:write:`` by default):

    capture:<id>     hash {data: capture JSON, delay_ms, committed_at}; TTL = capture TTL + grace
    seen:<id>        capture id accepted before (idempotent ingest); TTL the duplicate window
                     (an hour) or its capture key's, whichever is longer
    committed:<id>   commit notice received (value: epoch seconds); TTL the duplicate window
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
# How long an accepted capture id / commit notice is remembered (duplicate deliveries); a
# capture id at least as long as its capture key. Each checked capture leaves these two keys,
# ~400 bytes with UUID ids (measured): at the talk's 3,000 captures/s an hour holds ~4.3 GB, a
# day would hold ~100 GB. A later duplicate is still counted once: the drain drops the orphan or
# lone-commit report of a capture whose check is already claimed in PostgreSQL (kept for days).
DEFAULT_SEEN_TTL_S: Final = 3600
# A commit may arrive just before its capture (two HTTP calls racing): wait this long.
DEFAULT_COMMIT_GRACE_S: Final = 30.0
# A claimed batch not finished within this is claimed again by the next drain.
DEFAULT_LEASE_S: Final = 120.0
# The capture hash outlives its orphan deadline by this, so the orphan scan can still read it.
CAPTURE_KEY_GRACE_S: Final = 900

TASK_CHECK: Final = "check"
TASK_ORPHAN: Final = "orphan"
TASK_NO_CAPTURE: Final = "nocapture"

# A batch in one call (one script run, not one per capture: the per-call cost was most of the
# store's CPU, in Redis and in redis-py). The per-capture keys are named from the prefix inside
# the script, so this needs a single Redis server (no cluster), as the rest of the store does.
# KEYS: deadlines, due, waits
# ARGV: prefix, now, seen_ttl_s, then per capture: id, data, key_ttl_s, orphan_deadline, delay_ms
_ADD_CAPTURES_LUA = """
local prefix, now, seen_ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 4, #ARGV, 5 do
  local id, delay_ms = ARGV[i], ARGV[i + 4]
  local capture = prefix .. 'capture:' .. id
  if not redis.call('SET', prefix .. 'seen:' .. id, '1', 'NX', 'EX', math.max(seen_ttl, tonumber(ARGV[i + 2]))) then
    out[#out + 1] = 'duplicate'
  else
    redis.call('HSET', capture, 'data', ARGV[i + 1], 'delay_ms', delay_ms)
    redis.call('EXPIRE', capture, tonumber(ARGV[i + 2]))
    local committed_at = redis.call('GET', prefix .. 'committed:' .. id)
    if committed_at then
      redis.call('ZREM', KEYS[3], id)
      redis.call('HSET', capture, 'committed_at', committed_at)
      redis.call('ZADD', KEYS[2], now + tonumber(delay_ms) / 1000, id)
      out[#out + 1] = 'committed'
    else
      redis.call('ZADD', KEYS[1], tonumber(ARGV[i + 3]), id)
      out[#out + 1] = 'stored'
    end
  end
end
return out
"""

# KEYS: deadlines, due, waits
# ARGV: prefix, now, seen_ttl_s, wait_deadline, then the capture ids
_ADD_COMMITS_LUA = """
local prefix, now, seen_ttl, wait_deadline = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local capture = prefix .. 'capture:' .. id
  if not redis.call('SET', prefix .. 'committed:' .. id, now, 'NX', 'EX', seen_ttl) then
    out[#out + 1] = 'duplicate'
  elseif redis.call('ZREM', KEYS[1], id) == 1 then
    local delay_ms = tonumber(redis.call('HGET', capture, 'delay_ms') or '0')
    redis.call('HSET', capture, 'committed_at', now)
    redis.call('ZADD', KEYS[2], tonumber(now) + delay_ms / 1000, id)
    out[#out + 1] = 'scheduled'
  elseif redis.call('EXISTS', capture) == 1 then
    out[#out + 1] = 'late'
  else
    redis.call('ZADD', KEYS[3], wait_deadline, id)
    out[#out + 1] = 'waiting'
  end
end
return out
"""
# KEYS: the capture keys; a flat list of (data, committed_at) per key, nil where absent
_LOAD_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  local fields = redis.call('HMGET', key, 'data', 'committed_at')
  out[2 * i - 1] = fields[1]
  out[2 * i] = fields[2]
end
return out
"""
# Captures or commits per script call: bounds how long one call holds Redis.
STORE_CHUNK: Final = 1000

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
  -- One ZREM and one ZADD per 500 ids, not one each per id (unpack takes a few thousand at most).
  for first = 1, #ids, 500 do
    local last = math.min(first + 499, #ids)
    local scored = {}
    for i = first, last do
      local member = source[2] .. ids[i]
      scored[#scored + 1] = ARGV[2]
      scored[#scored + 1] = member
      out[#out + 1] = member
    end
    redis.call('ZREM', source[1], unpack(ids, first, last))
    redis.call('ZADD', KEYS[1], unpack(scored))
  end
end
return out
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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


@dataclass(frozen=True, slots=True)
class ClaimedWork:
    """One unit of claimed work: check a committed capture, report an orphan or a lone commit."""

    task: str  # TASK_CHECK | TASK_ORPHAN | TASK_NO_CAPTURE
    capture_id: str

    @property
    def member(self) -> str:
        return f"{self.task}:{self.capture_id}"


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
        self._add_captures = client.register_script(_ADD_CAPTURES_LUA)
        self._add_commits = client.register_script(_ADD_COMMITS_LUA)
        self._claim = client.register_script(_CLAIM_LUA)
        self._load = client.register_script(_LOAD_LUA)

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
        if not captures:
            return []
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(captures), STORE_CHUNK):
            args: list[str | bytes | int | float] = [self.prefix, now, self.seen_ttl_s]
            for capture_id, data, ttl_s, commit_delay_ms in captures[start:start + STORE_CHUNK]:
                args += (capture_id, data, int(ttl_s) + CAPTURE_KEY_GRACE_S, now + ttl_s, int(commit_delay_ms))
            self._add_captures(keys=[self._key("deadlines"), self._key("due"), self._key("waits")], args=args,
                               client=pipe)
        return [_text(status) for chunk in pipe.execute() for status in chunk]

    def add_commit(self, capture_id: str, *, now: float) -> str:
        """Note a commit: 'scheduled', 'waiting' (no capture yet), 'late' (orphaned) or 'duplicate'."""
        return self.add_commits([capture_id], now=now)[0]

    def add_commits(self, capture_ids: list[str], *, now: float) -> list[str]:
        """Note many commits in one round trip; a status per id."""
        if not capture_ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(capture_ids), STORE_CHUNK):
            self._add_commits(
                keys=[self._key("deadlines"), self._key("due"), self._key("waits")],
                args=[self.prefix, repr(now), self.seen_ttl_s, now + self.commit_grace_s,
                      *capture_ids[start:start + STORE_CHUNK]],
                client=pipe,
            )
        return [_text(status) for chunk in pipe.execute() for status in chunk]

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
        if not capture_ids:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for start in range(0, len(capture_ids), STORE_CHUNK):  # one script call, not one HMGET per capture
            self._load(keys=[self.capture_key(capture_id) for capture_id in capture_ids[start:start + STORE_CHUNK]],
                       client=pipe)
        fields = [value for chunk in pipe.execute() for value in chunk]
        loaded: dict[str, StoredCapture | None] = {}
        for capture_id, data, committed_at in zip(capture_ids, fields[0::2], fields[1::2]):
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
