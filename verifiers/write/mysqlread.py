"""The write checker's reads on a MySQL 8 / MariaDB 10.11+ verified database (PyMySQL).

No Django here. The same safety as the PostgreSQL reads in ``verifiers.write.checker``:

* the connection comes from the engine seam (``verifiers.engines.mysql.connect``): session
  ``TRANSACTION READ ONLY``, a statement time limit (``max_statement_time`` on MariaDB,
  ``max_execution_time`` on MySQL, told apart by the server's version), zone ``+00:00``;
* every batch runs in ``START TRANSACTION READ ONLY`` ... ``COMMIT``;
* the only statements sent are the checks' generated SELECTs: their PostgreSQL form (what
  sqlcheck renders and the capture store keeps) must match ``checker.ROW_SELECT_SHAPE``, is
  re-rendered here with back-quoted identifiers, and the MySQL text must match its own strict
  pattern; key values are always bound (``%s``, PyMySQL escapes them).

Values are handed to the judge in the forms the PostgreSQL driver gives, so one judge serves
both: ``TIMESTAMP`` values (read in UTC) become aware UTC datetimes, JSON columns (MySQL's JSON
type, MariaDB's ``json_valid``-checked LONGTEXT) are parsed, ``TIME`` values (timedelta) become
times, ``BIT`` values become integers, and a ``TINYINT(1)`` or ``BIT(1)`` holding 0/1 becomes a
bool where the capture expects a bool (MySQL's BOOLEAN is TINYINT(1), Hibernate's is BIT(1)).
``DATETIME`` stays naive: a wall time, compared with naive values.

Keys: MySQL compares text case- and trailing-space-insensitively under its usual collations, and
a number column with a text loosely. A row is the row of a check only if its key values are the
bound values exactly; otherwise (``'abc'`` found ``'ABC'``) the legacy has no row with the
candidate's key, except for a deleted row, which the server would have deleted by that key:
there the row found proves the legacy kept it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

import orjson
import pymysql
from pymysql.constants import FIELD_TYPE

from verifiers.engines import mysql as engine
from verifiers.write.checker import (
    _IDENT,
    APPLICATION_NAME,
    CONNECT_TIMEOUT_S,
    MAX_KEYS_PER_SELECT,
    ROW_SELECT_SHAPE,
    CheckerError,
    RowResult,
    _as_number,
    _bound_integer,
    _param_key,
    _unquote,
    executable_select,
    quoted_name_patterns,
)
from verifiers.write.introspect import TableFacts
from verifiers.write.sqlcheck import Expectation, RowCheck

_MY_IDENT, _MY_COLUMNS, _MY_TABLE = quoted_name_patterns("`")
_MY_KEY_TUPLE = r"\(%s(?:, %s)*\)"
# The only SQL text sent besides transaction control: a row SELECT, or the same for many keys.
MYSQL_SELECT_SHAPE: Final = re.compile(
    rf"SELECT {_MY_COLUMNS} FROM {_MY_TABLE} WHERE (?:{_MY_IDENT} = %s(?: AND {_MY_IDENT} = %s)*"
    rf"|\({_MY_COLUMNS}\) IN \({_MY_KEY_TUPLE}(?:, {_MY_KEY_TUPLE})*\))\Z"
)
_JSON_TYPE: Final = 245  # MySQL 8's JSON (PyMySQL's FIELD_TYPE.JSON)


def open_connection(dsn: str, *, statement_timeout_ms: int) -> pymysql.connections.Connection:
    """The read-only verification session (CheckerError when the server cannot be reached)."""
    try:
        return engine.connect(dsn, statement_timeout_s=statement_timeout_ms / 1000,
                              connect_timeout_s=CONNECT_TIMEOUT_S, application_name=APPLICATION_NAME)
    except engine.EngineError as error:
        raise CheckerError(f"cannot connect to the verified database: {error}") from None


def is_open(conn: pymysql.connections.Connection) -> bool:
    return bool(conn.open)


def database_name(conn: pymysql.connections.Connection) -> str:
    """The DSN's database: unqualified table names in captures live there."""
    database = conn.db
    return database.decode() if isinstance(database, bytes) else str(database)


