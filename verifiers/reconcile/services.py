"""Every write of the reconciliation part: sources, schedules, counterparts and runs.

Entry points (admin, pages, management commands, Celery tasks) call one function here each.
The arithmetic lives in ``reconcile.balances`` and the ledger SQL in ``reconcile.engine``;
this module only records what they compute and orchestrates the Celery run:

coordinator (``coordinate_run``): wait for pre-cut-off transactions, open and export the
snapshot, hand it to a keeper thread (``keeper.py``), fan out one ``compute_part`` per key range
as a chord whose callback is ``finish_run``.
"""

from __future__ import annotations

import json
import logging
import socket
import time as time_mod
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from psycopg import sql

from verifiers.engines import engine_for
from verifiers.engines import mysql as mysql_engine
from verifiers.engines import postgresql as postgresql_engine
from verifiers.models import AccountDifference, Counterpart, LedgerSource, ReconciliationRun
from verifiers.reconcile import alerts as reconcile_alerts
from verifiers.reconcile import balances, engine, engine_mysql, keeper, ledger_sql
from verifiers.reconcile.selectors import counterpart_totals, cutoff_date_of, mapping_for

logger = logging.getLogger(__name__)

RUN_TASK_NAME = "verifiers.reconcile.scheduled_run"
# The nightly run starts this long after the cut-off, so the ledger's clock has passed it.
SCHEDULE_MARGIN = timedelta(minutes=1)
# Account differences kept per run (the count is exact; the rows are capped).
DIFFERENCE_CAP = 10_000


class ReconcileError(Exception):
    """A reconciliation request the console refuses (the message says why, in one sentence)."""


# --------------------------------------------------------------------------------------------
# Ledger sources


def ledger_source_problems(source: LedgerSource) -> list[str]:
    """Everything wrong with a source's time zone, mapping and ledger, one sentence each.

    Connects to the ledger (read-only introspection) when the rest is well-formed.
    """
    problems: list[str] = []
    try:
        balances.zone(source.time_zone)
    except balances.CutoffError as exc:
        problems.append(str(exc)[0].upper() + str(exc)[1:] + ".")
    try:
        mapping = mapping_for(source)
    except balances.MappingError as exc:
        return problems + exc.problems
    try:
        dsn = source.resolved_dsn()
    except ValidationError as exc:
        return problems + list(exc.messages)
    if not dsn:
        return problems + ["Give a DSN or the environment variable that holds it."]
    try:
        problems += engine.validate_mapping(dsn, mapping)
        if source.counterpart_table:
            problems += _counterpart_table_problems(dsn, source)
    except engine.LedgerUnreachable as exc:
        problems.append(str(exc)[0].upper() + str(exc)[1:] + ".")
    return problems


def _counterpart_table_problems(dsn: str, source: LedgerSource) -> list[str]:
    wanted = {"currency", "total"} | ({source.counterpart_date_column} if source.counterpart_date_column else set())
    names = [("counterpart_table", source.counterpart_table, True),
             ("counterpart_date_column", source.counterpart_date_column, False)]
    bad_names = [
        problem for key, name, qualified in names
        if name and (problem := balances._name_problem(key, name, qualified_allowed=qualified))
    ]
    if bad_names:
        return bad_names
    if engine_for(dsn) is mysql_engine:
        conn = engine_mysql.connect_ledger(dsn, engine.DEFAULT_LIMITS)
        try:
            present = set(mysql_engine.columns(conn, [source.counterpart_table]).get(source.counterpart_table, {}))
        finally:
            conn.close()
        if not present:
            return [f"counterpart table {source.counterpart_table} not found"]
    else:
        try:
            with engine.connect_ledger(dsn) as conn:
                query = sql.SQL("SELECT * FROM {} LIMIT 0").format(
                    ledger_sql.table_identifier(source.counterpart_table)
                )
                cursor = conn.execute(query)
                present = {column.name for column in cursor.description or []}
        except psycopg.errors.UndefinedTable:
            return [f"counterpart table {source.counterpart_table} not found"]
        except psycopg.Error as exc:
            return [f"counterpart table {source.counterpart_table} cannot be read: {str(exc).strip()}"]
    missing = sorted(wanted - present)
    if missing:
        return [f"counterpart table {source.counterpart_table} lacks column(s) {', '.join(missing)}"]
    return []


