"""Write-verifier SQL conversion: captured DML -> SELECTs that read the legacy rows back.

The candidate ledger runs a write in shadow mode and sends us each statement with its
parameters plus after-images of the rows it touched.  This module turns one captured
INSERT/UPDATE/DELETE into ``RowCheck`` objects: a SELECT (PostgreSQL, ``%s`` placeholders,
double-quoted identifiers) that reads each affected row by primary key from the legacy
database, and the values the candidate expects to find there.

Pipeline (design section 4):

* ``normalise`` (in ``verifiers.sqllex``, re-exported here) - a cheap regex scan (no sqlglot)
  that replaces inline literals by reserved placeholders, so statements that differ only in
  literals share one template.
* ``convert_statement`` - sqlglot parse + analysis, done once per template.  Anything
  that is not exactly one supported INSERT/UPDATE/DELETE raises ``UnverifiableStatement``.
* ``bind`` - per capture: resolve parameters, literals and after-images into ``RowCheck``.
* ``TemplateCache`` - normalise -> LRU lookup -> convert once -> bind.

Safety: generated SQL is built from sqlglot expression objects (never from captured text),
contains only identifiers and ``%s`` placeholders, and is re-parsed once per template to
prove it is a single plain SELECT.  Captured parameter values are only ever bound.

Lexing (comments, quotes, literals, placeholders, size limit) lives in ``verifiers.sqllex``.
Unquoted identifiers are folded to lower case (the legacy database is PostgreSQL);
MySQL identifiers are always folded because MySQL compares column names case-insensitively.
"""

from __future__ import annotations

import enum
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeAlias

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# MAX_STATEMENT_CHARS and SUPPORTED_DIALECTS are re-exported (see __all__) for importers
# that know them as sqlcheck names.
from verifiers.write.sqllex import (
    MAX_STATEMENT_CHARS,
    SUPPORTED_DIALECTS,
    PlaceholderRef,
    UnverifiableStatement,
    canonicalise,
    check_statement_text,
    normalise,
    number_value,
    resolve_dialect,
)

__all__ = [
    "MAX_STATEMENT_CHARS",
    "MAX_ROWS_PER_STATEMENT",
    "SUPPORTED_DIALECTS",
    "Expectation",
    "KeySource",
    "RowCheck",
    "RowTemplate",
    "Schema",
    "StatementKind",
    "StatementTemplate",
    "TableMeta",
    "TemplateCache",
    "UnparsableStatement",
    "UnverifiableStatement",
    "ValueOrigin",
    "ValueSource",
    "bind",
    "convert_statement",
    "normalise",
]

# Rows one statement may expand to (VALUES rows, IN-list keys): bounds bind() work.
MAX_ROWS_PER_STATEMENT: Final = 10_000


class UnparsableStatement(UnverifiableStatement):
    """sqlglot could not parse the text (the cache then retries without literal extraction)."""


# --------------------------------------------------------------------------------------
# Public data model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableMeta:
    """Key metadata for one legacy table (introspected, overridable by admins)."""

    key_columns: tuple[str, ...]
    version_column: str | None = None
    # Columns the candidate cannot know (sequence values, server timestamps): never compared.
    excluded_columns: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.key_columns:
            raise ValueError("TableMeta.key_columns must name at least one column")


Schema: TypeAlias = Mapping[str, TableMeta]


class StatementKind(str, enum.Enum):
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"


class KeySource(str, enum.Enum):
    WHERE = "where key equality"
    INSERT_VALUES = "insert values"
    AFTER_IMAGES = "after-images of the table"


class ValueOrigin(str, enum.Enum):
    PARAM = "placeholder"
    LITERAL = "literal"
    LITERAL_SLOT = "literal extracted by normalise"
    AFTER_IMAGE = "from after-image"
    EXCLUDED = "excluded"


@dataclass(frozen=True, slots=True)
class ValueSource:
    """Where one expected value (or key value) comes from."""

    origin: ValueOrigin
    # PARAM: index into StatementTemplate.placeholders; LITERAL_SLOT: index into literals.
    index: int = -1
    literal: Any = None
    negated: bool = False
    reason: str = ""

    @property
    def is_known(self) -> bool:
        return self.origin in _KNOWN_ORIGINS


_KNOWN_ORIGINS: Final = frozenset({ValueOrigin.PARAM, ValueOrigin.LITERAL, ValueOrigin.LITERAL_SLOT})


@dataclass(frozen=True, slots=True)
class RowTemplate:
    """One affected row: where its key values and its expected column values come from."""

    key: tuple[ValueSource, ...]  # aligned with StatementTemplate.key_columns
    values: tuple[tuple[str, ValueSource], ...]


class Expectation(enum.Enum):
    ROW_ABSENT = "row must not exist"

    def __repr__(self) -> str:
        return f"Expectation.{self.name}"


@dataclass(frozen=True, slots=True)
class StatementTemplate:
    """The dialect-independent verification plan of one statement template."""

    kind: StatementKind
    dialect: str
    table: str  # display name, e.g. "ledger.accounts"
    key_columns: tuple[str, ...]
    version_column: str | None
    key_source: KeySource
    rows: tuple[RowTemplate, ...]
    select_columns: tuple[str, ...]
    select_sql: str
    placeholders: tuple[PlaceholderRef, ...]
    literal_slot_count: int
    upsert: str | None = None  # None | "do update" | "do nothing"
    # Lower-cased names an after-image "table" may use for this table (qualified and bare).
    table_names: frozenset[str] = frozenset()
    needs_after_images: bool = False


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and two RowChecks
# are built per row of every capture (bind at ingest, read back in the drain). Treated as immutable
# all the same: changed copies are made with dataclasses.replace.
@dataclass(slots=True)
class RowCheck:
    """One legacy row to read and what the candidate expects in it."""

    table: str
    kind: StatementKind
    select_sql: str
    select_params: tuple[Any, ...]
    key: dict[str, Any]
    expected: dict[str, Any] | Literal[Expectation.ROW_ABSENT]
    unverified: dict[str, str] = field(default_factory=dict)
    version_column: str | None = None


# --------------------------------------------------------------------------------------
# Tree analysis
# --------------------------------------------------------------------------------------

