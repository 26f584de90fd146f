"""Write-verifier use cases: ingest captures, note commits, check due captures, reverify.

Every entry point (API, tasks, management commands, admin actions) calls one function here.
This module does the I/O (Redis store, verified database, recording); validation is in
validation.py, conversion and the net effect per row in conversion.py, verdict building in
verdicts.py (all three pure). Outcomes are written only through ``record_verdicts``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import orjson
import redis
from django.conf import settings
from django.utils import timezone as dj_timezone

from console.collector import cyclic_gc_paused
from console.masking import DEFAULT_MASKING_RULES, mask_document
from console.models import sole_migration_pk
from verifiers.groups.alerts import alert_on_groups
from verifiers.groups.recording import RecordSummary, record_verdicts
from verifiers.groups.verdict import Verdict
from verifiers.models import MismatchSample, VerifiedDatabase, VerifiedSample
from verifiers.write.checker import CheckerError, json_value, judge_row, row_check_from_json
from verifiers.write.conversion import convert_capture
from verifiers.write.sqlcheck import Expectation, RowCheck, StatementKind
from verifiers.write.store import TASK_CHECK, TASK_NO_CAPTURE, TASK_ORPHAN, WriteCaptureStore
from verifiers.write.targets import (
    DATABASE_LOOKUP_TTL_S,
    DRIVER_ERRORS,
    DisabledVerifiedDatabase,
    NoVerifiedDatabase,
    UnknownVerifiedDatabase,
    WriteTarget,
    default_database,
    target_for,
)
from verifiers.write.validation import (
    MAX_CAPTURE_BYTES,
    MAX_STATEMENTS,
    CaptureConflict,
    CaptureError,
    CaptureNotAccepted,
    CaptureTooLarge,
    parse_body,
    validate_capture,
    validate_commit,
)
from verifiers.write.values import decode
from verifiers.write.verdicts import (
    KIND,
    capture_failed_verdict,
    error_without_check,
    expired_verdict,
    first_table,
    moment,
    no_capture_verdict,
    orphan_verdict,
    row_verdict,
    sample_statements,
    unverifiable_verdicts,
    write_mask,
)

__all__ = [
    "KIND", "MAX_CAPTURE_BYTES", "MAX_STATEMENTS", "CaptureConflict", "CaptureError", "CaptureNotAccepted",
    "CaptureTooLarge", "CommitResult", "IngestResult", "ProcessSummary", "drain", "ingest_capture",
    "ingest_captures", "process_due_work", "register_commit", "register_commits", "reverify_write_samples",
]

logger = logging.getLogger(__name__)

BATCH_SIZE: Final = 500
# Debounce of the drain task queued on commits: at most one queued per this many ms.
DRAIN_DEBOUNCE_MS: Final = 200


# --- the store --------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def write_store() -> WriteCaptureStore:
    """The process-wide capture store on settings.REDIS_URL."""
    return _store_for(settings.REDIS_URL)


@lru_cache(maxsize=4)
def _store_for(url: str) -> WriteCaptureStore:
    return WriteCaptureStore(_redis_client(url))


# --- ingest ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestResult:
    capture_id: str
    status: str  # stored | committed | duplicate
    row_checks: int
    unverifiable: list[dict[str, Any]]
    converted: bool  # False: metadata unreachable, converted when checked

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.capture_id, "status": self.status, "row_checks": self.row_checks,
                "unverifiable": self.unverifiable, "converted": self.converted}


def _database_for(name: str | None, migration_id: int | None) -> VerifiedDatabase:
    """The verified database a capture names (or the default) in its migration; CaptureError says what is wrong."""
    try:
        return default_database(name, max_age_s=DATABASE_LOOKUP_TTL_S, migration_id=migration_id)
    except UnknownVerifiedDatabase as error:
        raise CaptureError(str(error)) from None
    except DisabledVerifiedDatabase as error:
        raise CaptureConflict(str(error)) from None
    except NoVerifiedDatabase as error:
        raise CaptureNotAccepted(str(error)) from None


def _prepared(raw: Any, now: float, targets: dict[int, WriteTarget | None],
              databases: dict[str | None, VerifiedDatabase | CaptureError],
              migration_id: int | None = None, tagged: bool = True) -> tuple[dict[str, Any], VerifiedDatabase]:
    """A validated capture converted against its database (CaptureError if refused).

    What is stored keeps the statements and after-images as received (valid JSON, values in
    their tagged form); conversion uses the values they stand for. ``targets`` and ``databases``
    are the batch's: each database is looked up once per batch, not once per capture.
    """
    capture = validate_capture(raw, tagged=tagged)
    name = capture["database"]
    if name not in databases:
        try:
            databases[name] = _database_for(name, migration_id)  # one migration per batch
        except CaptureError as error:
            databases[name] = error
    database = databases[name]
    if isinstance(database, CaptureError):
        raise type(database)(str(database))  # each capture its own error (one raised object would grow its traceback)
    database_id = database.pk
    if database_id not in targets:
        try:
            targets[database_id] = target_for(database)
        except CheckerError as error:
            logger.warning("write captures for %s stored unconverted: %s", database.name, error)
            targets[database_id] = None
    target = targets[database_id]
    checks: list[dict[str, Any]] | None = None
    unverifiable: list[dict[str, Any]] = []
    if target is not None:
        checks, unverifiable = _converted(capture, target)
    stored = {**capture, "statements": raw["statements"], "after_images": raw.get("after_images") or [],
              "database_id": database_id, "migration_id": database.migration_id, "received_at": now,
              "capture_ttl_s": database.capture_ttl_s,
              "checks": checks, "unverifiable": unverifiable}
    if checks is not None:
        # Converted: the expected rows are in the checks; the after-images were only conversion input.
        del stored["after_images"]
    return stored, database


def _converted(capture: dict[str, Any], target: WriteTarget) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """convert_capture, with any failure reported on the capture instead of raised."""
    try:
        return convert_capture(capture, target.cache)
    except Exception as error:  # noqa: BLE001 - one capture's failure never refuses its batch
        logger.exception("write capture %s could not be converted", capture["id"])
        return [], [{"statement": "all", "table": "(unknown table)",
                     "reason": f"conversion failed: {type(error).__name__}: {error}"[:500]}]


def ingest_captures(raw_items: list[Any], *, now: float | None = None, store: WriteCaptureStore | None = None,
                    migration_id: int | None = None, tagged: bool = True) -> list[IngestResult | CaptureError]:
    """Validate, convert and keep many captures (one Redis round trip); a result or error per item.

    Each capture's database is looked up in migration `migration_id` (None: the console's only one).
    ``tagged=False`` when their body holds no tagged value (``ParsedBody.tagged``): nothing to decode.

    Redis errors are raised (nothing is acknowledged; a retried batch counts its stored
    captures as duplicates).
    """
    now = time.time() if now is None else now
    outcomes: list[IngestResult | CaptureError | None] = [None] * len(raw_items)
    targets: dict[int, WriteTarget | None] = {}
    databases: dict[str | None, VerifiedDatabase | CaptureError] = {}
    to_store: list[tuple[int, dict[str, Any], VerifiedDatabase]] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_items):
        try:
            if isinstance(raw, CaptureError):  # an NDJSON line that was not JSON
                raise raw
            stored, database = _prepared(raw, now, targets, databases, migration_id, tagged)
        except CaptureError as error:
            outcomes[position] = error
            continue
        if stored["id"] in seen:
            outcomes[position] = IngestResult(stored["id"], "duplicate", 0, [], True)
            continue
        seen.add(stored["id"])
        to_store.append((position, stored, database))
    statuses = (store or write_store()).add_captures(
        [(stored["id"], orjson.dumps(stored), database.capture_ttl_s, database.commit_delay_ms)
         for _, stored, database in to_store], now=now)
    committed_delays = []
    for (position, stored, database), status in zip(to_store, statuses):
        checks = stored["checks"]
        outcomes[position] = IngestResult(stored["id"], status, len(checks or ()), stored["unverifiable"],
                                          checks is not None)
        if status == "committed":
            committed_delays.append(database.commit_delay_ms)
    if committed_delays:
        _queue_drain(max(committed_delays))  # their commits came first
    return [outcome for outcome in outcomes if outcome is not None]


def ingest_capture(*, body: bytes, now: float | None = None, store: WriteCaptureStore | None = None) -> IngestResult:
    """One capture body (a JSON object); CaptureError names what is wrong."""
    parsed = parse_body(body)
    if not parsed.single:
        raise CaptureError("body must be a JSON object {id, dialect, statements, after_images}")
    outcome = ingest_captures([parsed.items[0][1]], now=now, store=store, tagged=parsed.tagged)[0]
    if isinstance(outcome, CaptureError):
        raise outcome
    return outcome


@dataclass(frozen=True, slots=True)
class CommitResult:
    capture_id: str
    status: str  # scheduled | waiting | late | duplicate


def register_commits(raw_items: list[Any], *, now: float | None = None, store: WriteCaptureStore | None = None,
                     queue_drain: bool = True, migration_id: int | None = None) -> list[CommitResult | CaptureError]:
    """Note many legacy commits (one Redis round trip); each check runs after its database's commit delay.

    `migration_id` (given by consoles with several migrations) is remembered with the commits, for
    the verdict of a commit whose capture never comes; a capture itself carries its migration.
    """
    store = store or write_store()
    now = time.time() if now is None else now
    outcomes: list[CommitResult | CaptureError | None] = [None] * len(raw_items)
    ids: list[tuple[int, str]] = []
    for position, raw in enumerate(raw_items):
        try:
            if isinstance(raw, CaptureError):  # an NDJSON line that was not JSON
                raise raw
            ids.append((position, validate_commit(raw)))
        except CaptureError as error:
            outcomes[position] = error
    statuses = store.add_commits([capture_id for _, capture_id in ids], now=now)
    if migration_id is not None and ids:
        store.note_commit_migrations([capture_id for _, capture_id in ids], migration_id)
    for (position, capture_id), status in zip(ids, statuses):
        outcomes[position] = CommitResult(capture_id, status)
    if queue_drain and "scheduled" in statuses:
        queue_drain_for_next_due(store=store, now=now)
    return [outcome for outcome in outcomes if outcome is not None]


def register_commit(*, body: bytes, now: float | None = None, store: WriteCaptureStore | None = None,
                    queue_drain: bool = True) -> CommitResult:
    """Note the legacy commit of one capture (body {id})."""
    parsed = parse_body(body)
    if not parsed.single:
        raise CaptureError("body must be a JSON object {id}")
    outcome = register_commits([parsed.items[0][1]], now=now, store=store, queue_drain=queue_drain)[0]
    if isinstance(outcome, CaptureError):
        raise outcome
    return outcome


def queue_drain_for_next_due(*, store: WriteCaptureStore | None = None, now: float | None = None,
                             horizon_s: float = 60.0) -> None:
    """Queue a drain for when the earliest committed capture becomes due (if within the horizon)."""
    store = store or write_store()
    try:
        due_in = store.next_due_in(now=time.time() if now is None else now)
    except redis.RedisError:
        return
    if due_in is not None and due_in <= horizon_s:
        _queue_drain(int(due_in * 1000))


DRAIN_QUEUED_KEY: Final = "mhc:write:drain-queued"


def release_drain_debounce() -> None:
    """Called when a drain starts: commits arriving from now on may queue the next one."""
    try:
        _redis_client(settings.REDIS_URL).delete(DRAIN_QUEUED_KEY)
    except redis.RedisError:
        pass


MAX_DRAIN_COUNTDOWN_S = 60.0


def _queue_drain(delay_ms: int) -> None:
    """Queue one drain task for soon (debounced); the periodic drain is the backstop."""
    try:
        client = _redis_client(settings.REDIS_URL)
        if not client.set(DRAIN_QUEUED_KEY, "1", nx=True, px=DRAIN_DEBOUNCE_MS + delay_ms):
            return
        from verifiers.write.tasks import process_due

        # Capped far below the broker's visibility timeout: the periodic drain covers longer delays.
        process_due.apply_async(countdown=min(delay_ms / 1000 + 0.05, MAX_DRAIN_COUNTDOWN_S))
    except Exception as error:  # noqa: BLE001 - the periodic drain picks the capture up anyway
        logger.warning("could not queue the write drain task: %s", error)


# --- processing -----------------------------------------------------------------------------------


@dataclass(slots=True)
class ProcessSummary:
    claimed: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    recorded: int = 0
    new_group_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"claimed": self.claimed, "verdicts": dict(self.verdicts), "recorded": self.recorded,
                "new_groups": len(self.new_group_ids)}


def _database_name(database_id: int | None, names: dict[int, str]) -> str:
    if database_id is None:
        return ""
    if database_id not in names:
        names[database_id] = (
            VerifiedDatabase.objects.filter(pk=database_id).values_list("name", flat=True).first() or "(deleted)"
        )
    return names[database_id]


def _failed(capture_id: str, subject: str, what: str, error: BaseException, now: float) -> list[Verdict]:
    logger.exception("write capture %s: %s failed", capture_id, what)
    return [capture_failed_verdict(capture_id, subject, f"{what} failed: {type(error).__name__}: {error}", now)]


def _check_captures(captures: list[dict[str, Any]], database_id: int, names: dict[int, str],
                    now: float) -> dict[str, list[Verdict]]:
    """Verdicts per capture id of committed captures of one database; one capture's failure stays its own."""
    database = VerifiedDatabase.objects.filter(pk=database_id).first()
    if database_id not in names:  # the name from the row just read: one query per batch, not two
        names[database_id] = database.name if database is not None else "(deleted)"
    name = names[database_id]
    verdicts: dict[str, list[Verdict]] = {}
    target: WriteTarget | None = None
    problem = ""
    if database is None:
        problem = "its verified database was deleted"
    else:
        try:
            target = target_for(database)
        except CheckerError as error:
            problem = str(error)
    pending: list[tuple[dict[str, Any], dict[str, Any], RowCheck]] = []
    for capture in captures:
        capture_id = capture["id"]
        try:
            if capture.get("checks") is None and target is not None:  # stored while metadata was unreachable
                capture["checks"], capture["unverifiable"] = _converted(_with_values(capture), target)
            own = unverifiable_verdicts(capture, name)
            own_pending = []
            for item in capture.get("checks") or ():
                try:
                    own_pending.append((capture, item, row_check_from_json(item["check"],
                                                                           tagged=capture.get("tagged", True))))
                except CheckerError as error:
                    own.append(error_without_check(capture, item, str(error), name))
            if capture.get("checks") is None:
                own.append(error_without_check(capture, {"statement": "all", "row": 0}, problem, name))
        except Exception as error:  # noqa: BLE001 - recorded as this capture's error
            verdicts[capture_id] = _failed(capture_id, first_table(capture), "check", error, now)
            continue
        verdicts[capture_id] = own
        pending.extend(own_pending)
    if not pending:
        return verdicts
    checks = [check for _, _, check in pending]
    if target is None:
        results: list[Any] = [CheckerError(f"check failed: {problem}")] * len(checks)
    else:
        results = _fetch_with_retry(target, checks)
    # Per capture once, not per row: the two instants, and the sample statements if a row needs them.
    shared: dict[str, tuple[Any, Any]] = {}
    statements_of: dict[str, list[dict[str, Any]]] = {}
    rules: dict[str, Any] = {}
    failed: set[str] = set()
    for (capture, item, check), result in zip(pending, results):
        capture_id = capture["id"]
        if capture_id in failed:
            continue
        try:
            if capture_id not in shared:
                committed_at = capture.get("committed_at")
                shared[capture_id] = (moment(capture.get("received_at")),
                                      moment(committed_at) if committed_at else None)
            captured_at, committed = shared[capture_id]
            if target is not None and check.table not in rules:
                rules[check.table] = target.rules_for(check.table)
            outcome = judge_row(check, result, rules=rules.get(check.table), committed_at=committed)
            statements = None
            if outcome.verdict != "match":
                statements = statements_of.get(capture_id) or statements_of.setdefault(
                    capture_id, sample_statements(capture))
            verdicts[capture_id].append(row_verdict(capture, item, check, outcome, name, statements=statements,
                                                    captured_at=captured_at))
        except Exception as error:  # noqa: BLE001 - recorded as this capture's error
            failed.add(capture_id)
            verdicts[capture_id] = _failed(capture_id, check.table, "check", error, now)
    return verdicts


