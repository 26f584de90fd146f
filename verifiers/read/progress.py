"""How far behind the read verifier is, read from its Redis stream (no Django).

Acked entries are deleted (stream.ack), so the stream holds exactly the samples still waiting,
pending ones included, and its first entry is the oldest waiting sample.
"""

from __future__ import annotations

import time

import redis

from console.progress import VerifierProgress
from verifiers.read import stream


def live_worker_count(client: redis.Redis) -> int:
    return sum(1 for _ in client.scan_iter(match=stream.HEARTBEAT_PREFIX + "*", count=100))


def read_progress(client: redis.Redis, *, stall_after_s: float, now: float | None = None) -> VerifierProgress:
    now = time.time() if now is None else now
    pipe = client.pipeline(transaction=False)
    pipe.xlen(stream.STREAM_KEY)
    pipe.xrange(stream.STREAM_KEY, count=1)
    backlog, first = pipe.execute()
    oldest_s = None
    if first:
        entry_id, fields = first[0]
        ingested = (fields or {}).get(b"ingested_at_ms")
        entry_ms = int(ingested) if ingested else int(entry_id.decode().split("-", 1)[0])
        oldest_s = max(0.0, now - entry_ms / 1000)
    return VerifierProgress(
        verifier="read", backlog=int(backlog), pending=stream.pending_count(client),
        oldest_waiting_s=oldest_s, live_workers=live_worker_count(client), stall_after_s=stall_after_s,
    )