# Values the server computes at write time: never comparable between two databases.
_SERVER_VALUE_FUNCTIONS: Final = frozenset(
    {
        "now", "sysdate", "systimestamp", "current_timestamp", "localtimestamp", "localtime",
        "current_date", "current_time", "clock_timestamp", "statement_timestamp",
        "transaction_timestamp", "timeofday", "utc_timestamp", "utc_date", "utc_time",
        "curdate", "curtime", "unix_timestamp", "getdate", "nextval", "currval", "lastval",
        "last_insert_id", "uuid", "uuid_short", "gen_random_uuid", "uuid_generate_v1",
        "uuid_generate_v4", "sys_guid", "newid", "random", "rand",
    }
)  # fmt: skip
_SERVER_VALUE_EXPRESSIONS: Final = (
    exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.CurrentDatetime,
    exp.Localtimestamp, exp.Localtime, exp.Systimestamp, exp.UtcTimestamp, exp.UtcDate,
    exp.UtcTime, exp.Uuid, exp.Rand, exp.CurrentUser, exp.UnixSeconds, exp.CurrentTimestampLTZ,
)  # fmt: skip
# Bare words some dialects parse as columns but that are server values (Oracle pseudo-columns).
_SERVER_VALUE_WORDS: Final = frozenset(
    {"sysdate", "systimestamp", "current_timestamp", "localtimestamp", "current_date", "user"}
)
_SEQUENCE_PSEUDO_COLUMNS: Final = frozenset({"nextval", "currval"})


def _identifier_name(identifier: exp.Expression | None, fold_quoted: bool) -> str:
    if identifier is None:
        return ""
    name = identifier.name
    quoted = bool(identifier.args.get("quoted")) if isinstance(identifier, exp.Identifier) else False
    return name if quoted and not fold_quoted else name.lower()


def _function_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else type(node).__name__.lower()


@dataclass(slots=True)
class _Context:
    dialect: str
    placeholder_count: int
    literal_slots: set[int]
    table_refs: set[str]  # names a column qualifier may use for the target table
    fold_quoted: bool

    def column_name(self, column: exp.Column) -> str | None:
        """Normalised name of a column of the target table, or None if it is qualified otherwise."""
        qualifier = column.table
        if qualifier and qualifier.lower() not in self.table_refs:
            return None
        return _identifier_name(column.this, self.fold_quoted)


def _server_value_name(node: exp.Expr) -> str | None:
    if isinstance(node, _SERVER_VALUE_EXPRESSIONS):
        return _function_name(node)
    if isinstance(node, exp.Anonymous):
        name = _function_name(node)
        return name if name in _SERVER_VALUE_FUNCTIONS else None
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier):
        name = node.name.lower()
        if node.this.args.get("quoted"):
            return None
        if node.table and name in _SEQUENCE_PSEUDO_COLUMNS:
            return f"{node.table}.{name}"
        if not node.table and name in _SERVER_VALUE_WORDS:
            return name
    return None


def _validate_tree(statement: exp.Expression, ctx: _Context) -> None:
    """Reject constructs we never verify anywhere in the statement."""
    for node in statement.walk():
        if isinstance(node, (exp.Query, exp.Subquery)):
            raise UnverifiableStatement("a subquery inside a write is not verified")
        if isinstance(node, exp.Parameter):
            raise UnverifiableStatement(
                f"parameter syntax {node.sql(dialect=ctx.dialect)!r} is not supported in {ctx.dialect}"
            )
        if isinstance(node, exp.Placeholder):
            name = node.name
            valid = (name.startswith("p") and name[1:].isdigit() and int(name[1:]) < ctx.placeholder_count) or (
                name.startswith("l") and name[1:].isdigit() and int(name[1:]) in ctx.literal_slots
            )
            if not valid:
                shown = node.sql(dialect=ctx.dialect) or "?"
                raise UnverifiableStatement(f"placeholder {shown} is not valid in {ctx.dialect}")
        elif isinstance(node, exp.Anonymous):
            name = _function_name(node)
            if name == "values" and node.find_ancestor(exp.OnConflict) is not None:
                continue  # MySQL VALUES(col) inside ON DUPLICATE KEY UPDATE
            if name not in _SERVER_VALUE_FUNCTIONS:
                raise UnverifiableStatement(
                    f"function {name}() is not known to be free of side effects"
                )
        if isinstance(node, (exp.Anonymous, exp.Column)) and node.find_ancestor(exp.Where):
            server_name = _server_value_name(node)
            if server_name and server_name.rsplit(".", 1)[-1] == "nextval":
                raise UnverifiableStatement("function nextval() has side effects")


def _unwrap(node: exp.Expression) -> exp.Expression:
    while isinstance(node, (exp.Cast, exp.Paren)):
        node = node.this
    return node


def _literal_value(node: exp.Literal | exp.Null | exp.Boolean, dialect: str) -> Any:
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if node.is_string:
        text = node.this
        return None if dialect == "oracle" and text == "" else text
    try:
        return number_value(node.this)
    except InvalidOperation:
        return node.this


def _simple_source(node: exp.Expression, ctx: _Context) -> ValueSource | None:
    """Placeholder / literal (optionally cast or negated) -> a known source, else None."""
    node = _unwrap(node)
    negated = False
    if isinstance(node, exp.Neg):
        negated = True
        node = _unwrap(node.this)
    if isinstance(node, exp.Placeholder):
        name = node.name
        origin = ValueOrigin.PARAM if name.startswith("p") else ValueOrigin.LITERAL_SLOT
        return ValueSource(origin, index=int(name[1:]), negated=negated)
    if isinstance(node, (exp.Literal, exp.Null, exp.Boolean)):
        value = _literal_value(node, ctx.dialect)
        if negated:
            if not isinstance(value, (int, Decimal)) or isinstance(value, bool):
                return None
            value = -value
        return ValueSource(ValueOrigin.LITERAL, literal=value)
    return None


_DEFAULT_SOURCE: Final = ValueSource(
    ValueOrigin.EXCLUDED, reason="DEFAULT value is decided by each database"
)


def _value_source(node: exp.Expression, ctx: _Context) -> ValueSource:
    simple = _simple_source(node, ctx)
    if simple is not None:
        return simple
    inner = _unwrap(node)
    if isinstance(inner, (exp.Column, exp.Var)) and not inner.args.get("table"):
        identifier = inner.this if isinstance(inner, exp.Column) else None
        quoted = isinstance(identifier, exp.Identifier) and identifier.args.get("quoted")
        if inner.name.upper() == "DEFAULT" and not quoted:
            return _DEFAULT_SOURCE
    for sub in inner.walk():
        server_name = _server_value_name(sub)
        if server_name:
            return ValueSource(
                ValueOrigin.EXCLUDED, reason=f"server value {server_name}() differs between databases"
            )
    if any(isinstance(sub, exp.Column) for sub in inner.walk()):
        return ValueSource(ValueOrigin.AFTER_IMAGE, reason="expression of the old row")
    return ValueSource(ValueOrigin.AFTER_IMAGE, reason="computed expression")


