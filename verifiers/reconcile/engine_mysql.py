"""Midnight reconciliation against a MySQL 8 / MariaDB 10.11+ ledger (PyMySQL, no Django).

``engine`` hands a ``mysql://`` ledger to these functions; they return what its PostgreSQL
functions return. Design notes:

There is no exported snapshot in MySQL, so the parts cannot share one moment. Instead:

1. Wait until every InnoDB transaction that began before the cut-off C has ended
   (``information_schema.innodb_trx.trx_started``). Never a lock: no ``FLUSH TABLES WITH READ
   LOCK``, no ``LOCK TABLES``; writers never wait for the reconciliation.
   The table is a cache InnoDB refreshes only after 100 ms without readers; the wait checks
   that its own transaction is listed before it believes an empty answer.
2. Each part then opens its own ``START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`` and,
   for its key range, computes balance_at_C = balance_now - sum(entries with time >= C) and
   journal = opening + sum(entries with time < C), as on PostgreSQL.

Why per-account results and totals stay exact although the parts read at slightly different
moments T1, T2, ... (all after the wait):

* Assumption A (atomicity): an account's balance and the entries that move it change in one
  transaction, so any snapshot sees both or neither; balance_now(T) - sum(entries >= C seen
  at T) is then the same number for every T after the wait: a later transaction adds the same
  amount to the balance and to the entries after C.
* Assumption B (business times from the clock of the writing transaction): an entry's time
  is not earlier than its transaction's start (NOW() is taken during the transaction; InnoDB
  sets trx_started at the first InnoDB access, before the insert). So every entry with time
  < C belongs to a transaction that began before C; after the wait all of them are committed
  and visible to every part, and no new one can appear: journal(T) is the same for every T.
* Each account lies in exactly one range, so each per-account value is read once, exactly;
  totals are sums of exact per-account values, hence exact. A transfer between two accounts
  in different parts is, in each part, either invisible or reversed by its entry after C.

What breaks it: entries back-dated before C after the wait (an assumption B violation: they
appear in some parts only), or a balance updated in a different transaction from its
entries (A). Both also break the PostgreSQL variant, which reads one exported snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pymysql

from verifiers.engines import EngineError
from verifiers.engines import mysql as mysql_engine
from verifiers.reconcile import ledger_sql_mysql as q
from verifiers.reconcile.balances import (
    APPLICATION_NAME,
    DEFAULT_DIFFERENCE_CAP,
    AccountDifference,
    CurrencyTotals,
    KeyRange,
    KeyValue,
    LedgerMapping,
    RangeResult,
    cutoff_parameter,
    mapping_problems,
    ranges_from_boundaries,
    split_integer_keys,
    validate_cutoff,
)
from verifiers.reconcile.ledger_session import (
    CutoffBalance,
    LedgerUnreachable,
    OpenTransaction,
    SessionLimits,
    SnapshotHandle,
    SnapshotWaitTimeout,
    WaitResult,
)
from verifiers.reconcile.ledger_sql import range_query_params

MYSQL_SNAPSHOT_ID = "mysql:per-part-consistent-snapshot"


def connect_ledger(dsn: str, limits: SessionLimits, *, time_zone: str = "+00:00") -> Any:
    """A read-only session (see engines.mysql.connect); LedgerUnreachable when it cannot."""
    try:
        return mysql_engine.connect(
            dsn, statement_timeout_s=limits.statement_timeout_s,
            connect_timeout_s=limits.connect_timeout_s, application_name=APPLICATION_NAME,
            time_zone=time_zone,
        )
    except EngineError as exc:
        raise LedgerUnreachable(str(exc).replace("the database", "the ledger database")) from None


def _fetchall(conn: Any, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    return mysql_engine.fetchall(conn, query, params)


def _utc_naive(value: datetime) -> datetime:
    # Sessions run in UTC (time_zone '+00:00'); PyMySQL sends datetimes without their zone.
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def introspect_columns(conn: Any, mapping: LedgerMapping) -> dict[str, dict[str, str]]:
    return mysql_engine.columns(conn, (mapping.accounts_table, mapping.entries_table))


def validate_mapping(dsn: str, mapping: LedgerMapping, limits: SessionLimits) -> list[str]:
    conn = connect_ledger(dsn, limits)
    try:
        return mapping_problems(mapping, introspect_columns(conn, mapping))
    finally:
        conn.close()


def wait_for_transactions_before(
    dsn: str, cutoff: datetime, timeout_s: float, poll_s: float, limits: SessionLimits
) -> Any:
    started = time.monotonic()
    polls = 0
    # trx_started is in the server's system zone: compare in that zone.
    conn = connect_ledger(dsn, limits, time_zone="SYSTEM")
    try:
        ((utc_now, offset_s),) = _fetchall(
            conn, "SELECT UTC_TIMESTAMP(6), TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())"
        )
        validate_cutoff(cutoff, utc_now.replace(tzinfo=timezone.utc))
        local_cutoff = _utc_naive(cutoff) + _seconds(offset_s)
        blockers: list[Any] = []
        while True:
            polls += 1
            # information_schema.innodb_trx is a cache that InnoDB refreshes only when nobody
            # read it for 100 ms: a monitor polling it faster freezes it for everyone. Our own
            # snapshot transaction, begun before the read, must be in it, else it is stale and
            # proves nothing (the last fresh blockers are kept for the timeout message).
            mysql_engine.begin_snapshot(conn)
            try:
                rows = _fetchall(conn, q.WAIT_QUERY, {"cutoff": local_cutoff})
            finally:
                mysql_engine.end_transaction(conn)
            fresh = any(own for *_, own in rows)
            if fresh:
                blockers = [
                    OpenTransaction(int(thread), _seconds(age or 0), "", state or "", query or "")
                    for thread, age, state, query, own in rows
                    if not own
                ]
            waited = time.monotonic() - started
            if fresh and not blockers:
                return WaitResult(waited, polls)
            if waited >= timeout_s:
                raise SnapshotWaitTimeout(cutoff, timeout_s, blockers)
            time.sleep(min(poll_s, max(timeout_s - waited, 0.0)))
    finally:
        conn.close()


def _seconds(value: Any) -> Any:
    from datetime import timedelta

    return timedelta(seconds=float(value))


def _split_keys(conn: Any, mapping: LedgerMapping, parts: int) -> list[KeyRange]:
    ((min_key, max_key),) = _fetchall(conn, q.build_key_bounds_query(mapping))
    if parts == 1 or min_key is None:
        return ranges_from_boundaries([])
    if isinstance(min_key, int) and isinstance(max_key, int):
        return split_integer_keys(min_key, max_key, parts)
    rows = _fetchall(conn, q.build_key_split_query(mapping, parts))
    boundaries: list[KeyValue] = [
        k if isinstance(k, int) else str(k) for (k,) in rows[: parts - 1] if k is not None
    ]
    return ranges_from_boundaries(boundaries)


def open_snapshot(dsn: str, mapping: LedgerMapping, parts: int, limits: SessionLimits) -> Any:
    """The coordinator's consistent snapshot: it splits the keys and reads the counterpart
    table; the parts open their own snapshots (see the module's notes)."""
    conn = connect_ledger(dsn, limits)
    try:
        mysql_engine.begin_snapshot(conn)
        ((utc_now,),) = _fetchall(conn, "SELECT UTC_TIMESTAMP(6)")
        key_ranges = _split_keys(conn, mapping, parts)
    except BaseException:
        conn.close()
        raise
    return SnapshotHandle(conn, MYSQL_SNAPSHOT_ID, utc_now.replace(tzinfo=timezone.utc), key_ranges)


def _range_params(
    conn: Any, mapping: LedgerMapping, cutoff: datetime, key_range: KeyRange, diff_cap: int
) -> dict[str, Any]:
    columns = introspect_columns(conn, mapping)
    time_type = columns.get(mapping.entries_table, {}).get(mapping.entry_time_column)
    value = _utc_naive(cutoff_parameter(cutoff, time_type, mapping.business_time_zone))
    return range_query_params(value, key_range, diff_cap, currency_code=mapping.currency_code)


def compute_range(
    dsn: str,
    mapping: LedgerMapping,
    cutoff: datetime,
    key_range: KeyRange,
    diff_cap: int = DEFAULT_DIFFERENCE_CAP,
    *,
    limits: SessionLimits,
    on_snapshot_imported: Callable[[], None] | None = None,
) -> RangeResult:
    """One key range in a snapshot of its own, opened after the coordinator's wait."""
    started = time.perf_counter()
    conn = connect_ledger(dsn, limits)
    try:
        params = _range_params(conn, mapping, cutoff, key_range, diff_cap)
        mysql_engine.begin_snapshot(conn)
        if on_snapshot_imported is not None:
            on_snapshot_imported()
        rows = _fetchall(conn, q.build_range_query(mapping, key_range), params)
        mysql_engine.end_transaction(conn)
    except pymysql.err.MySQLError as exc:
        raise EngineError(f"{key_range.describe()} failed on the ledger: {exc.args[-1]}") from None
    finally:
        conn.close()
    return range_result_from_groups(key_range, rows, diff_cap, time.perf_counter() - started)


def range_result_from_groups(
    key_range: KeyRange, rows: Iterable[tuple[Any, ...]], diff_cap: int, elapsed_s: float = 0.0
) -> RangeResult:
    """Add up ``ledger_sql_mysql.build_range_query``'s groups: totals per currency, and the
    accounts that differ (groups with a ``diff_key``), in key order, at most ``diff_cap``."""
    totals: dict[str, CurrencyTotals] = {}
    differences: list[AccountDifference] = []
    for currency, diff_key, accounts, balance, journal, balance_now, version in rows:
        currency = currency or ""
        group = CurrencyTotals(int(accounts), Decimal(balance or 0), Decimal(journal or 0))
        totals[currency] = totals[currency] + group if currency in totals else group
        if diff_key is not None:
            differences.append(AccountDifference(
                diff_key, currency, Decimal(balance_now), Decimal(balance), Decimal(journal),
                None if version is None else int(version),
            ))
    differences.sort(key=lambda d: d.account_key)
    return RangeResult(key_range, totals, differences[:diff_cap], len(differences), elapsed_s)


def cutoff_balances(
    dsn: str, mapping: LedgerMapping, cutoff: datetime, key_range: KeyRange, limits: SessionLimits
) -> dict[KeyValue, Any]:
    conn = connect_ledger(dsn, limits)
    try:
        params = _range_params(conn, mapping, cutoff, key_range, DEFAULT_DIFFERENCE_CAP)
        mysql_engine.begin_snapshot(conn)
        rows = _fetchall(conn, q.build_cutoff_balances_query(mapping, key_range), params)
        mysql_engine.end_transaction(conn)
    finally:
        conn.close()
    return {
        key: CutoffBalance(currency or "", Decimal(now), Decimal(at_cutoff), Decimal(journal))
        for key, currency, now, at_cutoff, journal, _version in rows
    }
