"""Write-verifier use cases: ingest a capture, note a commit, check due captures, reverify.

Every entry point (API, tasks, management commands, admin actions) calls one function here.
Outcomes are written only through ``verifiers.groups.recording.record_verdicts``.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Final

import orjson
import psycopg
import redis
from django.conf import settings
from django.utils import timezone as dj_timezone

from console.masking import DEFAULT_MASKING_RULES, mask_document
from verifiers.groups.alerts import alert_on_groups
from verifiers.groups.fingerprint import write_fingerprint
from verifiers.groups.recording import RecordSummary, Verdict, record_verdicts
from verifiers.models import MismatchSample, VerifiedDatabase
from verifiers.write.checker import (
    CheckerError,
    RowOutcome,
    fetch_rows,
    json_value,
    judge_row,
    row_check_from_json,
    row_check_to_json,
)
from verifiers.write.gcpause import cyclic_gc_paused
from verifiers.write.sqlcheck import Expectation, RowCheck, StatementKind, UnverifiableStatement
from verifiers.write.store import TASK_CHECK, TASK_NO_CAPTURE, TASK_ORPHAN, WriteCaptureStore
from verifiers.write.targets import (
    DATABASE_LOOKUP_TTL_S,
    NoVerifiedDatabase,
    WriteTarget,
    default_database,
    target_for,
)

logger = logging.getLogger(__name__)

KIND: Final = "write"
# Bodies above this are refused with 413 before parsing; a single statement above
# sqlcheck.MAX_STATEMENT_CHARS (256 KB) still fits and is reported unverifiable with its reason.
MAX_CAPTURE_BYTES: Final = 2 * 1024 * 1024
MAX_STATEMENTS: Final = 500
MAX_AFTER_IMAGES: Final = 5000
CAPTURE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,79}\Z")
CAPTURE_FIELDS: Final = frozenset({"id", "dialect", "statements", "after_images", "database"})
REQUIRED_CAPTURE_FIELDS: Final = ("id", "dialect", "statements")
STATEMENT_FIELDS: Final = frozenset({"sql", "params"})
AFTER_IMAGE_FIELDS: Final = frozenset({"table", "key", "row"})
# Stored with each mismatch sample (masked) so the group page shows what the candidate ran.
SAMPLE_SQL_CHARS: Final = 4000
SAMPLE_STATEMENTS: Final = 50
BATCH_SIZE: Final = 500
NO_CAPTURE_SUBJECT: Final = "(commit without capture)"
UNKNOWN_TABLE: Final = "(unknown table)"
# Debounce of the drain task queued on commits: at most one queued per this many ms.
DRAIN_DEBOUNCE_MS: Final = 200
_SEVERITY: Final = {"mismatch": "high", "error": "medium", "unverifiable": "low", "orphaned": "medium"}
_TABLE_GUESS: Final = re.compile(
    r"^\s*(?:insert\s+(?:ignore\s+)?into|update|delete\s+from)\s+((?:[A-Za-z_][\w$]*\.)?[A-Za-z_][\w$]*)",
    re.IGNORECASE,
)


class CaptureError(ValueError):
    """A capture or commit body we refuse; ``status`` is the HTTP status to answer."""

    status = 400


class CaptureTooLarge(CaptureError):
    status = 413


class CaptureNotAccepted(CaptureError):
    """Nothing can verify the capture right now (no verified database): retry later."""

    status = 503


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


# --- validation --------------------------------------------------------------------------------------


def _loads(body: bytes) -> Any:
    if len(body) > MAX_CAPTURE_BYTES:
        raise CaptureTooLarge(f"body is {len(body):,} bytes; the limit is {MAX_CAPTURE_BYTES:,}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise CaptureError(f"body is not valid JSON: {error}") from None


def _capture_id(value: Any) -> str:
    if not isinstance(value, str) or not CAPTURE_ID_PATTERN.match(value):
        raise CaptureError(
            "'id' must be a string of 1-80 letters, digits, '.', '_', ':' or '-' starting with a letter or "
            f"digit, got {str(value)[:100]!r}"
        )
    return value


def _unknown(found: Iterable[str], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise CaptureError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; allowed: {', '.join(sorted(allowed))}")


def parse_capture(body: bytes) -> dict[str, Any]:
    """Validate a POST /api/v1/write-captures body; CaptureError names what is wrong."""
    capture = _loads(body)
    if not isinstance(capture, dict):
        raise CaptureError("body must be a JSON object {id, dialect, statements, after_images}")
    _unknown(capture, CAPTURE_FIELDS, "capture")
    for name in REQUIRED_CAPTURE_FIELDS:
        if name not in capture:
            raise CaptureError(f"capture: missing field '{name}'")
    capture_id = _capture_id(capture["id"])
    dialect = capture["dialect"]
    if not isinstance(dialect, str) or not dialect.strip() or len(dialect) > 40:
        raise CaptureError(f"'dialect' must be a dialect name like postgres, mysql or oracle, got {dialect!r}")
    statements = capture["statements"]
    if not isinstance(statements, list) or not statements:
        raise CaptureError("'statements' must be a non-empty list of {sql, params}")
    if len(statements) > MAX_STATEMENTS:
        raise CaptureTooLarge(f"{len(statements)} statements in one capture; the limit is {MAX_STATEMENTS}")
    for index, statement in enumerate(statements):
        where = f"statements[{index}]"
        if not isinstance(statement, dict):
            raise CaptureError(f"{where} must be an object {{sql, params}}")
        _unknown(statement, STATEMENT_FIELDS, where)
        if not isinstance(statement.get("sql"), str) or not statement["sql"].strip():
            raise CaptureError(f"{where}.sql must be a non-empty string")
        params = statement.get("params")
        if params is not None and not isinstance(params, (list, dict)):
            raise CaptureError(f"{where}.params must be a list (positional), an object (named) or null")
    after_images = capture.get("after_images", [])
    if after_images is None:
        after_images = []
    if not isinstance(after_images, list):
        raise CaptureError("'after_images' must be a list of {table, key, row}")
    if len(after_images) > MAX_AFTER_IMAGES:
        raise CaptureTooLarge(f"{len(after_images)} after-images; the limit is {MAX_AFTER_IMAGES}")
    for index, image in enumerate(after_images):
        where = f"after_images[{index}]"
        if not isinstance(image, dict):
            raise CaptureError(f"{where} must be an object {{table, key, row}}")
        _unknown(image, AFTER_IMAGE_FIELDS, where)
        if not isinstance(image.get("table"), str) or not image["table"].strip():
            raise CaptureError(f"{where}.table must be a table name")
        for part in ("key", "row"):
            if not isinstance(image.get(part), dict):
                raise CaptureError(f"{where}.{part} must be an object of column -> value")
    database = capture.get("database")
    if database is not None and (not isinstance(database, str) or not database.strip()):
        raise CaptureError("'database' must be the name of a verified database")
    return {"id": capture_id, "dialect": dialect.strip(), "statements": statements, "after_images": after_images,
            "database": database}


def parse_commit(body: bytes) -> str:
    """Validate a POST /api/v1/write-commits body {id}; returns the capture id."""
    commit = _loads(body)
    if not isinstance(commit, dict):
        raise CaptureError("body must be a JSON object {id}")
    _unknown(commit, frozenset({"id"}), "commit")
    if "id" not in commit:
        raise CaptureError("commit: missing field 'id'")
    return _capture_id(commit["id"])


# --- conversion -------------------------------------------------------------------------------------


def _guess_table(sql: str) -> str:
    """For display only: the table a statement names, or a placeholder (never trusted)."""
    match = _TABLE_GUESS.match(sql[:300])
    return match.group(1).lower() if match else UNKNOWN_TABLE


def convert_capture(capture: Mapping[str, Any], target: WriteTarget) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(row checks, unverifiable statements) of a capture, through the target's template cache."""
    checks: list[dict[str, Any]] = []
    unverifiable: list[dict[str, Any]] = []
    images = capture.get("after_images") or []
    for index, statement in enumerate(capture["statements"]):
        sql = statement["sql"]
        try:
            rows = target.cache.check_rows(sql, capture["dialect"], statement.get("params"), images)
        except UnverifiableStatement as error:
            unverifiable.append({"statement": index, "table": _guess_table(sql), "reason": error.reason})
            continue
        except (TypeError, ValueError, KeyError, IndexError) as error:  # malformed params for the template
            unverifiable.append({"statement": index, "table": _guess_table(sql),
                                 "reason": f"parameters do not fit the statement: {error}"})
            continue
        for row_index, row in enumerate(rows):
            checks.append({"statement": index, "row": row_index, "check": row_check_to_json(row)})
    return checks, unverifiable


