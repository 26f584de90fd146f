"""The Redis capture store: idempotent captures and commits, delays, orphans, leases (no database)."""

from __future__ import annotations

import pytest

from verifiers.write.store import TASK_CHECK, TASK_NO_CAPTURE, TASK_ORPHAN, ClaimedWork, WriteCaptureStore

NOW = 1_700_000_000.0


@pytest.fixture
def store(redis_client) -> WriteCaptureStore:
    return WriteCaptureStore(redis_client, prefix="test:write:", commit_grace_s=10, lease_s=60)


def add(store: WriteCaptureStore, capture_id: str = "c1", *, ttl_s: int = 300, delay_ms: int = 0,
        now: float = NOW) -> str:
    return store.add_capture(capture_id, b'{"id": "%s"}' % capture_id.encode(), ttl_s=ttl_s,
                             commit_delay_ms=delay_ms, now=now)


def test_capture_then_commit_becomes_a_due_check(store):
    assert add(store) == "stored"
    assert store.add_commit("c1", now=NOW + 1) == "scheduled"
    assert store.claim(now=NOW + 1, limit=10) == [ClaimedWork(TASK_CHECK, "c1")]
    assert store.load(["c1"])["c1"].committed_at == NOW + 1


def test_second_capture_with_the_same_id_is_a_duplicate(store):
    assert add(store) == "stored"
    assert add(store) == "duplicate"
    assert store.counts().awaiting_commit == 1


def test_a_capture_id_is_remembered_for_the_duplicate_window_or_as_long_as_its_capture(store, redis_client):
    add(store, "short", ttl_s=300)
    add(store, "long", ttl_s=5000)
    store.add_commit("short", now=NOW)
    assert 3590 <= redis_client.ttl("test:write:seen:short") <= 3600  # an hour, not a day
    assert 3590 <= redis_client.ttl("test:write:committed:short") <= 3600
    assert redis_client.ttl("test:write:seen:long") >= redis_client.ttl("test:write:capture:long") >= 5000


def test_second_commit_notice_is_a_duplicate(store):
    add(store)
    assert store.add_commit("c1", now=NOW) == "scheduled"
    assert store.add_commit("c1", now=NOW) == "duplicate"
    assert len(store.claim(now=NOW, limit=10)) == 1


def test_commit_delay_holds_the_check_back(store):
    add(store, delay_ms=2000)
    store.add_commit("c1", now=NOW)
    assert store.claim(now=NOW + 1, limit=10) == []
    assert store.claim(now=NOW + 2.5, limit=10) == [ClaimedWork(TASK_CHECK, "c1")]


def test_capture_without_commit_is_claimed_as_orphan_after_its_ttl(store):
    add(store, ttl_s=60)
    assert store.claim(now=NOW + 59, limit=10) == []
    assert store.claim(now=NOW + 61, limit=10) == [ClaimedWork(TASK_ORPHAN, "c1")]
    assert store.load(["c1"])["c1"] is not None  # still readable for the orphan verdict


def test_orphan_capture_key_outlives_the_deadline(store, redis_client):
    add(store, ttl_s=60)
    assert redis_client.ttl(store.capture_key("c1")) > 60


def test_commit_after_the_orphan_claim_is_late(store):
    add(store, ttl_s=60)
    store.claim(now=NOW + 61, limit=10)
    assert store.add_commit("c1", now=NOW + 62) == "late"


def test_commit_before_capture_waits_and_the_capture_then_is_due(store):
    assert store.add_commit("c1", now=NOW) == "waiting"
    assert add(store, now=NOW + 1) == "committed"
    assert store.claim(now=NOW + 1, limit=10) == [ClaimedWork(TASK_CHECK, "c1")]
    assert store.load(["c1"])["c1"].committed_at == NOW


def test_commit_whose_capture_never_comes_is_reported_after_the_grace(store):
    store.add_commit("c9", now=NOW)
    assert store.claim(now=NOW + 5, limit=10) == []
    assert store.claim(now=NOW + 11, limit=10) == [ClaimedWork(TASK_NO_CAPTURE, "c9")]


def test_claimed_work_is_not_claimed_twice_within_its_lease(store):
    add(store)
    store.add_commit("c1", now=NOW)
    assert len(store.claim(now=NOW, limit=10)) == 1
    assert store.claim(now=NOW + 30, limit=10) == []


def test_unfinished_work_is_claimed_again_after_the_lease(store):
    add(store)
    store.add_commit("c1", now=NOW)
    store.claim(now=NOW, limit=10)  # this worker dies without finish()
    assert store.claim(now=NOW + 61, limit=10) == [ClaimedWork(TASK_CHECK, "c1")]


def test_finish_forgets_the_work_and_the_capture(store):
    add(store)
    store.add_commit("c1", now=NOW)
    work = store.claim(now=NOW, limit=10)
    store.finish(work)
    assert store.load(["c1"]) == {"c1": None}
    assert store.counts().processing == 0
    assert store.claim(now=NOW + 1000, limit=10) == []


def test_claim_respects_the_limit(store):
    for index in range(5):
        add(store, f"c{index}")
        store.add_commit(f"c{index}", now=NOW)
    assert len(store.claim(now=NOW, limit=3)) == 3
    assert len(store.claim(now=NOW, limit=3)) == 2


def test_counts_show_each_stage(store):
    add(store, "a")
    add(store, "b")
    store.add_commit("b", now=NOW)
    store.add_commit("z", now=NOW)
    counts = store.counts()
    assert (counts.awaiting_commit, counts.due, counts.commits_waiting_for_capture) == (1, 1, 1)
    assert store.next_due_in(now=NOW - 1) == pytest.approx(1.0)


def test_batches_over_several_script_calls_answer_each_item_in_order(store, monkeypatch):
    import verifiers.write.store as store_module

    monkeypatch.setattr(store_module, "STORE_CHUNK", 2)  # five items: three script calls each
    assert store.add_commits(["early"], now=NOW) == ["waiting"]
    captures = [(capture_id, b'{"id": "%s"}' % capture_id.encode(), 300, 0)
                for capture_id in ("a", "b", "a", "early", "c")]
    assert store.add_captures(captures, now=NOW) == ["stored", "stored", "duplicate", "committed", "stored"]
    assert store.add_commits(["a", "nothing", "a", "c", "b"], now=NOW + 1) == [
        "scheduled", "waiting", "duplicate", "scheduled", "scheduled"]
    loaded = store.load(["c", "gone", "a", "early", "b"])
    assert loaded["gone"] is None
    assert {capture_id: stored.data for capture_id, stored in loaded.items() if stored} == {
        "c": b'{"id": "c"}', "a": b'{"id": "a"}', "early": b'{"id": "early"}', "b": b'{"id": "b"}'}
    assert loaded["early"].committed_at == NOW and loaded["a"].committed_at == NOW + 1
    assert store.add_captures([], now=NOW) == [] and store.add_commits([], now=NOW) == [] and store.load([]) == {}