def save_ledger_source(*, source: LedgerSource, check_ledger: bool = True) -> LedgerSource:
    """Validate (model rules, then the live ledger) and save a source; keep its schedule in sync."""
    source.full_clean()
    if check_ledger:
        problems = ledger_source_problems(source)
        if problems:
            raise ValidationError(problems)
    source.save()
    sync_schedule(source=source)
    return source


def sync_schedule(*, source: LedgerSource) -> Any:
    """Create or update the source's django-celery-beat task: daily at cut-off + margin, local time."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    at = (datetime.combine(date(2000, 1, 3), source.cutoff_time) + SCHEDULE_MARGIN).time()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=str(at.minute), hour=str(at.hour), day_of_week="*", day_of_month="*",
        month_of_year="*", timezone=source.time_zone,
    )
    task = source.schedule or PeriodicTask()
    # Beat task names are unique: two migrations may each have a source called "books".
    task.name = f"Reconcile {source.name}"
    if LedgerSource.objects.filter(name=source.name).exclude(migration=source.migration).exists():
        task.name = f"Reconcile {source.name} ({source.migration.slug})"
    task.task = RUN_TASK_NAME
    task.crontab = crontab
    task.interval = task.clocked = task.solar = None
    task.args = json.dumps([source.pk])
    task.enabled = source.enabled
    task.description = (
        f"Midnight reconciliation of {source.name}: cut-off {source.cutoff_time:%H:%M} "
        f"{source.time_zone}, started {int(SCHEDULE_MARGIN.total_seconds() // 60)} min after it."
    )
    task.save()
    if source.schedule_id != task.pk:
        LedgerSource.objects.filter(pk=source.pk).update(schedule=task)
        source.schedule = task
    return task


def delete_ledger_source(*, source: LedgerSource) -> None:
    """Delete a source and its schedule (its runs protect it: delete those first)."""
    schedule = source.schedule
    source.delete()
    if schedule is not None:
        schedule.delete()


# --------------------------------------------------------------------------------------------
# Counterparts


def save_counterpart(
    *, source: LedgerSource, cutoff_date: date, totals: Mapping[str, Decimal], origin: str,
    entered_by: str = "",
) -> list[Counterpart]:
    """Store the bank's total per currency for one cut-off date (replaces the same currencies)."""
    saved = []
    with transaction.atomic():
        for currency, total in sorted(totals.items()):
            row, _ = Counterpart.objects.update_or_create(
                source=source, cutoff_date=cutoff_date, currency=currency.upper(),
                defaults={"total": total, "origin": origin, "entered_by": entered_by},
            )
            saved.append(row)
    return saved


def upload_counterpart_csv(
    *, source: LedgerSource, cutoff_date: date, text: str, entered_by: str
) -> list[Counterpart]:
    """Parse a ``currency,total`` CSV (balances.CounterpartCsvError lists bad lines) and store it."""
    totals = balances.parse_counterpart_csv(text)
    return save_counterpart(
        source=source, cutoff_date=cutoff_date, totals=totals, origin=Counterpart.Origin.CSV,
        entered_by=entered_by,
    )


def _read_counterpart_table(conn: Any, source: LedgerSource, cutoff_date: date) -> dict[str, Decimal]:
    """The counterpart table's rows, on the coordinator's snapshot connection of either engine."""
    quote = postgresql_engine.quote if isinstance(conn, psycopg.Connection) else mysql_engine.quote
    query = f"SELECT currency, total FROM {quote(source.counterpart_table)}"
    params: dict[str, Any] = {}
    if source.counterpart_date_column:
        query += f" WHERE {quote(source.counterpart_date_column)} = %(day)s"
        params["day"] = cutoff_date
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        rows = cursor.fetchall()
    return {str(currency).strip().upper(): Decimal(total) for currency, total in rows}


# --------------------------------------------------------------------------------------------
# Starting runs