def _flatten_and(node: exp.Expr) -> list[exp.Expr]:
    node = node.unnest() if isinstance(node, exp.Paren) else node
    if isinstance(node, exp.And):
        return _flatten_and(node.this) + _flatten_and(node.expression)
    return [node]


def _where_keys(
    where: exp.Where | None, key_lookup: dict[str, int], ctx: _Context
) -> list[tuple[ValueSource, ...]] | None:
    """Key tuples from WHERE equalities on every key column, or None if the WHERE is not that."""
    if where is None:
        return None
    per_key: dict[int, list[ValueSource]] = {}
    for conjunct in _flatten_and(where.this):
        column: exp.Expression | None = None
        sources: list[ValueSource] | None = None
        if isinstance(conjunct, exp.EQ):
            for left, right in ((conjunct.this, conjunct.expression), (conjunct.expression, conjunct.this)):
                source = _simple_source(right, ctx) if isinstance(left, exp.Column) else None
                # "key = NULL" is never true: not a key lookup.
                if source is not None and not (source.origin == ValueOrigin.LITERAL and source.literal is None):
                    column, sources = left, [source]
                    break
        elif isinstance(conjunct, exp.In) and isinstance(conjunct.this, exp.Column):
            items = [_simple_source(item, ctx) for item in conjunct.expressions]
            if items and all(item is not None for item in items):
                column, sources = conjunct.this, [item for item in items if item is not None]
        if column is None or sources is None:
            continue
        assert isinstance(column, exp.Column)
        name = ctx.column_name(column)
        if name is None or name.lower() not in key_lookup:
            continue
        position = key_lookup[name.lower()]
        if position in per_key:
            return None  # two conditions on one key column: not a plain key lookup
        per_key[position] = sources
    if len(per_key) != len(key_lookup):
        return None
    combinations = 1
    for sources in per_key.values():
        combinations *= len(sources)
    if combinations > MAX_ROWS_PER_STATEMENT:
        raise UnverifiableStatement(
            f"WHERE names {combinations:,} keys, above the {MAX_ROWS_PER_STATEMENT:,} row limit"
        )
    ordered = [per_key[position] for position in range(len(key_lookup))]
    return [tuple(combo) for combo in itertools.product(*ordered)]


# --------------------------------------------------------------------------------------
# Schema lookup and SELECT rendering
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SchemaIndex:
    by_full_name: dict[str, tuple[str, TableMeta]]
    by_bare_name: dict[str, list[tuple[str, TableMeta]]]

    @classmethod
    def build(cls, schema: Schema) -> _SchemaIndex:
        if not isinstance(schema, Mapping):
            raise TypeError("schema must be a mapping of table name -> TableMeta")
        by_full: dict[str, tuple[str, TableMeta]] = {}
        by_bare: dict[str, list[tuple[str, TableMeta]]] = {}
        for name, meta in schema.items():
            if not isinstance(meta, TableMeta):
                raise TypeError(f"schema entry {name!r} is not a TableMeta")
            lowered = name.lower()  # plain "schema.table" names, no SQL quoting
            by_full[lowered] = (name, meta)
            by_bare.setdefault(lowered.rsplit(".", 1)[-1], []).append((name, meta))
        return cls(by_full, by_bare)

    def lookup_named(self, schema_name: str, table_name: str) -> tuple[str, TableMeta]:
        """(the schema's own name of the table, its TableMeta)."""
        full = f"{schema_name}.{table_name}".lower() if schema_name else table_name.lower()
        if full in self.by_full_name:
            return self.by_full_name[full]
        if not schema_name:
            candidates = self.by_bare_name.get(table_name.lower(), [])
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                names = ", ".join(sorted(name for name, _ in candidates))
                raise UnverifiableStatement(f"table {table_name!r} is ambiguous in the schema ({names})")
        shown = f"{schema_name}.{table_name}" if schema_name else table_name
        raise UnverifiableStatement(f"table {shown!r} has no key metadata in the schema")


def _output_identifier(name: str) -> exp.Identifier:
    # psycopg treats every '%' in the query text as a placeholder, even inside quotes.
    return exp.to_identifier(name.replace("%", "%%"), quoted=True)


_ALLOWED_SELECT_NODES: Final = (
    exp.Select, exp.From, exp.Table, exp.Identifier, exp.Column, exp.Where, exp.EQ, exp.And,
    exp.Placeholder, exp.Paren,
)  # fmt: skip


def _render_select(schema_name: str, table_name: str, columns: Sequence[str], key_columns: Sequence[str]) -> str:
    table = exp.Table(
        this=_output_identifier(table_name),
        db=_output_identifier(schema_name) if schema_name else None,
    )
    condition: exp.Expression | None = None
    for key_column in key_columns:
        equality = exp.EQ(this=exp.Column(this=_output_identifier(key_column)), expression=exp.Placeholder())
        condition = equality if condition is None else exp.And(this=condition, expression=equality)
    select = exp.Select(expressions=[exp.Column(this=_output_identifier(column)) for column in columns])
    select = select.from_(table, copy=False).where(condition, copy=False)
    sql = select.sql(dialect="postgres", identify=True)
    _guard_select(sql, len(key_columns))
    return sql


def _guard_select(sql: str, expected_placeholders: int) -> None:
    """Final guard: the generated text must re-parse to one plain SELECT, no functions."""
    try:
        parsed = [node for node in sqlglot.parse(sql, read="postgres") if node is not None]
    except SqlglotError as error:  # pragma: no cover - would be a bug in rendering
        raise UnverifiableStatement(f"generated SQL does not re-parse: {error}") from error
    if len(parsed) != 1 or not isinstance(parsed[0], exp.Select):
        raise UnverifiableStatement("generated SQL is not exactly one SELECT")
    placeholders = 0
    for node in parsed[0].walk():
        # exp.And is a Func subclass in sqlglot (a connector); any other function is refused.
        if not isinstance(node, _ALLOWED_SELECT_NODES) or (
            isinstance(node, exp.Func) and not isinstance(node, exp.And)
        ):
            raise UnverifiableStatement(f"generated SQL contains {type(node).__name__}, not allowed")
        placeholders += isinstance(node, exp.Placeholder)
    if placeholders != expected_placeholders or sql.replace("%%", "").count("%") != expected_placeholders:
        raise UnverifiableStatement("generated SQL has an unexpected number of placeholders")


# --------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------


def convert_statement(sql: str, dialect: str, schema: Schema) -> StatementTemplate:
    """Parse one captured INSERT/UPDATE/DELETE into a verification template.

    Raises UnverifiableStatement (with ``.reason``) for anything else.
    """
    return _convert(sql, resolve_dialect(dialect), _SchemaIndex.build(schema), allow_markers=False)


