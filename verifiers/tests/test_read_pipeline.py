"""The read verifier with real Redis and PostgreSQL: ingest API, worker batches, a SIGKILLed worker."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import redis as redis_lib
from django.contrib.auth.models import Permission, User
from django.db.models import Sum

from console.models import ApiToken, sole_migration_pk
from console.roles import MACHINE_CLIENTS, VIEWERS
from verifiers.benchmarks.support import CandidateServer
from verifiers.groups import services as group_services
from verifiers.models import MismatchGroup, MismatchSample, NoiseSuggestion, OutcomeCount, Route, System, VerifiedSample
from verifiers.read import services, stream
from verifiers.tests.read_support import configure_systems, make_sample, parsed_batch, read_worker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def token_client(db, client, user_with_role):
    user = user_with_role(MACHINE_CLIENTS, "robot")
    _, raw = ApiToken.issue(user=user, name="test")
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {raw}"
    return client


def _post(client, samples, content_type="application/json"):
    return client.post("/api/v1/read-samples", data=orjson.dumps(samples), content_type=content_type)


def test_ingest_accepts_counts_duplicates_and_rejects_with_reasons(token_client, redis_client):
    first = _post(token_client, [make_sample("a"), make_sample("b"), {"id": "c"}])
    again = _post(token_client, [make_sample("a")])
    assert first.status_code == 202
    assert first.json()["accepted"] == 2 and first.json()["rejected"][0]["index"] == 2
    assert again.json() == {"accepted": 0, "duplicates": 1, "rejected": []}
    assert redis_client.xlen(stream.STREAM_KEY) == 2


def test_ingest_refuses_whole_batch_when_stream_is_full(token_client, redis_client, monkeypatch):
    monkeypatch.setattr(stream, "DEFAULT_MAX_BACKLOG", 2)
    response = _post(token_client, [make_sample("a"), make_sample("b"), make_sample("c")])
    assert response.status_code == 503 and response["Retry-After"]
    assert redis_client.xlen(stream.STREAM_KEY) == 0
    assert redis_client.get(stream.DEDUPE_PREFIX + "a") is None  # nothing half-written


def test_ingest_answers_503_when_redis_is_down(token_client, monkeypatch):
    monkeypatch.setattr(services, "shared_redis",
                        lambda: redis_lib.Redis(port=1, socket_connect_timeout=0.2))
    response = _post(token_client, [make_sample("a")])
    assert response.status_code == 503


def test_ingest_over_size_limit_is_413(token_client, monkeypatch):
    from verifiers.read import ingest

    monkeypatch.setattr(ingest, "MAX_BODY_BYTES", 100)
    assert _post(token_client, [make_sample("a")]).status_code == 413


def test_ingest_without_token_is_refused(db, client):
    assert _post(client, [make_sample("a")]).status_code in (401, 403)


def test_worker_counts_matches_and_groups_mismatches(db, redis_client, candidate):
    configure_systems(candidate.url)
    candidate.answers["/accounts/1/balance"] = (200, {"balance": "1.00", "traceId": "x"})
    candidate.answers["/accounts/2/balance"] = (200, {"balance": "2.01", "traceId": "x"})
    samples = [make_sample("m1", "/accounts/1/balance", {"balance": "1.00", "traceId": "y"}),
               make_sample("d1", "/accounts/2/balance", {"balance": "2.00", "traceId": "y"})]
    services.ingest_samples(batch=parsed_batch(samples), client=redis_client)
    processed = read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    assert processed == 2
    counts = OutcomeCount.objects.get(subject="GET /accounts/{id}/balance")
    assert (counts.matched, counts.mismatched) == (1, 1)
    group = MismatchGroup.objects.get()
    assert group.severity == "high" and group.differences == [{"pattern": "$.balance", "kind": "changed"}]
    assert redis_client.xlen(stream.STREAM_KEY) == 0  # acked and deleted


def test_worker_pauses_the_cyclic_collector_for_a_batch_and_resumes_it(db, redis_client, candidate):
    # A batch's short-lived objects pushed the collector into full collections: a third of the
    # verifier's CPU (console/collector.py). Reference counting frees them; the collector resumes after.
    configure_systems(candidate.url)
    candidate.answers["/accounts/1/balance"] = (200, {"balance": "1.00"})
    services.ingest_samples(batch=parsed_batch([make_sample("m1", "/accounts/1/balance", {"balance": "1.00"})]),
                            client=redis_client)
    worker = read_worker(redis_client)
    collector_running = []
    verify = worker.verify

    def observed_verify(entries):
        collector_running.append(gc.isenabled())
        return verify(entries)

    worker.verify = observed_verify
    assert gc.isenabled()
    assert worker.run(max_idle_batches=2, install_signals=False) == 1
    assert collector_running == [False]
    assert gc.isenabled()


def test_worker_sends_only_whitelisted_headers_to_the_configured_system(db, redis_client, candidate):
    configure_systems(candidate.url)
    sample = make_sample("h1")
    sample["request"]["headers"] = {"Accept": "application/json", "Cookie": "secret", "Host": "evil"}
    services.ingest_samples(batch=parsed_batch([sample]), client=redis_client)
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    method, path, headers = candidate.requests[0]
    assert "Cookie" not in headers and headers["Host"].startswith("127.0.0.1")


def test_second_legacy_call_turns_noise_into_suggestion(db, redis_client, candidate):
    secondary = CandidateServer({"/accounts/1/balance": (200, {"balance": "1", "stamp": 2})}).start()
    try:
        configure_systems(candidate.url, secondary.url)
        candidate.answers["/accounts/1/balance"] = (200, {"balance": "1", "stamp": 3})
        services.ingest_samples(batch=parsed_batch([make_sample("n1", "/accounts/1/balance", {"balance": "1", "stamp": 1})]),
                                client=redis_client)
        read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    finally:
        secondary.stop()
    suggestion = NoiseSuggestion.objects.get()
    assert suggestion.pattern == "$.stamp" and suggestion.count == 1
    assert OutcomeCount.objects.get().matched == 1 and not MismatchGroup.objects.exists()


def test_disabled_route_is_skipped_and_acked(db, redis_client, candidate):
    configure_systems(candidate.url)
    Route.objects.update(enabled=False)
    services.ingest_samples(batch=parsed_batch([make_sample("s1")]), client=redis_client)
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    assert not OutcomeCount.objects.exists() and candidate.requests == []
    route = stream.route_field(sole_migration_pk(), "GET /accounts/{id}/balance")
    assert int(redis_client.hget(stream.SKIPPED_KEY, route)) == 1


def test_reverify_resolves_group_once_candidate_is_fixed(db, redis_client, candidate):
    configure_systems(candidate.url)
    candidate.answers["/accounts/2/balance"] = (200, {"balance": "2.01"})
    services.ingest_samples(batch=parsed_batch([make_sample("r1", "/accounts/2/balance", {"balance": "2.00"})]),
                            client=redis_client)
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    group = MismatchGroup.objects.get()
    candidate.answers["/accounts/2/balance"] = (200, {"balance": "2.00"})
    summary = group_services.reverify_group(group_id=group.pk)
    group.refresh_from_db()
    assert summary.matched == 1 and group.status == "resolved" and group.status_changed_by == "reverify"
    assert MismatchSample.objects.get().reverify_outcome == "match"


def test_group_api_lists_filters_and_triages(db, redis_client, candidate, client, user_with_role):
    configure_systems(candidate.url)
    candidate.answers["/accounts/2/balance"] = (200, {"balance": "2.01"})
    services.ingest_samples(batch=parsed_batch([make_sample("g1", "/accounts/2/balance", {"balance": "2.00"})]),
                            client=redis_client)
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    user = user_with_role(VIEWERS, "op")
    client.force_login(user)
    group = MismatchGroup.objects.get()
    listing = client.get("/api/v1/mismatch-groups?kind=read&status=open").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == group.pk
    assert client.get("/api/v1/mismatch-groups?status=ignored").json()["count"] == 0
    detail = client.get(f"/api/v1/mismatch-groups/{group.pk}").json()
    assert detail["samples"][0]["differences"][0]["path"] == "$.balance"
    assert client.post(f"/api/v1/mismatch-groups/{group.pk}/status", {"action": "ignore"}).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="triage_mismatchgroup"))
    client.force_login(User.objects.get(pk=user.pk))
    answer = client.post(f"/api/v1/mismatch-groups/{group.pk}/status", {"action": "ignore"},
                         content_type="application/json")
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    assert client.get(f"/groups/{group.pk}/").status_code == 200
    assert client.get("/read/").status_code == 200


def test_openapi_schema_lists_read_endpoints(db, client):
    schema = client.get("/api/v1/schema").content.decode()
    for path in ("/api/v1/read-samples", "/api/v1/mismatch-groups/{group_id}/reverify",
                 "/api/v1/mismatch-groups/{group_id}/status"):
        assert path in schema


# --- the kill test: real worker processes, SIGKILL mid-batch -------------------------------------


def _start_worker(database_name: str, consumer: str) -> subprocess.Popen:
    from conftest import _worker_env

    env = _worker_env(database_name)
    return subprocess.Popen(
        [sys.executable, "manage.py", "verify_reads", "--consumer", consumer, "--batch-size", "50",
         "--block-ms", "200", "--reclaim-idle-ms", "1000"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.timeout(120)
def test_sigkilled_worker_loses_nothing_and_counts_nothing_twice(transactional_db, redis_client):
    from django.db import connection

    # A slow candidate: each answer takes 20 ms, so a batch of 50 is in flight for a while.
    slow = CandidateServer()
    original = slow._handle

    async def delayed(request):
        import asyncio

        await asyncio.sleep(0.02)
        return await original(request)

    slow._handle = delayed
    slow.start()
    total = 600
    try:
        System.objects.create(name="cand", base_url=slow.url, max_concurrency=8)
        services.ingest_samples(batch=parsed_batch([make_sample(f"k{n}", f"/accounts/{n}/balance") for n in range(total)]),
                                client=redis_client)
        first = _start_worker(connection.settings_dict["NAME"], "victim")
        deadline = time.monotonic() + 60
        while len(slow.requests) < 120 and time.monotonic() < deadline:  # mid-way through a later batch
            time.sleep(0.01)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        counted_at_kill = VerifiedSample.objects.count()
        assert counted_at_kill < total
        second = _start_worker(connection.settings_dict["NAME"], "rescuer")
        try:
            deadline = time.monotonic() + 60
            while VerifiedSample.objects.count() < total and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)  # let a double count show up if there were one
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(15)
    finally:
        slow.stop()
    sums = OutcomeCount.objects.aggregate(total=Sum("matched") + Sum("mismatched") + Sum("errored"))
    assert VerifiedSample.objects.count() == total
    assert sums["total"] == total
    assert stream.pending_count(redis_client) == 0
    assert len(slow.requests) > total  # some samples really were replayed twice, yet counted once


def test_redis_that_comes_back_empty_is_recreated_and_the_lost_backlog_reported(
        db, redis_client, candidate, eager_celery, client, user_with_role, mailoutbox):
    from console.alerts.models import AlertRecipient
    from console.health import health_report
    from verifiers.models import ReadStreamEpoch

    AlertRecipient.objects.create(email="oncall@bank.example", kinds=["samples_lost"])
    configure_systems(candidate.url)
    services.reset_epoch_memo()
    services.ingest_samples(batch=parsed_batch([make_sample(f"e{n}") for n in range(5)]), client=redis_client)
    read_worker(redis_client).run(max_idle_batches=1, install_signals=False)
    services.ingest_samples(batch=parsed_batch([make_sample(f"lost{n}") for n in range(3)]), client=redis_client)
    redis_client.flushdb()  # Redis restarted without persistence: stream, group and epoch are gone
    # Whoever touches the stream first starts a new epoch: here the ingest, then a worker that had
    # the old epoch in hand goes on with the new one.
    services.ingest_samples(batch=parsed_batch([make_sample(f"after{n}") for n in range(2)]), client=redis_client)
    read_worker(redis_client).run(max_idle_batches=1, install_signals=False)

    old, new = ReadStreamEpoch.objects.order_by("started_at", "pk")
    assert (old.accepted, old.finished, old.lost) == (8, 5, 3) and old.ended_at is not None
    assert (new.accepted, new.finished, new.lost) == (2, 2, None)
    assert VerifiedSample.objects.count() == 7
    read = health_report()["checks"]["read_verifier"]
    assert read["lost"] == 3 and "3 accepted samples lost" in read["lost_text"]
    client.force_login(user_with_role(VIEWERS, "viewer"))
    assert "3 accepted samples lost" in client.get("/overview/partials/queues/").content.decode()
    assert [m.subject for m in mailoutbox if "lost" in m.subject]


def test_worker_recreates_a_missing_group_and_reads_what_a_gateway_added_directly(db, redis_client, candidate):
    configure_systems(candidate.url)
    read_worker(redis_client).run(max_idle_batches=1, install_signals=False)
    redis_client.flushdb()
    redis_client.xadd(stream.STREAM_KEY, {"id": "g1", "sample": orjson.dumps(make_sample("g1"))})
    worker = read_worker(redis_client)
    worker.epoch = ""  # as if it had seen no epoch: its first XREADGROUP answers NOGROUP
    worker.run(max_idle_batches=2, install_signals=False)  # recreate the group, read from the start
    assert VerifiedSample.objects.filter(sample_id="g1").count() == 1
    assert stream.current_epoch(redis_client) == worker.epoch