def _with_values(capture: dict[str, Any]) -> dict[str, Any]:
    """A stored capture with its params and after-images read back from their tagged form."""
    return {**capture, "statements": [{**s, "params": decode(s.get("params"))} for s in capture["statements"]],
            "after_images": [{**image, "key": decode(image["key"]), "row": decode(image["row"])}
                             for image in capture.get("after_images") or ()]}


def _fetch_with_retry(target: WriteTarget, checks: list[RowCheck]) -> list[Any]:
    """Rows for the checks; one reconnect on a connection failure, then error results."""
    for attempt in (1, 2):
        try:
            with target.lock:
                return target.fetch_rows(checks)
        except CheckerError as error:
            failure = str(error)
            target.drop_connection()
        except DRIVER_ERRORS as error:
            failure = f"verified database unreachable: {type(error).__name__}: {str(error).strip()[:200]}"
            target.drop_connection()
        if attempt == 2:
            return [CheckerError(failure)] * len(checks)
    raise AssertionError("unreachable")


def record_write_verdicts(by_work: dict[str, list[Verdict]]) -> RecordSummary:
    """Record the verdicts of units of work and tell the alerting about new and reopened groups.

    Each unit of work (its store member, e.g. ``check:<capture id>``) is claimed once against
    redelivery, not each of its row verdicts: all of them are recorded in one transaction anyway.
    """
    verdicts = [verdict for own in by_work.values() for verdict in own]
    claims = [member for member, own in by_work.items() for _ in own]
    summary = record_verdicts(verdicts, mask=write_mask, claim_ids=claims)
    alert_on_groups(summary)
    return summary