def _convert(sql: str, dialect: str, schema_index: _SchemaIndex, allow_markers: bool) -> StatementTemplate:
    check_statement_text(sql)
    canonical = canonicalise(sql, dialect, allow_markers)
    text = _without_mysql_modifiers(canonical.text) if dialect == "mysql" else canonical.text
    try:
        parsed = sqlglot.parse(text, read=dialect)
    except SqlglotError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UnparsableStatement(f"statement does not parse as {dialect}: {first_line}") from error
    statements = [node for node in parsed if node is not None and not isinstance(node, exp.Semicolon)]
    if len(statements) != 1:
        raise UnverifiableStatement(f"{len(statements)} statements in one string")
    statement = statements[0]
    if isinstance(statement, exp.Command) and dialect == "mysql" and str(statement.this).upper() == "REPLACE":
        statement = _replace_as_insert(text)
    if isinstance(statement, exp.Command):
        keyword = str(statement.this).upper()
        raise UnverifiableStatement(f"{keyword} statement is not a write we can verify")
    if not isinstance(statement, (exp.Insert, exp.Update, exp.Delete)):
        raise UnverifiableStatement(f"{_describe(statement)} is not a write we can verify")
    if isinstance(statement, exp.Insert) and statement.expression is not None and not isinstance(
        statement.expression, exp.Values
    ):
        raise UnverifiableStatement("INSERT ... SELECT is not verified (only INSERT ... VALUES)")
    if statement.args.get("with_"):
        raise UnverifiableStatement("WITH (common table expressions) in a write is not verified")

    fold_quoted = dialect == "mysql"
    table_node = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
    if not isinstance(table_node, exp.Table) or not isinstance(table_node.this, exp.Identifier):
        raise UnverifiableStatement("the written table is not a plain table name")
    if table_node.args.get("catalog"):
        raise UnverifiableStatement("three-part table names (catalog.schema.table) are not supported")
    table_name = _identifier_name(table_node.this, fold_quoted)
    schema_name = _identifier_name(table_node.args.get("db"), fold_quoted)
    known_as, meta = schema_index.lookup_named(schema_name, table_name)
    # The SELECT names the table as the database spells it: MySQL's folded names would miss a
    # table whose name has capitals where table names are case-sensitive (Linux).
    known_schema, _, known_table = known_as.rpartition(".")
    if known_table.lower() == table_name.lower():
        table_name = known_table
    if schema_name and known_schema.lower() == schema_name.lower():
        schema_name = known_schema
    table_refs = {table_name.lower()}
    if table_node.alias:
        table_refs.add(table_node.alias.lower())
    ctx = _Context(dialect, len(canonical.placeholders), canonical.literal_slots, table_refs, fold_quoted)
    _validate_tree(statement, ctx)

    key_columns = tuple(meta.key_columns)
    key_lookup = {column.lower(): position for position, column in enumerate(key_columns)}
    excluded = {column.lower() for column in meta.excluded_columns}
    version_column = meta.version_column

    if isinstance(statement, exp.Insert):
        kind = StatementKind.INSERT
        key_source, rows, upsert = _insert_rows(statement, ctx, key_lookup, excluded)
    elif isinstance(statement, exp.Update):
        kind, upsert = StatementKind.UPDATE, None
        key_source, rows = _update_rows(statement, ctx, key_lookup, excluded)
    else:
        kind, upsert = StatementKind.DELETE, None
        key_source, rows = _delete_rows(statement, ctx, key_lookup)

    value_columns: list[str] = []
    seen = {column.lower() for column in key_columns}
    for row in rows:
        for column, source in row.values:
            if source.origin != ValueOrigin.EXCLUDED and column.lower() not in seen:
                seen.add(column.lower())
                value_columns.append(column)
    if version_column and version_column.lower() not in seen and kind != StatementKind.DELETE:
        value_columns.append(version_column)
    select_columns = key_columns + tuple(value_columns)
    select_sql = _render_select(schema_name, table_name, select_columns, key_columns)
    display = f"{schema_name}.{table_name}" if schema_name else table_name
    needs_after_images = key_source == KeySource.AFTER_IMAGES or any(
        source.origin == ValueOrigin.AFTER_IMAGE
        for row in rows
        for source in itertools.chain(row.key, (s for _, s in row.values))
    )
    return StatementTemplate(
        kind=kind,
        dialect=dialect,
        table=display,
        key_columns=key_columns,
        version_column=version_column,
        key_source=key_source,
        rows=tuple(rows),
        select_columns=select_columns,
        select_sql=select_sql,
        placeholders=tuple(canonical.placeholders),
        literal_slot_count=len(canonical.literal_slots),
        upsert=upsert,
        table_names=frozenset({display.lower(), table_name.lower()}),
        needs_after_images=needs_after_images,
    )


_MYSQL_MODIFIERS: Final = re.compile(
    r"\A(\s*(INSERT|REPLACE|UPDATE|DELETE))((?:\s+(?:LOW_PRIORITY|HIGH_PRIORITY|DELAYED|QUICK|IGNORE))+)(?=\s)",
    re.IGNORECASE,
)


def _without_mysql_modifiers(text: str) -> str:
    """MySQL's scheduling modifiers (LOW_PRIORITY, HIGH_PRIORITY, DELAYED, QUICK) dropped: they
    change when a write runs, not what it writes (sqlglot parses none of them). INSERT IGNORE is
    kept (an upsert that does nothing); UPDATE/DELETE IGNORE leave a row unchanged where it would
    break a constraint, so its final state is unknown."""
    match = _MYSQL_MODIFIERS.match(text)
    if match is None:
        return text
    verb, modifiers = match.group(2).upper(), match.group(3).upper().split()
    if "IGNORE" in modifiers and verb in ("UPDATE", "DELETE"):
        raise UnverifiableStatement(f"{verb} IGNORE leaves rows that would break a constraint unchanged: "
                                    "their final state is unknown")
    kept = " IGNORE" if "IGNORE" in modifiers else ""
    return match.group(1) + kept + text[match.end():]


_REPLACE_KEYWORD: Final = re.compile(r"\A(\s*)REPLACE\b", re.IGNORECASE)


