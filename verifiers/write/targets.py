"""Process-wide state of the write verifier per verified database.

One ``WriteTarget`` per VerifiedDatabase and process: its schema (introspected keys with the
admins' WriteTableRule overrides), the TemplateCache converting against that schema, the
compiled comparison rules per table, and one read-only verification connection (psycopg for
PostgreSQL, PyMySQL for MySQL/MariaDB: ``verifiers.write.mysqlread``). The schema
is reloaded every SCHEMA_REFRESH_S; the cache is kept while the schema stays the same, so
conversions happen once per template and process, not once per capture.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

import psycopg
import pymysql
from django.core.exceptions import ValidationError

from console.models import Migration
from verifiers.engines import MYSQL, EngineError, dialect_of
from verifiers.models import VerifiedDatabase, WriteTableRule
from verifiers.read.compare import CompiledRules, RulesError
from verifiers.write import mysqlread
from verifiers.write.checker import (
    CheckerError,
    RowResult,
    compile_write_rules,
    fetch_rows,
    open_verification_connection,
)
from verifiers.write.introspect import (
    TableOverride,
    TableOverrideError,
    build_schema,
    introspect_tables,
    override_from_dict,
)
from verifiers.write.sqlcheck import RowCheck, Schema, TemplateCache

# What the drivers of verified databases raise (a failed read, a lost connection).
DRIVER_ERRORS: Final = (psycopg.Error, pymysql.err.MySQLError)
SCHEMA_REFRESH_S: Final = 60.0
TEMPLATE_CACHE_SIZE: Final = 4096


class NoVerifiedDatabase(Exception):
    """No enabled VerifiedDatabase (or not the one a capture names) is configured."""


class UnknownVerifiedDatabase(NoVerifiedDatabase):
    """A capture names a verified database that does not exist (the message names the known ones)."""


class DisabledVerifiedDatabase(NoVerifiedDatabase):
    """A capture names a verified database that exists but is disabled."""


@dataclass
class WriteTarget:
    """Everything a process needs to convert and check writes for one verified database."""

    database_id: int
    name: str
    dsn: str
    statement_timeout_ms: int
    commit_delay_ms: int
    capture_ttl_s: int
    schema: Schema
    cache: TemplateCache
    rules_by_table: dict[str, CompiledRules]
    rule_problems: dict[str, str]
    loaded_at: float
    connection: Any = None  # psycopg or PyMySQL connection, by the DSN's engine
    lock: threading.Lock = field(default_factory=threading.Lock)
    # MySQL/MariaDB: JSON columns per table (their values come back as text).
    json_columns: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def is_mysql(self) -> bool:
        return dialect_of(self.dsn) == MYSQL

    def rules_for(self, table: str) -> CompiledRules:
        lowered = table.lower()
        rules = self.rules_by_table.get(lowered) or self.rules_by_table.get(lowered.rsplit(".", 1)[-1])
        return rules or compile_write_rules(None)

    def verification_connection(self) -> Any:
        """The cached read-only connection, reopened when closed or broken."""
        if self.is_mysql:
            if self.connection is None or not mysqlread.is_open(self.connection):
                self.connection = mysqlread.open_connection(self.dsn, statement_timeout_ms=self.statement_timeout_ms)
        elif self.connection is None or self.connection.closed or self.connection.broken:
            self.connection = open_verification_connection(self.dsn, statement_timeout_ms=self.statement_timeout_ms)
        return self.connection

    def fetch_rows(self, checks: list[RowCheck]) -> list[RowResult]:
        """The legacy rows of the checks, on this database's engine (hold ``lock``)."""
        connection = self.verification_connection()
        if self.is_mysql:
            return mysqlread.fetch_rows(connection, checks, json_columns=self.json_columns)
        return fetch_rows(connection, checks, statement_timeout_ms=self.statement_timeout_ms)

    def drop_connection(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except DRIVER_ERRORS:
                pass
        self.connection = None


_targets: dict[int, WriteTarget] = {}
_targets_lock = threading.Lock()


# Ingest looks the database up per capture; a few seconds of staleness saves a query each time.
DATABASE_LOOKUP_TTL_S: Final = 5.0
# Keyed by (migration id, name): two migrations may each have a database called "ledger".
_database_lookups: dict[tuple[int | None, str | None], tuple[float, VerifiedDatabase]] = {}


def default_database(name: str | None = None, *, max_age_s: float = 0.0,
                     migration_id: int | None = None) -> VerifiedDatabase:
    """The enabled VerifiedDatabase named ``name``, or the only/first enabled one, of migration
    ``migration_id`` (None: among all, as a console with one migration has them).

    ``max_age_s`` > 0 lets a hot path reuse a lookup that young (the ingest API does).
    """
    if max_age_s > 0:
        cached = _database_lookups.get((migration_id, name))
        if cached is not None and time.monotonic() - cached[0] < max_age_s:
            return cached[1]
    database = _lookup_database(name, migration_id)
    _database_lookups[(migration_id, name)] = (time.monotonic(), database)
    return database


def _lookup_database(name: str | None, migration_id: int | None) -> VerifiedDatabase:
    databases = VerifiedDatabase.objects.all()
    where = ""
    if migration_id is not None:
        databases = databases.filter(migration_id=migration_id)
        where = f" of migration {Migration.objects.filter(pk=migration_id).values_list('slug', flat=True).first()!r}"
    if not name:
        database = databases.filter(enabled=True).order_by("pk").first()
        if database is None:
            raise NoVerifiedDatabase(f"no enabled verified database{where} is configured (admin: Verified databases)")
        return database
    database = databases.filter(name=name).first()
    if database is None:
        known = list(databases.order_by("name").values_list("name", flat=True)[:50])
        raise UnknownVerifiedDatabase(
            f"unknown verified database {name!r}{where}; known: {', '.join(map(repr, known)) or 'none configured'}")
    if not database.enabled:
        raise DisabledVerifiedDatabase(f"verified database {name!r} is disabled (admin: Verified databases)")
    return database


def _overrides(migration_id: int | None) -> tuple[list[TableOverride], dict[str, dict[str, Any]], dict[str, str]]:
    """The write table rules of one migration (another migration's `transfers` is another table)."""
    overrides, rules, problems = [], {}, {}
    for rule in WriteTableRule.objects.filter(migration__in=[migration_id]).order_by("table"):
        try:
            overrides.append(override_from_dict(rule.table, rule.key_columns, rule.version_column,
                                                rule.excluded_columns))
        except TableOverrideError as error:
            problems[rule.table.lower()] = str(error)
            continue
        if rule.rules:
            rules[rule.table.lower()] = rule.rules
    return overrides, rules, problems


def _load(database: VerifiedDatabase, previous: WriteTarget | None) -> WriteTarget:
    try:
        dsn = database.resolved_dsn()
        dialect_of(dsn)
    except ValidationError as error:
        raise CheckerError(f"verified database {database.name}: {'; '.join(error.messages)}") from None
    except EngineError as error:
        raise CheckerError(f"verified database {database.name}: {error}") from None
    target = previous
    if target is None or target.dsn != dsn or target.statement_timeout_ms != database.statement_timeout_ms:
        if target is not None:
            target.drop_connection()
        target = WriteTarget(
            database_id=database.pk, name=database.name, dsn=dsn, statement_timeout_ms=database.statement_timeout_ms,
            commit_delay_ms=database.commit_delay_ms, capture_ttl_s=database.capture_ttl_s, schema={},
            cache=TemplateCache({}, maxsize=TEMPLATE_CACHE_SIZE), rules_by_table={}, rule_problems={}, loaded_at=0.0,
        )
    overrides, table_rules, problems = _overrides(database.migration_id)
    with target.lock:
        connection = target.verification_connection()
        try:
            facts = (mysqlread.introspect_tables(connection) if target.is_mysql
                     else introspect_tables(connection))
        except DRIVER_ERRORS as error:
            target.drop_connection()
            raise CheckerError(f"cannot read table metadata of {database.name}: {error}") from None
    default_schema = "public"
    if target.is_mysql:
        default_schema = mysqlread.database_name(connection)
        target.json_columns = mysqlread.json_columns(facts)
    schema = build_schema(facts, overrides, default_schema, zoneless_version_columns=not target.is_mysql)
    if dict(schema) != dict(target.schema):
        target.cache = TemplateCache(schema, maxsize=TEMPLATE_CACHE_SIZE)
        target.schema = schema
    compiled: dict[str, CompiledRules] = {}
    for table, rules in table_rules.items():
        try:
            compiled[table] = compile_write_rules(rules)
        except RulesError as error:
            problems[table] = f"comparison rules of {table}: {error}"
    target.name = database.name
    target.commit_delay_ms = database.commit_delay_ms
    target.capture_ttl_s = database.capture_ttl_s
    target.rules_by_table = compiled
    target.rule_problems = problems
    target.loaded_at = time.monotonic()
    return target


def target_for(database: VerifiedDatabase, *, max_age_s: float = SCHEMA_REFRESH_S) -> WriteTarget:
    """The process's WriteTarget for ``database``, reloaded when older than ``max_age_s``.

    Raises CheckerError when the database or its metadata cannot be read.
    """
    with _targets_lock:
        current = _targets.get(database.pk)
    if current is not None and time.monotonic() - current.loaded_at < max_age_s and current.dsn:
        return current
    target = _load(database, current)
    with _targets_lock:
        _targets[database.pk] = target
    return target


def forget_targets() -> None:
    """Drop every cached target and connection (tests; a changed rule applies at once)."""
    with _targets_lock:
        targets = list(_targets.values())
        _targets.clear()
        _database_lookups.clear()
    for target in targets:
        target.drop_connection()
