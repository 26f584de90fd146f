"""Hostile input to write-verifier SQL conversion: injection, stacking, comments, size, quoting."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from verifiers.write.sqlcheck import (
    MAX_ROWS_PER_STATEMENT,
    MAX_STATEMENT_CHARS,
    AfterImageIndex,
    TableMeta,
    TemplateCache,
    UnverifiableStatement,
    bind,
    convert_statement,
    normalise,
)

SCHEMA = {"accounts": TableMeta(("id",)), "balances": TableMeta(("account_id", "currency"))}
INJECTION = "1; DROP TABLE accounts; --"


def assert_single_plain_select(sql: str, key_count: int) -> None:
    (parsed,) = sqlglot.parse(sql, read="postgres")
    assert isinstance(parsed, exp.Select)
    assert not any(isinstance(node, exp.Anonymous) for node in parsed.walk())
    assert sql.replace("%%", "").count("%s") == key_count


def test_injection_in_params_is_only_bound_never_rendered() -> None:
    (check,) = bind(
        convert_statement("UPDATE accounts SET name = %s WHERE id = %s", "postgres", SCHEMA), [INJECTION, INJECTION]
    )
    assert "DROP" not in check.select_sql
    assert check.select_params == (INJECTION,)
    assert check.expected == {"name": INJECTION}


def test_injection_inside_string_literal_stays_a_literal() -> None:
    sql = "UPDATE accounts SET name = 'x''; DROP TABLE accounts; --' WHERE id = 1"
    text, literals = normalise(sql, "postgres")
    assert "DROP" not in text
    assert literals == ("x'; DROP TABLE accounts; --", 1)
    (check,) = TemplateCache(SCHEMA).check_rows(sql, "postgres", None)
    assert check.expected == {"name": "x'; DROP TABLE accounts; --"}


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("UPDATE accounts SET a = 1 WHERE id = 1; DROP TABLE accounts", "postgres"),
        ("UPDATE accounts SET a = 1 WHERE id = 1 /* hide */; DROP TABLE accounts", "postgres"),
        ("UPDATE accounts SET a = 1 WHERE id = 1 -- hide\n; DROP TABLE accounts", "postgres"),
        ("UPDATE accounts SET a = 1 WHERE id = 1 # hide\n; DROP TABLE accounts", "mysql"),
        ("DELETE FROM accounts WHERE id = 1; DELETE FROM accounts WHERE id = 2", "oracle"),
    ],
)
def test_stacked_statements_are_rejected(sql: str, dialect: str) -> None:
    with pytest.raises(UnverifiableStatement, match="2 statements in one string"):
        convert_statement(sql, dialect, SCHEMA)
    with pytest.raises(UnverifiableStatement, match="2 statements in one string"):
        TemplateCache(SCHEMA).check_rows(sql, dialect, None)


def test_semicolon_inside_string_or_comment_is_not_a_second_statement() -> None:
    for sql in (
        "UPDATE accounts SET a = ';DROP TABLE x' WHERE id = 1",
        "UPDATE accounts SET a = $q$;DROP TABLE x$q$ WHERE id = 1",
        "UPDATE accounts SET a = 1 WHERE id = 1 /* ; DROP TABLE x */",
    ):
        assert convert_statement(sql, "postgres", SCHEMA).kind.value == "update"


def test_mysql_executable_comment_is_rejected() -> None:
    with pytest.raises(UnverifiableStatement, match="executable comment"):
        normalise("UPDATE accounts SET a = 1 WHERE id = 1 /*!50000 ; DROP TABLE x */", "mysql")


def test_mysql_double_dash_without_space_is_rejected_as_ambiguous() -> None:
    with pytest.raises(UnverifiableStatement, match="ambiguous in mysql"):
        convert_statement("UPDATE accounts SET a = 1--1\nWHERE id = 1", "mysql", SCHEMA)


def test_postgres_nested_comment_is_rejected() -> None:
    with pytest.raises(UnverifiableStatement, match="nested"):
        normalise("UPDATE accounts SET a = 1 /* outer /* inner */ ; DROP TABLE x */ WHERE id = 1", "postgres")


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("UPDATE accounts SET a = 'open WHERE id = 1", "unterminated quoted text"),
        ("UPDATE accounts SET a = 1 WHERE id = 1 /* open", "unterminated /* comment"),
        ('UPDATE "accounts SET a = 1', "unterminated quoted text"),
        ("UPDATE accounts SET a = 1\x00 WHERE id = 1", "NUL character"),
        ("UPDATE accounts SET a = :_l0 WHERE id = 1", "reserved placeholder"),
        ("UPDATE accounts SET a = :name WHERE id = 1", "':name' placeholders are not valid in postgres"),
        ("", "statement is empty"),
    ],
)
def test_malformed_text_gets_clear_reason_from_both_paths(sql: str, reason: str) -> None:
    with pytest.raises(UnverifiableStatement, match=re.escape(reason)):
        convert_statement(sql, "postgres", SCHEMA)
    with pytest.raises(UnverifiableStatement, match=re.escape(reason)):
        TemplateCache(SCHEMA).check_rows(sql, "postgres", None)


def test_megabyte_statement_is_rejected_before_parsing() -> None:
    huge = "UPDATE accounts SET a = '" + "x" * 1_000_000 + "' WHERE id = 1"
    for run in (
        lambda: convert_statement(huge, "postgres", SCHEMA),
        lambda: normalise(huge, "postgres"),
        lambda: TemplateCache(SCHEMA).check_rows(huge, "postgres", None),
    ):
        with pytest.raises(UnverifiableStatement, match=f"above the {MAX_STATEMENT_CHARS:,} limit"):
            run()


def test_huge_in_list_is_rejected_by_row_limit() -> None:
    values = ", ".join(["%s"] * (MAX_ROWS_PER_STATEMENT + 1))
    with pytest.raises(UnverifiableStatement, match="row limit"):
        convert_statement(f"DELETE FROM accounts WHERE id IN ({values})", "postgres", SCHEMA)


@pytest.mark.parametrize("dialect", ["db2", "", "POSTGRES; DROP", "sqlite"])
def test_unknown_dialects_are_rejected(dialect: str) -> None:
    with pytest.raises(UnverifiableStatement, match="is not supported"):
        normalise("DELETE FROM accounts WHERE id = 1", dialect)


def test_non_string_statement_and_dialect_are_rejected() -> None:
    with pytest.raises(UnverifiableStatement, match="must be a string"):
        convert_statement(b"DELETE FROM accounts", "postgres", SCHEMA)  # type: ignore[arg-type]
    with pytest.raises(UnverifiableStatement, match="must be a string"):
        normalise("DELETE FROM accounts", None)  # type: ignore[arg-type]


def test_hostile_quoted_identifiers_are_escaped_in_generated_select() -> None:
    table = 'acc"; DROP TABLE x; --'
    schema = {table: TableMeta(("i\"d",))}
    sql = 'UPDATE "acc""; DROP TABLE x; --" SET "v""al" = %s WHERE "i""d" = %s'
    (check,) = bind(convert_statement(sql, "postgres", schema), [1, 2])
    assert check.select_sql == 'SELECT "i""d", "v""al" FROM "acc""; DROP TABLE x; --" WHERE "i""d" = %s'
    assert_single_plain_select(check.select_sql, 1)


def test_percent_in_identifier_is_doubled_for_psycopg() -> None:
    schema = {"accounts": TableMeta(("id",))}
    (check,) = bind(convert_statement('UPDATE accounts SET "a%s" = %s WHERE id = %s', "postgres", schema), [1, 2])
    assert '"a%%s"' in check.select_sql
    assert_single_plain_select(check.select_sql, 1)


def test_params_of_wrong_shape_are_rejected() -> None:
    template = convert_statement("UPDATE accounts SET a = %s WHERE id = %s", "postgres", SCHEMA)
    with pytest.raises(UnverifiableStatement, match="params must be a list or an object"):
        bind(template, "12")
    with pytest.raises(UnverifiableStatement, match="need a list"):
        bind(template, {"a": 1})


def test_after_images_of_wrong_shape_are_rejected() -> None:
    template = convert_statement("UPDATE accounts SET a = a + 1 WHERE id = 1", "postgres", SCHEMA)
    with pytest.raises(UnverifiableStatement, match="after_images must be a list"):
        bind(template, None, "oops")  # type: ignore[arg-type]
    with pytest.raises(UnverifiableStatement, match="lacks key column id"):
        bind(template, None, [{"table": "accounts", "key": {"x": 1}, "row": {}}])
    with pytest.raises(UnverifiableStatement, match="has no 'table' name"):
        bind(template, None, [{"key": {"id": 1}}])


def test_after_images_grouped_once_per_capture_bind_as_the_list_does() -> None:
    template = convert_statement("UPDATE accounts SET a = a + 1 WHERE id = %s", "postgres", SCHEMA)
    images = [{"table": "balances", "key": {"account_id": 1, "currency": "KRW"}, "row": {"a": 0}},
              {"table": '"Accounts"', "key": {"id": 2}, "row": {"a": 7}},
              {"table": "accounts", "key": {"id": 1}, "row": {"a": 5}}]
    index = AfterImageIndex(images)
    for params, expected in (([1], 5), ([2], 7)):  # one index serves every statement of the capture
        assert bind(template, params, index) == bind(template, params, images)
        assert bind(template, params, index)[0].expected == {"a": expected}
    bad = [*images, {"table": "accounts", "key": {"x": 1}, "row": {}}]
    with pytest.raises(UnverifiableStatement, match="after-image #3 lacks key column id"):
        bind(template, [1], AfterImageIndex(bad))  # named by its place in the capture, not in its table
    with pytest.raises(UnverifiableStatement, match="after-image #1 has no 'table' name"):
        bind(template, [1], AfterImageIndex([images[0], {"key": {"id": 1}}]))


def test_a_text_seen_before_binds_its_own_literals_and_unverifiable_stays_unverifiable() -> None:
    cache = TemplateCache(SCHEMA)
    for _ in range(2):  # the second round comes from the lookup of texts seen before
        for dialect in ("postgres", "postgresql"):
            for amount in (5, 6):
                rows = cache.check_rows(f"UPDATE accounts SET a = {amount} WHERE id = 1", dialect, None)
                assert [row.expected for row in rows] == [{"a": amount}]
            with pytest.raises(UnverifiableStatement):
                cache.check_rows("UPDATE accounts SET a = 1", dialect, None)  # no key: never cached as bindable


GENERATED_CORPUS = [
    ("postgres", "UPDATE accounts SET a = a - %s, b = now() WHERE id = %s"),
    ("postgres", "INSERT INTO balances (account_id, currency, amount) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"),
    ("mysql", "INSERT INTO balances SET account_id = ?, currency = ?, amount = ?"),
    ("oracle", "DELETE FROM balances WHERE account_id = :1 AND currency = :2"),
    ("oracle", "UPDATE accounts SET a = SYSDATE, b = LOWER(:1) WHERE id = :2"),
]


@pytest.mark.parametrize(("dialect", "sql"), GENERATED_CORPUS)
def test_every_generated_select_is_a_single_select_with_only_key_placeholders(dialect: str, sql: str) -> None:
    template = convert_statement(sql, dialect, SCHEMA)
    assert_single_plain_select(template.select_sql, len(template.key_columns))
    assert template.select_sql.startswith("SELECT ")