def _replace_as_insert(text: str) -> exp.Expression:
    """MySQL's ``REPLACE INTO t (...) VALUES (...)`` as the INSERT it ends as (sqlglot cannot parse it).

    REPLACE deletes the row holding the key, then inserts: the row with that key holds exactly
    the inserted values, as after a plain INSERT (columns not listed get their defaults, which
    are not compared). Rows it deletes on another unique key are not checked.
    """
    try:
        parsed = sqlglot.parse_one(_REPLACE_KEYWORD.sub(r"\1INSERT", text, count=1), read="mysql")
    except SqlglotError as error:
        raise UnparsableStatement(f"REPLACE statement does not parse as mysql: {error}") from error
    if not isinstance(parsed, exp.Insert) or parsed.args.get("conflict") or parsed.args.get("ignore"):
        raise UnverifiableStatement("REPLACE statement is not a write we can verify")
    return parsed


def _describe(statement: exp.Expr) -> str:
    if isinstance(statement, (exp.Create, exp.Drop, exp.Alter)):
        kind = statement.args.get("kind")
        verb = {exp.Create: "CREATE", exp.Drop: "DROP", exp.Alter: "ALTER"}[type(statement)]
        return f"DDL statement {verb} {str(kind).upper()}" if kind else f"DDL statement {verb}"
    if isinstance(statement, exp.TruncateTable):
        return "DDL statement TRUNCATE"
    return f"{type(statement).__name__.upper()} statement"


def _excluded_by_meta(column: str, excluded: set[str], source: ValueSource) -> ValueSource:
    if column.lower() in excluded:
        return ValueSource(ValueOrigin.EXCLUDED, reason="excluded by table metadata")
    return source


def _set_assignments(
    assignments: Sequence[exp.Expression], ctx: _Context, what: str
) -> list[tuple[str, exp.Expression]]:
    result: list[tuple[str, exp.Expression]] = []
    seen: set[str] = set()
    for assignment in assignments:
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise UnverifiableStatement(f"{what}: only 'column = value' assignments are verified")
        name = ctx.column_name(assignment.this)
        if name is None:
            raise UnverifiableStatement(f"{what}: assignment to a column of another table")
        if name.lower() in seen:
            raise UnverifiableStatement(f"{what}: column {name} is set twice")
        seen.add(name.lower())
        result.append((name, assignment.expression))
    return result


def _insert_rows(
    statement: exp.Insert, ctx: _Context, key_lookup: dict[str, int], excluded: set[str]
) -> tuple[KeySource, list[RowTemplate], str | None]:
    if statement.args.get("default"):
        raise UnverifiableStatement("INSERT ... DEFAULT VALUES has no column list to verify")
    if not isinstance(statement.this, exp.Schema):
        raise UnverifiableStatement("INSERT without a column list: column names are unknown")
    source = statement.expression
    if not isinstance(source, exp.Values):
        raise UnverifiableStatement("INSERT ... SELECT is not verified (only INSERT ... VALUES)")
    if statement.args.get("where") or statement.args.get("overwrite"):
        raise UnverifiableStatement("INSERT with WHERE/OVERWRITE is not verified")
    columns = [_identifier_name(identifier, ctx.fold_quoted) for identifier in statement.this.expressions]
    if len({column.lower() for column in columns}) != len(columns):
        raise UnverifiableStatement("INSERT names a column twice")
    tuples = source.expressions
    if len(tuples) > MAX_ROWS_PER_STATEMENT:
        raise UnverifiableStatement(
            f"INSERT has {len(tuples):,} rows, above the {MAX_ROWS_PER_STATEMENT:,} row limit"
        )

    upsert, updated = _upsert_plan(statement, ctx, key_lookup, source)
    rows: list[RowTemplate] = []
    key_from_after_images = False
    for row_node in tuples:
        values = row_node.expressions if isinstance(row_node, exp.Tuple) else [row_node]
        if len(values) != len(columns):
            raise UnverifiableStatement(
                f"INSERT row has {len(values)} values for {len(columns)} columns"
            )
        inserted = {column.lower(): _value_source(value, ctx) for column, value in zip(columns, values)}
        key_sources: list[ValueSource] = []
        for key_column in key_lookup:
            key_value = inserted.get(key_column)
            if key_value is None or not key_value.is_known:
                key_from_after_images = True
                reason = "key value is generated by the server" if key_value else "key column not in INSERT"
                key_sources.append(ValueSource(ValueOrigin.AFTER_IMAGE, reason=reason))
            else:
                key_sources.append(key_value)
        row_values: list[tuple[str, ValueSource]] = []
        for column in columns:
            if column.lower() in key_lookup:
                continue
            value = inserted[column.lower()]
            if upsert is not None:
                value = _upsert_value(column, value, upsert, updated)
            row_values.append((column, _excluded_by_meta(column, excluded, value)))
        if upsert == "do update":
            for column, update_source in updated.items():
                if column.lower() not in inserted:
                    if update_source is _FROM_INSERTED:  # EXCLUDED.col of a column not inserted
                        update_source = ValueSource(ValueOrigin.AFTER_IMAGE, reason="upsert: default value")
                    row_values.append((column, _excluded_by_meta(column, excluded, update_source)))
        rows.append(RowTemplate(key=tuple(key_sources), values=tuple(row_values)))
    key_source = KeySource.AFTER_IMAGES if key_from_after_images else KeySource.INSERT_VALUES
    return key_source, rows, upsert


_FROM_INSERTED: Final = ValueSource(ValueOrigin.LITERAL, reason="same as inserted value")  # sentinel


def _upsert_plan(
    statement: exp.Insert, ctx: _Context, key_lookup: dict[str, int], values: exp.Values
) -> tuple[str | None, dict[str, ValueSource]]:
    """Upsert action and, for DO UPDATE, the source of each updated column on conflict."""
    conflict = statement.args.get("conflict")
    if conflict is None:
        return ("do nothing" if statement.args.get("ignore") else None), {}
    action = str(conflict.args.get("action") or "").upper()
    if action == "DO NOTHING":
        return "do nothing", {}
    if conflict.args.get("where") or conflict.args.get("index_predicate"):
        conditional = ValueSource(ValueOrigin.AFTER_IMAGE, reason="conditional ON CONFLICT update")
    else:
        conditional = None
    inserted_refs = {"excluded"}
    alias = values.args.get("alias")
    if alias is not None and alias.name:
        inserted_refs.add(alias.name.lower())
    updated: dict[str, ValueSource] = {}
    for column, expression in _set_assignments(conflict.expressions, ctx, "ON CONFLICT UPDATE"):
        if column.lower() in key_lookup:
            raise UnverifiableStatement(f"upsert changes key column {column}; re-keying is not verified")
        inner = _unwrap(expression)
        refers_to_inserted = (
            isinstance(inner, exp.Column)
            and (inner.table or "").lower() in inserted_refs
            and _identifier_name(inner.this, ctx.fold_quoted).lower() == column.lower()
        ) or (
            isinstance(inner, exp.Anonymous)
            and _function_name(inner) == "values"
            and len(inner.expressions) == 1
            and inner.expressions[0].name.lower() == column.lower()
        )
        if conditional is not None:
            updated[column] = conditional
        elif refers_to_inserted:
            updated[column] = _FROM_INSERTED
        else:
            source = _value_source(expression, ctx)
            if source.origin != ValueOrigin.EXCLUDED:
                # The row may have been inserted or updated: only the after-image knows.
                source = ValueSource(ValueOrigin.AFTER_IMAGE, reason="upsert: inserted or updated value")
            updated[column] = source
    return "do update", updated


