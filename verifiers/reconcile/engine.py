"""Midnight reconciliation against the ledger database (psycopg 3, no Django).

The technique (design.md section 5): wait until every transaction that began before the
cut-off C has ended; open a ``REPEATABLE READ READ ONLY`` coordinator transaction and export its
snapshot; split the account keys into ranges; every worker imports the same snapshot and, for
its range, reverse-applies the entries with business time >= C to get each balance as of C and
compares it with the journal. A read-only snapshot takes only ACCESS SHARE locks, so writers
keep going. Statements come from ``verifiers.reconcile.balances``; this module only runs them.

Every connection is named ``mhc-reconcile`` (application_name) and carries a statement and a
lock timeout, so a run can always be told apart on the ledger and never hangs forever.

A ``mysql://`` ledger (MySQL 8, MariaDB 10.11+) goes to ``engine_mysql`` from each public
function here; its notes say how it does without an exported snapshot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from verifiers.engines import MYSQL, EngineError, dialect_of
from verifiers.engines import postgresql as postgresql_engine
from verifiers.reconcile import balances, engine_mysql
from verifiers.reconcile.balances import (
    APPLICATION_NAME,
    DEFAULT_DIFFERENCE_CAP,
    DEFAULT_RANGE_PLAN,
    KeyRange,
    KeyValue,
    LedgerMapping,
    RangePlan,
    RangeResult,
    ReconciliationOutcome,
)
from verifiers.reconcile.ledger_session import (
    DEFAULT_LIMITS,
    CutoffBalance,
    LedgerUnreachable,
    MappingInvalid,
    OpenTransaction,
    ReconcileEngineError,
    SessionLimits,
    SnapshotHandle,
    SnapshotUnavailable,
    SnapshotWaitTimeout,
    WaitResult,
)
from verifiers.reconcile.ledger_sql import (
    WAIT_QUERY,
    build_cutoff_balances_query,
    build_key_bounds_query,
    build_key_percentiles_query,
    build_range_query,
    range_query_params,
)

# The engine's API; the shared types of ledger_session are part of it (callers use engine.X).
__all__ = [
    "DEFAULT_LIMITS",
    "CutoffBalance",
    "LedgerUnreachable",
    "MappingInvalid",
    "OpenTransaction",
    "ReconcileEngineError",
    "SessionLimits",
    "SnapshotHandle",
    "SnapshotUnavailable",
    "SnapshotWaitTimeout",
    "WaitResult",
    "connect_ledger",
    "introspect_columns",
    "validate_mapping",
    "wait_for_transactions_before",
    "open_snapshot",
    "compute_range",
    "cutoff_balances",
    "reconcile_parallel",
]


def _is_mysql(dsn: str) -> bool:
    try:
        return dialect_of(dsn) == MYSQL
    except EngineError as exc:
        raise LedgerUnreachable(str(exc)) from None


def connect_ledger(dsn: str, *, limits: SessionLimits = DEFAULT_LIMITS) -> psycopg.Connection[Any]:
    """An autocommit, read-only connection named mhc-reconcile with our timeouts set.

    Autocommit so that the transactions we need are opened explicitly with the exact
    ``BEGIN ISOLATION LEVEL ...`` text (``SET TRANSACTION SNAPSHOT`` must come first in it).
    """
    try:
        return postgresql_engine.connect(  # type: ignore[no-any-return]
            dsn,
            statement_timeout_s=limits.statement_timeout_s,
            connect_timeout_s=limits.connect_timeout_s,
            application_name=APPLICATION_NAME,
            settings={
                "lock_timeout": f"{int(limits.lock_timeout_s * 1000)}ms",
                "idle_in_transaction_session_timeout": (
                    f"{int(limits.idle_in_transaction_timeout_s * 1000)}ms"
                ),
                # One statement per range is big; JIT costs ~150 ms and gained nothing here.
                "jit": "off",
            },
        )
    except EngineError as exc:
        raise LedgerUnreachable(str(exc).replace("the database", "the ledger database")) from None


def introspect_columns(
    conn: psycopg.Connection[Any], mapping: LedgerMapping
) -> dict[str, dict[str, str]]:
    """{table as named in the mapping: {column: data_type}} for the tables that exist."""
    return postgresql_engine.columns(conn, (mapping.accounts_table, mapping.entries_table))


def validate_mapping(
    dsn: str, mapping: LedgerMapping, *, limits: SessionLimits = DEFAULT_LIMITS
) -> list[str]:
    """Problems of the mapping against the live ledger schema ([] when it fits)."""
    if _is_mysql(dsn):
        return engine_mysql.validate_mapping(dsn, mapping, limits)
    with connect_ledger(dsn, limits=limits) as conn:
        return balances.mapping_problems(mapping, introspect_columns(conn, mapping))


def wait_for_transactions_before(
    dsn: str,
    cutoff: datetime,
    timeout_s: float = 60.0,
    poll_s: float = 0.1,
    *,
    limits: SessionLimits = DEFAULT_LIMITS,
) -> WaitResult:
    """Block until no transaction that began before ``cutoff`` is open on the ledger.

    The cut-off is checked against the ledger's own clock (business times come from it).
    Raises SnapshotWaitTimeout naming the transactions still open after ``timeout_s``.
    """
    if _is_mysql(dsn):
        return engine_mysql.wait_for_transactions_before(dsn, cutoff, timeout_s, poll_s, limits)
    started = time.monotonic()
    polls = 0
    # Autocommit: pg_stat_activity is frozen for the length of a transaction.
    with connect_ledger(dsn, limits=limits) as conn:
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        balances.validate_cutoff(cutoff, row[0])
        while True:
            polls += 1
            blockers = [
                OpenTransaction(pid, age, app or "", state or "", query or "")
                for pid, age, app, state, query in conn.execute(
                    WAIT_QUERY, {"application_name": APPLICATION_NAME, "cutoff": cutoff}
                )
            ]
            waited = time.monotonic() - started
            if not blockers:
                return WaitResult(waited, polls)
            if waited >= timeout_s:
                raise SnapshotWaitTimeout(cutoff, timeout_s, blockers)
            time.sleep(min(poll_s, max(timeout_s - waited, 0.0)))


def _split_keys(
    conn: psycopg.Connection[Any], mapping: LedgerMapping, parts: int
) -> list[KeyRange]:
    row = conn.execute(build_key_bounds_query(mapping)).fetchone()
    min_key, max_key = row if row else (None, None)
    if parts == 1 or min_key is None:
        return balances.ranges_from_boundaries([])
    if isinstance(min_key, int) and isinstance(max_key, int):
        return balances.split_integer_keys(min_key, max_key, parts)
    # Text, uuid, numeric: split by count at percentiles of the key, inside the snapshot.
    row = conn.execute(
        build_key_percentiles_query(mapping), {"fractions": balances.percentile_fractions(parts)}
    ).fetchone()
    boundaries = [_json_key(b) for b in (row[0] if row and row[0] else []) if b is not None]
    return balances.ranges_from_boundaries(b for b in boundaries if b != _json_key(min_key))


def _json_key(value: Any) -> KeyValue:
    # Ranges travel through Celery as JSON: keys other than int become their text form, which
    # PostgreSQL casts back to the key's type when comparing (psycopg sends str untyped).
    return value if isinstance(value, int) else str(value)


def open_snapshot(
    dsn: str,
    mapping: LedgerMapping,
    parts: int,
    *,
    limits: SessionLimits = DEFAULT_LIMITS,
) -> SnapshotHandle:
    """Open the coordinator's read-only snapshot, export it and split the keys in ``parts``."""
    if _is_mysql(dsn):
        return engine_mysql.open_snapshot(dsn, mapping, parts, limits)  # type: ignore[no-any-return]
    conn = connect_ledger(dsn, limits=limits)
    try:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot(), now()").fetchone()
        assert row is not None
        snapshot_id, snapshot_time = row
        key_ranges = _split_keys(conn, mapping, parts)
    except BaseException:
        conn.close()
        raise
    return SnapshotHandle(conn, snapshot_id, snapshot_time, key_ranges)