def _record_isolated(by_work: dict[str, list[Verdict]], now: float) -> tuple[RecordSummary, list[Verdict]]:
    """Record the batch in one go; if that fails, unit of work by unit, a failing one as its capture's `error`.

    ``by_work`` is keyed by store member (``check:<capture id>``...). Returns what was recorded and
    the verdicts that made it in.
    """
    try:
        return record_write_verdicts(by_work), [verdict for own in by_work.values() for verdict in own]
    except Exception:  # noqa: BLE001 - find the capture that breaks the batch, record the rest
        logger.exception("recording the verdicts of %d write captures failed; recording one by one", len(by_work))
    total, recorded = RecordSummary(), []
    for member, verdicts in by_work.items():
        try:
            summary = record_write_verdicts({member: verdicts})
        except Exception as error:  # noqa: BLE001
            capture_id = member.partition(":")[2]
            verdicts = _failed(capture_id, verdicts[0].subject if verdicts else "(unknown table)", "recording",
                               error, now)
            try:
                summary = record_write_verdicts({member: verdicts})
            except Exception:  # noqa: BLE001 - never hold the batch: logged, and the work is finished
                logger.exception("write capture %s: even its error verdict could not be recorded", capture_id)
                continue
        recorded.extend(verdicts)
        total.counted += summary.counted
        total.duplicates += summary.duplicates
        total.new_group_ids += summary.new_group_ids
        total.reopened_group_ids += summary.reopened_group_ids
    return total, recorded


