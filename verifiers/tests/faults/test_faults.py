"""The fault suite (issue 13): break a process or a server mid-work and let the console recover alone.

Each fault ends with every accepted sample judged exactly once (or, when Redis came back empty,
the lost ones reported, exactly) and every task done, with no step by hand: surviving workers
reclaim, workers reconnect and recreate what Redis lost, Celery redelivers after the visibility
timeout. Each prints one line of figures (sent, judged, lost, counted twice, seconds to recover).
Servers restarted here are private (own port, own folder); killed with the test.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from console.services import url_for_database
from verifiers.models import MismatchGroup, MismatchSample, ReadStreamEpoch, ReconciliationRun, System
from verifiers.read import services, stream
from verifiers.tests.faults.support import (
    FaultFigures,
    PrivatePostgres,
    PrivateRedis,
    kill_group,
    start_celery_worker,
    start_read_worker,
    start_slow_candidate,
    wait_until,
    worker_env,
)
from verifiers.tests.read_support import make_sample, parsed_batch

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

# Small limits so Celery redelivers a task of a killed worker within seconds (visibility = 10 + 3).
FAST_REDELIVERY = {"CELERY_TASK_SOFT_TIME_LIMIT": "8", "CELERY_TASK_TIME_LIMIT": "10",
                   "TASK_REDELIVERY_MARGIN_S": "3"}


def report(figures: FaultFigures, capsys) -> None:
    with capsys.disabled():
        print("\n" + figures.line())


@pytest.fixture
def slow_candidate():
    """A candidate that takes 20 ms per answer, so a batch is in flight when the fault strikes."""
    server = start_slow_candidate(0.02)
    yield server
    server.stop()


@pytest.fixture
def test_database_url(transactional_db) -> str:
    return url_for_database(settings.DATABASE_URL, connection.settings_dict["NAME"])


@pytest.fixture
def processes():
    """Worker processes started by a test; all killed (with their children) at its end."""
    started: list = []
    yield started
    for process in started:
        kill_group(process)


def read_counts(database_url: str) -> tuple[int, int]:
    """(distinct read samples judged, verdicts counted): a sample counted twice shows as a surplus."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM verifiers_verifiedsample WHERE kind = 'read'), "
            "(SELECT coalesce(sum(matched + mismatched + errored), 0) FROM verifiers_outcomecount "
            "WHERE kind = 'read')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def ingest(client, prefix: str, count: int) -> int:
    result = services.ingest_samples(
        batch=parsed_batch([make_sample(f"{prefix}{n}", f"/accounts/{n}/balance") for n in range(count)]),
        client=client)
    return result.accepted


# --- the read verifier ---------------------------------------------------------------------------


def test_a_sigkilled_read_worker_mid_batch(test_database_url, slow_candidate, redis_client, processes, capsys):
    System.objects.create(name="cand", base_url=slow_candidate.url, max_concurrency=4)
    sent = ingest(redis_client, "k", 1000)
    env = worker_env(database_url=test_database_url, redis_url=settings.REDIS_URL)
    victim = start_read_worker(env, "victim")
    processes += [victim, start_read_worker(env, "survivor")]
    wait_until(lambda: read_counts(test_database_url)[0] >= 100, 60, "the first batches")
    kill_group(victim)
    killed_at = time.monotonic()
    wait_until(lambda: read_counts(test_database_url)[0] >= sent and stream.backlog(redis_client) == 0, 90,
               "the survivor reclaiming the victim's batch")
    recovered = time.monotonic() - killed_at
    judged, counted = read_counts(test_database_url)
    report(FaultFigures("SIGKILL verify_reads worker mid-batch", sent, judged, sent - judged,
                        counted - judged, recovered), capsys)
    assert (judged, counted) == (sent, sent)