def _upsert_value(column: str, inserted: ValueSource, upsert: str, updated: dict[str, ValueSource]) -> ValueSource:
    if inserted.origin == ValueOrigin.EXCLUDED:
        return inserted
    if upsert == "do nothing":
        return ValueSource(ValueOrigin.AFTER_IMAGE, reason="upsert: the row may have existed before")
    update_source = next((source for name, source in updated.items() if name.lower() == column.lower()), None)
    if update_source is None:
        return ValueSource(ValueOrigin.AFTER_IMAGE, reason="upsert: old value kept if the row existed")
    if update_source is _FROM_INSERTED:
        return inserted
    return update_source


def _update_rows(
    statement: exp.Update, ctx: _Context, key_lookup: dict[str, int], excluded: set[str]
) -> tuple[KeySource, list[RowTemplate]]:
    if statement.args.get("from_"):
        raise UnverifiableStatement("UPDATE ... FROM (joined update) is not verified")
    if statement.find(exp.Join):
        raise UnverifiableStatement("UPDATE with a JOIN is not verified")
    values: list[tuple[str, ValueSource]] = []
    for column, expression in _set_assignments(statement.expressions, ctx, "UPDATE"):
        if column.lower() in key_lookup:
            raise UnverifiableStatement(f"UPDATE sets key column {column}; re-keying is not verified")
        values.append((column, _excluded_by_meta(column, excluded, _value_source(expression, ctx))))
    keys = _where_keys(statement.args.get("where"), key_lookup, ctx)
    if keys is None:
        after_image_key = tuple(
            ValueSource(ValueOrigin.AFTER_IMAGE, reason="WHERE is not key equality") for _ in key_lookup
        )
        return KeySource.AFTER_IMAGES, [RowTemplate(key=after_image_key, values=tuple(values))]
    return KeySource.WHERE, [RowTemplate(key=key, values=tuple(values)) for key in keys]


def _delete_rows(
    statement: exp.Delete, ctx: _Context, key_lookup: dict[str, int]
) -> tuple[KeySource, list[RowTemplate]]:
    if statement.args.get("using") or statement.args.get("tables") or statement.find(exp.Join):
        raise UnverifiableStatement("DELETE ... USING / multi-table DELETE is not verified")
    keys = _where_keys(statement.args.get("where"), key_lookup, ctx)
    if keys is None:
        after_image_key = tuple(
            ValueSource(ValueOrigin.AFTER_IMAGE, reason="WHERE is not key equality") for _ in key_lookup
        )
        return KeySource.AFTER_IMAGES, [RowTemplate(key=after_image_key, values=())]
    return KeySource.WHERE, [RowTemplate(key=key, values=()) for key in keys]


# --------------------------------------------------------------------------------------
# Binding
# --------------------------------------------------------------------------------------


_SEQUENTIAL_STYLES: Final = frozenset({"format", "qmark", "oracle"})


def _resolve_params(template: StatementTemplate, params: Any) -> Sequence[Any]:
    """Captured params -> one value per placeholder occurrence."""
    refs = template.placeholders
    if params is None:
        params = ()
    if not refs:
        if params and not isinstance(params, Mapping):
            raise UnverifiableStatement(f"statement has no placeholders but {len(params)} params were captured")
        return ()
    style = refs[0].style
    params_type = type(params)
    if params_type is list or params_type is tuple:
        if style in _SEQUENTIAL_STYLES and len(params) == len(refs):
            return params  # the common case: %s / ? / oracle positional, one value each
    elif isinstance(params, Mapping):
        if style not in ("pyformat", "oracle"):
            raise UnverifiableStatement(f"{refs[0].display} placeholders need a list of params, got an object")
        resolved: list[Any] = []
        for ref in refs:
            name = ref.name if ref.name is not None else str(ref.number)
            if name in params:
                resolved.append(params[name])
                continue
            matches = [key for key in params if isinstance(key, str) and key.lower() == name.lower()]
            if style == "oracle" and len(matches) == 1:  # Oracle bind names are case-insensitive
                resolved.append(params[matches[0]])
                continue
            raise UnverifiableStatement(f"param {name!r} for placeholder {ref.display} was not captured")
        return resolved
    if isinstance(params, (str, bytes)) or not isinstance(params, Sequence):
        raise UnverifiableStatement(f"params must be a list or an object, got {type(params).__name__}")
    if style == "pyformat":
        raise UnverifiableStatement("%(name)s placeholders need an object of params, got a list")
    if style == "dollar":
        highest = max(ref.number or 0 for ref in refs)
        if len(params) != highest:
            raise UnverifiableStatement(
                f"statement uses ${highest} as highest placeholder but {len(params)} params were captured"
            )
        return [params[(ref.number or 0) - 1] for ref in refs]
    if len(params) != len(refs):
        raise UnverifiableStatement(
            f"statement has {len(refs)} placeholders but {len(params)} params were captured"
        )
    return params


_MISSING: Final = object()


def _get_column(mapping: Mapping[Any, Any], column: str) -> Any:
    """mapping[column], matching column names case-insensitively; _MISSING when absent."""
    value = mapping.get(column, _MISSING)
    if value is _MISSING:
        lowered = column.lower()
        for name, candidate in mapping.items():
            if str(name).lower() == lowered:
                return candidate
    return value


@dataclass(slots=True)
class _AfterImage:
    key: tuple[str, ...]
    key_values: dict[str, Any]
    row: Mapping[Any, Any]
    used: bool = False


def _match_token(value: Any) -> str:
    # Captured keys arrive through JSON and drivers: 42, "42" and Decimal("42") are one key.
    return value if isinstance(value, str) else str(value)