def process_due_work(*, limit: int = BATCH_SIZE, now: float | None = None,
                     store: WriteCaptureStore | None = None) -> ProcessSummary:
    """Claim one batch of due work (checks, orphans, lone commits), verify it, record it."""
    with cyclic_gc_paused():  # see console/collector.py: ~40% of the drain time otherwise
        return _process_due_work(limit=limit, now=now, store=store)


def _process_due_work(*, limit: int, now: float | None, store: WriteCaptureStore | None) -> ProcessSummary:
    store = store or write_store()
    now = time.time() if now is None else now
    summary = ProcessSummary()
    work = store.claim(now=now, limit=limit)
    summary.claimed = len(work)
    if not work:
        return summary
    loaded = store.load([item.capture_id for item in work if item.task != TASK_NO_CAPTURE])
    names: dict[int, str] = {}
    by_work: dict[str, list[Verdict]] = {}
    to_check: dict[int, list[dict[str, Any]]] = defaultdict(list)
    migration_of: dict[str, int | None] = {}  # capture id -> the migration its capture was filed under
    for item in work:
        stored = loaded.get(item.capture_id)
        try:
            capture = orjson.loads(stored.data) if stored is not None else None
            if capture is not None:
                migration_of[item.capture_id] = capture.get("migration_id")
            if capture is not None and stored is not None:  # no '"$' in its JSON: no tagged value in its checks
                capture["tagged"] = b'"$' in stored.data
            if item.task == TASK_NO_CAPTURE:
                by_work[item.member] = [no_capture_verdict(item.capture_id, now)]
            elif item.task == TASK_ORPHAN:
                name = _database_name(capture.get("database_id"), names) if capture else ""
                by_work[item.member] = [orphan_verdict(item.capture_id, capture, name)]
            elif item.task == TASK_CHECK:
                if capture is None or stored is None:  # expired between commit and check (worker down for long)
                    by_work[item.member] = [expired_verdict(item.capture_id, now)]
                    continue
                capture["committed_at"] = stored.committed_at
                to_check[capture["database_id"]].append(capture)
        except Exception as error:  # noqa: BLE001 - recorded as this capture's error
            by_work[item.member] = _failed(item.capture_id, "(unknown table)", "loading", error, now)
    for database_id, captures in to_check.items():
        for capture_id, verdicts_of_capture in _check_captures(captures, database_id, names, now).items():
            by_work[f"{TASK_CHECK}:{capture_id}"] = verdicts_of_capture  # the store member, claimed once
    _file_under_migrations(by_work, work, migration_of, store)
    for member in _late_duplicates(by_work, work):
        del by_work[member]  # finished below with the rest, reported by nobody
    recorded, verdicts = _record_isolated(by_work, now)
    store.finish(work)
    for verdict in verdicts:
        summary.verdicts[verdict.verdict] += 1
    summary.recorded = recorded.counted
    summary.new_group_ids = recorded.new_group_ids
    return summary