def _begin_in_snapshot(conn: psycopg.Connection[Any], snapshot_id: str) -> None:
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        # A utility statement: no bind parameters, so the id goes in as a quoted literal.
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
    except (
        psycopg.errors.InvalidParameterValue,
        psycopg.errors.ObjectNotInPrerequisiteState,
    ) as exc:
        raise SnapshotUnavailable(
            f"snapshot {snapshot_id} could not be imported ({str(exc).strip()}); the coordinator "
            "transaction must stay open until every worker has imported it"
        ) from None


def compute_range(
    dsn: str,
    snapshot_id: str,
    mapping: LedgerMapping,
    cutoff: datetime,
    key_range: KeyRange,
    diff_cap: int = DEFAULT_DIFFERENCE_CAP,
    *,
    plan: RangePlan = DEFAULT_RANGE_PLAN,
    limits: SessionLimits = DEFAULT_LIMITS,
    on_snapshot_imported: Callable[[], None] | None = None,
) -> RangeResult:
    """Reconcile one key range inside the exported snapshot (one statement).

    ``on_snapshot_imported`` is called once the snapshot is imported, so the coordinator can
    end its transaction before the range computation finishes.
    """
    if _is_mysql(dsn):
        return engine_mysql.compute_range(
            dsn, mapping, cutoff, key_range, diff_cap, limits=limits,
            on_snapshot_imported=on_snapshot_imported,
        )
    started = time.perf_counter()
    with connect_ledger(dsn, limits=limits) as conn:
        params = _range_params(conn, mapping, cutoff, key_range, diff_cap)
        _begin_in_snapshot(conn, snapshot_id)
        if on_snapshot_imported is not None:
            on_snapshot_imported()
        rows = conn.execute(build_range_query(mapping, key_range, plan), params).fetchall()
        conn.execute("COMMIT")
    return balances.range_result_from_rows(key_range, rows, time.perf_counter() - started)


