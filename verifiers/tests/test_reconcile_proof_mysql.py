"""Proof of no downtime on MariaDB/MySQL: real Celery workers reconcile a real InnoDB ledger
while concurrent transfers keep committing; there is no exported snapshot, each part opens its
own consistent snapshot after the wait, yet cut-off balances equal the ground truth, exactly
the injected drifts are found and no writer ever waits on the reconciliation.

The writers' sessions run at +09:00 and write DATETIME business times with the column's NOW(6)
default: wall times of Asia/Seoul, the source's business_time_zone, while the server's zone and
the run's stored cut-off are UTC.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pymysql
import pytest

from verifiers.models import LedgerSource
from verifiers.tests import mysql_ledgers as testing
from verifiers.tests.reconcile_ledgers import (
    MAPPING,
    PROOF_ACCOUNTS,
    PROOF_DRIFTS,
    PROOF_WRITERS,
    BackgroundLoops,
    ProofWriters,
    assert_run_matches_ground_truth,
    assert_single_slot_run_balances,
    proof_writes,
    run_across_the_cutoff,
)

pytestmark = pytest.mark.integration

WRITER_ZONE = "+09:00"  # Asia/Seoul has no DST: the same wall times


class Writers(ProofWriters):
    """The proof's writers on PyMySQL connections whose sessions run at WRITER_ZONE; the monitor
    tells them from other sessions by their thread ids."""

    def __init__(self, dsn: str, count: int) -> None:
        super().__init__(dsn, count)
        self.thread_ids: set[int] = set()
        self._ready = threading.Barrier(count + 1)

    def _loop(self, seed: int) -> None:
        rng = random.Random(seed)
        conn = testing.server_connection(self.dsn)
        conn.autocommit(False)
        with conn.cursor() as cursor:
            cursor.execute("SET time_zone = %s", (WRITER_ZONE,))
        self.thread_ids.add(conn.thread_id())
        self._ready.wait()
        try:
            while not self.stop.is_set():
                writes = proof_writes(rng)
                try:
                    with conn.cursor() as cursor:
                        conn.begin()
                        for statement, params in writes:
                            cursor.execute(statement, params)
                        conn.commit()
                    self.committed()
                except pymysql.err.MySQLError as exc:
                    conn.rollback()
                    self.errors.append(str(exc))
        finally:
            conn.close()

    def __enter__(self) -> Writers:
        super().__enter__()
        self._ready.wait()
        return self


class LockMonitor(BackgroundLoops):
    """Polls InnoDB lock waits and the process list: did any writer wait on anything but
    another writer (row locks, metadata locks, table locks)?"""

    LOCK_WAITS = """
        SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id
        FROM information_schema.innodb_lock_waits w
        JOIN information_schema.innodb_trx r ON r.trx_id = w.requesting_trx_id
        JOIN information_schema.innodb_trx b ON b.trx_id = w.blocking_trx_id
    """

    def __init__(self, dsn: str, database: str, writers: Writers) -> None:
        super().__init__()
        self.dsn, self.database, self.writers = dsn, database, writers
        self.blocked_by_others: list[tuple] = []
        self.writer_lock_states: list[str] = []
        self.samples = 0
        self.others_seen = 0

    def _loop(self, n: int) -> None:
        with testing.server_connection(self.dsn) as conn, conn.cursor() as cursor:
            own = conn.thread_id()
            lock_waits_read = 0.0
            while not self.stop.is_set():
                # InnoDB's lock tables are a cache refreshed only after 100 ms without readers:
                # reading them faster would freeze them (for the reconciliation's wait too).
                if time.monotonic() - lock_waits_read > 0.15:
                    lock_waits_read = time.monotonic()
                    cursor.execute(self.LOCK_WAITS)
                    for waiting, blocking in cursor.fetchall():
                        if blocking not in self.writers.thread_ids:
                            self.blocked_by_others.append((waiting, blocking))
                cursor.execute("SELECT id, COALESCE(state, '') FROM information_schema.processlist WHERE db = %s",
                               (self.database,))
                for thread_id, state in cursor.fetchall():
                    if thread_id in self.writers.thread_ids:
                        # "Waiting for table metadata lock" / "... table level lock"; the plain
                        # "table lock" stage is every DML statement taking its intention locks.
                        if state.startswith("Waiting for") and "lock" in state:
                            self.writer_lock_states.append(state)
                    elif thread_id != own:
                        self.others_seen += 1
                self.samples += 1
                time.sleep(0.002)



@pytest.fixture
def proof_ledger():
    ledger = testing.create_ledger(prefix="recon_proof_my", accounts=PROOF_ACCOUNTS + 3, session_zone=WRITER_ZONE)
    yield ledger
    testing.drop_database(ledger)


def server_utc_now(dsn: str) -> datetime:
    with testing.server_connection(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT UTC_TIMESTAMP(6)")
        row = cursor.fetchone()
    assert row is not None
    (now,) = row
    return now.replace(tzinfo=timezone.utc)


def ground_truth(dsn: str, cutoff: datetime) -> tuple[dict[int, Decimal], dict[int, Decimal], dict[int, str]]:
    """Per account, after the writers stopped: balance at the cut-off and journal, with the
    cut-off as a Seoul wall time (how the writers stored business times)."""
    wall = cutoff.astimezone(timezone(timedelta(hours=9))).replace(tzinfo=None)
    with testing.server_connection(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            """
            SELECT k.konto_id, k.waehrung,
                   k.saldo - COALESCE(SUM(CASE WHEN b.valuta >= %(c)s THEN b.betrag END), 0),
                   k.anfangssaldo + COALESCE(SUM(CASE WHEN b.valuta < %(c)s THEN b.betrag END), 0)
            FROM konto k LEFT JOIN buchung b ON b.konto = k.konto_id
            GROUP BY k.konto_id, k.waehrung, k.saldo, k.anfangssaldo
            """,
            {"c": wall},
        )
        rows = cursor.fetchall()
    return ({r[0]: r[2] for r in rows}, {r[0]: r[3] for r in rows}, {r[0]: r[1] for r in rows})


def test_mariadb_reconciliation_across_two_workers_matches_ground_truth_without_blocking_writers(
    celery_worker_process, proof_ledger
):
    celery_worker_process(name="second")  # two worker processes, one slot each
    source = LedgerSource.objects.create(name="proof-my", dsn=proof_ledger.dsn, workers=4, wait_timeout_s=30,
                                         business_time_zone="Asia/Seoul", **MAPPING)
    for account_id, amount in PROOF_DRIFTS.items():
        testing.drift(proof_ledger.dsn, account_id, amount)

    writers = Writers(proof_ledger.dsn, PROOF_WRITERS)
    with writers, LockMonitor(proof_ledger.dsn, proof_ledger.name, writers) as monitor:
        cutoff, run, commits_during_run = run_across_the_cutoff(
            source, writers, lambda: server_utc_now(proof_ledger.dsn)
        )

    assert writers.errors == []
    assert run.status == "discrepancies", run.error
    assert_run_matches_ground_truth(run, ground_truth(proof_ledger.dsn, run.cutoff), PROOF_DRIFTS)
    assert run.workers == 4 and run.snapshot_at >= cutoff
    assert commits_during_run > 0, "writers must keep committing while the run goes on"
    assert monitor.samples > 0 and monitor.blocked_by_others == [] and monitor.writer_lock_states == []
    print(f"\nproof (MariaDB): {commits_during_run} writer commits from cut-off to run end, run {run.duration_ms} ms, "
          f"{monitor.samples} lock samples, other sessions seen {monitor.others_seen} times, 0 writers blocked by them")


def test_a_mariadb_run_with_a_single_worker_slot_balances(celery_worker_process, proof_ledger):
    source = LedgerSource.objects.create(name="one slot my", dsn=proof_ledger.dsn, workers=3,
                                         business_time_zone="Asia/Seoul", **MAPPING)
    assert_single_slot_run_balances(source, server_utc_now(proof_ledger.dsn))
