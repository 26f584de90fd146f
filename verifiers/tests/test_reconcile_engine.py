"""Reconciliation engine against a real PostgreSQL: cut-off balances, drift, live writers.

Each test module run creates its own databases named ``recon_test_<pid>_*`` on the server of
DATABASE_URL and drops them afterwards. Ground truth is computed
in Python from the raw rows, independently of the engine's SQL.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest

from verifiers.benchmarks.support import (
    SAMPLE_LEDGER_MAPPING,
    database_url,
    fill_sample_ledger,
    sample_transfer,
)
from verifiers.reconcile.balances import (
    CutoffError,
    KeyRange,
    RangeResult,
    cutoff_instant,
    mapping_from_dict,
)
from verifiers.reconcile.engine import (
    LedgerUnreachable,
    MappingInvalid,
    SnapshotUnavailable,
    SnapshotWaitTimeout,
    compute_range,
    connect_ledger,
    cutoff_balances,
    open_snapshot,
    reconcile_parallel,
    validate_mapping,
    wait_for_transactions_before,
)

PREFIX = f"recon_test_{os.getpid()}"
ACCOUNTS = 2000
ENTRIES = 20000
MAPPING = mapping_from_dict(SAMPLE_LEDGER_MAPPING)


def dsn(database: str) -> str:
    return database_url(database)


def create_database(name: str, template: str | None = None) -> str:
    assert name.startswith("recon_test_")
    with psycopg.connect(dsn("postgres"), autocommit=True) as server:
        template_sql = f' TEMPLATE "{template}"' if template else ""
        server.execute(f'CREATE DATABASE "{name}"{template_sql}')
    return name


def drop_database(name: str) -> None:
    assert name.startswith("recon_test_")
    with psycopg.connect(dsn("postgres"), autocommit=True) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def base_ledger() -> Iterator[tuple[str, datetime]]:
    """A consistent 2,000-account ledger (template for the others) and its cut-off."""
    name = create_database(f"{PREFIX}_base")
    # 13 h ago: the 2% of entries generated after the cut-off (spread over 12 h) are all past.
    cutoff = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=13)
    try:
        with psycopg.connect(dsn(name)) as conn:
            fill_sample_ledger(conn, accounts=ACCOUNTS, entries=ENTRIES, cutoff=cutoff)
        with psycopg.connect(dsn(name), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        yield name, cutoff
    finally:
        drop_database(name)


@pytest.fixture()
def ledger_copy(base_ledger: tuple[str, datetime]) -> Iterator[tuple[str, datetime]]:
    """A private copy of the base ledger for tests that write to it."""
    base, cutoff = base_ledger
    name = create_database(f"{PREFIX}_{random.randrange(10**9)}", template=base)
    try:
        yield name, cutoff
    finally:
        drop_database(name)


def ground_truth(database: str, cutoff: datetime) -> dict[int, tuple[str, Decimal]]:
    """{account: (currency, balance at cut-off)} from raw rows: opening + entries before C."""
    with psycopg.connect(dsn(database)) as conn:
        accounts = conn.execute("SELECT id, currency, opening_balance FROM accounts").fetchall()
        entries = conn.execute("SELECT account_id, amount, business_time FROM entries").fetchall()
    truth = {key: [currency, opening] for key, currency, opening in accounts}
    for account_id, amount, business_time in entries:
        if business_time < cutoff:
            truth[account_id][1] += amount
    return {key: (currency, balance) for key, (currency, balance) in truth.items()}


def totals_by_currency(truth: dict[int, tuple[str, Decimal]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, balance in truth.values():
        totals[currency] += balance
    return dict(totals)


def snapshot_cutoff_balances(database: str, cutoff: datetime, parts: int = 2) -> dict:
    with open_snapshot(dsn(database), MAPPING, parts) as handle:
        balances: dict = {}
        for key_range in handle.key_ranges:
            balances.update(
                cutoff_balances(dsn(database), handle.snapshot_id, MAPPING, cutoff, key_range)
            )
    return balances


# ------------------------------------------------------------------------- correctness


def test_cutoff_balances_reverse_apply_entries_after_cutoff(base_ledger) -> None:
    database, cutoff = base_ledger
    truth = ground_truth(database, cutoff)
    balances = snapshot_cutoff_balances(database, cutoff, parts=3)
    computed = {key: b.balance_at_cutoff for key, b in balances.items()}
    assert computed == {key: balance for key, (_, balance) in truth.items()}
    # The reverse-apply was exercised: many balances today differ from the cut-off ones.
    assert sum(b.balance_now != b.balance_at_cutoff for b in balances.values()) > 100


def test_reconcile_parallel_balanced_and_totals_match_ground_truth(base_ledger) -> None:
    database, cutoff = base_ledger
    expected = totals_by_currency(ground_truth(database, cutoff))
    outcome = reconcile_parallel(dsn(database), MAPPING, cutoff, workers=2, counterpart=expected)
    assert outcome.status == "balanced"
    assert outcome.accounts_checked == ACCOUNTS
    assert {c: t.balance_total for c, t in outcome.totals.items()} == expected
    assert outcome.currency_differences == []
    assert len(outcome.range_elapsed_s) == 2


def test_one_and_three_workers_give_the_same_totals(base_ledger) -> None:
    database, cutoff = base_ledger
    one = reconcile_parallel(dsn(database), MAPPING, cutoff, workers=1)
    three = reconcile_parallel(dsn(database), MAPPING, cutoff, workers=3)
    assert one.totals == three.totals and one.accounts_checked == three.accounts_checked


def test_counterpart_off_by_smallest_unit_is_a_discrepancy(base_ledger) -> None:
    database, cutoff = base_ledger
    counterpart = totals_by_currency(ground_truth(database, cutoff))
    counterpart["USD"] += Decimal("0.0001")
    outcome = reconcile_parallel(dsn(database), MAPPING, cutoff, counterpart=counterpart)
    assert outcome.status == "discrepancies"
    assert [(d.currency, d.difference) for d in outcome.currency_differences] == [
        ("USD", Decimal("-0.0001"))
    ]


def test_drift_without_entry_is_reported_on_exactly_that_account(ledger_copy) -> None:
    database, cutoff = ledger_copy
    with psycopg.connect(dsn(database)) as conn:
        conn.execute(
            "UPDATE accounts SET balance = balance + 5, version = version + 1 WHERE id = 777"
        )
    outcome = reconcile_parallel(dsn(database), MAPPING, cutoff, workers=2)
    assert outcome.status == "discrepancies"
    assert outcome.difference_count == 1
    [drift] = outcome.differences
    assert (drift.account_key, drift.difference, drift.version) == (777, Decimal("5.0000"), 1)


def test_differences_list_is_capped_but_count_is_complete(ledger_copy) -> None:
    database, cutoff = ledger_copy
    with psycopg.connect(dsn(database)) as conn:
        conn.execute("UPDATE accounts SET balance = balance + 1 WHERE id % 100 = 0")
    outcome = reconcile_parallel(dsn(database), MAPPING, cutoff, workers=2, diff_cap=5)
    assert outcome.difference_count == ACCOUNTS // 100
    assert [d.account_key for d in outcome.differences] == [100, 200, 300, 400, 500]


def test_snapshot_does_not_see_changes_committed_after_it(ledger_copy) -> None:
    database, cutoff = ledger_copy
    with open_snapshot(dsn(database), MAPPING, 1) as handle:
        with psycopg.connect(dsn(database)) as writer:
            writer.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 5")
        result = compute_range(
            dsn(database), handle.snapshot_id, MAPPING, cutoff, handle.key_ranges[0]
        )
    assert result.difference_count == 0
    assert RangeResult.from_dict(result.to_dict()) == result


def test_text_keys_and_naive_business_times_in_a_schema(ledger_copy) -> None:
    database, _ = ledger_copy
    with psycopg.connect(dsn(database)) as conn:
        conn.execute(
            """
            CREATE SCHEMA core;
            CREATE TABLE core.acct (code text PRIMARY KEY, ccy varchar(3), bal numeric);
            CREATE TABLE core.posting (acct_code text, amt numeric, booked_at timestamp);
            INSERT INTO core.acct
              SELECT 'A' || lpad(g::text, 4, '0'), 'KRW', 10 FROM generate_series(1, 50) g;
            -- wall times in Seoul: one just before the cut-off, one exactly at it
            INSERT INTO core.posting SELECT code, 4, '2024-03-01 23:59:59' FROM core.acct;
            INSERT INTO core.posting SELECT code, 6, '2024-03-02 00:00:00' FROM core.acct;
            UPDATE core.acct SET bal = bal + 4 + 6 - 10;  -- opening 0 + 4 + 6
            """
        )
    mapping = mapping_from_dict(
        {
            "accounts_table": "core.acct",
            "account_key": "code",
            "balance_column": "bal",
            "currency_column": "ccy",
            "entries_table": "core.posting",
            "entry_account_column": "acct_code",
            "entry_amount_column": "amt",
            "entry_time_column": "booked_at",
            # Naive business times are wall times of the source's zone, not the cut-off's.
            "business_time_zone": "Asia/Seoul",
        }
    )
    assert validate_mapping(dsn(database), mapping) == []
    cutoff = cutoff_instant(date(2024, 3, 2)).astimezone(timezone.utc)  # 00:00 Seoul, as stored
    outcome = reconcile_parallel(dsn(database), mapping, cutoff, workers=3)
    assert outcome.status == "balanced" and outcome.accounts_checked == 50
    assert outcome.totals["KRW"].balance_total == Decimal(50 * 4)


# ------------------------------------------------------------------------- bad input


def test_unreachable_dsn_raises_one_sentence_naming_host_and_port() -> None:
    with pytest.raises(LedgerUnreachable) as caught:
        validate_mapping("host=127.0.0.1 port=1 user=postgres dbname=x connect_timeout=2", MAPPING)
    message = str(caught.value)
    assert message.startswith("cannot reach the ledger database at 127.0.0.1:1")
    assert "\n" not in message and caught.value.__cause__ is None


def test_missing_column_is_reported_by_validate_and_refused_by_run(base_ledger) -> None:
    database, cutoff = base_ledger
    mapping = mapping_from_dict({**MAPPING.to_dict(), "entry_amount_column": "amount_krw"})
    [problem] = validate_mapping(dsn(database), mapping)
    assert problem.startswith("column entries.amount_krw (entry amount) not found")
    with pytest.raises(MappingInvalid, match="amount_krw"):
        reconcile_parallel(dsn(database), mapping, cutoff)


def test_missing_table_is_reported(base_ledger) -> None:
    database, _ = base_ledger
    mapping = mapping_from_dict({**MAPPING.to_dict(), "entries_table": "postings"})
    assert validate_mapping(dsn(database), mapping) == ["table postings not found"]


def test_future_cutoff_is_refused_against_the_ledger_clock(base_ledger) -> None:
    database, _ = base_ledger
    future = datetime.now(timezone.utc) + timedelta(minutes=5)
    with pytest.raises(CutoffError, match="in the future"):
        reconcile_parallel(dsn(database), MAPPING, future)


def test_bogus_snapshot_id_raises_snapshot_unavailable(base_ledger) -> None:
    database, cutoff = base_ledger
    with pytest.raises(SnapshotUnavailable, match="must stay open"):
        compute_range(
            dsn(database), "00000003-0000001B-1", MAPPING, cutoff, KeyRange(0, 1, None, None)
        )


# ------------------------------------------------------------------------- waiting


def test_wait_times_out_naming_the_open_transaction(base_ledger) -> None:
    database, _ = base_ledger
    with psycopg.connect(dsn(database), application_name="slow-teller") as straggler:
        straggler.execute("SELECT 1")  # opens a transaction (autocommit off)
        pid = straggler.info.backend_pid
        time.sleep(0.05)
        cutoff = datetime.now(timezone.utc)
        with pytest.raises(SnapshotWaitTimeout) as caught:
            wait_for_transactions_before(dsn(database), cutoff, timeout_s=0.3, poll_s=0.05)
    assert [b.pid for b in caught.value.blockers] == [pid]
    assert "slow-teller" in str(caught.value)


def test_wait_returns_once_the_open_transaction_ends(base_ledger) -> None:
    database, _ = base_ledger
    straggler = psycopg.connect(dsn(database))
    straggler.execute("SELECT 1")
    time.sleep(0.05)
    cutoff = datetime.now(timezone.utc)
    timer = threading.Timer(0.3, straggler.commit)
    timer.start()
    try:
        result = wait_for_transactions_before(dsn(database), cutoff, timeout_s=5, poll_s=0.02)
    finally:
        timer.join()
        straggler.close()
    assert result.waited_s >= 0.2 and result.polls > 1


def test_transactions_begun_after_cutoff_do_not_block(base_ledger) -> None:
    database, _ = base_ledger
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=1)
    with psycopg.connect(dsn(database)) as late:
        late.execute("SELECT 1")
        result = wait_for_transactions_before(dsn(database), cutoff, timeout_s=1)
    assert result.polls == 1


def test_every_connection_is_named_and_has_timeouts(base_ledger) -> None:
    database, _ = base_ledger
    with connect_ledger(dsn(database)) as conn:
        row = conn.execute(
            "SELECT current_setting('application_name'), current_setting('lock_timeout'), "
            "current_setting('statement_timeout')"
        ).fetchone()
    assert row == ("mhc-reconcile", "2s", "10min")


# ------------------------------------------------------------------------- live writers


# Accounts 1 (KRW) and 7 (USD) are kept for the straggler transfer that spans the cut-off.
STRAGGLER_SOURCE, STRAGGLER_TARGET = 1, 7
WRITER_ACCOUNTS = range(8, ACCOUNTS + 1)


def begin_straggler_transfer(database: str, amount: Decimal) -> psycopg.Connection:
    """A transfer whose transaction (and business time) begins now and is left uncommitted."""
    conn = psycopg.connect(dsn(database), application_name="recon-test-straggler")
    update = "UPDATE accounts SET balance = balance + %s WHERE id = %s"
    conn.execute(update, (-amount, STRAGGLER_SOURCE))
    conn.execute(update, (amount, STRAGGLER_TARGET))
    conn.execute(
        "INSERT INTO entries (account_id, amount, business_time) "
        "VALUES (%s, %s, now()), (%s, %s, now())",
        (STRAGGLER_SOURCE, -amount, STRAGGLER_TARGET, amount),
    )
    return conn


class TransferWriter(threading.Thread):
    """Transfers between random accounts: two balance updates + two entries per transaction."""

    def __init__(self, database: str, seed: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.database, self.random, self.stop = database, random.Random(seed), stop
        self.transfers: list[tuple[int, int, Decimal, datetime]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(dsn(self.database), application_name="recon-test-writer") as conn:
                while not self.stop.is_set():
                    source, target = sorted(self.random.sample(WRITER_ACCOUNTS, 2))
                    amount = Decimal(self.random.randint(1, 10**6)).scaleb(-4)
                    business_time = sample_transfer(conn, source, target, amount)
                    self.transfers.append((source, target, amount, business_time))
        except BaseException as exc:  # surfaced by the test
            self.error = exc


class LockMonitor(threading.Thread):
    """Samples pg_blocking_pids every ~10 ms: who waited on whom, and were we there."""

    QUERY = """
        SELECT
          (SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'mhc-reconcile'),
          (SELECT coalesce(
                    array_agg(w.application_name || ' blocked by ' || b.application_name), '{}')
             FROM pg_stat_activity AS w
             CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid)
             JOIN pg_stat_activity AS b ON b.pid = bp.pid
            WHERE w.datname = current_database())
    """

    def __init__(self, database: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.database, self.stop = database, stop
        self.samples = 0
        self.samples_with_reconcile = 0
        self.blocked: list[str] = []

    def run(self) -> None:
        with psycopg.connect(
            dsn(self.database), autocommit=True, application_name="recon-test-monitor"
        ) as conn:
            while not self.stop.is_set():
                row = conn.execute(self.QUERY).fetchone()
                assert row is not None
                reconcilers, blocked = row
                self.samples += 1
                self.samples_with_reconcile += reconcilers > 0
                self.blocked.extend(blocked)
                time.sleep(0.01)


def test_live_writers_get_exact_cutoff_balances_and_are_never_blocked(ledger_copy) -> None:
    database, _ = ledger_copy
    with psycopg.connect(dsn(database)) as conn:
        initial: dict[int, Decimal] = dict(conn.execute("SELECT id, balance FROM accounts").fetchall())
    stop_writers, stop_monitor = threading.Event(), threading.Event()
    writers = [TransferWriter(database, seed, stop_writers) for seed in (1, 2)]
    monitor = LockMonitor(database, stop_monitor)
    monitor.start()
    for writer in writers:
        writer.start()
    straggler_amount = Decimal("123.4567")
    try:
        time.sleep(0.3)
        straggler = begin_straggler_transfer(database, straggler_amount)
        time.sleep(0.02)
        with psycopg.connect(dsn(database)) as conn:
            [(cutoff,)] = conn.execute("SELECT clock_timestamp()").fetchall()
        # Began before the cut-off, commits after it: the wait step must let it in.
        commit_later = threading.Timer(0.3, straggler.commit)
        commit_later.start()
        first = reconcile_parallel(dsn(database), MAPPING, cutoff, workers=2)
        commit_later.join()
        straggler.close()
        wait_for_transactions_before(dsn(database), cutoff, timeout_s=5)
        snapshot_balances = snapshot_cutoff_balances(database, cutoff)
        outcomes = [first] + [
            reconcile_parallel(dsn(database), MAPPING, cutoff, workers=2) for _ in range(3)
        ]
        time.sleep(0.1)
    finally:
        stop_writers.set()
        for writer in writers:
            writer.join(5)
        stop_monitor.set()
        monitor.join(5)
    assert all(w.error is None for w in writers), [w.error for w in writers]

    # Ground truth 1: from the raw ledger rows after the writers stopped.
    truth = ground_truth(database, cutoff)
    # Ground truth 2: from the writers' own log, starting from the balances before they ran.
    logged = dict(initial)
    logged[STRAGGLER_SOURCE] -= straggler_amount
    logged[STRAGGLER_TARGET] += straggler_amount
    for source, target, amount, business_time in (t for w in writers for t in w.transfers):
        if business_time < cutoff:
            logged[source] -= amount
            logged[target] += amount
    assert {k: v for k, (_, v) in truth.items()} == logged

    assert {k: b.balance_at_cutoff for k, b in snapshot_balances.items()} == logged
    expected_totals = totals_by_currency(truth)
    # The first run began while the straggler (KRW -> USD, begun before the cut-off) was still open:
    # its totals include the straggler only because it waited for that commit (no time threshold).
    for outcome in outcomes:
        assert outcome.status == "balanced", outcome.differences
        assert {c: t.balance_total for c, t in outcome.totals.items()} == expected_totals
    transfers = [t for w in writers for t in w.transfers]
    assert sum(t[3] >= cutoff for t in transfers) > 10
    assert sum(t[3] < cutoff for t in transfers) > 10
    assert any(b.balance_now != b.balance_at_cutoff for b in snapshot_balances.values())

    assert monitor.samples > 20 and monitor.samples_with_reconcile > 0
    assert [b for b in monitor.blocked if "blocked by mhc-reconcile" in b] == []