def _range_params(
    conn: psycopg.Connection[Any], mapping: LedgerMapping, cutoff: datetime,
    key_range: KeyRange, diff_cap: int,
) -> dict[str, Any]:
    """Query parameters, the cut-off as the business-time column's type needs it (a wall
    time of the source's zone for ``timestamp without time zone``; no session TimeZone)."""
    columns = introspect_columns(conn, mapping)
    time_type = columns.get(mapping.entries_table, {}).get(mapping.entry_time_column)
    return range_query_params(
        balances.cutoff_parameter(cutoff, time_type, mapping.business_time_zone), key_range, diff_cap,
        currency_code=mapping.currency_code,
    )


def cutoff_balances(
    dsn: str,
    snapshot_id: str,
    mapping: LedgerMapping,
    cutoff: datetime,
    key_range: KeyRange,
    *,
    limits: SessionLimits = DEFAULT_LIMITS,
) -> dict[KeyValue, CutoffBalance]:
    """Every account of the range with its balance at cut-off (export, audits, proofs)."""
    if _is_mysql(dsn):
        return engine_mysql.cutoff_balances(dsn, mapping, cutoff, key_range, limits)
    with connect_ledger(dsn, limits=limits) as conn:
        params = _range_params(conn, mapping, cutoff, key_range, DEFAULT_DIFFERENCE_CAP)
        _begin_in_snapshot(conn, snapshot_id)
        rows = conn.execute(build_cutoff_balances_query(mapping, key_range), params).fetchall()
        conn.execute("COMMIT")
    return {
        key: CutoffBalance(currency or "", now, at_cutoff, journal)
        for key, currency, now, at_cutoff, journal, _version in rows
    }


def reconcile_parallel(
    dsn: str,
    mapping: LedgerMapping,
    cutoff: datetime,
    workers: int = 2,
    counterpart: Mapping[str, Decimal] | None = None,
    *,
    parts: int | None = None,
    diff_cap: int = DEFAULT_DIFFERENCE_CAP,
    wait_timeout_s: float = 60.0,
    poll_s: float = 0.1,
    plan: RangePlan = DEFAULT_RANGE_PLAN,
    limits: SessionLimits = DEFAULT_LIMITS,
) -> ReconciliationOutcome:
    """The whole run with threads as workers (a Celery chord replaces them in production).

    Raises MappingInvalid, CutoffError, SnapshotWaitTimeout, LedgerUnreachable or
    SnapshotUnavailable; the caller records those as a failed run.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    started = time.perf_counter()
    problems = validate_mapping(dsn, mapping, limits=limits)
    if problems:
        raise MappingInvalid(problems)
    wait = wait_for_transactions_before(dsn, cutoff, wait_timeout_s, poll_s, limits=limits)
    handle = open_snapshot(dsn, mapping, parts or workers, limits=limits)
    imported = threading.Semaphore(0)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile") as pool:
            futures = [
                pool.submit(
                    compute_range,
                    dsn,
                    handle.snapshot_id,
                    mapping,
                    cutoff,
                    key_range,
                    diff_cap,
                    plan=plan,
                    limits=limits,
                    on_snapshot_imported=imported.release,
                )
                for key_range in handle.key_ranges
            ]
            # Close the coordinator as soon as every range has imported the snapshot (or failed):
            # holding it longer only holds back the ledger's vacuum horizon.
            remaining = len(futures)
            while remaining and not all(f.done() for f in futures):
                if imported.acquire(timeout=0.05):
                    remaining -= 1
            handle.close()
            results = [f.result() for f in futures]
    finally:
        handle.close()
    combined = balances.combine_partials(results, diff_cap)
    currency_differences = (
        balances.compare_with_counterpart(combined.totals, counterpart) if counterpart is not None else []
    )
    return ReconciliationOutcome(
        cutoff=cutoff,
        snapshot_time=handle.snapshot_time,
        duration_s=time.perf_counter() - started,
        wait_s=wait.waited_s,
        status=balances.reconciliation_status(combined.difference_count, currency_differences),
        accounts_checked=combined.accounts_checked,
        totals=combined.totals,
        differences=combined.differences,
        difference_count=combined.difference_count,
        currency_differences=currency_differences,
        counterpart_compared=counterpart is not None,
        range_elapsed_s=[r.elapsed_s for r in results],
    )