# --- ingest ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IngestResult:
    capture_id: str
    status: str  # stored | committed | duplicate
    row_checks: int
    unverifiable: list[dict[str, Any]]
    converted: bool  # False: metadata unreachable, converted when checked


def ingest_capture(*, body: bytes, now: float | None = None, store: WriteCaptureStore | None = None) -> IngestResult:
    """Validate, convert now and keep a capture in Redis until its commit (or orphan deadline)."""
    capture = parse_capture(body)
    try:
        database = default_database(capture["database"], max_age_s=DATABASE_LOOKUP_TTL_S)
    except NoVerifiedDatabase as error:
        raise CaptureNotAccepted(str(error)) from None
    now = time.time() if now is None else now
    checks: list[dict[str, Any]] | None = None
    unverifiable: list[dict[str, Any]] = []
    try:
        target = target_for(database)
    except CheckerError as error:
        logger.warning("write capture %s stored unconverted: %s", capture["id"], error)
    else:
        checks, unverifiable = convert_capture(capture, target)
    stored = {
        **capture, "database_id": database.pk, "received_at": now, "capture_ttl_s": database.capture_ttl_s,
        "checks": checks, "unverifiable": unverifiable,
    }
    if checks is not None:
        # Converted: the expected rows are in the checks; the after-images were only conversion input.
        del stored["after_images"]
    status = (store or write_store()).add_capture(
        capture["id"], orjson.dumps(stored), ttl_s=database.capture_ttl_s, commit_delay_ms=database.commit_delay_ms,
        now=now,
    )
    if status == "committed":
        _queue_drain(database.commit_delay_ms)  # its commit came first
    return IngestResult(capture["id"], status, len(checks or ()), unverifiable, checks is not None)


