"""The snapshot hold: ends when every part settled, or when the process releases it."""

from __future__ import annotations

import time

from django.conf import settings

from verifiers.reconcile import keeper


class FakeHandle:
    """Stands for the coordinator's open snapshot: only its closing matters here."""

    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_the_hold_ends_when_every_part_has_settled(redis_client):
    handle = FakeHandle()
    thread = keeper.keep_snapshot_open(handle, run_id=9101, parts=2, redis_url=settings.REDIS_URL)  # type: ignore[arg-type]
    keeper.mark_part_settled(redis_client, 9101, 0)
    time.sleep(3 * keeper.POLL_S)
    assert thread.is_alive() and handle.closed == 0  # one part still needs the snapshot
    keeper.mark_part_settled(redis_client, 9101, 1)
    thread.join(5)
    assert not thread.is_alive() and handle.closed == 1
    assert keeper.release_held_snapshots() == 0  # nothing held any more


def test_releasing_closes_a_snapshot_whose_parts_never_settle():
    handle = FakeHandle()
    thread = keeper.keep_snapshot_open(handle, run_id=9102, parts=3, redis_url=settings.REDIS_URL)  # type: ignore[arg-type]
    time.sleep(3 * keeper.POLL_S)
    assert thread.is_alive()
    started = time.monotonic()
    assert keeper.release_held_snapshots() == 1
    assert not thread.is_alive() and handle.closed == 1
    assert time.monotonic() - started < 2  # not the hold limit
