"""The write checker's judging and SQL guard (pure: no database)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from verifiers.write.checker import (
    CheckerError,
    compile_write_rules,
    executable_select,
    judge_row,
    row_check_from_json,
    row_check_to_json,
)
from verifiers.write.sqlcheck import Expectation, RowCheck, StatementKind

SELECT_ACCOUNT = 'SELECT "id", "balance", "version" FROM "accounts" WHERE "id" = %s'


def account_check(**overrides) -> RowCheck:
    fields: dict[str, Any] = dict(table="accounts", kind=StatementKind.UPDATE, select_sql=SELECT_ACCOUNT, select_params=(5,),
                  key={"id": 5}, expected={"balance": "100.0000", "version": 3}, unverified={},
                  version_column="version")
    fields.update(overrides)
    return RowCheck(**fields)


def test_equal_row_with_padded_numeric_matches():
    outcome = judge_row(account_check(expected={"balance": "100.5", "version": 3}),
                        {"id": 5, "balance": Decimal("100.5000"), "version": 3})
    assert outcome.verdict == "match"


def test_changed_column_is_a_mismatch_named_after_the_column():
    outcome = judge_row(account_check(select_sql='SELECT "id", "fee" FROM "transfers" WHERE "id" = %s',
                                      table="transfers", kind=StatementKind.INSERT,
                                      expected={"fee": "0.02"}, version_column=None),
                        {"id": 5, "fee": Decimal("0.0300")})
    assert outcome.verdict == "mismatch"
    assert [(d["path"], d["kind"]) for d in outcome.differences] == [("$.fee", "changed")]
    assert outcome.title == "INSERT transfers: fee changed"
    assert outcome.fingerprint


def test_same_columns_on_other_rows_share_a_fingerprint():
    check = account_check(expected={"balance": "1", "version": 3})
    first = judge_row(check, {"id": 5, "balance": Decimal("2"), "version": 3})
    second = judge_row(account_check(key={"id": 9}, select_params=(9,), expected={"balance": "7", "version": 3}),
                       {"id": 9, "balance": Decimal("8"), "version": 3})
    assert first.fingerprint == second.fingerprint


def test_higher_version_than_expected_is_stale_not_mismatch():
    outcome = judge_row(account_check(), {"id": 5, "balance": Decimal("90"), "version": 4})
    assert outcome.verdict == "stale"
    assert "version" in outcome.reason


def test_lower_version_than_expected_is_compared():
    outcome = judge_row(account_check(), {"id": 5, "balance": Decimal("100"), "version": 2})
    assert outcome.verdict == "mismatch"


def test_timestamp_version_after_the_commit_is_stale():
    committed = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    check = account_check(expected={"balance": "1"}, version_column="updated_at")
    later = judge_row(check, {"id": 5, "balance": Decimal("9"), "updated_at": committed + timedelta(seconds=2)},
                      committed_at=committed)
    earlier = judge_row(check, {"id": 5, "balance": Decimal("9"), "updated_at": committed - timedelta(seconds=2)},
                        committed_at=committed)
    assert later.verdict == "stale"
    assert earlier.verdict == "mismatch"


def test_missing_row_for_an_insert_is_an_extra_row_mismatch():
    outcome = judge_row(account_check(kind=StatementKind.INSERT), None)
    assert outcome.verdict == "mismatch"
    assert outcome.differences[0]["kind"] == "extra"


def test_deleted_row_still_present_is_a_missing_row_mismatch():
    check = account_check(kind=StatementKind.DELETE, expected=Expectation.ROW_ABSENT, version_column=None)
    assert judge_row(check, None).verdict == "match"
    outcome = judge_row(check, {"id": 5, "balance": Decimal("1")})
    assert outcome.verdict == "mismatch"
    assert outcome.differences[0]["kind"] == "missing"


def test_failed_select_is_an_error_with_its_reason():
    outcome = judge_row(account_check(), CheckerError("SELECT failed: UndefinedColumn: no such column"))
    assert outcome.verdict == "error"
    assert "UndefinedColumn" in outcome.reason


def test_timestamps_compare_as_instants_across_offsets():
    moment = datetime(2024, 5, 1, 3, 0, tzinfo=timezone.utc)
    check = account_check(expected={"opened_at": "2024-05-01T12:00:00+09:00"}, version_column=None)
    assert judge_row(check, {"id": 5, "opened_at": moment}).verdict == "match"


def test_uuid_compares_with_its_string_form():
    value = uuid.uuid4()
    check = account_check(expected={"transfer_id": str(value).upper()}, version_column=None)
    assert judge_row(check, {"id": 5, "transfer_id": value}).verdict == "match"


def test_table_rules_can_allow_a_tolerance():
    check = account_check(expected={"balance": "100.00"}, version_column=None)
    loose = compile_write_rules({"tolerance": "0.01"})
    assert judge_row(check, {"id": 5, "balance": Decimal("100.01")}, rules=loose).verdict == "match"
    assert judge_row(check, {"id": 5, "balance": Decimal("100.01")}).verdict == "mismatch"


def test_row_check_survives_json_round_trip():
    for check in (account_check(), account_check(kind=StatementKind.DELETE, expected=Expectation.ROW_ABSENT)):
        assert row_check_from_json(row_check_to_json(check)) == check


def test_malformed_stored_check_is_refused_clearly():
    with pytest.raises(CheckerError, match="malformed"):
        row_check_from_json({"table": "accounts"})


def test_generated_select_passes_the_guard_unchanged():
    assert executable_select(account_check()) == SELECT_ACCOUNT


def test_version_column_missing_from_the_select_is_added_as_identifier():
    check = account_check(select_sql='SELECT "id", "balance" FROM "accounts" WHERE "id" = %s',
                          version_column="updated_at")
    assert executable_select(check) == 'SELECT "id", "balance", "updated_at" FROM "accounts" WHERE "id" = %s'


@pytest.mark.parametrize("sql", [
    "DELETE FROM accounts",
    'SELECT "id" FROM "accounts" WHERE "id" = %s; DROP TABLE accounts',
    'SELECT "id" FROM "accounts" WHERE "id" = %s -- comment',
    'SELECT pg_sleep(10) FROM "accounts" WHERE "id" = %s',
    'SELECT "id" FROM "accounts" WHERE "id" = 1 OR 1=1',
    'SELECT "id" FROM "accounts" WHERE "id" = %s AND "x" = %s',  # two placeholders, one value
])
def test_anything_but_the_generated_shape_is_refused(sql):
    with pytest.raises(CheckerError):
        executable_select(account_check(select_sql=sql))