@dataclass(frozen=True, slots=True)
class CommitResult:
    capture_id: str
    status: str  # scheduled | waiting | late | duplicate


def register_commit(*, body: bytes, now: float | None = None, store: WriteCaptureStore | None = None,
                    queue_drain: bool = True) -> CommitResult:
    """Note the legacy commit of a capture; its check runs after the database's commit delay."""
    capture_id = parse_commit(body)
    store = store or write_store()
    now = time.time() if now is None else now
    status = store.add_commit(capture_id, now=now)
    if status == "scheduled" and queue_drain:
        queue_drain_for_next_due(store=store, now=now)
    return CommitResult(capture_id, status)


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


def _queue_drain(delay_ms: int) -> None:
    """Queue one drain task for soon (debounced); the periodic drain is the backstop."""
    try:
        client = _redis_client(settings.REDIS_URL)
        if not client.set(DRAIN_QUEUED_KEY, "1", nx=True, px=DRAIN_DEBOUNCE_MS + delay_ms):
            return
        from verifiers.write.tasks import process_due

        process_due.apply_async(countdown=delay_ms / 1000 + 0.05)
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


def _moment(epoch: float | None) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc) if epoch else dj_timezone.now()


def _sample_statements(capture: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"sql": s["sql"][:SAMPLE_SQL_CHARS] + ("…" if len(s["sql"]) > SAMPLE_SQL_CHARS else ""),
         "params": s.get("params")}
        for s in capture["statements"][:SAMPLE_STATEMENTS]
    ]