def _file_under_migrations(by_work: dict[str, list[Verdict]], work: list[Any], migration_of: dict[str, int | None],
                           store: WriteCaptureStore) -> None:
    """Each verdict in its capture's migration; a verdict known only by its id (a commit without a
    capture, an expired capture) in the migration its commit note came from (None: the only one)."""
    unknown = [item.capture_id for item in work if item.capture_id not in migration_of]
    if unknown:
        migration_of.update(store.commit_migrations(unknown))
    for item in work:
        for verdict in by_work.get(item.member, ()):
            verdict.migration_id = migration_of.get(item.capture_id)


def _late_duplicates(by_work: dict[str, list[Verdict]], work: list[Any]) -> list[str]:
    """Orphan and lone-commit reports of captures whose check is already claimed.

    A capture or commit note delivered again after the store forgot its id (the duplicate
    window) waits alone: no commit comes for the capture, no capture for the commit. Its
    check's claim in PostgreSQL (kept VERIFIED_ID_RETENTION_DAYS) says it was checked already.
    """
    reports = {item.member: item.capture_id for item in work if item.task in (TASK_ORPHAN, TASK_NO_CAPTURE)}
    wanted: dict[tuple[int | None, str], str] = {}
    sole: list[int | None] = []  # the console's only migration, looked up once if needed
    for member, capture_id in reports.items():
        for verdict in by_work.get(member, ()):
            migration_id = verdict.migration_id
            if migration_id is None:
                sole = sole or [sole_migration_pk()]
                migration_id = sole[0]
            wanted[(migration_id, f"{TASK_CHECK}:{capture_id}")] = member
    if not wanted:
        return []
    claimed = VerifiedSample.objects.filter(
        kind=KIND, migration_id__in={migration for migration, _ in wanted},
        sample_id__in={sample_id for _, sample_id in wanted}).values_list("migration_id", "sample_id")
    return list(dict.fromkeys(wanted[key] for key in claimed if key in wanted))


