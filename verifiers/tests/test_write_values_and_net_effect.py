"""Pure parts of the write verifier: tagged values, the net effect per row, validation, judging values."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from verifiers.write import values
from verifiers.write.checker import judge_row, row_check_from_json, row_check_to_json
from verifiers.write.conversion import convert_capture
from verifiers.write.sqlcheck import Expectation, RowCheck, StatementKind, TableMeta, TemplateCache
from verifiers.write.validation import CaptureError, parse_body, validate_capture, validate_commit

SCHEMA = {
    "accounts": TableMeta(key_columns=("id",), version_column="version"),
    "transfers": TableMeta(key_columns=("id",)),
    "docs": TableMeta(key_columns=("id",)),
}


@pytest.mark.parametrize("value", [
    Decimal("10.50"), Decimal("-0.0001"), 2**70, -(2**80), 5, 1.5, "한국어 ☃ \U0001f600", "a\x00b", True, None,
    datetime(2024, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=9))), datetime(2024, 1, 1, 10, 0),
    date(2024, 2, 29), b"\x00\xff binary", uuid.UUID(int=7), float("inf"),
    {"$decimal": "not a tag, a user object"}, [Decimal("1"), {"a": b"x"}],
])
def test_every_value_survives_json(value):
    assert values.decode(orjson.loads(orjson.dumps(values.encode(value)))) == value


def test_storable_spells_out_what_jsonb_refuses():
    assert values.storable({"sql\x00": ["a\x00b", "\ud800"]}) == {"sql\\u0000": ["a\\u0000b", "\\ud800"]}


def test_row_check_with_decimals_and_big_ints_round_trips():
    check = RowCheck(table="accounts", kind=StatementKind.UPDATE, select_sql='SELECT "balance" FROM "accounts" WHERE "id" = %s',
                     select_params=(2**70,), key={"id": 2**70}, expected={"balance": Decimal("10.50")})
    assert row_check_from_json(orjson.loads(orjson.dumps(row_check_to_json(check)))) == check


def test_select_params_are_stored_only_when_they_are_not_the_key_values_themselves():
    key = {"transfer_id": "7aea8984-485e-4684-b6ea-142c7afcac38", "account_id": 2}
    select = 'SELECT "amount" FROM "entries" WHERE "transfer_id" = %s AND "account_id" = %s'
    bound = RowCheck(table="entries", kind=StatementKind.INSERT, select_sql=select,
                     select_params=tuple(key.values()), key=key, expected={"amount": Decimal("5")})
    assert "select_params" not in row_check_to_json(bound)  # as sqlcheck binds: read back from the key
    other = RowCheck(table="entries", kind=StatementKind.INSERT, select_sql=select,
                     select_params=("7aea8984-485e-4684-b6ea-142c7afcac38", "2"), key=key, expected={})
    for check in (bound, other):
        assert row_check_from_json(orjson.loads(orjson.dumps(row_check_to_json(check)))) == check


def capture(*statements, dialect="postgres"):
    return {"id": "c1", "dialect": dialect, "statements": [{"sql": sql, "params": params} for sql, params in statements]}


def net(*statements):
    checks, unverifiable = convert_capture(capture(*statements), TemplateCache(SCHEMA))
    return [(item["statements"], row_check_from_json(item["check"])) for item in checks], unverifiable


def test_insert_then_update_is_one_row_in_its_final_state():
    (rows, _) = net(("INSERT INTO transfers (id, amount, status) VALUES (%s, %s, %s)", ["t1", "5.00", "pending"]),
                    ("UPDATE transfers SET status = %s WHERE id = %s", ["done", "t1"]))
    [(statements, check)] = rows
    assert statements == [0, 1] and check.kind is StatementKind.INSERT
    assert check.expected == {"amount": "5.00", "status": "done"}
    assert '"status"' in check.select_sql and '"amount"' in check.select_sql


def test_update_then_update_merges_and_the_later_value_wins():
    (rows, _) = net(("UPDATE accounts SET balance = 10.50, memo = 'a' WHERE id = 1", None),
                    ("UPDATE accounts SET memo = %s WHERE id = %s", ["b", "1"]))
    [(_, check)] = rows
    assert check.expected == {"balance": Decimal("10.50"), "memo": "b"} and check.kind is StatementKind.UPDATE


def test_insert_then_delete_expects_no_row():
    (rows, _) = net(("INSERT INTO transfers (id, amount) VALUES ('t2', 1)", None),
                    ("DELETE FROM transfers WHERE id = 't2'", None))
    [(_, check)] = rows
    assert check.expected is Expectation.ROW_ABSENT and check.kind is StatementKind.DELETE


def test_delete_then_insert_is_the_new_row_only():
    (rows, _) = net(("DELETE FROM transfers WHERE id = 't3'", None),
                    ("INSERT INTO transfers (id, status) VALUES ('t3', 'new')", None))
    [(_, check)] = rows
    assert check.expected == {"status": "new"}


def test_rows_touched_once_keep_their_own_checks():
    (rows, _) = net(("UPDATE accounts SET memo = 'x' WHERE id IN (1, 2)", None),
                    ("UPDATE accounts SET memo = 'y' WHERE id = 2", None))
    assert sorted((c.key["id"], c.expected["memo"]) for _, c in rows) == [(1, "x"), (2, "y")]


def test_a_later_unverifiable_write_on_the_table_makes_the_row_unverifiable():
    (rows, unverifiable) = net(("UPDATE accounts SET memo = 'x' WHERE id = 1", None),
                               ("UPDATE accounts SET memo = 'z' WHERE status = 'frozen'", None))
    assert rows == [] and any("final state is unknown" in item["reason"] for item in unverifiable)


def test_decimal_literal_capture_converts_and_stores():
    checks, _ = convert_capture(capture(("UPDATE accounts SET balance = 10.50 WHERE id = 12345678901234567890123", None)),
                                TemplateCache(SCHEMA))
    assert orjson.loads(orjson.dumps(checks))[0]["check"]["expected"] == {"balance": {"$decimal": "10.50"}}


def check_of(expected, kind=StatementKind.UPDATE, version=None) -> RowCheck:
    return RowCheck(table="docs", kind=kind, select_sql='SELECT "body" FROM "docs" WHERE "id" = %s', select_params=(1,),
                    key={"id": 1}, expected=expected, version_column=version)


def test_json_text_is_compared_as_json():
    row = {"body": {"b": [1, 2], "a": "x"}}
    assert judge_row(check_of({"body": '{"a": "x", "b": [1, 2]}'}), row).verdict == "match"
    assert judge_row(check_of({"body": '{"a": "x", "b": [1, 3]}'}), row).verdict == "mismatch"
    assert judge_row(check_of({"body": {"a": "x", "b": [1, 2]}}), row).verdict == "match"


@pytest.mark.parametrize(("actual", "expected", "verdict"), [
    (Decimal("10.5000"), Decimal("10.50"), "match"),
    (Decimal("10.5000"), Decimal("10.51"), "mismatch"),
    (2**70, {"$int": str(2**70)}, "match"),
    (b"\x01\xff", b"\x01\xff", "match"),
    (b"\x01\xff", "\\x01FF", "match"),
    (b"\x01\xff", b"\x01\xfe", "mismatch"),
    (datetime(2024, 1, 1, 1, 0, tzinfo=timezone.utc), "2024-01-01 10:00:00+09:00", "match"),
    (datetime(2024, 1, 1, 1, 0, tzinfo=timezone.utc), datetime(2024, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=9))),
     "match"),
    ("héllo ☃", "héllo ☃", "match"),
])
def test_values_of_every_kind_are_judged_by_meaning(actual, expected, verdict):
    expected = values.decode(expected)
    assert judge_row(check_of({"body": expected}), {"body": actual}).verdict == verdict


def test_gone_row_on_a_versioned_table_is_stale_but_a_missing_insert_is_a_mismatch():
    assert judge_row(check_of({"body": "x"}, version="version"), None).verdict == "stale"
    assert judge_row(check_of({"body": "x"}, kind=StatementKind.INSERT, version="version"), None).verdict == "mismatch"
    assert judge_row(check_of({"body": "x"}), None).verdict == "mismatch"


def test_params_may_carry_tagged_values():
    checked = validate_capture({"id": "c", "dialect": "postgres", "statements": [
        {"sql": "UPDATE t SET a = %s WHERE id = %s", "params": [{"$decimal": "1.10"}, {"$bytes": "AP8="}]}]})
    assert checked["statements"][0]["params"] == [Decimal("1.10"), b"\x00\xff"]
    with pytest.raises(CaptureError, match=r"statements\[0\].params: \$decimal"):
        validate_capture({"id": "c", "dialect": "postgres", "statements": [
            {"sql": "UPDATE t SET a = %s WHERE id = 1", "params": [{"$decimal": "ten"}]}]})


@pytest.mark.parametrize("body", [
    b'{"id": "c", "dialect": "postgres", "statements": [{"sql": "UPDATE t SET a = %s WHERE id = 1", '
    b'"params": [{"$decimal": "1.10"}]}]}',
    b'{"id": "c", "dialect": "postgres", "statements": [{"sql": "UPDATE t SET a = %s WHERE id = 1", '
    b'"params": [{"\\u0024decimal": "1.10"}]}]}',  # the same tag, its "$" escaped as JSON allows
], ids=["plain", "escaped-dollar"])
def test_a_body_with_a_tag_anywhere_is_decoded(body):
    parsed = parse_body(body)
    assert parsed.tagged
    assert validate_capture(parsed.items[0][1], tagged=parsed.tagged)["statements"][0]["params"] == [Decimal("1.10")]


def test_a_body_without_tags_skips_decoding_and_reads_the_same():
    body = (b'{"id": "c", "dialect": "postgres", "statements": [{"sql": "UPDATE t SET a = %s WHERE id = %s", '
            b'"params": ["1.10", 7]}], "after_images": [{"table": "t", "key": {"id": 7}, "row": {"a": [1, {"b": 2}]}}]}')
    parsed = parse_body(body)
    assert not parsed.tagged
    raw = parsed.items[0][1]
    assert validate_capture(raw, tagged=False) == validate_capture(raw)


def test_bodies_are_one_object_an_array_or_ndjson():
    assert parse_body(b'{"id": "a"}').single
    array = parse_body(b'[{"id": "a"}, {"id": "b"}]')
    assert not array.single and [raw for _, raw in array.items] == [{"id": "a"}, {"id": "b"}]
    lines = parse_body(b'{"id": "a"}\n\nnot json\n{"id": "b"}\n', "application/x-ndjson")
    assert [number for number, _ in lines.items] == [1, 3, 4] and isinstance(lines.items[1][1], CaptureError)
    assert validate_commit({"id": "a"}) == "a"
