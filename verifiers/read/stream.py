"""The Redis Stream of read samples: atomic deduplicated append, consumer-group reads, ack.

No Django here: callers pass a redis client. Field layout of one stream entry (what a gateway
that XADDs directly must write):

    XADD mhc:read-samples * id <sample id> sample <sample JSON, UTF-8> ingested_at_ms <epoch ms>

`sample` is the sample object of design section 3 ({id, captured_at, request, legacy}).
`ingested_at_ms` is optional (the worker then uses the entry id's time) and feeds the
ingest-to-verdict lag. A gateway writing directly skips the ingest-side dedupe; the verdict
recorder still counts a sample id once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

STREAM_KEY = "mhc:read-samples"
CONSUMER_GROUP = "read-verifiers"
DEDUPE_PREFIX = "mhc:read-seen:"
# Ingest refuses (503) once this many entries wait or are pending: Redis memory stays bounded.
DEFAULT_MAX_BACKLOG = 200_000
# How long an accepted sample id is remembered at ingest; later duplicates are still counted
# once by the recorder (VerifiedSample), this only answers "duplicate" to quick retries.
DEFAULT_DEDUPE_TTL_S = 3600
HEARTBEAT_PREFIX = "mhc:read-worker:"
# Hashes of counters per route of a migration; fields are route_field(migration id, subject).
SKIPPED_KEY = "mhc:read-skipped"
# Per route: second legacy answers that were no usable noise evidence, and the last reason why.
SECONDARY_UNUSABLE_KEY = "mhc:read-secondary-unusable"
SECONDARY_UNUSABLE_REASON_KEY = "mhc:read-secondary-unusable-reason"
# Names this Redis's incarnation of the stream. It lives beside the stream, so a Redis that comes
# back empty has none: whoever notices creates a new epoch, and the database's per-epoch counts of
# accepted and finished samples then say how many the old one lost.
EPOCH_KEY = "mhc:read-epoch"


def route_field(migration_id: int | None, subject: str) -> str:
    """A per-route counter's hash field: two migrations may both have `GET /accounts/{id}`."""
    return f"{migration_id or 0}:{subject}"


def parse_route_field(field: str) -> tuple[int, str] | None:
    """(migration id, subject) of a route_field; None for a field written before migrations."""
    migration, _, subject = field.partition(":")
    return (int(migration), subject) if migration.isdigit() and subject else None


class NoEpochError(Exception):
    """The stream has no epoch (Redis came back empty): call ensure_group, then retry."""

# One atomic step per batch: refuse the whole batch if the backlog bound would be passed,
# otherwise claim each unseen id (SET NX EX) and XADD it. Nothing is half-written.
_INGEST_LUA = """
if not redis.call('GET', KEYS[2]) then
  return {-2, 0, false}
end
local backlog = redis.call('XLEN', KEYS[1])
local max_backlog = tonumber(ARGV[1])
local n = (#ARGV - 3) / 2
if backlog + n > max_backlog then
  return {-1, backlog, false}
end
local accepted, duplicates = 0, 0
for i = 0, n - 1 do
  local sample_id = ARGV[4 + 2 * i]
  if redis.call('SET', ARGV[3] .. sample_id, '1', 'NX', 'EX', tonumber(ARGV[2])) then
    redis.call('XADD', KEYS[1], '*', 'id', sample_id, 'sample', ARGV[5 + 2 * i],
               'ingested_at_ms', ARGV[#ARGV])
    accepted = accepted + 1
  else
    duplicates = duplicates + 1
  end
end
return {accepted, duplicates, redis.call('GET', KEYS[2])}
"""

# Epoch and group together, atomically: every process that finds them missing agrees on one epoch.
_ENSURE_LUA = """
local epoch = redis.call('GET', KEYS[2])
local created = 0
if not epoch then
  redis.call('SET', KEYS[2], ARGV[2])
  epoch = ARGV[2]
  created = 1
end
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
return {epoch, created}
"""


class StreamFullError(Exception):
    """The stream holds more than its bound: the caller should retry later (HTTP 503)."""

    def __init__(self, backlog: int, max_backlog: int) -> None:
        super().__init__(f"read sample stream backlog {backlog} would exceed {max_backlog}")
        self.backlog = backlog