def drain(*, budget_s: float = 20.0, limit: int = BATCH_SIZE, store: WriteCaptureStore | None = None) -> ProcessSummary:
    """Process batches until nothing is due or the time budget is spent."""
    total = ProcessSummary()
    deadline = time.monotonic() + budget_s
    while True:
        batch = process_due_work(limit=limit, store=store)
        total.claimed += batch.claimed
        total.recorded += batch.recorded
        total.new_group_ids.extend(batch.new_group_ids)
        for verdict, count in batch.verdicts.items():
            total.verdicts[verdict] += count
        if batch.claimed < limit or time.monotonic() >= deadline:
            return total


# --- reverify -------------------------------------------------------------------------------------------


def _stored_check(sample: MismatchSample) -> RowCheck | None:
    request = sample.request or {}
    if "select_params" not in request or not sample.select_sql:
        return None
    candidate = dict(sample.candidate or {})
    key = request.get("key") or {}
    expected = None if request.get("expect_absent") else {k: v for k, v in candidate.items() if k not in key}
    return RowCheck(
        table=request.get("table") or sample.group.subject,
        kind=StatementKind(request.get("statement_kind", "update")),
        select_sql=sample.select_sql, select_params=tuple(decode(request["select_params"])), key=key,
        expected=Expectation.ROW_ABSENT if expected is None else expected,
        unverified=request.get("unverified_columns") or {}, version_column=request.get("version_column"),
    )