class AfterImageIndex:
    """A capture's after-images grouped by table name once, for binding its many statements.

    Without it every statement scans (and lower-cases) every after-image of the capture.
    Positions stay those of the capture's list, so messages name the image the sender sent.
    """

    __slots__ = ("_by_table", "problem")

    def __init__(self, after_images: Any) -> None:
        self._by_table: dict[str, list[tuple[int, Any]]] = {}
        self.problem: str | None = None  # raised by the first statement that needs the images
        if after_images is None:
            return
        if type(after_images) is not list and (
            isinstance(after_images, (str, bytes, Mapping)) or not isinstance(after_images, Sequence)
        ):
            self.problem = "after_images must be a list of {table, key, row} objects"
            return
        for position, image in enumerate(after_images):
            if type(image) is not dict and not isinstance(image, Mapping):
                self.problem = f"after-image #{position} is not a {{table, key, row}} object"
                return
            table = image.get("table")
            if type(table) is not str:
                self.problem = f"after-image #{position} has no 'table' name"
                return
            table = table.lower()
            self._by_table.setdefault(table, []).append((position, image))
            bare = table.replace('"', "").replace("`", "")
            if bare != table:
                self._by_table.setdefault(bare, []).append((position, image))

    def of(self, table_names: frozenset[str]) -> list[tuple[int, Any]]:
        """(position, image) of the images naming one of ``table_names``, in the capture's order."""
        if self.problem is not None:
            raise UnverifiableStatement(self.problem)
        found = [entries for name in table_names if (entries := self._by_table.get(name))]
        if len(found) < 2:
            return found[0] if found else []
        by_position: dict[int, Any] = {}  # an image may be filed under two of the names
        for entries in found:
            for position, image in entries:
                by_position.setdefault(position, image)
        return sorted(by_position.items())


def _after_images_for(template: StatementTemplate, after_images: Any) -> list[_AfterImage]:
    if after_images is None:
        return []
    index = after_images if type(after_images) is AfterImageIndex else AfterImageIndex(after_images)
    found: list[_AfterImage] = []
    for position, image in index.of(template.table_names):
        key = image.get("key")
        row = image.get("row") or {}
        if not (type(key) is dict or isinstance(key, Mapping)) or not (
            type(row) is dict or isinstance(row, Mapping)
        ):
            raise UnverifiableStatement(f"after-image #{position} needs 'key' and 'row' objects")
        key_values: dict[str, Any] = {}
        for key_column in template.key_columns:
            value = _get_column(key, key_column)
            if value is _MISSING:
                raise UnverifiableStatement(f"after-image #{position} lacks key column {key_column}")
            key_values[key_column] = value
        token = tuple([_match_token(value) for value in key_values.values()])
        found.append(_AfterImage(token, key_values, row))
    return found


def _known_value(source: ValueSource, values: Sequence[Any], literals: Sequence[Any]) -> Any:
    if source.origin == ValueOrigin.PARAM:
        value = values[source.index]
    elif source.origin == ValueOrigin.LITERAL_SLOT:
        value = literals[source.index]
    else:
        value = source.literal
    if source.negated:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise UnverifiableStatement(f"cannot negate non-numeric value {type(value).__name__}")
        value = -value
    return value


def bind(
    template: StatementTemplate,
    params: Sequence[Any] | Mapping[str, Any] | None,
    after_images: Sequence[Mapping[str, Any]] | AfterImageIndex | None = None,
    literals: Sequence[Any] = (),
) -> list[RowCheck]:
    """Resolve one capture's params, literals and after-images into one RowCheck per row.

    ``after_images`` may be the capture's list or its AfterImageIndex (built once per capture).
    """
    if len(literals) != template.literal_slot_count:
        raise UnverifiableStatement(
            f"template has {template.literal_slot_count} literal slots but {len(literals)} literals were given"
        )
    values = _resolve_params(template, params)
    images = _after_images_for(template, after_images) if template.needs_after_images else []
    by_key = {image.key: image for image in images}

    rows: list[tuple[dict[str, Any], RowTemplate, _AfterImage | None]] = []
    image: _AfterImage | None
    if template.key_source == KeySource.AFTER_IMAGES and template.kind != StatementKind.INSERT:
        if not images:
            raise UnverifiableStatement(
                f"{template.kind.value.upper()} without key equality and no after-image"
            )
        for image in images:
            rows.append((dict(image.key_values), template.rows[0], image))
    else:
        for row in template.rows:
            if _key_known(row):
                key = {
                    column: _known_value(source, values, literals)
                    for column, source in zip(template.key_columns, row.key)
                }
                image = by_key.get(tuple(_match_token(v) for v in key.values())) if images else None
            else:
                image = _match_inserted_row(template, row, values, literals, images)
                key = dict(image.key_values)
                for column, source in zip(template.key_columns, row.key):
                    if source.is_known:
                        key[column] = _known_value(source, values, literals)
            rows.append((key, row, image))

    checks: list[RowCheck] = []
    is_delete = template.kind == StatementKind.DELETE
    for key, row, image in rows:
        unverified: dict[str, str] = {}
        expected: dict[str, Any] | Literal[Expectation.ROW_ABSENT]
        if is_delete:
            expected = Expectation.ROW_ABSENT
        else:
            expected = {}
            for column, step, source in _row_plan(row):
                if step is _FROM_PARAM:
                    expected[column] = values[source.index]
                elif step is _KNOWN:
                    expected[column] = _known_value(source, values, literals)
                elif step is _EXCLUDED:
                    unverified[column] = source.reason
                elif image is not None and (value := _get_column(image.row, column)) is not _MISSING:
                    expected[column] = value
                elif image is None:
                    unverified[column] = f"{source.reason}; no after-image captured"
                else:
                    unverified[column] = f"{source.reason}; column missing from the after-image"
        checks.append(
            RowCheck(
                table=template.table,
                kind=template.kind,
                select_sql=template.select_sql,
                select_params=tuple(key.values()),
                key=key,
                expected=expected,
                unverified=unverified,
                version_column=template.version_column,
            )
        )
    return checks


_KEY_KNOWN: dict[int, tuple[RowTemplate, bool]] = {}


def _key_known(row: RowTemplate) -> bool:
    """Whether every key value of the row comes from the statement (cached per row template)."""
    entry = _KEY_KNOWN.get(id(row))
    if entry is None or entry[0] is not row:
        if len(_KEY_KNOWN) >= _ROW_PLANS_LIMIT:
            _KEY_KNOWN.clear()
        entry = _KEY_KNOWN[id(row)] = (row, all(source.is_known for source in row.key))
    return entry[1]


