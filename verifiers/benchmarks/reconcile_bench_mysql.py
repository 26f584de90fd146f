"""The reconciliation benchmark's ledger on MySQL/MariaDB: ``recon_bench`` on MYSQL_URL's server.

The same shape as ``reconcile_bench`` builds on PostgreSQL (accounts 1..N, 10 % USD, 10 % JPY;
entries in business-time order, 2 % after the cut-off), but business times are DATETIME wall
times of Asia/Seoul, so the source needs ``business_time_zone = Asia/Seoul``. Entries come from
MariaDB's sequence engine (``seq_1_to_N``) in chunks of a million rows, the covering index is
built afterwards. Reused when the sizes match (the load takes minutes).
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from verifiers.benchmarks.reconcile_bench import SEOUL, bench_cutoff
from verifiers.benchmarks.support import SHARE_AFTER_CUTOFF, mysql_connection, mysql_database_url

BENCH_DATABASE = "recon_bench"
CHUNK = 1_000_000


def bench_dsn() -> str:
    return mysql_database_url(BENCH_DATABASE)


def _fill(cursor, accounts: int, entries: int, cutoff: datetime) -> None:
    wall_cutoff = cutoff.astimezone(SEOUL).replace(tzinfo=None)
    before = int(entries * (1 - SHARE_AFTER_CUTOFF))
    after = entries - before
    cursor.execute(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, currency char(3) NOT NULL, "
        "balance decimal(20,4) NOT NULL, opening_balance decimal(20,4) NOT NULL, "
        "version int NOT NULL DEFAULT 0) ENGINE=InnoDB"
    )
    cursor.execute(
        "CREATE TABLE entries (id bigint AUTO_INCREMENT PRIMARY KEY, account_id bigint NOT NULL, "
        "amount decimal(20,4) NOT NULL, business_time datetime(6) NOT NULL) ENGINE=InnoDB"
    )
    for first in range(1, entries + 1, CHUNK):
        last = min(first + CHUNK - 1, entries)
        cursor.execute(
            f"""
            INSERT INTO entries (account_id, amount, business_time)
            SELECT 1 + FLOOR(RAND() * %(accounts)s), ROUND(RAND() * 2000 - 1000, 4),
                   CASE WHEN seq <= %(before)s
                        THEN %(cutoff)s - INTERVAL 30 DAY
                             + INTERVAL FLOOR((seq - 1) * (2592000000000 / GREATEST(%(before)s, 1))) MICROSECOND
                        ELSE %(cutoff)s
                             + INTERVAL FLOOR((seq - %(before)s - 1) * (43200000000 / GREATEST(%(after)s, 1)))
                               MICROSECOND
                   END
            FROM seq_{first}_to_{last}
            """,
            {"accounts": accounts, "before": before, "after": after, "cutoff": wall_cutoff},
        )
    _index_and_accounts(cursor, accounts)


def _index_and_accounts(cursor, accounts: int) -> None:
    # Covering index first: each range reads its entries in account order from the index
    # alone, and the accounts' sums below stream from it instead of sorting 10M rows on disk.
    cursor.execute("ALTER TABLE entries ADD INDEX entries_account_time_amount "
                   "(account_id, business_time, amount)")
    cursor.execute(
        f"""
        INSERT INTO accounts (id, currency, opening_balance, balance)
        SELECT a.seq, ELT(1 + a.seq MOD 10, 'KRW', 'KRW', 'KRW', 'KRW', 'KRW', 'KRW', 'KRW', 'USD',
                          'USD', 'JPY'),
               a.opening, a.opening + COALESCE(e.total, 0)
        FROM (SELECT seq, ROUND(RAND() * 1000000, 4) AS opening FROM seq_1_to_{int(accounts)}) AS a
        LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM entries GROUP BY account_id) AS e
          ON e.account_id = a.seq
        """
    )
    cursor.execute("ANALYZE TABLE accounts, entries")


def _saved_sizes(cursor) -> tuple[int, int, datetime] | None:
    cursor.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'bench_meta'",
        (BENCH_DATABASE,),
    )
    if not cursor.fetchone():
        return None
    cursor.execute(f"SELECT accounts, entries, cutoff_utc FROM `{BENCH_DATABASE}`.bench_meta")
    row = cursor.fetchone()
    return (int(row[0]), int(row[1]), row[2].replace(tzinfo=timezone.utc)) if row else None


def ensure_bench_ledger(accounts: int, entries: int) -> datetime:
    """Create (or reuse, when the sizes match) the MySQL ``recon_bench``; return its cut-off."""
    with mysql_connection() as server, server.cursor() as cursor:
        saved = _saved_sizes(cursor)
        if saved and saved[:2] == (accounts, entries):
            return saved[2].astimezone(SEOUL)
        cursor.execute(f"DROP DATABASE IF EXISTS `{BENCH_DATABASE}`")
        cursor.execute(f"CREATE DATABASE `{BENCH_DATABASE}`")
    cutoff = bench_cutoff()
    started = time.perf_counter()
    with mysql_connection(bench_dsn()) as conn, conn.cursor() as cursor:
        _fill(cursor, accounts, entries, cutoff)
        cursor.execute("CREATE TABLE bench_meta (accounts bigint, entries bigint, cutoff_utc datetime(6))")
        cursor.execute("INSERT INTO bench_meta VALUES (%s, %s, %s)",
                       (accounts, entries, cutoff.astimezone(timezone.utc).replace(tzinfo=None)))
    print(f"built MySQL {accounts:,} accounts / {entries:,} entries in {time.perf_counter() - started:.1f} s")
    return cutoff
