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

Speed: the checks of a batch that share one generated SELECT are read with one statement of
the same columns and table, ``WHERE ("k1", "k2") IN ((%s, %s), (%s, %s), ...)`` (built here
from the checked parts of that SELECT, checked again by its own strict pattern), and each row
is given back to its check by its key values. Each bound value still meets its key column
exactly as in ``"k" = %s``; a row the key values cannot account for with certainty sends its
checks back to the one-row SELECT, so the answer is always the one-row SELECT's answer.
A key of several columns, once a first answer told its column types, is read as
``IN (VALUES ($1, $2), ...)`` with each value bound as its column reads it (PostgreSQL plans a
list of row tuples as one index probe per key: ~20 us per key against ~3 us, measured).
"""

from __future__ import annotations

import re
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

import orjson
import psycopg
from psycopg.raw_cursor import RawCursorMixin
from psycopg.rows import dict_row

from verifiers.groups.fingerprint import describe_write_fingerprint, write_fingerprint
from verifiers.read.compare import CompiledRules, Difference, DiffKind, compare_documents, compile_rules, parse_pattern
from verifiers.write.sqlcheck import Expectation, RowCheck, StatementKind
from verifiers.write.values import as_given, decode, encode

APPLICATION_NAME: Final = "mhc-write-verifier"
CONNECT_TIMEOUT_S: Final = 5
# Default comparison of row values: 100.5 == "100.5000" (numeric columns come back padded).
DEFAULT_WRITE_RULES: Final[dict[str, Any]] = {"decimal_equivalence": True}
ROW_PATH: Final = "(row)"


def quoted_name_patterns(quote: str) -> tuple[str, str, str]:
    """Regexes of (identifier, column list, table) for names quoted with ``quote`` (doubled inside)."""
    identifier = rf"{quote}(?:[^{quote}]|{quote}{quote})+{quote}"
    return identifier, rf"{identifier}(?:, {identifier})*", rf"{identifier}(?:\.{identifier})?"


_IDENT, _COLUMNS, _TABLE = quoted_name_patterns('"')
# Batched SELECTs go out with PostgreSQL's $n placeholders (see native_batch_sql), row SELECTs with %s.
_PLACEHOLDER = r"(?:%s|\$[1-9][0-9]*)"
_KEY_TUPLE = rf"\({_PLACEHOLDER}(?:, {_PLACEHOLDER})*\)"
# The row SELECT sqlcheck generates: one row by its key.
ROW_SELECT_SHAPE: Final = re.compile(
    rf"SELECT (?P<columns>{_COLUMNS}) FROM (?P<table>{_TABLE}) WHERE (?P<where>{_IDENT} = %s(?: AND {_IDENT} = %s)*)\Z"
)
# The same columns and table for many keys at once (built here from a checked row SELECT).
# A key of several columns is read with a VALUES list (see _values_batches): PostgreSQL plans a
# list of row tuples as one index probe per tuple, ~20 us of planning and executing per key.
BATCH_SELECT_SHAPE: Final = re.compile(
    rf"SELECT (?P<columns>{_COLUMNS}) FROM (?P<table>{_TABLE}) "
    rf"WHERE \((?P<keys>{_COLUMNS})\) IN \((?:VALUES )?(?P<tuples>{_KEY_TUPLE}(?:, {_KEY_TUPLE})*)\)\Z"
)
# The only SQL text the checker will send besides transaction control (see module docstring).
SELECT_SHAPE: Final = re.compile(
    rf"SELECT {_COLUMNS} FROM {_TABLE} WHERE (?:{_IDENT} = %s(?: AND {_IDENT} = %s)*"
    rf"|\({_COLUMNS}\) IN \((?:VALUES )?{_KEY_TUPLE}(?:, {_KEY_TUPLE})*\))\Z"
)
# Distinct keys per batched SELECT: well under PostgreSQL's 65,535 bound parameters.
MAX_KEYS_PER_SELECT: Final = 1000


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
    """The check as JSON; values in the tagged form of verifiers/write/values.py (Decimal, bytes ... survive).

    The SELECT's parameters are left out when they are the key's values themselves, in order (as
    sqlcheck binds them): read back from the key, they cost no encoding and no bytes in the store.
    """
    data = {
        "table": check.table,
        "kind": check.kind._value_,  # not .value: an enum property lookup per row (3% of ingest)
        "select_sql": check.select_sql,
        "key": encode(check.key),
        "expected": None if check.expected is Expectation.ROW_ABSENT else encode(check.expected),
        "unverified": check.unverified,
        "version_column": check.version_column,
    }
    params, key_values = check.select_params, tuple(check.key.values())
    if len(params) != len(key_values) or not all([a is b for a, b in zip(params, key_values)]):
        data["select_params"] = encode(params)
    return data


_STATEMENT_KINDS: Final = {kind.value: kind for kind in StatementKind}


def _own_dict(value: Any) -> dict[str, Any]:
    # The stored JSON was parsed for this check alone: its dicts are kept as they are, not copied.
    return value if type(value) is dict else dict(value)


def row_check_from_json(data: Mapping[str, Any], *, tagged: bool = True) -> RowCheck:
    """The check ``row_check_to_json`` wrote; ``tagged=False`` when its JSON holds no tag at all (faster)."""
    read = decode if tagged else as_given
    try:
        key = _own_dict(read(data["key"]))
        params = data.get("select_params")
        return RowCheck(
            table=str(data["table"]),
            kind=_STATEMENT_KINDS[data["kind"]],
            select_sql=str(data["select_sql"]),
            select_params=tuple(key.values()) if params is None else tuple(read(params)),
            key=key,
            expected=Expectation.ROW_ABSENT if data["expected"] is None else _own_dict(read(data["expected"])),
            unverified=_own_dict(data.get("unverified") or {}),
            version_column=data.get("version_column"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckerError(f"stored row check is malformed: {error!r}") from None


def union_select(first: str, second: str) -> str | None:
    """One generated row SELECT reading the columns of both (same table and key), else None.

    Used when a transaction touches one row with statements of different column lists:
    the row is checked once, for every column any of them set.
    """
    if first == second:
        return first
    a, b = ROW_SELECT_SHAPE.match(first), ROW_SELECT_SHAPE.match(second)
    if a is None or b is None or (a.group("table"), a.group("where")) != (b.group("table"), b.group("where")):
        return None
    columns = list(dict.fromkeys([*re.findall(_IDENT, a.group("columns")), *re.findall(_IDENT, b.group("columns"))]))
    return f"SELECT {', '.join(columns)} FROM {a.group('table')} WHERE {a.group('where')}"


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
    return _executable_select(check.select_sql, check.version_column or "", len(check.select_params))


@lru_cache(maxsize=4096)
def _executable_select(select_sql: str, version: str, param_count: int) -> str:
    # Cached per generated SELECT: a batch holds thousands of checks of a handful of templates.
    match = ROW_SELECT_SHAPE.match(select_sql)
    if match is None:
        raise CheckerError("refusing to run SQL that is not a generated key SELECT")
    placeholders = match.group("where").count("%s")
    if placeholders != param_count or select_sql.replace("%%", "").count("%") != placeholders:
        raise CheckerError(f"generated SELECT has {placeholders} placeholders for {param_count} values")
    if not version:
        return select_sql
    columns = [_unquote(c) for c in re.findall(_IDENT, match.group("columns"))]
    if version.lower() in (c.lower() for c in columns):
        return select_sql
    return f"SELECT {match.group('columns')}, {_quote(version)} FROM {match.group('table')} WHERE {match.group('where')}"


@dataclass(frozen=True, slots=True)
class BatchSelect:
    """How to read many keys of one executable row SELECT with one statement."""

    prefix: str  # 'SELECT <columns> FROM <table> WHERE (<keys>) IN ('
    key_names: tuple[str, ...]  # result column names holding the key values, in placeholder order
    added_names: tuple[str, ...]  # key columns selected only to hand rows back, dropped afterwards

    def sql(self, key_count: int, *, values: bool = False) -> str:
        """The statement for ``key_count`` keys (``values``: as a VALUES list); CheckerError unless it has the batch shape."""
        if not 0 < key_count <= MAX_KEYS_PER_SELECT:
            raise CheckerError(f"a batched SELECT reads 1 to {MAX_KEYS_PER_SELECT} keys, not {key_count}")
        key_tuple = "(" + ", ".join(["%s"] * len(self.key_names)) + ")"
        text = self.prefix + ("VALUES " if values else "") + ", ".join([key_tuple] * key_count) + ")"
        match = BATCH_SELECT_SHAPE.match(text)
        expected = key_count * len(self.key_names)
        if (match is None or match.group("tuples").count("%s") != expected
                or text.replace("%%", "").count("%") != expected):
            raise CheckerError("refusing to run a batched SELECT that is not of the generated shape")
        return text


_PERCENT_TOKEN: Final = re.compile(r"%%|%s")


@lru_cache(maxsize=1024)
def native_batch_sql(plan: BatchSelect, key_count: int, values: bool = False) -> str:
    """``plan.sql(key_count)`` with PostgreSQL's own $n placeholders, for a psycopg RawCursor.

    psycopg parses a %s query on every execute unless it is short enough for its cache; a
    batched SELECT of hundreds of keys is not, and parsing it was ~15% of the drain's CPU.
    """
    counter = iter(range(1, key_count * len(plan.key_names) + 1))
    text = _PERCENT_TOKEN.sub(lambda token: "%" if token.group() == "%%" else f"${next(counter)}",
                              plan.sql(key_count, values=values))
    match = BATCH_SELECT_SHAPE.match(text)
    if match is None or match.group("tuples").count("$") != key_count * len(plan.key_names):
        raise CheckerError("refusing to run a batched SELECT that is not of the generated shape")
    return text


@lru_cache(maxsize=8)
def _native_cursor_class(factory: type[psycopg.Cursor[Any]]) -> type[psycopg.Cursor[Any]]:
    """The connection's own cursor class, reading $n placeholders as they are (psycopg's raw cursor).

    Built from the connection's cursor_factory so whatever it does (the tests record every
    statement sent) applies to the batched SELECTs too.
    """
    if factory is psycopg.Cursor:
        return psycopg.RawCursor
    return type(f"Raw{factory.__name__}", (RawCursorMixin, factory), {})


@lru_cache(maxsize=4096)
def batch_select(executable_sql: str) -> BatchSelect:
    """The batched form of an executable row SELECT (from ``executable_select``).

    Same columns and table; the key columns are added to the selected columns if missing so
    every row can be handed back to its check. CheckerError unless ``executable_sql`` has the
    generated row shape.
    """
    match = ROW_SELECT_SHAPE.match(executable_sql)
    if match is None:
        raise CheckerError("refusing to batch SQL that is not a generated key SELECT")
    quoted_columns = re.findall(_IDENT, match.group("columns"))
    quoted_keys = re.findall(_IDENT, match.group("where"))
    if len(quoted_keys) != match.group("where").count("%s"):
        raise CheckerError("generated SELECT names a key column without its placeholder")
    added = [key for key in dict.fromkeys(quoted_keys) if key not in quoted_columns]
    columns = ", ".join([*quoted_columns, *added])
    prefix = f"SELECT {columns} FROM {match.group('table')} WHERE ({', '.join(quoted_keys)}) IN ("
    return BatchSelect(prefix, tuple(_unquote(k) for k in quoted_keys), tuple(_unquote(k) for k in added))


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

    All checks of a batch run pipelined in one READ ONLY transaction: checks sharing a SELECT
    are read by batched SELECTs of up to MAX_KEYS_PER_SELECT keys (one round trip, plus one for
    keys whose row could not be handed back with certainty). If that fails, each check runs
    alone so one bad row cannot fail its neighbours.
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
        _run_grouped(conn, checks, prepared, results, statement_timeout_ms)
    except psycopg.OperationalError:
        raise  # connection-level: the caller reconnects and retries the batch
    except psycopg.Error:
        _KEY_TYPES.pop(conn, None)  # learnt again from the next answers, should a key type have changed
        for index, sql in prepared:
            try:
                _run_grouped(conn, checks, [(index, sql)], results, statement_timeout_ms)
            except psycopg.OperationalError:
                raise
            except psycopg.Error as error:
                results[index] = CheckerError(f"SELECT failed: {_first_line(error)}")
    return results


# Key column types whose equality PostgreSQL and Python agree on once the bound value is read
# the way PostgreSQL reads it: type OID -> (Python type of the column value, reader of a bound value).
_INTEGER_TEXT: Final = re.compile(r"\s*[+-]?[0-9]+\s*\Z", re.ASCII)  # PostgreSQL skips ASCII spaces only
_NUMERIC_TEXT: Final = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*\Z", re.ASCII)
_CANONICAL_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_NOT_READ: Final = object()  # a bound value we cannot read the way PostgreSQL does


def _bound_integer(value: Any) -> Any:
    if type(value) is int or type(value) is float:  # bigint = double precision compares numerically
        return value
    if type(value) is str and _INTEGER_TEXT.match(value):
        return int(value)
    return _NOT_READ


def _bound_numeric(value: Any) -> Any:
    if type(value) is int:
        return Decimal(value)
    if type(value) is str and _NUMERIC_TEXT.match(value):
        return Decimal(value.strip())
    return _NOT_READ  # floats compare as double precision in PostgreSQL: leave them to the row SELECT


def _bound_uuid(value: Any) -> Any:
    if type(value) is str:
        try:
            return uuid.UUID(value.strip())
        except ValueError:
            return _NOT_READ
    return _NOT_READ


def _bound_text(value: Any) -> Any:
    return value if type(value) is str else _NOT_READ


_EXACT_KEY_TYPES: Final[dict[int, tuple[type, Callable[[Any], Any]]]] = {
    20: (int, _bound_integer), 21: (int, _bound_integer), 23: (int, _bound_integer),  # int8, int2, int4
    1700: (Decimal, _bound_numeric),
    2950: (uuid.UUID, _bound_uuid),
    # text and varchar compare exactly under deterministic collations; a row of another spelling
    # (case-insensitive collation) is unaccounted for below and goes back to the row SELECT.
    25: (str, _bound_text), 1043: (str, _bound_text),
}

# Readers of the values a VALUES list binds in place of the captured ones (see _values_batches):
# stricter than those above, they accept only what PostgreSQL reads into the same value when the
# captured one meets its column as in "k" = %s; anything else goes to the row SELECT.
_INTEGER_RANGES: Final = {21: 2 ** 15, 23: 2 ** 31, 20: 2 ** 63}


def _integer_reader(oid: int) -> Callable[[Any], Any]:
    limit = _INTEGER_RANGES[oid]

    def read(value: Any) -> Any:
        if type(value) is int:  # psycopg binds it as int2/int4/int8: compared, never cast
            return value if -2 ** 63 <= value < 2 ** 63 else _NOT_READ
        if type(value) is str and _INTEGER_TEXT.match(value):  # text: read as the column's type
            number = int(value)
            return number if -limit <= number < limit else _NOT_READ
        return _NOT_READ  # floats and decimals compare as such: the row SELECT decides

    return read


def _values_numeric(value: Any) -> Any:
    if type(value) is Decimal:
        return value if value.is_finite() else _NOT_READ
    return _bound_numeric(value)


def _values_uuid(value: Any) -> Any:
    if type(value) is uuid.UUID:
        return value
    return uuid.UUID(value) if type(value) is str and _CANONICAL_UUID.match(value) else _NOT_READ


def _values_text(value: Any) -> Any:
    return value if type(value) is str and "\x00" not in value else _NOT_READ


_VALUES_READERS: Final[dict[int, Callable[[Any], Any]]] = {
    20: _integer_reader(20), 21: _integer_reader(21), 23: _integer_reader(23),
    1700: _values_numeric, 2950: _values_uuid, 25: _values_text, 1043: _values_text,
}
# Per connection, the key column types (OIDs) of each batched SELECT, learnt from its first
# answer: a VALUES list needs its values typed as the columns are (see _values_batches).
_KEY_TYPES: weakref.WeakKeyDictionary[psycopg.Connection[Any], dict[BatchSelect, tuple[int, ...]]] = (
    weakref.WeakKeyDictionary())


def _param_key(params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """The bound values as a dict key (types kept: True and 1 bind differently), None if unhashable."""
    key = tuple((type(value), value) for value in params)
    try:
        hash(key)
    except TypeError:
        return None
    return key


@dataclass(slots=True)
class _Batch:
    """One batched SELECT: the check indexes per distinct key, and for a VALUES list the keys as bound."""

    plan: BatchSelect
    sql: str
    groups: list[list[int]]
    bound: list[tuple[Any, ...]] | None = None  # None: the captured values, read back by _hand_back
    key_types: tuple[int, ...] = ()  # of a VALUES list: the key column types its values were read for


def _values_batches(plan: BatchSelect, key_types: tuple[int, ...], groups: list[list[int]],
                    checks: Sequence[RowCheck], singles: list[int]) -> list[_Batch]:
    """Batches of a several-column key as ``(k1, k2) IN (VALUES ($1, $2), ...)``, one hash probe per key.

    PostgreSQL types the columns of a VALUES list from its values, not from the key columns, so
    each captured value is bound as what the key column reads it as (an integer, a UUID ...) by
    a strict reader; a check whose values have no such reading goes to ``singles`` (row SELECT).
    """
    readers = [_VALUES_READERS[oid] for oid in key_types]
    kept: list[list[int]] = []
    bound: list[tuple[Any, ...]] = []
    for indexes in groups:
        read = tuple([reader(value) for reader, value in zip(readers, checks[indexes[0]].select_params)])
        if _NOT_READ in read:
            singles.extend(indexes)
        else:
            kept.append(indexes)
            bound.append(read)
    batches = []
    for start in range(0, len(kept), MAX_KEYS_PER_SELECT):
        chunk = kept[start:start + MAX_KEYS_PER_SELECT]
        batches.append(_Batch(plan, native_batch_sql(plan, len(chunk), True), chunk,
                              bound[start:start + MAX_KEYS_PER_SELECT], key_types))
    return batches


def _run_grouped(conn: psycopg.Connection[Any], checks: Sequence[RowCheck], prepared: list[tuple[int, str]],
                 results: list[RowResult], statement_timeout_ms: int) -> None:
    """One READ ONLY transaction: batched SELECTs per shared SELECT, row SELECTs for the rest."""
    by_sql: dict[str, dict[tuple[Any, ...], list[int]]] = defaultdict(dict)
    sql_of = dict(prepared)
    singles: list[int] = []
    for index, sql in prepared:
        key = _param_key(checks[index].select_params)
        if key is None:
            singles.append(index)
        else:
            by_sql[sql].setdefault(key, []).append(index)
    key_types = _KEY_TYPES.setdefault(conn, {})
    batches: list[_Batch] = []
    for sql, by_key in by_sql.items():
        groups = list(by_key.values())
        try:
            if len(groups) < 2:
                raise CheckerError("one key: the row SELECT is the batch")
            plan = batch_select(sql)
            learnt = key_types.get(plan) if len(plan.key_names) > 1 else None
            if learnt is not None:
                batches.extend(_values_batches(plan, learnt, groups, checks, singles))
                continue
            batches.extend(_Batch(plan, native_batch_sql(plan, len(chunk)), chunk)
                           for chunk in (groups[start:start + MAX_KEYS_PER_SELECT]
                                         for start in range(0, len(groups), MAX_KEYS_PER_SELECT)))
        except CheckerError:
            singles.extend(index for indexes in groups for index in indexes)
    found: dict[int, RowResult] = {}
    try:
        with conn.pipeline():
            conn.execute("BEGIN READ ONLY")
            conn.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
            batch_cursors = [_execute(conn, batch.sql,
                                      [value for key in batch.bound for value in key] if batch.bound is not None else
                                      [value for indexes in batch.groups for value in checks[indexes[0]].select_params],
                                      native=True)
                             for batch in batches]
            single_cursors = [(index, _execute(conn, sql_of[index], checks[index].select_params)) for index in singles]
        unresolved: list[int] = []
        for batch, cursor in zip(batches, batch_cursors):
            _hand_back(batch, cursor, checks, found, unresolved, key_types)
        for index, cursor in single_cursors:
            found[index] = _single_row(cursor, checks[index])
        if unresolved:  # the row SELECT decides, in the same transaction
            with conn.pipeline():
                retried = [(index, _execute(conn, sql_of[index], checks[index].select_params)) for index in unresolved]
            for index, cursor in retried:
                found[index] = _single_row(cursor, checks[index])
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


def _execute(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any], *,
             native: bool = False) -> psycopg.Cursor[Any]:
    # native: $n placeholders, sent as they are (psycopg would parse a long %s query on every call)
    cursor = _native_cursor_class(conn.cursor_factory)(conn) if native else conn.cursor()  # type: ignore[arg-type]
    cursor.execute(sql, params)
    return cursor


def _single_row(cursor: psycopg.Cursor[Any], check: RowCheck) -> RowResult:
    rows = cursor.fetchall()
    if len(rows) > 1:
        return CheckerError(f"key {check.key} matched {len(rows)} rows (not a unique key)")
    return rows[0] if rows else None


def _hand_back(batch: _Batch, cursor: psycopg.Cursor[Any], checks: Sequence[RowCheck], found: dict[int, RowResult],
               unresolved: list[int], key_types: dict[BatchSelect, tuple[int, ...]]) -> None:
    """Give each row of a batched SELECT to the checks of its key; uncertain checks go to ``unresolved``.

    ``batch.groups`` holds the check indexes per distinct key, in the order the keys were bound.
    Certain: a row whose key values equal the check's bound values read as PostgreSQL reads
    them, and "no row" when every row returned is accounted for and the key has no text
    column. Anything else (a row no key accounts for, a key type not in _EXACT_KEY_TYPES,
    a bound value not readable, key types other than a VALUES list was typed for) is decided
    by the row SELECT. The key column types seen are remembered for the next batch.
    """
    plan, groups = batch.plan, batch.groups
    rows = cursor.fetchall()
    names = plan.key_names
    type_codes = {column.name: column.type_code for column in cursor.description or ()}
    oids = tuple([type_codes.get(name, -1) for name in names])
    known = [_EXACT_KEY_TYPES.get(oid) for oid in oids]
    readers = [reader for reader in known if reader is not None]
    if len(readers) == len(known):
        key_types[plan] = oids
    else:
        key_types.pop(plan, None)
    if batch.bound is not None and oids != batch.key_types:  # the table changed since: values typed wrongly
        unresolved.extend(index for indexes in groups for index in indexes)
        return
    if not rows:  # PostgreSQL matched none of the keys
        for indexes in groups:
            for index in indexes:
                found[index] = None
        return
    if len(readers) != len(known):
        unresolved.extend(index for indexes in groups for index in indexes)
        return
    python_types = tuple(reader[0] for reader in readers)
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:  # list comprehensions, not generators: this runs once per row of the batch
        values = tuple([row[name] for name in names])
        if tuple(map(type, values)) != python_types:
            unresolved.extend(index for indexes in groups for index in indexes)
            return
        by_key[values].append(row)
    bound: list[tuple[Any, ...] | None] = []
    if batch.bound is not None:
        bound.extend(batch.bound)
    else:
        read_bound = [reader[1] for reader in readers]
        for indexes in groups:
            read = tuple([read(value) for read, value in zip(read_bound, checks[indexes[0]].select_params)])
            bound.append(None if _NOT_READ in read else read)
    if len({key for key in bound if key is not None and key in by_key}) != len(by_key):
        unresolved.extend(index for indexes in groups for index in indexes)  # a row no key accounts for
        return
    absence_is_certain = str not in python_types
    for indexes, key in zip(groups, bound):
        matched = by_key.get(key) if key is not None else None
        if matched is None:
            if key is not None and absence_is_certain:
                for index in indexes:
                    found[index] = None
            else:
                unresolved.extend(indexes)
        elif len(matched) > 1:
            for index in indexes:
                found[index] = CheckerError(f"key {checks[index].key} matched {len(matched)} rows (not a unique key)")
        elif plan.added_names:
            for index in indexes:  # every check gets its own dict, without the columns added for this
                found[index] = {name: value for name, value in matched[0].items() if name not in plan.added_names}
        elif len(indexes) == 1:
            found[indexes[0]] = matched[0]  # one check of this key: the row itself, no copy
        else:
            for index in indexes:
                found[index] = dict(matched[0])


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


def _comparable(actual: Any, expected: Any, numbers_by_value: bool = True) -> tuple[Any, Any]:
    """(legacy, candidate) forms of one column for the rules engine: equal when they mean the same.

    JSON columns compare as JSON (text bound to a json/jsonb column is parsed), bytes as hex
    (a ``\\x...`` text is PostgreSQL's bytea form), timestamps as instants, numbers as decimals
    when the rules compare them by value (``numbers_by_value``, DEFAULT_WRITE_RULES).
    """
    if isinstance(actual, (dict, list)):
        if isinstance(expected, str):
            try:
                return json_value(actual), orjson.loads(expected)
            except orjson.JSONDecodeError:
                return json_value(actual), expected
        return json_value(actual), json_value(expected)
    if isinstance(actual, (bytes, bytearray, memoryview)):
        hex_text = bytes(actual).hex()
        if isinstance(expected, str) and expected[:2].lower() == "\\x":
            return ("\\x" + hex_text, "\\x" + expected[2:].lower())
        return hex_text, json_value(expected)
    if numbers_by_value and type(actual) is Decimal and type(expected) in (str, int, Decimal):
        number = _as_number(expected)
        if number is not None and number == actual:  # 100.5 == "100.5000": the same number
            return expected, expected
    if isinstance(actual, datetime) and isinstance(expected, datetime):
        same = (actual.tzinfo is None) == (expected.tzinfo is None) and actual == expected
        return (json_value(expected) if same else json_value(actual)), json_value(expected)
    if isinstance(expected, str):
        return _aligned(actual, expected), expected
    return json_value(actual), json_value(expected)


# Types whose equal values have one JSON form (Decimal("1.0") == Decimal("1.00") does not).
_SAME_FORM_TYPES: Final = frozenset({str, int, bool, float})


def _same_number(actual: Decimal, text: str) -> bool:
    """Whether a finite number written as ``text`` equals ``actual`` (what _comparable calls the same)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return False
    return number.is_finite() and number == actual


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
    found = column if column in actual else next((name for name in actual if name.lower() == column.lower()), None)
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
        if check.version_column and check.kind is StatementKind.UPDATE:
            # The row existed before the transaction (it was updated, not created) and its table
            # tracks changes: gone now means deleted after the commit, not written differently.
            return RowOutcome("stale", actual=None,
                              reason=f"the row is gone: deleted after the commit ({check.version_column} table)")
        difference = {"path": "$", "pattern": "$", "kind": DiffKind.EXTRA.value, "legacy": None,
                      "candidate": json_value(check.expected)}
        return _outcome(check, "mismatch", [(ROW_PATH, DiffKind.EXTRA.value)], [difference], None,
                        "the candidate wrote this row; the legacy has no row with this key")
    stale_reason = _moved_on(check, actual, committed_at)
    if stale_reason:
        return RowOutcome("stale", actual={k: json_value(v) for k, v in actual.items()}, reason=stale_reason)
    expected = check.expected
    rules = rules or _DEFAULT_RULES
    numbers_by_value = rules.rules.decimal_equivalence
    legacy_doc: dict[str, Any] = {}
    expected_doc: dict[str, Any] = {}
    by_lower: dict[str, str] | None = None
    for column, value in expected.items():
        name = column if column in actual else None
        if name is None:
            by_lower = by_lower or {key.lower(): key for key in actual}
            name = by_lower.get(column.lower())
        if name is None:
            expected_doc[column] = json_value(value)
            continue
        current = actual[name]
        current_type = type(current)
        # The common equal cases, settled as _comparable settles them without its chain of checks.
        if (current_type is type(value) and current_type in _SAME_FORM_TYPES and current == value) or (
                type(value) is str and (
                    (current_type is Decimal and numbers_by_value and _same_number(current, value))
                    or (current_type is uuid.UUID and str(current) == value))):
            legacy_doc[column] = expected_doc[column] = value
        else:
            legacy_doc[column], expected_doc[column] = _comparable(current, value, numbers_by_value)
    # Equal documents match under any rules; only differing ones need the rules engine.
    if len(legacy_doc) == len(expected_doc) and all(
            type(value) is type(expected_doc[column]) and value == expected_doc[column]
            for column, value in legacy_doc.items()):
        return RowOutcome("match", actual=None)
    found: list[Difference] = compare_documents(legacy_doc, expected_doc, rules)
    if not found:
        return RowOutcome("match", actual=None)
    shown = {k: json_value(v) for k, v in actual.items()}
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