# How bind fills one expected column, decided once per row template (statement shape), not per capture.
_FROM_PARAM: Final = "param"  # a placeholder's value as captured (the common case)
_KNOWN: Final = "known"  # a literal, a literal slot or a negated placeholder
_EXCLUDED: Final = "excluded"
_FROM_IMAGE: Final = "after-image"
# id(row template) -> (the row template, its plan); the identity check makes a reused id harmless.
_ROW_PLANS: dict[int, tuple[RowTemplate, tuple[tuple[str, str, ValueSource], ...]]] = {}
_ROW_PLANS_LIMIT: Final = 16384


def _row_plan(row: RowTemplate) -> tuple[tuple[str, str, ValueSource], ...]:
    entry = _ROW_PLANS.get(id(row))
    if entry is not None and entry[0] is row:
        return entry[1]
    plan = []
    for column, source in row.values:
        if source.origin == ValueOrigin.PARAM and not source.negated:
            step = _FROM_PARAM
        elif source.origin in _KNOWN_ORIGINS:
            step = _KNOWN
        elif source.origin == ValueOrigin.EXCLUDED:
            step = _EXCLUDED
        else:
            step = _FROM_IMAGE
        plan.append((column, step, source))
    if len(_ROW_PLANS) >= _ROW_PLANS_LIMIT:  # templates evicted from their caches: start over
        _ROW_PLANS.clear()
    _ROW_PLANS[id(row)] = (row, tuple(plan))
    return _ROW_PLANS[id(row)][1]


def _match_inserted_row(
    template: StatementTemplate,
    row: RowTemplate,
    values: Sequence[Any],
    literals: Sequence[Any],
    images: list[_AfterImage],
) -> _AfterImage:
    """Find the after-image of an inserted row whose key the server generated.

    Matched by the statement's known column values; zero or several matches is unverifiable.
    """
    known = [
        (column.lower(), _match_token(_known_value(source, values, literals)))
        for column, source in row.values
        if source.is_known
    ]
    candidates = [
        image
        for image in images
        if not image.used
        and all(
            (value := _get_column(image.row, column)) is not _MISSING and _match_token(value) == token
            for column, token in known
        )
    ]
    if len(candidates) != 1:
        problem = "no after-image" if not candidates else f"{len(candidates)} after-images"
        raise UnverifiableStatement(
            f"INSERT into {template.table} has a server-generated key and {problem} match the inserted values"
        )
    candidates[0].used = True
    return candidates[0]


# --------------------------------------------------------------------------------------
# Template cache
# --------------------------------------------------------------------------------------

_RAW_FALLBACK: Final = object()  # template text did not parse: use the raw statement as key
# Longest statement text whose normalised form the cache keeps (maxsize of them at most).
NORMALISED_TEXT_CHARS: Final = 4096


class TemplateCache:
    """normalise -> LRU lookup by (dialect, template text) -> convert once -> bind.

    Unverifiable verdicts are cached too.  The schema is fixed per cache: build a new
    cache when table metadata changes.  A lock guards the LRU, so sharing a cache
    between threads of one worker is safe; conversion happens outside the lock.
    """

    def __init__(self, schema: Schema, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._schema_index = _SchemaIndex.build(schema)
        self._maxsize = maxsize
        self._entries: OrderedDict[tuple[str, str, str], StatementTemplate | UnverifiableStatement | object] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        # normalise() is a pure function of the text: captures re-send the same parameterised
        # texts, so its result is kept for texts up to NORMALISED_TEXT_CHARS (bounded memory).
        self._normalised: OrderedDict[tuple[str, str], tuple[str, tuple[Any, ...]]] = OrderedDict()
        # (dialect as given, text) -> (template, literals) of convertible texts: the common case is
        # one application sending the same few texts, found here with one dict lookup.
        self._by_text: dict[tuple[str, str], tuple[StatementTemplate, tuple[Any, ...]]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def template_for(self, sql: str, dialect: str) -> tuple[StatementTemplate, tuple[Any, ...]]:
        """The cached template of ``sql`` and the literals to bind with it."""
        known = self._by_text.get((dialect, sql)) if type(sql) is str and type(dialect) is str else None
        if known is not None:  # a text seen before, as sent: no dialect folding, lexing or LRU upkeep
            self.hits += 1
            return known
        given_dialect = dialect
        dialect = resolve_dialect(dialect)
        template_text, literals = self._normalise(sql, dialect)
        entry = self._get((dialect, "template", template_text))
        if entry is None:
            entry = self._convert_and_store((dialect, "template", template_text), template_text, dialect, True)
        if entry is _RAW_FALLBACK:
            literals = ()
            entry = self._get((dialect, "raw", sql))
            if entry is None:
                entry = self._convert_and_store((dialect, "raw", sql), sql, dialect, False)
        if isinstance(entry, UnverifiableStatement):
            raise UnverifiableStatement(entry.reason)
        assert isinstance(entry, StatementTemplate)
        if len(sql) <= NORMALISED_TEXT_CHARS:
            if len(self._by_text) >= self._maxsize:
                self._by_text.clear()  # bounded; the LRU entries refill it
            self._by_text[(given_dialect, sql)] = (entry, literals)
        return entry, literals

    def check_rows(
        self,
        sql: str,
        dialect: str,
        params: Sequence[Any] | Mapping[str, Any] | None,
        after_images: Sequence[Mapping[str, Any]] | AfterImageIndex | None = None,
    ) -> list[RowCheck]:
        """RowChecks for one captured statement (raises UnverifiableStatement)."""
        template, literals = self.template_for(sql, dialect)
        return bind(template, params, after_images, literals)

    def _normalise(self, sql: str, dialect: str) -> tuple[str, tuple[Any, ...]]:
        if len(sql) > NORMALISED_TEXT_CHARS:
            return normalise(sql, dialect)
        key = (dialect, sql)
        with self._lock:
            found = self._normalised.get(key)
            if found is not None:
                self._normalised.move_to_end(key)
                return found
        found = normalise(sql, dialect)  # raises for text it cannot lex: nothing is kept then
        with self._lock:
            self._normalised[key] = found
            while len(self._normalised) > self._maxsize:
                self._normalised.popitem(last=False)
        return found

    def _get(self, key: tuple[str, str, str]) -> StatementTemplate | UnverifiableStatement | object | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return entry

    def _convert_and_store(
        self, key: tuple[str, str, str], text: str, dialect: str, allow_markers: bool
    ) -> StatementTemplate | UnverifiableStatement | object:
        entry: StatementTemplate | UnverifiableStatement | object
        try:
            entry = _convert(text, dialect, self._schema_index, allow_markers)
        except UnparsableStatement as error:
            # Literal extraction can break typed syntax (NUMERIC(10, 2)): retry on raw text.
            entry = _RAW_FALLBACK if allow_markers else error
        except UnverifiableStatement as error:
            entry = error
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)
        return entry
