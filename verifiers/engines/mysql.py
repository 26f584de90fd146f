"""MySQL 8 and MariaDB 10.11+ behind the engine seam (PyMySQL): see verifiers.engines.

Sessions are read-only (``SET SESSION TRANSACTION READ ONLY``), carry a statement time limit
(``max_execution_time`` in ms on MySQL, ``max_statement_time`` in s on MariaDB: the server is
detected from ``VERSION()``) and run in UTC (``time_zone = '+00:00'``) so ``TIMESTAMP`` columns,
which MySQL converts by the session zone, compare with UTC values. ``DATETIME`` columns have
no zone: their values are wall times of whatever zone the application wrote them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql

from verifiers.engines.dsn import EngineError

DIALECT = "mysql"
NAME = "MySQL/MariaDB"
DEFAULT_PORT = 3306

# information_schema.columns.data_type (MySQL spelling) -> PostgreSQL's spelling, so the type
# rules of the mapping checks and of the write introspection hold for both engines.
_TYPE_NAMES = {
    "tinyint": "smallint",
    "smallint": "smallint",
    "mediumint": "integer",
    "int": "integer",
    "integer": "integer",
    "bigint": "bigint",
    "decimal": "numeric",
    "numeric": "numeric",
    "float": "real",
    "double": "double precision",
    "char": "character",
    "varchar": "character varying",
    "tinytext": "text",
    "text": "text",
    "mediumtext": "text",
    "longtext": "text",
    "datetime": "timestamp without time zone",
    # TIMESTAMP stores an instant (UTC) and converts by the session zone: an aware type.
    "timestamp": "timestamp with time zone",
    "date": "date",
    "time": "time without time zone",
    "json": "json",
    "uuid": "uuid",
}


@dataclass(frozen=True)
class MysqlDsn:
    host: str
    port: int
    user: str
    password: str
    database: str
    options: dict[str, str]


def parse_dsn(dsn: str) -> MysqlDsn:
    """``mysql://user:pass@host:port/db`` (``mariadb://`` too); the password may only come
    from an environment-variable DSN (the model refuses one stored in the database)."""
    parts = urlsplit(dsn)
    database = unquote(parts.path.lstrip("/"))
    if not database:
        raise EngineError(f"the MySQL DSN names no database: {redact(dsn)}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise EngineError(f"the MySQL DSN has a bad port: {redact(dsn)}") from None
    return MysqlDsn(
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        database=database,
        options={k: v[-1] for k, v in parse_qs(parts.query).items()},
    )


def redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def host_port(dsn: str) -> str:
    try:
        parsed = parse_dsn(dsn)
    except EngineError:
        return "(unparseable connection string)"
    return f"{parsed.host}:{parsed.port}"


def is_mariadb(conn: pymysql.connections.Connection) -> bool:
    return "mariadb" in conn.get_server_info().lower()


def connect(
    dsn: str,
    *,
    statement_timeout_s: float,
    connect_timeout_s: int = 5,
    application_name: str = "mhc",
    time_zone: str = "+00:00",
) -> pymysql.connections.Connection:
    """Autocommit, read-only session with a statement time limit, session zone ``time_zone``
    (a MySQL offset such as '+00:00', whose sign means what it says)."""
    parsed = parse_dsn(dsn)
    try:
        conn = pymysql.connect(
            host=parsed.host, port=parsed.port, user=parsed.user, password=parsed.password,
            database=parsed.database, autocommit=True, connect_timeout=connect_timeout_s,
            charset="utf8mb4", program_name=application_name,
            # A read that outlives the statement limit by far means a dead server.
            read_timeout=int(statement_timeout_s) + 60,
        )
    except pymysql.err.MySQLError as exc:
        reason = exc.args[1] if len(exc.args) > 1 else str(exc)
        raise EngineError(f"cannot reach the database at {host_port(dsn)}: {reason}") from None
    limit_sql = (
        "SET SESSION max_statement_time = %s" if is_mariadb(conn)
        else "SET SESSION max_execution_time = %s"
    )
    limit = statement_timeout_s if is_mariadb(conn) else int(statement_timeout_s * 1000)
    with conn.cursor() as cursor:
        cursor.execute(limit_sql, (limit,))
        cursor.execute("SET SESSION time_zone = %s", (time_zone,))
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("SET SESSION TRANSACTION READ ONLY")
    return conn


def quote(name: str) -> str:
    """``db.table`` -> `db`.`table` (each part back-quoted)."""
    return ".".join("`" + part.replace("`", "``") + "`" for part in name.split("."))


def _schema_and_name(conn: pymysql.connections.Connection, table: str) -> tuple[str, str]:
    schema, _, name = table.rpartition(".")
    if not schema:
        database = conn.db
        schema = database.decode() if isinstance(database, bytes) else str(database)
    return schema, name


def columns(
    conn: pymysql.connections.Connection, tables: Iterable[str]
) -> dict[str, dict[str, str]]:
    """{table as named: {column: data_type}} for the tables that exist; an unqualified name is
    in the connection's database. Types in PostgreSQL's spelling (``_TYPE_NAMES``)."""
    result: dict[str, dict[str, str]] = {}
    with conn.cursor() as cursor:
        for table in tables:
            schema, name = _schema_and_name(conn, table)
            cursor.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, name),
            )
            rows = cursor.fetchall()
            if rows:
                result[table] = {
                    column: _TYPE_NAMES.get(str(data_type).lower(), str(data_type).lower())
                    for column, data_type in rows
                }
    return result


def base_tables(
    conn: pymysql.connections.Connection,
) -> dict[str, tuple[tuple[str, ...], dict[str, str]]]:
    """``{"db.table": (primary key columns, {column: data_type})}`` for every base table of the
    connection's database (the write checker's metadata), types as ``columns`` spells them.

    MariaDB's JSON is a LONGTEXT with a ``CHECK (json_valid(col))``: such columns say ``json``.
    """
    schema = _schema_and_name(conn, "x")[0]
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
            "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
            "AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
            "WHERE c.table_schema = %s ORDER BY c.table_name, c.ordinal_position",
            (schema,),
        )
        column_rows = cursor.fetchall()
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.key_column_usage "
            "WHERE table_schema = %s AND constraint_name = 'PRIMARY' "
            "ORDER BY table_name, ordinal_position",
            (schema,),
        )
        key_rows = cursor.fetchall()
        json_columns: set[tuple[str, str]] = set()
        if is_mariadb(conn):
            cursor.execute(
                "SELECT table_name, constraint_name FROM information_schema.check_constraints "
                "WHERE constraint_schema = %s "
                "AND check_clause = CONCAT('json_valid(`', constraint_name, '`)')",
                (schema,),
            )
            json_columns = {(str(table), str(column)) for table, column in cursor.fetchall()}
    tables: dict[str, tuple[list[str], dict[str, str]]] = {}
    for table, column, data_type in column_rows:
        spelt = "json" if (table, column) in json_columns else _TYPE_NAMES.get(
            str(data_type).lower(), str(data_type).lower())
        tables.setdefault(table, ([], {}))[1][column] = spelt
    for table, column in key_rows:
        if table in tables:
            tables[table][0].append(column)
    return {f"{schema}.{table}": (tuple(key), types) for table, (key, types) in tables.items()}


def primary_key(conn: pymysql.connections.Connection, table: str) -> tuple[str, ...]:
    schema, name = _schema_and_name(conn, table)
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.key_column_usage "
            "WHERE table_schema = %s AND table_name = %s AND constraint_name = 'PRIMARY' "
            "ORDER BY ordinal_position",
            (schema, name),
        )
        return tuple(row[0] for row in cursor.fetchall())


def begin_snapshot(conn: pymysql.connections.Connection) -> None:
    """A read-only InnoDB snapshot taken now (not at the first read, as plain BEGIN would)."""
    with conn.cursor() as cursor:
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")


def end_transaction(conn: pymysql.connections.Connection) -> None:
    conn.commit()


def is_read_only(conn: pymysql.connections.Connection) -> bool:
    # MySQL 8 and MariaDB 11.1+ say transaction_read_only; MariaDB 10.11 only tx_read_only.
    variable = "tx_read_only" if is_mariadb(conn) else "transaction_read_only"
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT @@session.{variable}")
        row = cursor.fetchone()
    return bool(row and int(row[0]) == 1)


def fetchall(conn: Any, query: str, params: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall())