def parse_cutoff(text: str, source: LedgerSource) -> datetime:
    """An ISO 8601 cut-off; without an offset it is read in the source's time zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReconcileError(
            f"cut-off {text!r} is not an ISO 8601 date-time such as 2026-11-25T00:00+09:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=balances.zone(source.time_zone))
    return value


def default_cutoff(source: LedgerSource, now: datetime | None = None) -> datetime:
    """The most recent scheduled cut-off of the source (what a nightly run reconciles)."""
    return balances.latest_cutoff(now or timezone.now(), source.cutoff_time, source.time_zone)


def start_run(
    *, source: LedgerSource, cutoff: datetime | None = None, triggered_by: str, queue: str | None = None
) -> ReconciliationRun:
    """Record a new run (status running) and queue its coordinator after commit.

    A run for a cut-off that already has runs is a new row beside them, never an overwrite.
    Raises balances.CutoffError for a naive or future cut-off. ``queue`` sends the coordinator
    and its parts to that Celery queue (benchmarks use a private one); default: the default queue.
    """
    if cutoff is None:
        cutoff = default_cutoff(source)
    balances.validate_cutoff(cutoff, timezone.now())
    from verifiers.reconcile import tasks

    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            source=source, cutoff=cutoff, triggered_by=triggered_by[:150], workers=source.workers,
            heartbeat_at=timezone.now(),
        )
        if queue:
            transaction.on_commit(lambda: tasks.coordinate.apply_async((run.pk,), {"queue": queue}, queue=queue))
        else:
            transaction.on_commit(lambda: tasks.coordinate.delay(run.pk))
    return run


def rerun(*, run: ReconciliationRun, triggered_by: str) -> ReconciliationRun:
    """A new run of the same source and cut-off (the old run stays as it is)."""
    return start_run(source=run.source, cutoff=run.cutoff, triggered_by=triggered_by)


def start_scheduled_run(*, source_id: int, now: datetime | None = None) -> ReconciliationRun | None:
    """The nightly run of a source for its latest cut-off; None when disabled or already started."""
    source = LedgerSource.objects.filter(pk=source_id, enabled=True).first()
    if source is None:
        return None
    cutoff = default_cutoff(source, now)
    # Idempotent: beat may fire twice (restart) and a redelivered task must not start a second run.
    if ReconciliationRun.objects.filter(source=source, cutoff=cutoff, triggered_by="schedule").exists():
        return None
    return start_run(source=source, cutoff=cutoff, triggered_by="schedule")


# --------------------------------------------------------------------------------------------
# The run (called by the Celery tasks)


def _redis():
    import redis as redis_lib

    return redis_lib.Redis.from_url(settings.REDIS_URL)


def coordinate_run(*, run_id: int, queue: str | None = None) -> str:
    """Coordinator: wait, snapshot, fan out. Returns what it did (for logs and tests)."""
    run = ReconciliationRun.objects.select_related("source").filter(pk=run_id).first()
    if run is None or run.status != ReconciliationRun.Status.RUNNING:
        return "skipped: not running"
    if run.snapshot_at is not None:
        # A redelivered coordinator: its snapshot died with the first attempt.
        fail_run(run_id=run_id, error="The coordinator was interrupted after opening the snapshot; start a new run.")
        return "failed: interrupted"
    beat(run_id=run_id)
    source = run.source
    try:
        mapping = mapping_for(source)
        dsn = source.resolved_dsn()
        problems = engine.validate_mapping(dsn, mapping)
        if problems:
            raise engine.MappingInvalid(problems)
        engine.wait_for_transactions_before(dsn, run.cutoff, float(source.wait_timeout_s))
        handle = engine.open_snapshot(dsn, mapping, max(1, source.workers))
    except (balances.ReconciliationInputError, engine.ReconcileEngineError, ValidationError) as exc:
        fail_run(run_id=run_id, error=_error_text(exc))
        return "failed"
    try:
        _load_counterpart_from_table(handle, source, cutoff_date_of(source, run.cutoff))
        ReconciliationRun.objects.filter(pk=run_id).update(
            snapshot_at=handle.snapshot_time, workers=len(handle.key_ranges)
        )
        keeper.keep_snapshot_open(
            handle, run_id=run_id, parts=len(handle.key_ranges), redis_url=settings.REDIS_URL,
            on_tick=lambda: beat(run_id=run_id, close_connection=True), tick_every_s=_beat_every_s(),
        )
    except BaseException as exc:
        handle.close()
        fail_run(run_id=run_id, error=_error_text(exc))
        raise
    from celery import chord

    from verifiers.reconcile import tasks

    payload = handle.to_dict()
    options: dict[str, Any] = {"queue": queue} if queue else {}
    chord(
        tasks.compute_part.s(run_id, payload["snapshot_id"], key_range).set(**options)
        for key_range in payload["key_ranges"]
    )(tasks.finish.s(run_id).set(**options))
    return f"started {len(payload['key_ranges'])} part(s)"


def _load_counterpart_from_table(
    handle: engine.SnapshotHandle, source: LedgerSource, cutoff_date: date
) -> None:
    """Read the counterpart table inside the run's snapshot unless a person already gave one."""
    if not source.counterpart_table:
        return
    if Counterpart.objects.filter(source=source, cutoff_date=cutoff_date).exclude(
        origin=Counterpart.Origin.TABLE
    ).exists():
        return
    totals = _read_counterpart_table(handle.connection, source, cutoff_date)
    save_counterpart(source=source, cutoff_date=cutoff_date, totals=totals, origin=Counterpart.Origin.TABLE,
                     entered_by="table")