def _sample_request(capture: Mapping[str, Any], database_name: str, *,
                    statements: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """What a sample shows of its capture; ``statements`` passes ``_sample_statements`` already made.

    The row verdicts of one capture share one statements list (recording masks a copy).
    """
    return {"capture_id": capture["id"], "database": database_name, "dialect": capture["dialect"],
            "statements": _sample_statements(capture) if statements is None else statements, **extra}


def _first_table(capture: Mapping[str, Any]) -> str:
    for item in capture.get("checks") or ():
        return item["check"]["table"]
    for item in capture.get("unverifiable") or ():
        return item["table"]
    return _guess_table(capture["statements"][0]["sql"]) if capture.get("statements") else UNKNOWN_TABLE


def _unverifiable_verdicts(capture: Mapping[str, Any], database_name: str) -> list[Verdict]:
    verdicts = []
    captured_at = _moment(capture.get("received_at"))
    for item in capture.get("unverifiable") or ():
        reason = str(item["reason"])
        verdicts.append(Verdict(
            kind=KIND, sample_id=f"{capture['id']}#{item['statement']}", subject=item["table"],
            captured_at=captured_at, verdict="unverifiable",
            fingerprint=write_fingerprint(item["table"], "unverifiable", [("reason", reason[:200])]),
            title=f"Unverifiable on {item['table']}: {reason}"[:300], severity=_SEVERITY["unverifiable"],
            request=_sample_request(capture, database_name, statement_index=item["statement"], reason=reason),
        ))
    return verdicts


def _row_verdict(capture: Mapping[str, Any], item: Mapping[str, Any], check: RowCheck, outcome: RowOutcome,
                 database_name: str, *, statements: list[dict[str, Any]] | None = None,
                 captured_at: datetime | None = None) -> Verdict:
    expected = {} if check.expected is Expectation.ROW_ABSENT else check.expected
    return Verdict(
        kind=KIND, sample_id=f"{capture['id']}#{item['statement']}.{item['row']}", subject=check.table,
        captured_at=captured_at or _moment(capture.get("received_at")), verdict=outcome.verdict,
        fingerprint=outcome.fingerprint, title=outcome.title, severity=_SEVERITY.get(outcome.verdict, "medium"),
        differences=outcome.differences,
        request=_sample_request(
            capture, database_name, statements=statements, statement_index=item["statement"], table=check.table,
            statement_kind=check.kind.value, key=check.key, select_params=list(check.select_params),
            expect_absent=check.expected is Expectation.ROW_ABSENT, version_column=check.version_column,
            unverified_columns=check.unverified, reason=outcome.reason,
        ),
        legacy=outcome.actual or {}, candidate={**{k: json_value(v) for k, v in check.key.items()}, **expected},
        select_sql=check.select_sql,
    )


def _orphan_verdict(capture_id: str, capture: Mapping[str, Any] | None, database_name: str) -> Verdict:
    if capture is None:
        subject, request, captured_at = UNKNOWN_TABLE, {"capture_id": capture_id}, dj_timezone.now()
    else:
        subject = _first_table(capture)
        request = _sample_request(capture, database_name)
        captured_at = _moment(capture.get("received_at"))
    ttl = capture.get("capture_ttl_s") if capture else None
    return Verdict(
        kind=KIND, sample_id=f"{capture_id}#orphaned", subject=subject, captured_at=captured_at,
        verdict="orphaned", fingerprint=write_fingerprint(subject, "capture", [("(commit)", "missing")]),
        title=f"{subject}: capture orphaned, its commit never came" + (f" (within {ttl} s)" if ttl else ""),
        severity=_SEVERITY["orphaned"], request=request,
    )


def _no_capture_verdict(capture_id: str, now: float) -> Verdict:
    return Verdict(
        kind=KIND, sample_id=f"{capture_id}#commit", subject=NO_CAPTURE_SUBJECT, captured_at=_moment(now),
        verdict="orphaned", fingerprint=write_fingerprint(NO_CAPTURE_SUBJECT, "commit", [("(capture)", "missing")]),
        title="Commit without a capture: the legacy committed a write the candidate never captured",
        severity=_SEVERITY["orphaned"], request={"capture_id": capture_id},
    )


def _database_name(database_id: int | None, names: dict[int, str]) -> str:
    if database_id is None:
        return ""
    if database_id not in names:
        names[database_id] = (
            VerifiedDatabase.objects.filter(pk=database_id).values_list("name", flat=True).first() or "(deleted)"
        )
    return names[database_id]


def _check_captures(captures: list[dict[str, Any]], database_id: int, names: dict[int, str]) -> list[Verdict]:
    """Row verdicts (and unverifiable ones) of committed captures of one database."""
    database = VerifiedDatabase.objects.filter(pk=database_id).first()
    name = _database_name(database_id, names)
    verdicts: list[Verdict] = []
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
        if capture.get("checks") is None and target is not None:  # stored while metadata was unreachable
            capture["checks"], capture["unverifiable"] = convert_capture(capture, target)
        verdicts.extend(_unverifiable_verdicts(capture, name))
        for item in capture.get("checks") or ():
            try:
                pending.append((capture, item, row_check_from_json(item["check"])))
            except CheckerError as error:
                verdicts.append(_error_without_check(capture, item, str(error), name))
        if capture.get("checks") is None:
            verdicts.append(_error_without_check(capture, {"statement": "all", "row": 0}, problem, name))
    if not pending:
        return verdicts
    checks = [check for _, _, check in pending]
    if target is None:
        results: list[Any] = [CheckerError(f"check failed: {problem}")] * len(checks)
    else:
        results = _fetch_with_retry(target, checks)
    # Per capture once, not per row: the sample statements and the two instants.
    shared: dict[int, tuple[list[dict[str, Any]], datetime, datetime | None]] = {}
    rules: dict[str, Any] = {}
    for (capture, item, check), result in zip(pending, results):
        if id(capture) not in shared:
            committed_at = capture.get("committed_at")
            shared[id(capture)] = (_sample_statements(capture), _moment(capture.get("received_at")),
                                   _moment(committed_at) if committed_at else None)
        statements, captured_at, committed = shared[id(capture)]
        if target is not None and check.table not in rules:
            rules[check.table] = target.rules_for(check.table)
        outcome = judge_row(check, result, rules=rules.get(check.table), committed_at=committed)
        verdicts.append(_row_verdict(capture, item, check, outcome, name, statements=statements,
                                     captured_at=captured_at))
    return verdicts


def _error_without_check(capture: Mapping[str, Any], item: Mapping[str, Any], reason: str, name: str) -> Verdict:
    subject = _first_table(capture)
    return Verdict(
        kind=KIND, sample_id=f"{capture['id']}#{item['statement']}.{item['row']}", subject=subject,
        captured_at=_moment(capture.get("received_at")), verdict="error",
        fingerprint=write_fingerprint(subject, "check", [("(check)", "not run")]),
        title=f"{subject}: check not run: {reason}"[:300], severity=_SEVERITY["error"],
        request=_sample_request(capture, name, reason=reason),
    )


def _fetch_with_retry(target: WriteTarget, checks: list[RowCheck]) -> list[Any]:
    """Rows for the checks; one reconnect on a connection failure, then error results."""
    for attempt in (1, 2):
        try:
            with target.lock:
                connection = target.verification_connection()
                return fetch_rows(connection, checks, statement_timeout_ms=target.statement_timeout_ms)
        except CheckerError as error:
            failure = str(error)
            target.drop_connection()
        except psycopg.Error as error:
            failure = f"verified database unreachable: {type(error).__name__}: {str(error).strip()[:200]}"
            target.drop_connection()
        if attempt == 2:
            return [CheckerError(failure)] * len(checks)
    raise AssertionError("unreachable")


def _write_mask(value: Any) -> Any:
    """Default masking, except the key values a reverify needs to read the row again."""
    if isinstance(value, dict) and "select_params" in value:
        kept = value["select_params"]
        masked = mask_document(value, DEFAULT_MASKING_RULES)
        masked["select_params"] = kept
        return masked
    return mask_document(value, DEFAULT_MASKING_RULES)


def record_write_verdicts(verdicts: list[Verdict]) -> RecordSummary:
    """Record a batch and tell the alerting about new and reopened groups."""
    summary = record_verdicts(verdicts, mask=_write_mask)
    alert_on_groups(summary)
    return summary


def process_due_work(*, limit: int = BATCH_SIZE, now: float | None = None,
                     store: WriteCaptureStore | None = None) -> ProcessSummary:
    """Claim one batch of due work (checks, orphans, lone commits), verify it, record it."""
    with cyclic_gc_paused():  # see verifiers/write/gcpause.py: ~40% of the drain time otherwise
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
    verdicts: list[Verdict] = []
    to_check: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for item in work:
        stored = loaded.get(item.capture_id)
        capture = orjson.loads(stored.data) if stored is not None else None
        if item.task == TASK_NO_CAPTURE:
            verdicts.append(_no_capture_verdict(item.capture_id, now))
        elif item.task == TASK_ORPHAN:
            name = _database_name(capture.get("database_id"), names) if capture else ""
            verdicts.append(_orphan_verdict(item.capture_id, capture, name))
        elif item.task == TASK_CHECK:
            if capture is None:  # expired between commit and check (worker down for long)
                verdicts.append(Verdict(
                    kind=KIND, sample_id=f"{item.capture_id}#expired", subject=UNKNOWN_TABLE,
                    captured_at=_moment(now), verdict="error",
                    fingerprint=write_fingerprint(UNKNOWN_TABLE, "check", [("(capture)", "expired")]),
                    title="Capture expired before its check ran (checker backlog or workers down)",
                    severity=_SEVERITY["error"], request={"capture_id": item.capture_id},
                ))
                continue
            capture["committed_at"] = stored.committed_at
            to_check[capture["database_id"]].append(capture)
    for database_id, captures in to_check.items():
        verdicts.extend(_check_captures(captures, database_id, names))
    recorded = record_write_verdicts(verdicts)
    store.finish(work)
    for verdict in verdicts:
        summary.verdicts[verdict.verdict] += 1
    summary.recorded = recorded.counted
    summary.new_group_ids = recorded.new_group_ids
    return summary


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
        select_sql=sample.select_sql, select_params=tuple(request["select_params"]), key=key,
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
    by_database: dict[str, list[tuple[MismatchSample, RowCheck]]] = defaultdict(list)
    now = dj_timezone.now()
    for sample in samples:
        check = _stored_check(sample)
        if check is None:
            outcomes[sample.pk] = sample.outcome
            MismatchSample.objects.filter(pk=sample.pk).update(reverified_at=now, reverify_outcome=sample.outcome)
            continue
        by_database[(sample.request or {}).get("database") or ""].append((sample, check))
    for database_name, items in by_database.items():
        try:
            target = target_for(default_database(database_name or None))
        except (NoVerifiedDatabase, CheckerError) as error:
            results: list[Any] = [CheckerError(f"check failed: {error}")] * len(items)
            target = None
        else:
            results = _fetch_with_retry(target, [check for _, check in items])
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
