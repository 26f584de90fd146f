"""Benchmark of the midnight reconciliation on a generated 1M-account / 10M-entry ledger.

Builds its own ledger in the database ``recon_bench`` (reused when the sizes match), then
prints the median wall time of ``reconcile_parallel`` per worker count and the transfer
throughput of a 2-thread writer loop with and without a reconciliation running, plus any lock
waits a reconcile backend caused. Prints figures; asserts nothing about time.

    python -m verifiers.benchmarks.reconcile_bench --accounts 1000000 --entries 10000000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import django
import psycopg

from verifiers.benchmarks.support import (
    SAMPLE_LEDGER_MAPPING,
    database_url,
    fill_sample_ledger,
    sample_transfer,
)

BENCH_DATABASE = "recon_bench"
SEOUL = ZoneInfo("Asia/Seoul")


def dsn_for(database: str) -> str:
    """Connection string for one database on the server of the configured DATABASE_URL."""
    return database_url(database)


def bench_cutoff() -> datetime:
    """Yesterday's 00:00 in Seoul: always in the past, with a full day of entries after it."""
    today = datetime.now(SEOUL).date()
    return datetime.combine(today - timedelta(days=1), datetime.min.time(), tzinfo=SEOUL)


def ensure_bench_ledger(accounts: int, entries: int) -> datetime:
    """Create (or reuse, when the sizes match) the ``recon_bench`` ledger; return its cut-off."""
    with psycopg.connect(dsn_for("postgres"), autocommit=True) as server:
        exists = server.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)
        ).fetchone()
        if exists:
            with psycopg.connect(dsn_for(BENCH_DATABASE)) as conn:
                try:
                    row = conn.execute(
                        "SELECT accounts, entries, cutoff FROM bench_meta"
                    ).fetchone()
                except psycopg.errors.UndefinedTable:
                    row = None
            if row and row[0] == accounts and row[1] == entries:
                return row[2].astimezone(SEOUL)
            server.execute(f'DROP DATABASE "{BENCH_DATABASE}"')
        server.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    cutoff = bench_cutoff()
    started = time.perf_counter()
    with psycopg.connect(dsn_for(BENCH_DATABASE)) as conn:
        fill_sample_ledger(conn, accounts=accounts, entries=entries, cutoff=cutoff)
        conn.execute(
            "CREATE TABLE bench_meta (accounts bigint, entries bigint, cutoff timestamptz)"
        )
        conn.execute(
            "INSERT INTO bench_meta VALUES (%s, %s, %s)", (accounts, entries, cutoff)
        )
    with psycopg.connect(dsn_for(BENCH_DATABASE), autocommit=True) as conn:
        # Sets the visibility map so index-only scans skip the heap, and gives the planner stats.
        conn.execute("VACUUM ANALYZE")
    elapsed = time.perf_counter() - started
    print(f"built {accounts:,} accounts / {entries:,} entries in {elapsed:.1f} s")
    return cutoff


@dataclass
class WriterFigures:
    """What a timed writer loop achieved, and whether a reconcile backend ever blocked it."""

    transfers: int
    seconds: float
    reconciliations: int
    samples: int
    blocked_by_reconcile: int

    @property
    def per_second(self) -> float:
        return self.transfers / self.seconds


def _writer_loop(
    dsn: str, accounts: int, seed: int, stop: threading.Event, counter: list[int]
) -> None:
    rng = random.Random(seed)
    with psycopg.connect(dsn, application_name="recon-bench-writer") as conn:
        while not stop.is_set():
            source, target = sorted(rng.sample(range(1, accounts + 1), 2))
            sample_transfer(conn, source, target, Decimal(rng.randint(1, 10**6)).scaleb(-4))
            counter[0] += 1


def _lock_monitor(dsn: str, stop: threading.Event, figures: dict[str, int]) -> None:
    query = """
        SELECT count(*) FROM pg_stat_activity AS w
        CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid)
        JOIN pg_stat_activity AS b ON b.pid = bp.pid
        WHERE w.datname = current_database() AND b.application_name = 'mhc-reconcile'
    """
    with psycopg.connect(dsn, autocommit=True, application_name="recon-bench-monitor") as conn:
        while not stop.is_set():
            row = conn.execute(query).fetchone()
            figures["samples"] += 1
            figures["blocked"] += row[0] if row else 0
            time.sleep(0.01)