@dataclass(frozen=True, slots=True)
class AppendResult:
    accepted: int
    duplicates: int
    epoch: str = ""


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One entry read from the stream (still pending until acked)."""

    entry_id: str
    sample_id: str
    payload: bytes
    ingested_at_ms: int


def append_samples(client: redis.Redis, samples: list[tuple[str, bytes]], *,
                   max_backlog: int = DEFAULT_MAX_BACKLOG, dedupe_ttl_s: int = DEFAULT_DEDUPE_TTL_S,
                   stream_key: str = STREAM_KEY) -> AppendResult:
    """Append (sample id, JSON payload) pairs atomically to the current epoch.

    Raises StreamFullError, NoEpochError (nothing written) or RedisError.
    """
    if not samples:
        return AppendResult(0, 0)
    argv: list[Any] = [max_backlog, dedupe_ttl_s, DEDUPE_PREFIX]
    for sample_id, payload in samples:
        argv.extend((sample_id, payload))
    argv.append(int(time.time() * 1000))
    first, second, epoch = client.eval(_INGEST_LUA, 2, stream_key, EPOCH_KEY, *argv)
    if first == -1:
        raise StreamFullError(int(second), max_backlog)
    if first == -2:
        raise NoEpochError("read sample stream has no epoch")
    return AppendResult(int(first), int(second), _text(epoch))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def new_epoch_name() -> str:
    """Sortable and unique enough: start time in ms and a random suffix."""
    return f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}"


def ensure_group(client: redis.Redis, *, stream_key: str = STREAM_KEY, group: str = CONSUMER_GROUP) -> str:
    """Create the epoch, the stream and its consumer group if missing; returns the current epoch.

    New groups start at the beginning, so entries XADDed before the group existed are read too.
    """
    epoch, _ = client.eval(_ENSURE_LUA, 2, stream_key, EPOCH_KEY, group, new_epoch_name())
    return _text(epoch)


def current_epoch(client: redis.Redis) -> str | None:
    value = client.get(EPOCH_KEY)
    return _text(value) if value else None


def is_missing_group(error: redis.ResponseError) -> bool:
    """XREADGROUP/XAUTOCLAIM on a stream or group that is gone (Redis came back empty)."""
    return str(error).startswith("NOGROUP")


def _entries(raw: list[tuple[Any, dict[bytes, bytes]]]) -> list[StreamEntry]:
    entries = []
    for entry_id, fields in raw:
        if fields is None:  # deleted while pending
            continue
        entry_text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
        ingested = fields.get(b"ingested_at_ms")
        try:
            ingested_ms = int(ingested) if ingested else int(entry_text.split("-", 1)[0])
        except ValueError:
            ingested_ms = int(entry_text.split("-", 1)[0])
        entries.append(StreamEntry(
            entry_id=entry_text,
            sample_id=(fields.get(b"id") or b"").decode("utf-8", "replace"),
            payload=fields.get(b"sample") or b"",
            ingested_at_ms=ingested_ms,
        ))
    return entries


def read_batch(client: redis.Redis, consumer: str, *, count: int = 500, block_ms: int = 1000,
               stream_key: str = STREAM_KEY, group: str = CONSUMER_GROUP) -> list[StreamEntry]:
    """New entries for this consumer (XREADGROUP >); empty after block_ms without any."""
    # redis-py types every reply as the union of all commands' replies; XREADGROUP's is this list.
    answer: Any = client.xreadgroup(group, consumer, {stream_key: ">"}, count=count, block=block_ms)
    if not answer:
        return []
    return _entries(answer[0][1])


def reclaim_stale(client: redis.Redis, consumer: str, *, min_idle_ms: int = 30_000, count: int = 500,
                  stream_key: str = STREAM_KEY, group: str = CONSUMER_GROUP) -> list[StreamEntry]:
    """Entries pending on other (dead) consumers longer than min_idle_ms, now ours (XAUTOCLAIM)."""
    answer = client.xautoclaim(stream_key, group, consumer, min_idle_time=min_idle_ms,
                               start_id="0-0", count=count)
    claimed = answer[1]
    deleted = answer[2] if len(answer) > 2 else []
    if deleted:  # entries trimmed while pending: nothing left to verify, just drop them
        client.xack(stream_key, group, *deleted)
    return _entries(claimed)


def own_pending(client: redis.Redis, consumer: str, *, count: int = 500, stream_key: str = STREAM_KEY,
                group: str = CONSUMER_GROUP) -> list[StreamEntry]:
    """Entries delivered to this consumer name and not acked (a restart under the same name)."""
    answer: Any = client.xreadgroup(group, consumer, {stream_key: "0"}, count=count)
    if not answer:
        return []
    return _entries(answer[0][1])


def ack(client: redis.Redis, entry_ids: list[str], *, stream_key: str = STREAM_KEY,
        group: str = CONSUMER_GROUP) -> None:
    """Acknowledge and delete entries, so XLEN is the backlog the ingest bound checks."""
    if not entry_ids:
        return
    pipe = client.pipeline(transaction=True)
    pipe.xack(stream_key, group, *entry_ids)
    pipe.xdel(stream_key, *entry_ids)
    pipe.execute()


def backlog(client: redis.Redis, *, stream_key: str = STREAM_KEY) -> int:
    return int(client.xlen(stream_key))


def pending_count(client: redis.Redis, *, stream_key: str = STREAM_KEY, group: str = CONSUMER_GROUP) -> int:
    try:
        return int(client.xpending(stream_key, group)["pending"])
    except redis.ResponseError:  # no group yet
        return 0
