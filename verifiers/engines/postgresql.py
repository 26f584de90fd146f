"""PostgreSQL behind the engine seam (psycopg 3): see verifiers.engines for the contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from verifiers.engines.dsn import EngineError

DIALECT = "postgres"
NAME = "PostgreSQL"
DEFAULT_PORT = 5432

COLUMNS_QUERY = """
    SELECT c.table_schema, c.table_name, c.column_name, c.data_type
    FROM information_schema.columns AS c
    WHERE c.table_schema = ANY (%(schemas)s) AND c.table_name = ANY (%(tables)s)
"""


def host_port(dsn: str) -> str:
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparseable connection string)"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port') or DEFAULT_PORT}"


def connect(
    dsn: str,
    *,
    statement_timeout_s: float,
    connect_timeout_s: int = 5,
    application_name: str = "mhc",
    settings: Mapping[str, str] | None = None,
) -> psycopg.Connection[Any]:
    """Autocommit, read-only by default (``default_transaction_read_only``), with a statement
    timeout; ``settings`` adds further GUCs. Transactions are opened explicitly."""
    try:
        conn = psycopg.connect(
            dsn, autocommit=True, application_name=application_name,
            connect_timeout=connect_timeout_s,
        )
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"cannot reach the database at {host_port(dsn)}: {reason}") from None
    values = {
        "statement_timeout": f"{int(statement_timeout_s * 1000)}ms",
        "default_transaction_read_only": "on",
        **(settings or {}),
    }
    # One round trip for all settings; set_config takes values as parameters (SET cannot).
    conn.execute(
        sql.SQL("SELECT {}").format(
            sql.SQL(", ").join(sql.SQL("set_config(%s, %s, false)") for _ in values)
        ),
        [part for item in values.items() for part in item],
    )
    return conn


def quote(name: str) -> str:
    """``schema.table`` -> "schema"."table" (each part double-quoted)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def columns(conn: psycopg.Connection[Any], tables: Iterable[str]) -> dict[str, dict[str, str]]:
    """{table as named: {column: data_type}} for the tables that exist.

    An unqualified table name resolves along the search path, as PostgreSQL would.
    """
    row = conn.execute("SELECT current_schemas(false)").fetchone()
    search_path = list(row[0]) if row else []
    wanted: dict[str, tuple[list[str], str]] = {}
    for table in tables:
        schema, _, name = table.rpartition(".")
        wanted[table] = ([schema] if schema else search_path, name)
    schemas = sorted({s for schemas, _ in wanted.values() for s in schemas})
    names = sorted({name for _, name in wanted.values()})
    found: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in conn.execute(
        COLUMNS_QUERY, {"schemas": schemas, "tables": names}
    ):
        found.setdefault((schema, table), {})[column] = data_type
    result: dict[str, dict[str, str]] = {}
    for table, (schemas_in_order, name) in wanted.items():
        for schema in schemas_in_order:
            if (schema, name) in found:
                result[table] = found[(schema, name)]
                break
    return result


def begin_snapshot(conn: psycopg.Connection[Any]) -> None:
    """A read-only snapshot transaction (all statements see one moment)."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")


def end_transaction(conn: psycopg.Connection[Any]) -> None:
    conn.execute("COMMIT")


def is_read_only(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT current_setting('transaction_read_only')").fetchone()
    return bool(row and row[0] == "on")
