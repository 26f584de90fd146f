"""Holds a run's exported snapshot open until every part has imported it (or given up).

Why a thread and not a waiting task: a coordinator task that blocked until its parts imported
the snapshot would hold a worker slot, and with every slot held by coordinators no part could
ever run (a pool of size 1 would deadlock on its first run). The coordinator task instead hands
its open snapshot connection to a daemon thread of the same worker process and returns at once;
each part records in a Redis set that it imported the snapshot (or failed before it could) and
the thread ends the coordinator transaction as soon as the set holds every part. A hard
deadline bounds how long the ledger's vacuum horizon can be held back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis as redis_lib

from verifiers.reconcile.engine import SnapshotHandle

logger = logging.getLogger(__name__)

# Long enough for parts queued behind other work to start; the engine's
# idle_in_transaction_session_timeout (900 s) ends the transaction on the server side anyway.
SNAPSHOT_HOLD_LIMIT_S = 900.0
POLL_S = 0.05
# The settled set outlives any run by far; it only has to survive until the keeper reads it.
SETTLED_KEY_TTL_S = 24 * 3600


def settled_key(run_id: int) -> str:
    """Redis set of the part indexes that imported the snapshot or failed before importing it."""
    return f"mhc:reconcile:run:{run_id}:settled"


def mark_part_settled(client: redis_lib.Redis, run_id: int, part_index: int) -> None:
    """Record that a part no longer needs the coordinator's snapshot (idempotent)."""
    key = settled_key(run_id)
    pipe = client.pipeline()
    pipe.sadd(key, part_index)
    pipe.expire(key, SETTLED_KEY_TTL_S)
    pipe.execute()


def settled_count(client: redis_lib.Redis, run_id: int) -> int:
    return int(client.scard(settled_key(run_id)))


# The holds of this process, each with the event that ends it early (release_held_snapshots).
_holds: dict[threading.Thread, threading.Event] = {}
_holds_lock = threading.Lock()


def release_held_snapshots(*, timeout_s: float = 5.0) -> int:
    """Close every snapshot this process holds now, waiting up to ``timeout_s``; how many were held.

    For a process that stops holding on purpose (the tests, between two of them: each test's empty
    Redis would otherwise hide the parts' settled marks, and the hold would last its full limit).
    """
    with _holds_lock:
        holds = list(_holds.items())
    for _, stop in holds:
        stop.set()
    deadline = time.monotonic() + timeout_s
    for thread, _ in holds:
        thread.join(max(0.0, deadline - time.monotonic()))
    return len(holds)


def keep_snapshot_open(
    handle: SnapshotHandle,
    *,
    run_id: int,
    parts: int,
    redis_url: str,
    hold_limit_s: float = SNAPSHOT_HOLD_LIMIT_S,
    on_tick: Callable[[], None] | None = None,
    tick_every_s: float = 10.0,
) -> threading.Thread:
    """Start the daemon thread that closes ``handle`` once ``parts`` parts have settled.

    ``on_tick`` is called every ``tick_every_s`` while it holds (the run's heartbeat: a worker
    that dies takes this thread with it, and the heartbeat stops).
    """

    stop = threading.Event()

    def hold() -> None:
        client = redis_lib.Redis.from_url(redis_url)
        deadline = time.monotonic() + hold_limit_s
        next_tick = time.monotonic()
        try:
            while time.monotonic() < deadline:
                if on_tick is not None and time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + tick_every_s
                    try:
                        on_tick()
                    except Exception:  # noqa: BLE001 - a missed heartbeat must not drop the snapshot
                        logger.warning("run %s: heartbeat failed", run_id, exc_info=True)
                try:
                    if settled_count(client, run_id) >= parts:
                        return
                except redis_lib.RedisError:
                    logger.warning("run %s: Redis unreachable while holding the snapshot", run_id)
                if stop.wait(POLL_S):
                    return  # released (release_held_snapshots)
            logger.warning("run %s: parts did not import the snapshot within %s s", run_id, hold_limit_s)
        finally:
            try:
                handle.close()
            finally:
                client.close()
                with _holds_lock:
                    _holds.pop(threading.current_thread(), None)

    thread = threading.Thread(target=hold, name=f"reconcile-snapshot-{run_id}", daemon=True)
    with _holds_lock:
        _holds[thread] = stop
    thread.start()
    return thread
