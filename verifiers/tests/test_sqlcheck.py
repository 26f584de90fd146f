"""Behaviour of write-verifier SQL conversion (pure: no database, no Django)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from verifiers.write.sqlcheck import (
    Expectation,
    KeySource,
    StatementKind,
    TableMeta,
    TemplateCache,
    UnverifiableStatement,
    ValueOrigin,
    bind,
    convert_statement,
)

SCHEMA = {
    "accounts": TableMeta(("id",), version_column="version", excluded_columns=frozenset({"touched_by"})),
    "entries": TableMeta(("id",)),
    "ledger.transfers": TableMeta(("id",)),
    "balances": TableMeta(("account_id", "currency")),
}

DEBIT = (
    "UPDATE accounts SET balance = balance - %s, version = version + 1, updated_at = now() WHERE id = %s"
)
ACCOUNT_7_IMAGE = {"table": "accounts", "key": {"id": 7}, "row": {"balance": "900.00", "version": 4}}


def checks(sql: str, dialect: str, params: object, after_images: object = None) -> list:
    return bind(convert_statement(sql, dialect, SCHEMA), params, after_images)  # type: ignore[arg-type]


# ---- UPDATE ---------------------------------------------------------------------------


def test_update_selects_key_set_columns_and_version_by_primary_key() -> None:
    (check,) = checks(DEBIT, "postgres", ["100.00", 7], [ACCOUNT_7_IMAGE])
    assert check.select_sql == 'SELECT "id", "balance", "version" FROM "accounts" WHERE "id" = %s'
    assert check.select_params == (7,)
    assert check.key == {"id": 7}
    assert check.version_column == "version"
    assert check.kind is StatementKind.UPDATE


def test_update_expression_of_old_row_is_taken_from_after_image() -> None:
    (check,) = checks(DEBIT, "postgres", ["100.00", 7], [ACCOUNT_7_IMAGE])
    assert check.expected == {"balance": "900.00", "version": 4}


def test_update_server_timestamp_column_is_excluded_automatically() -> None:
    (check,) = checks(DEBIT, "postgres", ["100.00", 7], [ACCOUNT_7_IMAGE])
    assert "updated_at" not in check.expected
    assert "current_timestamp" in check.unverified["updated_at"]
    assert '"updated_at"' not in check.select_sql


def test_update_expression_without_after_image_is_unverified_with_reason() -> None:
    (check,) = checks(DEBIT, "postgres", ["100.00", 7], [])
    assert check.expected == {}
    assert "old row" in check.unverified["balance"] and "no after-image" in check.unverified["balance"]


def test_update_parameter_values_are_expected_directly() -> None:
    (check,) = checks("UPDATE accounts SET status = %s, limit_amount = 5 WHERE id = %s", "postgres", ["FROZEN", 3])
    assert check.expected == {"status": "FROZEN", "limit_amount": 5}
    assert check.key == {"id": 3}


def test_update_with_multi_column_key_reads_both_key_columns() -> None:
    (check,) = checks(
        "UPDATE balances SET amount = %s WHERE currency = %s AND account_id = %s", "postgres", [10, "KRW", 5]
    )
    assert check.key == {"account_id": 5, "currency": "KRW"}
    assert check.select_sql.endswith('WHERE "account_id" = %s AND "currency" = %s')
    assert check.select_params == (5, "KRW")


def test_update_with_in_list_checks_each_key() -> None:
    rows = checks("UPDATE accounts SET status = 'X' WHERE id IN (%s, %s, %s)", "postgres", [1, 2, 3])
    assert [row.key["id"] for row in rows] == [1, 2, 3]
    assert all(row.expected == {"status": "X"} for row in rows)


def test_update_extra_predicate_beside_key_equality_still_uses_where_key() -> None:
    template = convert_statement(
        "UPDATE accounts SET balance = %s WHERE id = %s AND version = %s", "postgres", SCHEMA
    )
    assert template.key_source is KeySource.WHERE


def test_update_without_key_equality_uses_after_images_for_keys() -> None:
    images = [
        {"table": "accounts", "key": {"id": 1}, "row": {"status": "X"}},
        {"table": "accounts", "key": {"id": 2}, "row": {"status": "X"}},
        {"table": "entries", "key": {"id": 9}, "row": {}},
    ]
    rows = checks("UPDATE accounts SET status = %s WHERE owner_id = %s", "postgres", ["X", 5], images)
    assert [row.key for row in rows] == [{"id": 1}, {"id": 2}]
    assert all(row.expected == {"status": "X"} for row in rows)


def test_update_without_key_equality_and_no_after_image_is_unverifiable() -> None:
    with pytest.raises(UnverifiableStatement, match="UPDATE without key equality and no after-image"):
        checks("UPDATE accounts SET status = %s WHERE owner_id = %s", "postgres", ["X", 5], [])


def test_update_or_condition_is_not_key_equality() -> None:
    template = convert_statement("UPDATE accounts SET a = 1 WHERE id = 1 OR id = 2", "postgres", SCHEMA)
    assert template.key_source is KeySource.AFTER_IMAGES


def test_update_of_key_column_is_unverifiable() -> None:
    with pytest.raises(UnverifiableStatement, match="key column id"):
        convert_statement("UPDATE accounts SET id = %s WHERE id = %s", "postgres", SCHEMA)


def test_update_with_table_alias_resolves_qualified_columns() -> None:
    (check,) = checks("UPDATE accounts a SET status = %s WHERE a.id = %s", "postgres", ["OK", 4])
    assert check.key == {"id": 4} and check.expected == {"status": "OK"}


def test_column_excluded_by_metadata_is_never_compared() -> None:
    (check,) = checks("UPDATE accounts SET touched_by = %s WHERE id = %s", "postgres", ["alice", 4])
    assert check.expected == {}
    assert check.unverified == {"touched_by": "excluded by table metadata"}


def test_set_to_default_is_unverified() -> None:
    (check,) = checks("UPDATE accounts SET status = DEFAULT WHERE id = 1", "postgres", None)
    assert "DEFAULT" in check.unverified["status"]


# ---- INSERT ---------------------------------------------------------------------------


def test_insert_single_row_expects_inserted_values_by_key() -> None:
    (check,) = checks(
        "INSERT INTO entries (id, account_id, amount, memo) VALUES (%s, %s, %s, NULL)", "postgres", [11, 7, "5.00"]
    )
    assert check.kind is StatementKind.INSERT
    assert check.key == {"id": 11}
    assert check.expected == {"account_id": 7, "amount": "5.00", "memo": None}
    assert check.select_sql == 'SELECT "id", "account_id", "amount", "memo" FROM "entries" WHERE "id" = %s'


def test_insert_multi_row_gives_one_check_per_row() -> None:
    rows = checks("INSERT INTO entries (id, amount) VALUES (%s, %s), (%s, %s)", "postgres", [1, "-5", 2, "5"])
    assert [(row.key, row.expected) for row in rows] == [
        ({"id": 1}, {"amount": "-5"}),
        ({"id": 2}, {"amount": "5"}),
    ]


def test_mysql_replace_is_checked_as_the_insert_it_ends_as() -> None:
    (check,) = checks("REPLACE INTO entries (id, amount) VALUES (%s, %s)", "mysql", [4, "1.50"])
    assert (check.kind, check.key, check.expected) == (StatementKind.INSERT, {"id": 4}, {"amount": "1.50"})
    assert check.select_sql == 'SELECT "id", "amount" FROM "entries" WHERE "id" = %s'


def test_mysql_scheduling_modifiers_change_nothing_checked() -> None:
    (update,) = checks("UPDATE LOW_PRIORITY entries SET amount = %s WHERE id = %s", "mysql", ["1", 3])
    assert (update.table, update.key, update.expected) == ("entries", {"id": 3}, {"amount": "1"})
    (insert,) = checks("INSERT HIGH_PRIORITY IGNORE INTO entries (id, amount) VALUES (5, 1)", "mysql", None)
    assert "upsert: the row may have existed before" in insert.unverified["amount"]
    (delete,) = checks("DELETE LOW_PRIORITY QUICK FROM entries WHERE id = 6", "mysql", None)
    assert delete.kind is StatementKind.DELETE and delete.key == {"id": 6}


def test_mysql_table_names_keep_the_schema_spelling() -> None:
    schema = {"Ledger Entries": TableMeta(("id",))}
    (check,) = bind(convert_statement("UPDATE `ledger entries` SET memo = %s WHERE id = %s", "mysql", schema),
                    ["m", 1], None)
    assert check.select_sql == 'SELECT "id", "memo" FROM "Ledger Entries" WHERE "id" = %s'


def test_insert_literal_numbers_become_int_and_decimal() -> None:
    (check,) = checks("INSERT INTO entries (id, amount, fee) VALUES (5, 12.50, -1)", "postgres", None)
    assert check.expected == {"amount": Decimal("12.50"), "fee": -1}


def test_insert_into_schema_qualified_table_quotes_both_parts() -> None:
    (check,) = checks("INSERT INTO ledger.transfers (id, amount) VALUES ($1, $2)", "postgres", [3, "9"])
    assert check.table == "ledger.transfers"
    assert 'FROM "ledger"."transfers"' in check.select_sql


def test_insert_with_server_generated_key_matches_after_image_by_values() -> None:
    images = [
        {"table": "entries", "key": {"id": 100}, "row": {"id": 100, "amount": "1"}},
        {"table": "entries", "key": {"id": 101}, "row": {"id": 101, "amount": "2"}},
    ]
    rows = checks("INSERT INTO entries (amount) VALUES (%s), (%s)", "postgres", ["2", "1"], images)
    assert [row.key for row in rows] == [{"id": 101}, {"id": 100}]


def test_insert_nextval_key_without_after_image_is_unverifiable() -> None:
    template = convert_statement("INSERT INTO entries (id, amount) VALUES (nextval('s'), %s)", "postgres", SCHEMA)
    assert template.key_source is KeySource.AFTER_IMAGES
    with pytest.raises(UnverifiableStatement, match="server-generated key"):
        bind(template, ["1"], [])


def test_insert_server_functions_are_excluded_per_dialect() -> None:
    (check,) = checks(
        "INSERT INTO entries (id, ref, at) VALUES (:1, SYS_GUID(), SYSTIMESTAMP)", "oracle", [1]
    )
    assert set(check.unverified) == {"ref", "at"}
    (check,) = checks("INSERT INTO entries (id, ref, at) VALUES (?, uuid(), now())", "mysql", [1])
    assert set(check.unverified) == {"ref", "at"}


def test_oracle_empty_string_literal_is_null() -> None:
    (check,) = checks("INSERT INTO entries (id, memo) VALUES (:1, '')", "oracle", [1])
    assert check.expected == {"memo": None}


def test_postgres_on_conflict_do_update_from_excluded_keeps_inserted_value() -> None:
    (check,) = checks(
        "INSERT INTO balances (account_id, currency, amount, note) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (account_id, currency) DO UPDATE SET amount = EXCLUDED.amount",
        "postgres",
        [1, "KRW", 50, "n"],
    )
    assert check.expected == {"amount": 50}
    assert "old value kept" in check.unverified["note"]


def test_postgres_on_conflict_do_nothing_uses_after_image() -> None:
    image = {"table": "balances", "key": {"account_id": 1, "currency": "KRW"}, "row": {"amount": 7}}
    (check,) = checks(
        "INSERT INTO balances (account_id, currency, amount) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
        "postgres",
        [1, "KRW", 50],
        [image],
    )
    assert check.expected == {"amount": 7}


@pytest.mark.parametrize(("sql", "unverified"), [
    # VALUES(column) is the inserted value; an expression over the old row cannot be known.
    ("INSERT INTO balances (account_id, currency, amount, hits) VALUES (?, ?, ?, 1) "
     "ON DUPLICATE KEY UPDATE amount = VALUES(amount), hits = hits + 1", {"hits": "upsert"}),
    # MySQL 8.0.19's row alias instead of VALUES().
    ("INSERT INTO balances (account_id, currency, amount) VALUES (?, ?, ?) AS new "
     "ON DUPLICATE KEY UPDATE amount = new.amount", {}),
])
def test_mysql_upsert_keeps_the_inserted_value(sql: str, unverified: dict[str, str]) -> None:
    (check,) = checks(sql, "mysql", [1, "USD", 9])
    assert check.expected == {"amount": 9}
    assert set(check.unverified) == set(unverified)
    for column, reason in unverified.items():
        assert reason in check.unverified[column]


def test_mysql_insert_set_syntax() -> None:
    (check,) = checks("INSERT INTO entries SET id = ?, amount = ?", "mysql", [4, "3"])
    assert check.key == {"id": 4} and check.expected == {"amount": "3"}


def test_mysql_backtick_identifiers_fold_to_lower_case() -> None:
    (check,) = checks("UPDATE `Accounts` SET `Status` = ? WHERE `ID` = ?", "mysql", ["A", 1])
    assert check.key == {"id": 1} and check.expected == {"status": "A"}


def test_postgres_quoted_identifier_keeps_case_and_escapes_quote() -> None:
    schema = {'we"ird': TableMeta(("id",))}
    (check,) = bind(convert_statement('UPDATE "we""ird" SET "Mixed" = 1 WHERE id = 2', "postgres", schema), None)
    assert check.select_sql == 'SELECT "id", "Mixed" FROM "we""ird" WHERE "id" = %s'


# ---- DELETE ---------------------------------------------------------------------------


def test_delete_by_key_expects_row_absent() -> None:
    (check,) = checks("DELETE FROM accounts WHERE id = :id", "oracle", {"id": 5})
    assert check.expected is Expectation.ROW_ABSENT
    assert check.select_sql == 'SELECT "id" FROM "accounts" WHERE "id" = %s'
    assert check.select_params == (5,)


def test_delete_without_key_equality_uses_after_images() -> None:
    image = {"table": "accounts", "key": {"id": 8}, "row": None}
    (check,) = checks("DELETE FROM accounts WHERE closed = true", "postgres", None, [image])
    assert check.key == {"id": 8} and check.expected is Expectation.ROW_ABSENT


def test_delete_without_where_and_no_after_image_is_unverifiable() -> None:
    with pytest.raises(UnverifiableStatement, match="DELETE without key equality"):
        checks("DELETE FROM accounts", "postgres", None)


# ---- placeholders ---------------------------------------------------------------------


def test_dollar_placeholders_bind_by_number_not_position() -> None:
    (check,) = checks("UPDATE accounts SET status = $2 WHERE id = $1", "postgres", [7, "OK"])
    assert check.key == {"id": 7} and check.expected == {"status": "OK"}


def test_pyformat_named_placeholders_bind_from_dict() -> None:
    (check,) = checks("UPDATE accounts SET status = %(s)s WHERE id = %(id)s", "postgres", {"id": 1, "s": "Z"})
    assert check.key == {"id": 1} and check.expected == {"status": "Z"}


def test_oracle_numbered_placeholders_bind_by_position() -> None:
    (check,) = checks("UPDATE accounts SET balance = balance - :1, status = :2 WHERE id = :3", "oracle", [5, "A", 9])
    assert check.key == {"id": 9} and check.expected == {"status": "A"}


def test_oracle_named_placeholders_are_case_insensitive_in_dict() -> None:
    (check,) = checks("UPDATE accounts SET status = :Status WHERE id = :ID", "oracle", {"status": "B", "id": 2})
    assert check.expected == {"status": "B"}


def test_negated_placeholder_is_negated_value() -> None:
    (check,) = checks("INSERT INTO entries (id, amount) VALUES (%s, -%s)", "postgres", [1, Decimal("4.5")])
    assert check.expected == {"amount": Decimal("-4.5")}


def test_cast_placeholder_keeps_parameter_value() -> None:
    (check,) = checks("UPDATE accounts SET status = %s::text WHERE id = CAST(%s AS int)", "postgres", ["A", 3])
    assert check.key == {"id": 3} and check.expected == {"status": "A"}


def test_too_few_params_is_a_clear_error() -> None:
    with pytest.raises(UnverifiableStatement, match="2 placeholders but 1 params"):
        checks("UPDATE accounts SET status = %s WHERE id = %s", "postgres", ["A"])


def test_missing_named_param_is_a_clear_error() -> None:
    with pytest.raises(UnverifiableStatement, match="param 'id'"):
        checks("UPDATE accounts SET status = %(s)s WHERE id = %(id)s", "postgres", {"s": 1})


def test_list_params_for_named_placeholders_is_rejected() -> None:
    with pytest.raises(UnverifiableStatement, match="need an object"):
        checks("UPDATE accounts SET status = %(s)s WHERE id = 1", "postgres", ["x"])


def test_mixed_placeholder_styles_are_rejected() -> None:
    with pytest.raises(UnverifiableStatement, match="mixes placeholder styles"):
        convert_statement("UPDATE accounts SET status = %s WHERE id = $1", "postgres", SCHEMA)


def test_placeholder_style_of_another_dialect_is_rejected() -> None:
    with pytest.raises(UnverifiableStatement, match="not valid in postgres"):
        convert_statement("UPDATE accounts SET status = ? WHERE id = ?", "postgres", SCHEMA)


# ---- rejection of what we cannot verify -----------------------------------------------


@pytest.mark.parametrize(
    ("sql", "dialect", "reason"),
    [
        ("CREATE TABLE t (a int)", "postgres", "DDL statement CREATE TABLE is not a write we can verify"),
        ("DROP TABLE accounts", "postgres", "DDL statement DROP TABLE"),
        ("TRUNCATE accounts", "postgres", "DDL statement TRUNCATE"),
        ("SELECT * FROM accounts", "postgres", "SELECT statement is not a write"),
        ("MERGE INTO accounts USING s ON accounts.id = s.id WHEN MATCHED THEN UPDATE SET a = 1", "postgres", "MERGE"),
        ("CALL transfer(1, 2)", "postgres", "CALL statement"),
        ("REPLACE INTO entries (id) SELECT id FROM other", "mysql", "INSERT ... SELECT"),
        ("UPDATE IGNORE entries SET amount = 1 WHERE id = 1", "mysql", "UPDATE IGNORE leaves rows"),
        ("DELETE IGNORE FROM entries WHERE id = 1", "mysql", "DELETE IGNORE leaves rows"),
        ("INSERT INTO entries (id) SELECT id FROM accounts", "postgres", "INSERT ... SELECT"),
        ("INSERT INTO entries VALUES (1, 2)", "postgres", "without a column list"),
        ("UPDATE accounts SET a = (SELECT 1) WHERE id = 1", "postgres", "subquery"),
        ("UPDATE accounts SET a = 1 FROM entries WHERE accounts.id = entries.id", "postgres", "UPDATE ... FROM"),
        ("DELETE FROM accounts USING entries WHERE accounts.id = entries.id", "postgres", "USING"),
        ("WITH x AS (SELECT 1) UPDATE accounts SET a = 1 WHERE id = 1", "postgres", "WITH"),
        ("UPDATE accounts SET a = audit_log(1) WHERE id = 1", "postgres", "function audit_log() is not known"),
        ("UPDATE accounts SET a = 1 WHERE id = nextval('s')", "postgres", "function nextval() has side effects"),
        ("DELETE FROM accounts WHERE id = seq.NEXTVAL", "oracle", "function nextval() has side effects"),
        ("UPDATE nowhere SET a = 1 WHERE id = 1", "postgres", "no key metadata"),
        ("UPDATE accounts SET a = 1, a = 2 WHERE id = 1", "postgres", "set twice"),
        ("UPDATE accounts SET a = 1 WHERE id = 1; DELETE FROM accounts", "postgres", "2 statements in one string"),
    ],
)
def test_statements_we_cannot_verify_are_rejected_with_reason(sql: str, dialect: str, reason: str) -> None:
    with pytest.raises(UnverifiableStatement) as caught:
        convert_statement(sql, dialect, SCHEMA)
    assert reason in caught.value.reason


def test_unknown_dialect_is_rejected() -> None:
    with pytest.raises(UnverifiableStatement, match="dialect 'db2' is not supported"):
        convert_statement("UPDATE accounts SET a = 1 WHERE id = 1", "db2", SCHEMA)


def test_trailing_semicolon_and_comment_are_one_statement() -> None:
    template = convert_statement("UPDATE accounts SET a = 1 WHERE id = 1; -- done", "postgres", SCHEMA)
    assert template.kind is StatementKind.UPDATE


def test_ambiguous_unqualified_table_across_schemas_is_rejected() -> None:
    schema = {"a.accounts": TableMeta(("id",)), "b.accounts": TableMeta(("id",))}
    with pytest.raises(UnverifiableStatement, match="ambiguous"):
        convert_statement("DELETE FROM accounts WHERE id = 1", "postgres", schema)


def test_schema_lookup_is_case_insensitive() -> None:
    template = convert_statement("DELETE FROM ACCOUNTS WHERE ID = 1", "oracle", {"Accounts": TableMeta(("Id",))})
    assert template.key_columns == ("Id",)


# ---- TemplateCache --------------------------------------------------------------------


def test_cache_converts_each_template_once() -> None:
    cache = TemplateCache(SCHEMA)
    for account in range(5):
        cache.check_rows(f"UPDATE accounts SET status = 'S{account}' WHERE id = {account}", "postgres", None)
    assert len(cache) == 1 and cache.hits == 4


def test_cache_binds_literals_of_each_statement() -> None:
    cache = TemplateCache(SCHEMA)
    cache.check_rows("UPDATE accounts SET status = 'A' WHERE id = 1", "postgres", None)
    (check,) = cache.check_rows("UPDATE accounts SET status = 'B' WHERE id = 2", "postgres", None)
    assert check.key == {"id": 2} and check.expected == {"status": "B"}


def test_cache_result_equals_uncached_result() -> None:
    sql = "INSERT INTO entries (id, amount, kind) VALUES (%s, 12.5, 'FEE'), (%s, -3, 'X')"
    cache = TemplateCache(SCHEMA)
    assert cache.check_rows(sql, "postgres", [1, 2]) == checks(sql, "postgres", [1, 2])


def test_cache_remembers_unverifiable_verdict() -> None:
    cache = TemplateCache(SCHEMA)
    for _ in range(2):
        with pytest.raises(UnverifiableStatement, match="DDL"):
            cache.check_rows("DROP TABLE accounts", "postgres", None)
    assert cache.hits == 1


def test_cache_falls_back_to_raw_text_when_literal_extraction_breaks_syntax() -> None:
    cache = TemplateCache(SCHEMA)
    (check,) = cache.check_rows(
        "UPDATE accounts SET amount = CAST(%s AS NUMERIC(10, 2)) WHERE id = 4", "postgres", ["1.50"]
    )
    assert check.key == {"id": 4} and check.expected == {"amount": "1.50"}


def test_cache_evicts_least_recently_used_beyond_maxsize() -> None:
    cache = TemplateCache(SCHEMA, maxsize=2)
    for column in ("a", "b", "c"):
        cache.check_rows(f"UPDATE accounts SET {column} = 1 WHERE id = 1", "postgres", None)
    assert len(cache) == 2


def test_template_records_where_values_come_from() -> None:
    template = convert_statement(DEBIT, "postgres", SCHEMA)
    origins = {column: source.origin for column, source in template.rows[0].values}
    assert origins == {
        "balance": ValueOrigin.AFTER_IMAGE,
        "version": ValueOrigin.AFTER_IMAGE,
        "updated_at": ValueOrigin.EXCLUDED,
    }
    assert template.rows[0].key[0].origin is ValueOrigin.PARAM


def test_insert_default_keyword_value_is_unverified() -> None:
    (check,) = checks("INSERT INTO entries (id, kind) VALUES (%s, DEFAULT) RETURNING id", "postgres", [1])
    assert check.expected == {} and "DEFAULT" in check.unverified["kind"]


def test_mysql_insert_ignore_without_after_image_only_checks_existence() -> None:
    (check,) = checks("INSERT IGNORE INTO entries (id, amount) VALUES (?, ?)", "mysql", [1, 2])
    assert check.expected == {} and "may have existed" in check.unverified["amount"]


def test_two_equalities_on_one_key_column_are_not_key_equality() -> None:
    template = convert_statement("UPDATE entries SET a = 1 WHERE id = 5 AND id = 6", "postgres", SCHEMA)
    assert template.key_source is KeySource.AFTER_IMAGES


def test_key_equal_to_null_is_not_key_equality() -> None:
    template = convert_statement("DELETE FROM entries WHERE id = NULL", "postgres", SCHEMA)
    assert template.key_source is KeySource.AFTER_IMAGES


def test_too_many_params_is_a_clear_error() -> None:
    with pytest.raises(UnverifiableStatement, match="2 placeholders but 3 params"):
        checks("UPDATE entries SET amount = %s WHERE id = %s", "postgres", [1, 2, 3])