def reverify_write_samples(sample_ids: Iterable[int]) -> dict[int, str]:
    """Re-run the check now for stored write samples; returns sample id -> new outcome.

    Samples that carry no row check (unverifiable, orphaned) keep their outcome. Stored
    values are masked: a masked expected value is compared with the row masked the same way.
    """
    samples = list(MismatchSample.objects.filter(pk__in=list(sample_ids), group__kind=KIND).select_related("group"))
    outcomes: dict[int, str] = {}
    # Per (migration, name): each sample is checked in its own group's migration's database.
    by_database: dict[tuple[int | None, str], list[tuple[MismatchSample, RowCheck]]] = defaultdict(list)
    now = dj_timezone.now()
    for sample in samples:
        check = _stored_check(sample)
        if check is None:
            outcomes[sample.pk] = sample.outcome
            MismatchSample.objects.filter(pk=sample.pk).update(reverified_at=now, reverify_outcome=sample.outcome)
            continue
        by_database[(sample.group.migration_id, (sample.request or {}).get("database") or "")].append((sample, check))
    for (migration_id, database_name), items in by_database.items():
        target: WriteTarget | None = None
        try:
            found = target_for(default_database(database_name or None, migration_id=migration_id))
        except (NoVerifiedDatabase, CheckerError) as error:
            results: list[Any] = [CheckerError(f"check failed: {error}")] * len(items)
        else:
            target = found
            results = _fetch_with_retry(found, [check for _, check in items])
        for (sample, check), result in zip(items, results):
            if isinstance(result, dict):
                result = _masked_like(result, check)
            outcome = judge_row(check, result, rules=target.rules_for(check.table) if target else None)
            outcomes[sample.pk] = outcome.verdict
            MismatchSample.objects.filter(pk=sample.pk).update(
                reverified_at=now, reverify_outcome=outcome.verdict, reverify_differences=outcome.differences,
            )
    return outcomes


def _masked_like(row: dict[str, Any], check: RowCheck) -> dict[str, Any]:
    """The fresh row with the stored sample's masking applied, so masked values compare equal."""
    masked = mask_document({k: json_value(v) for k, v in row.items()}, DEFAULT_MASKING_RULES)
    # Version columns keep their native value so "moved on" still compares numbers/instants.
    if check.version_column and check.version_column in row:
        masked[check.version_column] = row[check.version_column]
    return masked
