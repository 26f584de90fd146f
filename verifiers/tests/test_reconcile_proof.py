"""Proof of no downtime: real Celery workers reconcile a real PostgreSQL ledger while
concurrent transfers keep committing; cut-off balances equal the ground truth and no writer
ever waits on a lock held by the reconciliation."""

from __future__ import annotations

import random
import time
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from verifiers.models import LedgerSource
from verifiers.tests import reconcile_ledgers as testing

pytestmark = pytest.mark.integration


class Writers(testing.ProofWriters):
    """The proof's writers on psycopg connections."""

    def _loop(self, seed: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(self.dsn, application_name="proof-writer") as conn:
            while not self.stop.is_set():
                writes = testing.proof_writes(rng)
                try:
                    with conn.transaction():
                        for statement, params in writes:
                            conn.execute(statement, params)
                    self.committed()
                except psycopg.Error as exc:
                    self.errors.append(str(exc))


class LockMonitor(testing.BackgroundLoops):
    """Polls pg_blocking_pids on the ledger: who was blocked, and by an mhc-reconcile backend?"""

    QUERY = """
        SELECT w.pid, w.application_name, b.pid, b.application_name
        FROM pg_stat_activity w
        CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
        JOIN pg_stat_activity b ON b.pid = blocker.pid
        WHERE w.datname = %(db)s
    """

    def __init__(self, dsn: str, database: str) -> None:
        super().__init__()
        self.dsn, self.database = dsn, database
        self.blocked_by_reconcile: list[tuple] = []
        self.samples = 0
        self.reconcile_seen = 0

    def _loop(self, n: int) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name="proof-monitor") as conn:
            while not self.stop.is_set():
                for row in conn.execute(self.QUERY, {"db": self.database}):
                    if row[3] == "mhc-reconcile":
                        self.blocked_by_reconcile.append(row)
                (seen,) = conn.execute(  # type: ignore[misc]  # count(*) always returns one row
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = 'mhc-reconcile'",
                    (self.database,),
                ).fetchone()
                self.reconcile_seen += seen
                self.samples += 1
                time.sleep(0.002)


@pytest.fixture
def proof_ledger():
    ledger = testing.create_ledger(prefix="recon_proof", accounts=testing.PROOF_ACCOUNTS + 3)
    yield ledger
    testing.drop_ledger(ledger)


def ledger_now(dsn: str) -> datetime:
    with psycopg.connect(dsn) as conn:
        (now,) = conn.execute("SELECT now()").fetchone()  # type: ignore[misc]  # now() is one row
    return now


def ground_truth(dsn: str, cutoff) -> tuple[dict[int, Decimal], dict[int, Decimal], dict[int, str]]:
    """Per account, after the writers stopped: balance at the cut-off (balance now minus entries
    at or after it) and journal (opening plus entries before it)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT k.konto_id, k.waehrung,
                   k.saldo - coalesce(sum(b.betrag) FILTER (WHERE b.valuta >= %(c)s), 0),
                   k.anfangssaldo + coalesce(sum(b.betrag) FILTER (WHERE b.valuta < %(c)s), 0)
            FROM konto k LEFT JOIN buchung b ON b.konto = k.konto_id
            GROUP BY k.konto_id
            """,
            {"c": cutoff},
        ).fetchall()
    return ({r[0]: r[2] for r in rows}, {r[0]: r[3] for r in rows}, {r[0]: r[1].strip() for r in rows})


def test_reconciliation_across_two_workers_matches_ground_truth_without_blocking_writers(
    celery_worker_process, proof_ledger
):
    celery_worker_process(name="second")  # two worker processes, one slot each
    source = LedgerSource.objects.create(name="proof", dsn=proof_ledger.dsn, workers=4, wait_timeout_s=30,
                                         **testing.MAPPING)
    for account_id, amount in testing.PROOF_DRIFTS.items():
        testing.drift(proof_ledger.dsn, account_id, amount)

    writers = Writers(proof_ledger.dsn, testing.PROOF_WRITERS)
    with LockMonitor(proof_ledger.dsn, proof_ledger.name) as monitor, writers:
        cutoff, run, commits_during_run = testing.run_across_the_cutoff(
            source, writers, lambda: ledger_now(proof_ledger.dsn)
        )

    assert writers.errors == []
    assert run.status == "discrepancies", run.error
    testing.assert_run_matches_ground_truth(run, ground_truth(proof_ledger.dsn, cutoff), testing.PROOF_DRIFTS)
    assert run.workers == 4 and run.snapshot_at >= cutoff
    assert commits_during_run > 0, "writers must keep committing while the run goes on"
    assert monitor.samples > 0 and monitor.blocked_by_reconcile == []
    print(f"\nproof: {commits_during_run} writer commits from cut-off to run end, run {run.duration_ms} ms, "
          f"{monitor.samples} lock samples, reconcile backends seen {monitor.reconcile_seen} times, 0 blocked by it")


def test_a_single_worker_slot_runs_coordinator_and_all_parts_without_deadlock(celery_worker_process, proof_ledger):
    source = LedgerSource.objects.create(name="one slot", dsn=proof_ledger.dsn, workers=3, **testing.MAPPING)
    testing.assert_single_slot_run_balances(source, ledger_now(proof_ledger.dsn))
