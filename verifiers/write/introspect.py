"""Table metadata of the verified (legacy) database, read from information_schema with psycopg.

No Django here. ``introspect_tables`` reads primary keys and column types once; ``build_schema``
turns them, with the admins' per-table overrides, into the ``sqlcheck.Schema`` the template
cache converts against. A version column is guessed from common names (``version``,
``row_version``, ``lock_version``; else ``updated_at``/``modified_at`` timestamps) unless an
override names one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg
from psycopg.rows import tuple_row

from verifiers.write.sqlcheck import Schema, TableMeta

INTEGER_VERSION_NAMES: Final = ("version", "row_version", "lock_version")
TIMESTAMP_VERSION_NAMES: Final = ("updated_at", "modified_at", "last_modified")
_INTEGER_TYPES: Final = frozenset({"smallint", "integer", "bigint", "numeric"})
_TIMESTAMP_TYPES: Final = frozenset({"timestamp with time zone", "timestamp without time zone"})


class TableOverrideError(ValueError):
    """A per-table override is malformed; the message names the table and the field."""


@dataclass(frozen=True, slots=True)
class TableFacts:
    """What the database says about one table."""

    schema: str
    name: str
    primary_key: tuple[str, ...]
    column_types: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass(frozen=True, slots=True)
class TableOverride:
    """An admin's override (verifiers.WriteTableRule without Django)."""

    table: str
    key_columns: tuple[str, ...] = ()
    version_column: str = ""
    excluded_columns: frozenset[str] = frozenset()


_COLUMNS_SQL: Final = """
SELECT c.table_schema, c.table_name, c.column_name, c.data_type
FROM information_schema.columns c
JOIN information_schema.tables t
  ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg\\_%%'
ORDER BY c.table_schema, c.table_name, c.ordinal_position
"""
# pg_catalog, not information_schema.table_constraints: the latter hides constraints of tables
# the role may only SELECT from, which is exactly the verification role.
_PRIMARY_KEYS_SQL: Final = """
SELECT n.nspname, c.relname, a.attname
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'
ORDER BY n.nspname, c.relname, k.position
"""


def introspect_tables(conn: psycopg.Connection[Any]) -> dict[str, TableFacts]:
    """schema.table -> TableFacts for every base table the connection can see.

    Only reads information_schema (SELECTs), so it runs on the read-only verification
    connection; information_schema lists only tables the role has a privilege on.
    """
    cursor = conn.cursor(row_factory=tuple_row)  # whatever row factory the connection has
    columns: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, data_type in cursor.execute(_COLUMNS_SQL).fetchall():
        columns.setdefault((schema, table), {})[column] = data_type
    keys: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in cursor.execute(_PRIMARY_KEYS_SQL).fetchall():
        keys.setdefault((schema, table), []).append(column)
    return {
        f"{schema}.{table}": TableFacts(schema, table, tuple(keys.get((schema, table), ())), types)
        for (schema, table), types in columns.items()
    }


def override_from_dict(table: str, key_columns: Any, version_column: Any, excluded_columns: Any) -> TableOverride:
    """Validate the JSON fields of a WriteTableRule into a TableOverride."""
    if not isinstance(table, str) or not table.strip():
        raise TableOverrideError(f"write table rule has no table name: {table!r}")
    for label, value in (("key_columns", key_columns), ("excluded_columns", excluded_columns)):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in value):
            raise TableOverrideError(f"table {table!r}: {label} must be a list of column names, got {value!r}")
    if not isinstance(version_column, str):
        raise TableOverrideError(f"table {table!r}: version_column must be a column name, got {version_column!r}")
    return TableOverride(
        table=table.strip(),
        key_columns=tuple(c.strip() for c in key_columns),
        version_column=version_column.strip(),
        excluded_columns=frozenset(c.strip().lower() for c in excluded_columns),
    )


def guess_version_column(column_types: Mapping[str, str], *, zoneless_timestamps: bool = True) -> str | None:
    """An integer version column by name, else an updated-at timestamp column, else None.

    ``zoneless_timestamps=False`` (MySQL) never guesses a timestamp without time zone: a DATETIME
    ``updated_at`` is a wall time of the application's zone, so read as UTC against the commit
    instant it would call every row of a zone east of UTC stale. A table rule may still name it.
    """
    for name in INTEGER_VERSION_NAMES:
        if column_types.get(name) in _INTEGER_TYPES:
            return name
    timestamp_types = _TIMESTAMP_TYPES if zoneless_timestamps else {"timestamp with time zone"}
    for name in TIMESTAMP_VERSION_NAMES:
        if column_types.get(name) in timestamp_types:
            return name
    return None


def _matching_facts(override_table: str, facts: Mapping[str, TableFacts],
                    default_schema: str = "public") -> TableFacts | None:
    lowered = override_table.lower()
    if "." in lowered:
        return next((f for name, f in facts.items() if name.lower() == lowered), None)
    bare = [f for f in facts.values() if f.name.lower() == lowered]
    public = [f for f in bare if f.schema == default_schema]
    candidates = public or bare
    return candidates[0] if candidates else None


def build_schema(facts: Mapping[str, TableFacts], overrides: Iterable[TableOverride] = (),
                 default_schema: str = "public", *, zoneless_version_columns: bool = True) -> Schema:
    """The sqlcheck schema: introspected keys and version columns, overrides applied on top.

    Tables in ``default_schema`` (PostgreSQL's ``public``, a MySQL DSN's database) are listed
    under their bare name too (statements rarely qualify them); tables without a primary key and without an override key are left out, so
    statements on them become "unverifiable: no key metadata".
    """
    by_name: dict[str, TableMeta] = {}
    override_by_table: dict[str, TableOverride] = {}
    for override in overrides:
        matched = _matching_facts(override.table, facts, default_schema)
        name = matched.qualified_name if matched else override.table
        override_by_table[name.lower()] = override
    for qualified, table in facts.items():
        table_override = override_by_table.pop(qualified.lower(), None)
        meta = _table_meta(table.primary_key, table.column_types, table_override, zoneless_version_columns)
        if meta is None:
            continue
        by_name[qualified] = meta
        if table.schema == default_schema:
            by_name[table.name] = meta
    for name, override in override_by_table.items():  # tables we cannot see: the override alone
        meta = _table_meta((), {}, override)
        if meta is not None:
            by_name[name] = meta
    return by_name


def _table_meta(primary_key: tuple[str, ...], column_types: Mapping[str, str],
                override: TableOverride | None, zoneless_version_columns: bool = True) -> TableMeta | None:
    key = (override.key_columns if override and override.key_columns else primary_key)
    if not key:
        return None
    version = (override.version_column if override and override.version_column else None) or guess_version_column(
        column_types, zoneless_timestamps=zoneless_version_columns
    )
    excluded = override.excluded_columns if override else frozenset()
    return TableMeta(key_columns=tuple(key), version_column=version, excluded_columns=frozenset(excluded))