def compute_part(*, run_id: int, snapshot_id: str, key_range: Mapping[str, Any]) -> dict[str, Any]:
    """One key range in the exported snapshot. Never raises: an error is returned for the callback."""
    client = _redis()
    part = balances.KeyRange.from_dict(key_range)
    settled = False

    def imported() -> None:
        nonlocal settled
        keeper.mark_part_settled(client, run_id, part.index)
        settled = True

    try:
        run = ReconciliationRun.objects.select_related("source").filter(pk=run_id).first()
        if run is None or run.status != ReconciliationRun.Status.RUNNING:
            return {"error": f"{part.describe()}: the run is no longer running"}
        beat(run_id=run_id)
        result = engine.compute_range(
            run.source.resolved_dsn(), snapshot_id, mapping_for(run.source), run.cutoff, part,
            DIFFERENCE_CAP, on_snapshot_imported=imported,
        )
        beat(run_id=run_id)
        return {**result.to_dict(), "worker": socket.gethostname()}
    except Exception as exc:  # recorded on the run; the chord must still reach its callback
        logger.exception("run %s %s failed", run_id, part.describe())
        return {"error": f"{part.describe()}: {_error_text(exc)}"}
    finally:
        if not settled:
            keeper.mark_part_settled(client, run_id, part.index)
        client.close()


def finish_run(*, run_id: int, part_results: Iterable[Mapping[str, Any]]) -> str:
    """Chord callback: combine the parts, compare with the counterpart, store the run (idempotent)."""
    part_results = list(part_results)
    errors = [r["error"] for r in part_results if "error" in r]
    if errors:
        fail_run(run_id=run_id, error="; ".join(errors))
        return "failed"
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().select_related("source").filter(pk=run_id).first()
        if run is None or run.status != ReconciliationRun.Status.RUNNING:
            return "skipped: not running"
        try:
            combined = balances.combine_partials(
                [balances.RangeResult.from_dict(r) for r in part_results], DIFFERENCE_CAP
            )
        except balances.PartialsError as exc:
            run_status_failed(run, _error_text(exc))
            reconcile_alerts.alert_on_run(run)
            return "failed"
        counterpart = counterpart_totals(run.source, cutoff_date_of(run.source, run.cutoff))
        currency_differences = (
            balances.compare_with_counterpart(combined.totals, counterpart) if counterpart else []
        )
        run.status = balances.reconciliation_status(combined.difference_count, currency_differences)
        run.totals = totals_json(combined.totals, counterpart)
        run.accounts_checked = combined.accounts_checked
        run.accounts_with_differences = combined.difference_count
        run.finished_at = timezone.now()
        run.duration_ms = _duration_ms(run)
        run.save()
        AccountDifference.objects.bulk_create(
            [
                AccountDifference(
                    run=run, account_key=str(d.account_key), currency=d.currency,
                    balance_at_cutoff=d.balance_at_cutoff, journal=d.journal, difference=d.difference,
                )
                for d in combined.differences
            ],
            batch_size=2000,
        )
        if run.status != ReconciliationRun.Status.BALANCED:
            reconcile_alerts.alert_on_run(run)
    return run.status


