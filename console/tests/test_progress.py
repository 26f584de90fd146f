"""When a verifier counts as stalled (pure) and what /healthz says about each (real Redis)."""

from __future__ import annotations

import time

import orjson
import pytest
from django.urls import reverse

from console.progress import VerifierProgress
from verifiers.read import stream
from verifiers.write.store import WriteCaptureStore


def progress(**overrides) -> VerifierProgress:
    values = {"verifier": "read", "backlog": 0, "pending": 0, "oldest_waiting_s": None, "live_workers": 1,
              "stall_after_s": 120.0}
    return VerifierProgress(**{**values, **overrides})


def test_nothing_waiting_is_fine_even_without_workers():
    assert progress(live_workers=0).problem is None


def test_work_waiting_without_a_worker_is_a_problem():
    assert progress(backlog=12, oldest_waiting_s=1.0, live_workers=0).problem == (
        "read verifier: 12 samples waiting and no live worker")


def test_an_old_waiting_sample_means_no_progress_even_with_workers():
    problem = progress(backlog=3_000, oldest_waiting_s=300.0).problem
    assert problem == "read verifier: the oldest of 3,000 samples waiting has waited 300 s (limit 120 s)"
    assert progress(backlog=3_000, oldest_waiting_s=119.0).problem is None


def _add_read_sample(redis_client, sample_id: str, ingested_ms: int) -> None:
    redis_client.xadd(stream.STREAM_KEY, {"id": sample_id, "sample": b"{}", "ingested_at_ms": ingested_ms})


@pytest.mark.django_db
def test_healthz_reports_the_read_backlog_its_age_and_that_no_worker_serves_it(client, redis_client):
    stream.ensure_group(redis_client)
    _add_read_sample(redis_client, "s-old", int((time.time() - 600) * 1000))
    _add_read_sample(redis_client, "s-new", int(time.time() * 1000))
    body = client.get(reverse("healthz")).json()
    read = body["checks"]["read_verifier"]
    assert (read["backlog"], read["live_workers"], read["ok"]) == (2, 0, False)
    assert 590 <= read["oldest_waiting_s"] <= 700
    assert read["problem"] == "read verifier: 2 samples waiting and no live worker"
    assert body["healthy"] is False


@pytest.mark.django_db
def test_healthz_reports_a_live_read_worker_that_makes_no_progress(client, redis_client):
    stream.ensure_group(redis_client)
    _add_read_sample(redis_client, "s-old", int((time.time() - 600) * 1000))
    redis_client.set(stream.HEARTBEAT_PREFIX + "w1", orjson.dumps({"consumer": "w1"}), ex=30)
    read = client.get(reverse("healthz")).json()["checks"]["read_verifier"]
    assert read["live_workers"] == 1
    assert read["problem"].startswith("read verifier: the oldest of 1 sample waiting has waited")


@pytest.mark.django_db
def test_healthz_reports_committed_write_captures_waiting_for_their_check(client, redis_client):
    store = WriteCaptureStore(redis_client)
    now = time.time()
    store.add_capture("c-1", b"{}", ttl_s=600, commit_delay_ms=0, now=now - 400)
    store.add_commit("c-1", now=now - 400)
    write = client.get(reverse("healthz")).json()["checks"]["write_verifier"]
    assert (write["backlog"], write["unit"]) == (1, "captures")
    assert write["oldest_waiting_s"] >= 399
    assert write["ok"] is False  # no Celery worker in this test, and the check is overdue
