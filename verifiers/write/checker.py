"""The write checker: run generated SELECTs read-only on the legacy database and judge each row.

No Django here. Flow per batch of committed captures:

    conn = open_verification_connection(dsn)          # read-only session, own application_name
    rows = fetch_rows(conn, checks, statement_timeout_ms=...)   # one READ ONLY transaction
    outcome = judge_row(check, rows[i], rules=..., committed_at=...)

Safety (design section 4): a SELECT reaches the database only if it has the exact shape
sqlcheck renders (``SELECT "c", ... FROM "t" WHERE "k" = %s AND ...``), checked again here by
a strict pattern, with the key values bound as parameters; the session is
``default_transaction_read_only``, every batch runs in ``BEGIN READ ONLY`` with
``SET LOCAL statement_timeout``. Nothing from a capture is ever pasted into SQL text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import psycopg
from psycopg.rows import dict_row

from verifiers.compare import CompiledRules, Difference, DiffKind, compare_documents, compile_rules, parse_pattern
from verifiers.fingerprint import describe_write_fingerprint, write_fingerprint
from verifiers.sqlcheck import Expectation, RowCheck, StatementKind

APPLICATION_NAME: Final = "mhc-write-verifier"
CONNECT_TIMEOUT_S: Final = 5
# Default comparison of row values: 100.5 == "100.5000" (numeric columns come back padded).
DEFAULT_WRITE_RULES: Final[dict[str, Any]] = {"decimal_equivalence": True}
ROW_PATH: Final = "(row)"

_IDENT = r'"(?:[^"]|"")+"'
# The only SQL text the checker will send besides transaction control (see module docstring).
SELECT_SHAPE: Final = re.compile(
    rf"SELECT (?P<columns>{_IDENT}(?:, {_IDENT})*) FROM (?P<table>{_IDENT}(?:\.{_IDENT})?) "
    rf"WHERE (?P<where>{_IDENT} = %s(?: AND {_IDENT} = %s)*)\Z"
)


class CheckerError(Exception):
    """A row check that cannot be run as given (bad shape, unreachable database ...)."""


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """What one row check concluded."""

    verdict: str  # match | mismatch | stale | error
    fingerprint: str = ""
    title: str = ""
    differences: list[dict[str, Any]] = field(default_factory=list)
    actual: dict[str, Any] | None = None
    reason: str = ""


# --- RowCheck <-> JSON (the capture store keeps converted checks) ------------------------------


def row_check_to_json(check: RowCheck) -> dict[str, Any]:
    return {
        "table": check.table,
        "kind": check.kind.value,
        "select_sql": check.select_sql,
        "select_params": list(check.select_params),
        "key": check.key,
        "expected": None if check.expected is Expectation.ROW_ABSENT else check.expected,
        "unverified": check.unverified,
        "version_column": check.version_column,
    }


def row_check_from_json(data: Mapping[str, Any]) -> RowCheck:
    try:
        return RowCheck(
            table=str(data["table"]),
            kind=StatementKind(data["kind"]),
            select_sql=str(data["select_sql"]),
            select_params=tuple(data["select_params"]),
            key=dict(data["key"]),
            expected=Expectation.ROW_ABSENT if data["expected"] is None else dict(data["expected"]),
            unverified=dict(data.get("unverified") or {}),
            version_column=data.get("version_column"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckerError(f"stored row check is malformed: {error!r}") from None


# --- the SQL we run ---------------------------------------------------------------------------------


def _quote(identifier: str) -> str:
    # Same rendering as sqlcheck: double quotes doubled, '%' doubled for psycopg.
    return '"' + identifier.replace('"', '""').replace("%", "%%") + '"'


def _unquote(quoted: str) -> str:
    return quoted[1:-1].replace('""', '"').replace("%%", "%")


def executable_select(check: RowCheck) -> str:
    """The SELECT to run for a row check: its generated SQL, plus the version column if absent.

    Raises CheckerError unless the text has exactly the generated shape and one placeholder
    per key value.
    """
    match = SELECT_SHAPE.match(check.select_sql)
    if match is None:
        raise CheckerError("refusing to run SQL that is not a generated key SELECT")
    placeholders = match.group("where").count("%s")
    if placeholders != len(check.select_params) or check.select_sql.replace("%%", "").count("%") != placeholders:
        raise CheckerError(f"generated SELECT has {placeholders} placeholders for {len(check.select_params)} values")
    version = check.version_column
    if not version:
        return check.select_sql
    columns = [_unquote(c) for c in re.findall(_IDENT, match.group("columns"))]
    if version.lower() in (c.lower() for c in columns):
        return check.select_sql
    return f"SELECT {match.group('columns')}, {_quote(version)} FROM {match.group('table')} WHERE {match.group('where')}"


def open_verification_connection(
    dsn: str, *, statement_timeout_ms: int, connect: Callable[..., psycopg.Connection[Any]] = psycopg.connect
) -> psycopg.Connection[Any]:
    """A connection whose every transaction is read-only, named for pg_stat_activity."""
    options = f"-c default_transaction_read_only=on -c statement_timeout={int(statement_timeout_ms)}"
    try:
        return connect(
            dsn, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=CONNECT_TIMEOUT_S,
            options=options, row_factory=dict_row,
        )
    except psycopg.Error as error:
        raise CheckerError(f"cannot connect to the verified database: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0]}" if text else type(error).__name__


RowResult = dict[str, Any] | None | CheckerError


def fetch_rows(conn: psycopg.Connection[Any], checks: Sequence[RowCheck], *,
               statement_timeout_ms: int) -> list[RowResult]:
    """The current legacy row of each check (None when absent, CheckerError when it failed).

    All checks of a batch run pipelined in one READ ONLY transaction (one snapshot, one round
    trip); if that fails, each check runs alone so one bad row cannot fail its neighbours.
    """
    prepared: list[tuple[int, str]] = []
    results: list[RowResult] = [None] * len(checks)
    for index, check in enumerate(checks):
        try:
            prepared.append((index, executable_select(check)))
        except CheckerError as error:
            results[index] = error
    if not prepared:
        return results
    try:
        _run_batch(conn, checks, prepared, results, statement_timeout_ms)
    except psycopg.OperationalError:
        raise  # connection-level: the caller reconnects and retries the batch
    except psycopg.Error:
        for index, sql in prepared:
            try:
                _run_batch(conn, checks, [(index, sql)], results, statement_timeout_ms)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as error:
                results[index] = CheckerError(f"SELECT failed: {_first_line(error)}")
    return results


def _run_batch(conn: psycopg.Connection[Any], checks: Sequence[RowCheck], prepared: list[tuple[int, str]],
               results: list[RowResult], statement_timeout_ms: int) -> None:
    cursors: list[tuple[int, psycopg.Cursor[Any]]] = []
    try:
        with conn.pipeline():
            conn.execute("BEGIN READ ONLY")
            conn.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
            for index, sql in prepared:
                cursor = conn.cursor()
                cursor.execute(sql, checks[index].select_params)
                cursors.append((index, cursor))
        found: dict[int, RowResult] = {}
        for index, cursor in cursors:
            rows = cursor.fetchall()
            if len(rows) > 1:
                found[index] = CheckerError(f"key {checks[index].key} matched {len(rows)} rows (not a unique key)")
            else:
                found[index] = rows[0] if rows else None
        conn.execute("COMMIT")
        for index, value in found.items():
            results[index] = value
    except BaseException:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE and not conn.closed:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                pass
        raise


# --- judging -----------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A database value in the JSON form captures use (Decimal -> str, datetime -> ISO ...)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    return str(value)


def _aligned(actual: Any, expected: Any) -> Any:
    """The actual value in the expected value's form when both mean the same thing.

    Timestamps compare as instants (the candidate may render another offset), UUIDs and
    dates by value; anything else in its JSON form for the rules engine.
    """
    if isinstance(actual, datetime) and isinstance(expected, str):
        try:
            parsed = datetime.fromisoformat(expected)
        except ValueError:
            return json_value(actual)
        if (parsed.tzinfo is None) == (actual.tzinfo is None) and parsed == actual:
            return expected
        return json_value(actual)
    if isinstance(actual, uuid.UUID) and isinstance(expected, str):
        try:
            return expected if uuid.UUID(expected) == actual else str(actual)
        except ValueError:
            return str(actual)
    if isinstance(actual, date) and not isinstance(actual, datetime) and isinstance(expected, str):
        return expected if expected == actual.isoformat() else actual.isoformat()
    return json_value(actual)


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, (float, str)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _moved_on(check: RowCheck, actual: Mapping[str, Any], committed_at: datetime | None) -> str | None:
    """Why the row counts as changed after the commit (stale), or None."""
    column = check.version_column
    if not column:
        return None
    found = next((name for name in actual if name.lower() == column.lower()), None)
    if found is None:
        return None
    value = actual[found]
    if isinstance(value, datetime):
        if committed_at is None:
            return None
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return f"{column} {moment.isoformat()} is after the commit" if moment > committed_at else None
    expected = check.expected.get(found) if isinstance(check.expected, dict) else None
    now_number, expected_number = _as_number(value), _as_number(expected)
    if now_number is not None and expected_number is not None and now_number > expected_number:
        return f"{column} is {value}, the capture expected {expected}"
    return None


def _column_of(path: str) -> str:
    try:
        segments = parse_pattern(path)
    except ValueError:
        return path
    return str(segments[0]) if segments else path


def _outcome(check: RowCheck, verdict: str, columns_with_kinds: list[tuple[str, str]],
             differences: list[dict[str, Any]], actual: dict[str, Any] | None, reason: str = "") -> RowOutcome:
    statement_kind = check.kind.value
    return RowOutcome(
        verdict=verdict,
        fingerprint=write_fingerprint(check.table, statement_kind, columns_with_kinds),
        title=describe_write_fingerprint(check.table, statement_kind, columns_with_kinds)[:300],
        differences=differences,
        actual=actual,
        reason=reason,
    )


def judge_row(check: RowCheck, actual: RowResult, *, rules: CompiledRules | None = None,
              committed_at: datetime | None = None) -> RowOutcome:
    """match / mismatch / stale / error for one row check and the row found in the legacy."""
    if isinstance(actual, CheckerError):
        reason = str(actual)
        kind = reason.split(":", 1)[0][:60] if ":" in reason else "check failed"
        return _outcome(check, "error", [("(check)", kind)], [], None, reason)
    if check.expected is Expectation.ROW_ABSENT:
        if actual is None:
            return RowOutcome("match", actual=None)
        shown = {k: json_value(v) for k, v in actual.items()}
        difference = {"path": "$", "pattern": "$", "kind": DiffKind.MISSING.value, "legacy": shown, "candidate": None}
        return _outcome(check, "mismatch", [(ROW_PATH, DiffKind.MISSING.value)], [difference], shown,
                        "the candidate deleted this row; the legacy still has it")
    if actual is None:
        difference = {"path": "$", "pattern": "$", "kind": DiffKind.EXTRA.value, "legacy": None,
                      "candidate": check.expected}
        return _outcome(check, "mismatch", [(ROW_PATH, DiffKind.EXTRA.value)], [difference], None,
                        "the candidate wrote this row; the legacy has no row with this key")
    shown = {k: json_value(v) for k, v in actual.items()}
    stale_reason = _moved_on(check, actual, committed_at)
    if stale_reason:
        return RowOutcome("stale", actual=shown, reason=stale_reason)
    expected = check.expected
    by_lower = {name.lower(): name for name in actual}
    legacy_doc: dict[str, Any] = {}
    for column, value in expected.items():
        name = by_lower.get(column.lower())
        if name is not None:
            legacy_doc[column] = _aligned(actual[name], value)
    found: list[Difference] = compare_documents(legacy_doc, expected, rules or _DEFAULT_RULES)
    if not found:
        return RowOutcome("match", actual=shown)
    differences = [
        {"path": d.path, "pattern": d.pattern(), "kind": d.kind.value,
         "legacy": json_value(d.legacy), "candidate": json_value(d.candidate)}
        for d in found
    ]
    columns = sorted({(_column_of(d.path), d.kind.value) for d in found})
    return _outcome(check, "mismatch", columns, differences, shown)


_DEFAULT_RULES: Final = compile_rules(DEFAULT_WRITE_RULES)


def compile_write_rules(table_rules: Mapping[str, Any] | None) -> CompiledRules:
    """The default write rules with a table's configured rules on top (RulesError if invalid)."""
    if not table_rules:
        return _DEFAULT_RULES
    return compile_rules({**DEFAULT_WRITE_RULES, **table_rules})