def introspect_tables(conn: pymysql.connections.Connection) -> dict[str, TableFacts]:
    """db.table -> TableFacts for every base table of the connection's database."""
    facts = {}
    for qualified, (key, types) in engine.base_tables(conn).items():
        schema, _, name = qualified.rpartition(".")
        facts[qualified] = TableFacts(schema, name, key, types)
    return facts


def json_columns(facts: Mapping[str, TableFacts]) -> dict[str, frozenset[str]]:
    """Table (qualified and bare, lower case) -> its JSON columns (lower case)."""
    found: dict[str, frozenset[str]] = {}
    for table in facts.values():
        columns = frozenset(c.lower() for c, kind in table.column_types.items() if kind == "json")
        if columns:
            found[table.qualified_name.lower()] = found[table.name.lower()] = columns
    return found


def _backquoted(quoted: str) -> str:
    return "`" + _unquote(quoted).replace("`", "``").replace("%", "%%") + "`"


@lru_cache(maxsize=4096)
def _mysql_parts(executable_sql: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """('SELECT <columns> FROM <table>', back-quoted key columns, key names) of a row SELECT
    in its PostgreSQL form (CheckerError unless it has the generated shape)."""
    match = ROW_SELECT_SHAPE.match(executable_sql)
    if match is None:
        raise CheckerError("refusing to run SQL that is not a generated key SELECT")
    columns = ", ".join(_backquoted(c) for c in re.findall(_IDENT, match.group("columns")))
    table = ".".join(_backquoted(part) for part in re.findall(_IDENT, match.group("table")))
    keys = re.findall(_IDENT, match.group("where"))
    return (f"SELECT {columns} FROM {table}", tuple(_backquoted(key) for key in keys),
            tuple(_unquote(key) for key in keys))


@lru_cache(maxsize=4096)
def mysql_select(executable_sql: str) -> tuple[str, tuple[str, ...]]:
    """(MySQL text, key column names) of an executable row SELECT in its PostgreSQL form."""
    head, quoted_keys, keys = _mysql_parts(executable_sql)
    text = f"{head} WHERE " + " AND ".join(f"{key} = %s" for key in quoted_keys)
    _guard(text, len(keys))
    return text, keys


@lru_cache(maxsize=1024)
def mysql_batch_select(executable_sql: str, key_count: int) -> str:
    """The row SELECT for ``key_count`` keys at once: ``WHERE (k1, k2) IN ((%s, %s), ...)``.

    Rows are handed back by their key columns, which every generated SELECT selects first.
    """
    if not 0 < key_count <= MAX_KEYS_PER_SELECT:
        raise CheckerError(f"a batched SELECT reads 1 to {MAX_KEYS_PER_SELECT} keys, not {key_count}")
    head, quoted_keys, keys = _mysql_parts(executable_sql)
    tuple_text = "(" + ", ".join(["%s"] * len(keys)) + ")"
    batch = f"{head} WHERE ({', '.join(quoted_keys)}) IN (" + ", ".join([tuple_text] * key_count) + ")"
    _guard(batch, key_count * len(keys))
    return batch


def _guard(text: str, placeholders: int) -> None:
    if MYSQL_SELECT_SHAPE.match(text) is None or text.replace("%%", "").count("%") != placeholders:
        raise CheckerError("refusing to run a SELECT that is not of the generated shape")


def fetch_rows(conn: pymysql.connections.Connection, checks: Sequence[RowCheck], *,
               json_columns: Mapping[str, frozenset[str]] | None = None) -> list[RowResult]:
    """The current legacy row of each check (None when absent, CheckerError when it failed).

    One READ ONLY transaction per batch. Checks sharing a SELECT whose keys are integers or
    texts are read by batched SELECTs; the rest, and any key a batch cannot hand back with
    certainty, by their row SELECT. pymysql's OperationalError (connection lost, time limit) goes to the
    caller, which reconnects and retries; any other failure of a batch runs each check alone.
    """
    results: list[RowResult] = [None] * len(checks)
    prepared: list[tuple[int, str]] = []
    for index, check in enumerate(checks):
        try:
            sql = executable_select(check)
            mysql_select(sql)
        except CheckerError as error:
            results[index] = error
            continue
        prepared.append((index, sql))
    if not prepared:
        return results
    reader = _Reader(conn, checks, json_columns or {})
    try:
        reader.run(prepared, results)
    except pymysql.err.OperationalError:
        raise
    except pymysql.err.MySQLError:
        for item in prepared:
            try:
                reader.run([item], results)
            except pymysql.err.OperationalError:
                raise
            except pymysql.err.MySQLError as error:
                results[item[0]] = CheckerError(f"SELECT failed: {type(error).__name__}: {error.args[-1]}")
    return results


class _Reader:
    def __init__(self, conn: pymysql.connections.Connection, checks: Sequence[RowCheck],
                 json_columns: Mapping[str, frozenset[str]]) -> None:
        self.conn, self.checks, self.json_columns = conn, checks, json_columns

    def run(self, prepared: list[tuple[int, str]], results: list[RowResult]) -> None:
        """One READ ONLY transaction for ``prepared`` (check index, executable SELECT)."""
        by_sql: dict[str, dict[tuple[Any, ...], list[int]]] = defaultdict(dict)
        singles: list[tuple[int, str]] = []
        for index, sql in prepared:
            key = _param_key(self.checks[index].select_params)
            if key is None:
                singles.append((index, sql))
            else:
                by_sql[sql].setdefault(key, []).append(index)
        found: dict[int, RowResult] = {}
        with self.conn.cursor() as cursor:
            cursor.execute("START TRANSACTION READ ONLY")
            try:
                for sql, by_key in by_sql.items():
                    singles.extend((index, sql) for index in self._batched(cursor, sql, list(by_key.values()), found))
                for index, sql in singles:
                    found[index] = self._row(cursor, sql, index)
                cursor.execute("COMMIT")
            except BaseException:
                if self.conn.open:
                    try:
                        self.conn.rollback()
                    except pymysql.err.MySQLError:
                        pass
                raise
        for index, value in found.items():
            results[index] = value

    def _batched(self, cursor: Any, sql: str, groups: list[list[int]], found: dict[int, RowResult]) -> list[int]:
        """Read the keys of integer and text values by batched SELECTs; the check indexes left for
        their row SELECT.

        ``groups`` holds the check indexes per distinct bound key. A check gets the row whose key
        is exactly its bound key (an integer text also as the integer). A check without one is
        certainly absent only if every row returned is some check's exact key and it is not a
        deleted row (a deleted ``'abc'`` would be ``'ABC'`` under the collation): else the row
        SELECT decides, as it does for any chunk with a row of another key type or a repeated key.
        """
        singles: list[int] = []
        keyed: list[tuple[list[tuple[Any, ...]], list[int]]] = []
        for indexes in groups:
            forms = _key_forms(self.checks[indexes[0]].select_params)
            if forms:
                keyed.append((forms, indexes))
            else:
                singles.extend(indexes)
        if len(keyed) < 2:
            return singles + [index for _, indexes in keyed for index in indexes]
        _, key_names = mysql_select(sql)
        for start in range(0, len(keyed), MAX_KEYS_PER_SELECT):
            chunk = keyed[start:start + MAX_KEYS_PER_SELECT]
            cursor.execute(mysql_batch_select(sql, len(chunk)),
                           [value for _, indexes in chunk for value in self.checks[indexes[0]].select_params])
            by_row_key: dict[tuple[Any, ...], dict[str, Any]] | None = {}
            for row in self._read(cursor):
                values = tuple(row[name] for name in key_names)
                if by_row_key is None or any(type(v) not in (int, str) for v in values) or values in by_row_key:
                    by_row_key = None
                    continue
                by_row_key[values] = row
            if by_row_key is None:
                singles.extend(index for _, indexes in chunk for index in indexes)
                continue
            accounted: set[tuple[Any, ...]] = set()
            unmatched: list[int] = []
            for forms, indexes in chunk:
                matches = [form for form in forms if form in by_row_key]
                if len(matches) == 1:
                    accounted.add(matches[0])
                    for index in indexes:
                        found[index] = self._for_check(index, by_row_key[matches[0]])
                else:
                    unmatched.extend(indexes)
            every_row_accounted = len(accounted) == len(by_row_key)
            for index in unmatched:
                if every_row_accounted and self.checks[index].expected is not Expectation.ROW_ABSENT:
                    found[index] = None
                else:
                    singles.append(index)
        return singles

    def _row(self, cursor: Any, sql: str, index: int) -> RowResult:
        check = self.checks[index]
        text, key_names = mysql_select(sql)
        cursor.execute(text, check.select_params)
        rows = self._read(cursor)
        if len(rows) > 1:
            return CheckerError(f"key {check.key} matched {len(rows)} rows (not a unique key)")
        if not rows:
            return None
        row = rows[0]
        if check.expected is not Expectation.ROW_ABSENT and not all(
                _same_key(row[name], value) for name, value in zip(key_names, check.select_params)):
            return None  # the server's collation found another spelling of the key
        return self._for_check(index, row)

    def _read(self, cursor: Any) -> list[dict[str, Any]]:
        """Rows as dicts, TIMESTAMP aware (UTC), TIME as a time, BIT as an integer (see module doc)."""
        description = cursor.description or ()
        names = [column[0] for column in description]
        kinds = [column[1] for column in description]
        rows = []
        for raw in cursor.fetchall():
            row = {}
            for name, kind, value in zip(names, kinds, raw):
                if kind == FIELD_TYPE.TIMESTAMP and isinstance(value, datetime):
                    value = value.replace(tzinfo=timezone.utc)
                elif kind == FIELD_TYPE.TIME and isinstance(value, timedelta) and timedelta(0) <= value < timedelta(1):
                    value = (datetime.min + value).time()
                elif kind == FIELD_TYPE.BIT and isinstance(value, bytes):
                    value = int.from_bytes(value, "big")  # BIT(1) is how Hibernate stores a boolean
                row[name] = value
            rows.append(row)
        return rows

    def _for_check(self, index: int, row: dict[str, Any]) -> dict[str, Any]:
        """The row as this check should see it: JSON parsed, TINYINT(1) 0/1 as bool where expected."""
        check = self.checks[index]
        json_here = self.json_columns.get(check.table.lower()) or self.json_columns.get(
            check.table.lower().rsplit(".", 1)[-1], frozenset())
        expected = check.expected if isinstance(check.expected, dict) else {}
        shaped = dict(row)
        for name, value in row.items():
            if isinstance(value, str) and name.lower() in json_here:
                try:
                    shaped[name] = orjson.loads(value)
                except orjson.JSONDecodeError:
                    pass
            elif type(value) is int and value in (0, 1):
                wanted = next((v for c, v in expected.items() if c.lower() == name.lower()), None)
                if type(wanted) is bool:
                    shaped[name] = bool(value)
        return shaped


def _key_forms(params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """The exact key values a row may carry for these bound values: an int as itself, a text as
    itself and, if it is an integer text, as that integer (an integer column reads it so).
    [] when a value is of another type (its row SELECT decides)."""
    forms: list[tuple[Any, ...]] = [()]
    for value in params:
        options: list[Any]
        if type(value) is int:
            options = [value]
        elif type(value) is str:
            number = _bound_integer(value)
            options = [value, number] if type(number) is int else [value]
        else:
            return []
        forms = [form + (option,) for form in forms for option in options]
    return forms


def _same_key(found: Any, bound: Any) -> bool:
    """Is the key value found the bound value exactly (not only equal under MySQL's rules)?"""
    if isinstance(found, str):
        return isinstance(bound, str) and found == bound
    if isinstance(found, (bytes, bytearray)):
        return isinstance(bound, (bytes, bytearray)) and bytes(found) == bytes(bound)
    if isinstance(found, (int, Decimal)) and not isinstance(found, bool):
        number = _as_number(bound)
        return number is not None and number == found
    if isinstance(found, (date, time)) and isinstance(bound, str):
        try:
            parsed = type(found).fromisoformat(bound.strip())
        except ValueError:
            return False
        return bool(parsed == found)
    return True  # other types (dates bound as dates ...): the server's equality is exact