def totals_json(
    totals: Mapping[str, balances.CurrencyTotals], counterpart: Mapping[str, Decimal]
) -> dict[str, dict[str, Any]]:
    """{currency: {balance_at_cutoff, journal, counterpart, difference, accounts}} as strings.

    ``difference`` is ledger minus counterpart (None when no counterpart for that currency).
    """
    result: dict[str, dict[str, Any]] = {}
    for currency in sorted(set(totals) | set(counterpart)):
        ledger = totals.get(currency)
        other = counterpart.get(currency)
        balance = ledger.balance_total if ledger else Decimal(0)
        result[currency] = {
            "balance_at_cutoff": str(balance) if ledger else None,
            "journal": str(ledger.journal_total) if ledger else None,
            "counterpart": None if other is None else str(other),
            "difference": None if other is None else str(balance - other),
            "accounts": ledger.accounts if ledger else 0,
        }
    return result


def fail_run(*, run_id: int, error: str) -> bool:
    """Mark a running run failed with its error text; False when it was no longer running."""
    with transaction.atomic():
        run = ReconciliationRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != ReconciliationRun.Status.RUNNING:
            return False
        run_status_failed(run, error)
        reconcile_alerts.alert_on_run(run)
    return True


def beat(*, run_id: int, close_connection: bool = False) -> None:
    """Record that a running run is making progress (see ReconciliationRun.heartbeat_at)."""
    from django.db import connection

    try:
        ReconciliationRun.objects.filter(pk=run_id, status=ReconciliationRun.Status.RUNNING).update(
            heartbeat_at=timezone.now())
    finally:
        if close_connection:  # called from the keeper thread: do not leave its connection open
            connection.close()


def _beat_every_s() -> float:
    return max(1.0, min(10.0, settings.RECONCILE_STALE_AFTER_S / 3))


def fail_stale_runs(*, now: datetime | None = None, stale_after_s: float | None = None) -> list[int]:
    """Watchdog: fail running runs whose heartbeat stopped (their worker died); returns their ids.

    Every step beats at least once per task time limit, so a silence longer than
    RECONCILE_STALE_AFTER_S means nobody is working on the run any more. Safe to run twice.
    """
    now = now or timezone.now()
    stale_after_s = settings.RECONCILE_STALE_AFTER_S if stale_after_s is None else stale_after_s
    limit = now - timedelta(seconds=stale_after_s)
    failed = []
    for run in ReconciliationRun.objects.filter(status=ReconciliationRun.Status.RUNNING).only(
            "pk", "heartbeat_at", "started_at"):
        last = run.heartbeat_at or run.started_at
        if last >= limit:
            continue
        error = (f"No progress for over {stale_after_s:,.0f} s (last heartbeat "
                 f"{timezone.localtime(last):%Y-%m-%d %H:%M:%S %Z}): the worker running it stopped. "
                 "Start a new run.")
        if fail_run(run_id=run.pk, error=error):
            logger.warning("reconciliation run %s failed by the watchdog: %s", run.pk, error)
            failed.append(run.pk)
    return failed


def run_status_failed(run: ReconciliationRun, error: str) -> None:
    run.status = ReconciliationRun.Status.FAILED
    run.error = error
    run.finished_at = timezone.now()
    run.duration_ms = _duration_ms(run)
    run.save(update_fields=["status", "error", "finished_at", "duration_ms"])


def _duration_ms(run: ReconciliationRun) -> int:
    end = run.finished_at or timezone.now()
    return max(0, int((end - run.started_at).total_seconds() * 1000))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    text = str(exc).strip() or type(exc).__name__
    return text


# --------------------------------------------------------------------------------------------
# Waiting for a run (commands and tests)


def wait_for_run(*, run_id: int, timeout_s: float, poll_s: float = 0.25) -> ReconciliationRun:
    """Poll until the run is no longer running (or the timeout passes); returns it as it is."""
    deadline = time_mod.monotonic() + timeout_s
    while True:
        run = ReconciliationRun.objects.select_related("source").get(pk=run_id)
        if run.status != ReconciliationRun.Status.RUNNING or time_mod.monotonic() >= deadline:
            return run
        time_mod.sleep(poll_s)