@pytest.mark.parametrize("persistent", [True, False], ids=["with-persistence", "without-persistence"])
def test_a_redis_restart(persistent, test_database_url, slow_candidate, processes, capsys):
    System.objects.create(name="cand", base_url=slow_candidate.url, max_concurrency=4)
    server = PrivateRedis(persistent=persistent)
    server.start()
    client = server.client()
    try:
        services.reset_epoch_memo()
        sent = ingest(client, "before", 1000)
        processes.append(start_read_worker(worker_env(database_url=test_database_url, redis_url=server.url), "w1"))
        wait_until(lambda: read_counts(test_database_url)[0] >= 100, 60, "the first batches")
        server.kill()
        server.start()  # same port and folder: the append-only file, if any, is read back
        restarted_at = time.monotonic()
        # The worker finds its stream again (or recreates it, reporting what was lost) and goes on;
        # the gateways keep sending.
        wait_until(lambda: client.get(stream.EPOCH_KEY) is not None and client.exists(stream.STREAM_KEY), 30,
                   "the worker reaching Redis again")
        sent += ingest(client, "after", 200)
        wait_until(lambda: stream.backlog(client) == 0, 90, "every sample still in Redis judged")
        recovered = time.monotonic() - restarted_at
    finally:
        client.close()
        for process in processes:
            kill_group(process)
        server.stop()
    judged, counted = read_counts(test_database_url)
    reported = sum(epoch.lost or 0 for epoch in ReadStreamEpoch.objects.all())
    name = "Redis restart " + ("with persistence (AOF, fsync always)" if persistent else "without persistence")
    report(FaultFigures(name, sent, judged, sent - judged, counted - judged, recovered, reported), capsys)
    assert counted == judged  # nothing counted twice
    assert reported == sent - judged  # what was lost is reported, exactly
    if persistent:
        assert judged == sent
    else:
        assert ReadStreamEpoch.objects.filter(lost__gt=0).count() <= 1


def test_a_postgresql_restart(test_database_url, slow_candidate, redis_client, processes, capsys):
    System.objects.create(name="cand", base_url=slow_candidate.url, max_concurrency=4)
    server = PrivatePostgres()
    server.initdb()
    server.start()
    try:
        server.copy_database(test_database_url, "mhc_fault")
        database_url = server.url("mhc_fault")
        stream.ensure_group(redis_client)
        # Straight into the stream: the test process's database is not the one the worker uses.
        sent = stream.append_samples(redis_client, [
            (f"p{n}", services.encode_sample(make_sample(f"p{n}", f"/accounts/{n}/balance"))) for n in range(1000)
        ]).accepted
        processes.append(start_read_worker(worker_env(database_url=database_url, redis_url=settings.REDIS_URL), "w1"))
        wait_until(lambda: read_counts(database_url)[0] >= 100, 60, "the first batches")
        server.kill()
        time.sleep(1)
        server.start()
        restarted_at = time.monotonic()
        wait_until(lambda: read_counts(database_url)[0] >= sent and stream.backlog(redis_client) == 0, 90,
                   "the worker reconnecting and finishing")
        recovered = time.monotonic() - restarted_at
        judged, counted = read_counts(database_url)
    finally:
        for process in processes:
            kill_group(process)
        server.stop()
    report(FaultFigures("PostgreSQL restart (crash stop)", sent, judged, sent - judged, counted - judged,
                        recovered), capsys)
    assert (judged, counted) == (sent, sent)