def measure_writers(
    dsn: str, accounts: int, cutoff: datetime, *, seconds: float = 5.0, with_reconcile: bool
) -> WriterFigures:
    """Transfers/s of two writer threads, optionally while reconciliations run back to back."""
    from verifiers.reconcile.balances import mapping_from_dict
    from verifiers.reconcile.engine import reconcile_parallel

    mapping = mapping_from_dict(SAMPLE_LEDGER_MAPPING)
    stop, stop_monitor = threading.Event(), threading.Event()
    counters = [[0], [0]]
    monitor_figures = {"samples": 0, "blocked": 0}
    reconciliations = [0]

    def reconcile_loop() -> None:
        while not stop.is_set():
            reconcile_parallel(dsn, mapping, cutoff, workers=2)
            reconciliations[0] += 1

    threads = [
        threading.Thread(target=_writer_loop, args=(dsn, accounts, seed, stop, counters[seed]))
        for seed in (0, 1)
    ]
    if with_reconcile:
        threads.append(threading.Thread(target=reconcile_loop))
    monitor = threading.Thread(target=_lock_monitor, args=(dsn, stop_monitor, monitor_figures))
    monitor.start()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    elapsed = time.perf_counter() - started
    transfers = sum(c[0] for c in counters)
    for thread in threads:
        thread.join()
    stop_monitor.set()
    monitor.join()
    return WriterFigures(
        transfers,
        elapsed,
        reconciliations[0],
        monitor_figures["samples"],
        monitor_figures["blocked"],
    )


def undo_writes_after(dsn: str, last_entry_id: int) -> None:
    """Take back the benchmark's transfers so the next run sees the same ledger."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            """
            UPDATE accounts AS a SET balance = a.balance - e.total
            FROM (SELECT account_id, sum(amount) AS total FROM entries WHERE id > %(last)s
                  GROUP BY account_id) AS e
            WHERE a.id = e.account_id
            """,
            {"last": last_entry_id},
        )
        conn.execute("DELETE FROM entries WHERE id > %s", (last_entry_id,))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE accounts, entries")


def explain_range(dsn: str, cutoff: datetime, plan: str, parts: int) -> str:
    """EXPLAIN ANALYZE of the first range's statement (where the time goes)."""
    from verifiers.reconcile.balances import mapping_from_dict
    from verifiers.reconcile.engine import connect_ledger, open_snapshot
    from verifiers.reconcile.ledger_sql import build_range_query, range_query_params

    mapping = mapping_from_dict(SAMPLE_LEDGER_MAPPING)
    with open_snapshot(dsn, mapping, parts) as handle:
        key_range = handle.key_ranges[0]
    with connect_ledger(dsn) as conn:
        rows = conn.execute(
            psycopg.sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ")
            + build_range_query(mapping, key_range, plan),  # type: ignore[arg-type]
            range_query_params(cutoff, key_range),
        ).fetchall()
    return "\n".join(row[0] for row in rows)


def run(
    accounts: int = 1_000_000,
    entries: int = 10_000_000,
    workers: tuple[int, ...] = (1, 2),
    repeats: int = 3,
    writer_seconds: float = 5.0,
    explain: bool = False,
) -> None:
    """Build or reuse the ledger, then print reconciliation and writer figures."""
    from verifiers.reconcile.balances import mapping_from_dict
    from verifiers.reconcile.engine import reconcile_parallel

    cutoff = ensure_bench_ledger(accounts, entries)
    dsn = dsn_for(BENCH_DATABASE)
    mapping = mapping_from_dict(SAMPLE_LEDGER_MAPPING)
    print(f"ledger: {accounts:,} accounts, {entries:,} entries, cut-off {cutoff.isoformat()}")
    for plan in ("join", "lateral"):
        for worker_count in workers:
            durations = []
            for _ in range(repeats):
                outcome = reconcile_parallel(
                    dsn, mapping, cutoff, workers=worker_count, plan=plan  # type: ignore[arg-type]
                )
                durations.append(outcome.duration_s)
            print(
                f"reconcile plan={plan:<7} workers={worker_count}: "
                f"median {statistics.median(durations):.2f} s "
                f"(runs {', '.join(f'{d:.2f}' for d in durations)}), status {outcome.status}, "
                f"{outcome.accounts_checked:,} accounts"
            )
    if explain:
        print(explain_range(dsn, cutoff, "join", max(workers)))
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM entries").fetchone()
        last_entry_id = row[0] if row else 0
    try:
        for with_reconcile in (False, True):
            figures = measure_writers(
                dsn, accounts, cutoff, seconds=writer_seconds, with_reconcile=with_reconcile
            )
            label = "with reconciliation " if with_reconcile else "without reconciliation"
            print(
                f"writers (2 threads) {label}: {figures.per_second:,.0f} transfers/s "
                f"({figures.transfers} in {figures.seconds:.1f} s), "
                f"reconciliations {figures.reconciliations}, "
                f"lock-wait samples caused by mhc-reconcile: {figures.blocked_by_reconcile} "
                f"of {figures.samples}"
            )
    finally:
        undo_writes_after(dsn, last_entry_id)


def main() -> None:
    # Run as a plain script: the database server comes from the console's settings (DATABASE_URL).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    django.setup()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--writer-seconds", type=float, default=5.0)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of a range")
    args = parser.parse_args()
    run(
        args.accounts,
        args.entries,
        tuple(args.workers),
        args.repeats,
        args.writer_seconds,
        args.explain,
    )


if __name__ == "__main__":
    main()