# --- Celery tasks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["sigkill-worker", "restart-redis"])
def test_a_reverification_through_a_fault(fault, test_database_url, redis_client, processes, capsys):
    """A SIGKILLed Celery worker (the task is redelivered to another), or a Redis restart under a
    running task (the worker restores its unacknowledged task and must not exit doing so)."""
    from console.celery import app
    from verifiers.groups.tasks import reverify_group
    from verifiers.tests.read_support import read_worker

    candidate = start_slow_candidate(0.3)  # one request at a time: the task runs for seconds
    broker = PrivateRedis(persistent=True) if fault == "restart-redis" else None
    try:
        System.objects.create(name="cand", base_url=candidate.url, max_concurrency=1)
        # Ten mismatches of one group (the candidate answers {"ok": true}, legacy said false).
        services.ingest_samples(batch=parsed_batch([make_sample(f"r{n}", "/accounts/1/balance", {"ok": False})
                                                    for n in range(10)]), client=redis_client)
        read_worker(redis_client).run(max_idle_batches=1, install_signals=False)
        group = MismatchGroup.objects.get()
        sent = MismatchSample.objects.filter(group=group).count()
        candidate.answers["/accounts/1/balance"] = (200, {"ok": False})  # the candidate is fixed
        if broker:
            broker.start()
        broker_url = broker.url if broker else settings.REDIS_URL
        env = worker_env(database_url=test_database_url, redis_url=broker_url, **FAST_REDELIVERY)
        first = start_celery_worker(env, f"fault-reverify-{fault}")
        processes.append(first)
        replayed = len(candidate.requests)
        with app.connection_for_write(broker_url) as connection:
            reverify_group.apply_async((group.pk,), connection=connection)
        wait_until(lambda: len(candidate.requests) > replayed, 60, "the reverification starting")
        if broker:
            broker.kill()
            time.sleep(1)
            broker.start()
        else:
            kill_group(first)
            processes.append(start_celery_worker(env, f"fault-reverify-{fault}-b"))
        struck_at = time.monotonic()
        wait_until(lambda: MismatchGroup.objects.get(pk=group.pk).status == MismatchGroup.Status.RESOLVED, 90,
                   "the reverification finishing")
        recovered = time.monotonic() - struck_at
        if broker:
            time.sleep(2)  # long enough for a worker that dies on the reconnect to be gone
            assert first.poll() is None, "the Celery worker exited on the Redis restart (its log is in /tmp)"
    finally:
        candidate.stop()
        for process in processes:
            kill_group(process)
        if broker:
            broker.stop()
    judged = MismatchSample.objects.filter(group=group, reverify_outcome="match").count()
    judged_samples, counted = read_counts(test_database_url)
    name = ("SIGKILL Celery worker during a reverification" if not broker
            else "Redis restart under a Celery worker running a reverification")
    report(FaultFigures(name, sent, judged, sent - judged, counted - judged_samples, recovered), capsys)
    assert judged == sent and counted == judged_samples == 10


def test_a_sigkilled_celery_worker_during_a_reconciliation(test_database_url, processes, capsys):
    from verifiers.models import LedgerSource
    from verifiers.reconcile import services as reconcile
    from verifiers.tests import reconcile_ledgers as ledgers

    ledger = ledgers.create_ledger(prefix="fault_recon", accounts=300)
    try:
        source = LedgerSource.objects.create(name="fault ledger", dsn=ledger.dsn, workers=2, wait_timeout_s=60,
                                             **ledgers.MAPPING)
        env = worker_env(database_url=test_database_url, redis_url=settings.REDIS_URL, **FAST_REDELIVERY)
        first = start_celery_worker(env, "fault-recon-a")
        processes.append(first)
        with psycopg.connect(ledger.dsn, application_name="open-before-cutoff") as blocker:
            blocker.execute("SELECT txid_current()")  # a transaction the coordinator must wait for
            time.sleep(0.2)
            run = reconcile.start_run(source=source, cutoff=timezone.now(), triggered_by="fault suite")
            started = run.heartbeat_at
            wait_until(lambda: ReconciliationRun.objects.get(pk=run.pk).heartbeat_at != started, 60,
                       "the coordinator waiting for the open transaction")
            kill_group(first)
        killed_at = time.monotonic()
        processes.append(start_celery_worker(env, "fault-recon-b"))
        wait_until(lambda: ReconciliationRun.objects.get(pk=run.pk).status != ReconciliationRun.Status.RUNNING,
                   90, "the redelivered coordinator finishing the run")
        recovered = time.monotonic() - killed_at
        run.refresh_from_db()
    finally:
        for process in processes:
            kill_group(process)
        ledgers.drop_ledger(ledger)
    runs = ReconciliationRun.objects.filter(source=source).count()
    report(FaultFigures("SIGKILL Celery worker during a reconciliation (accounts)", 300, run.accounts_checked,
                        300 - run.accounts_checked, max(0, run.accounts_checked - 300) + (runs - 1), recovered),
           capsys)
    assert run.status == ReconciliationRun.Status.BALANCED, run.error
    assert run.accounts_checked == 300 and runs == 1
