"""Batched reading of row checks: many checks of one SELECT read by one statement, same answers.

Against a throwaway demo ledger (no console database): every batched result is compared with
what the one-row SELECT of the same check returns on its own.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import replace
from decimal import Decimal

import psycopg
import pytest

from verifiers.write import checker
from verifiers.write.checker import (
    BATCH_SELECT_SHAPE,
    SELECT_SHAPE,
    CheckerError,
    fetch_rows,
    judge_row,
    open_verification_connection,
)
from verifiers.write.sqlcheck import Expectation, RowCheck, StatementKind

ACCOUNT_SELECT = 'SELECT "id", "balance", "version" FROM "accounts" WHERE "id" = %s'
ENTRY_SELECT = 'SELECT "transfer_id", "account_id", "amount" FROM "entries" WHERE "transfer_id" = %s AND "account_id" = %s'
TIMEOUT_MS = 5000
LEDGER_ACCOUNTS = 40  # ledger_dsn (conftest.py) seeds this many accounts


@pytest.fixture(scope="module")
def ledger_dsn(ledger_dsn):
    """The shared throwaway ledger (conftest.py) with versioned accounts and one completed transfer."""
    dsn = ledger_dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE accounts SET version = 3")
        transfer = uuid.uuid4()
        conn.execute("INSERT INTO transfers (id, from_account, to_account, amount, fee, currency, status)"
                     " VALUES (%s, 1, 2, 5, 0, 'USD', 'completed')", (transfer,))
        for account, amount in ((1, "-5"), (2, "5")):
            conn.execute("INSERT INTO entries (account_id, transfer_id, amount, business_time, memo)"
                         " VALUES (%s, %s, %s, now(), '')", (account, transfer, amount))
    return dsn


@pytest.fixture(scope="module")
def transfer_id(ledger_dsn) -> str:
    with psycopg.connect(ledger_dsn) as conn:
        row = conn.execute("SELECT transfer_id FROM entries WHERE transfer_id IS NOT NULL"
                           " ORDER BY id DESC LIMIT 1").fetchone()
        assert row is not None
        return str(row[0])


class RecordingCursor(psycopg.Cursor):
    sent: list[str] = []

    def execute(self, query, params=None, **kwargs):
        RecordingCursor.sent.append(query if isinstance(query, str) else query.as_string(self.connection))
        return super().execute(query, params, **kwargs)


@pytest.fixture
def conn(ledger_dsn):
    RecordingCursor.sent = []
    connect = functools.partial(psycopg.connect, cursor_factory=RecordingCursor)
    connection = open_verification_connection(ledger_dsn, statement_timeout_ms=TIMEOUT_MS, connect=connect)
    yield connection
    connection.close()


def balances(dsn: str) -> dict[int, Decimal]:
    with psycopg.connect(dsn) as connection:
        return dict(connection.execute("SELECT id, balance FROM accounts").fetchall())


def account_check(account_id, expected, *, version_column: str | None = "version") -> RowCheck:
    return RowCheck(table="accounts", kind=StatementKind.UPDATE, select_sql=ACCOUNT_SELECT,
                    select_params=(account_id,), key={"id": account_id}, expected=expected,
                    version_column=version_column)


def one_by_one(conn, checks: list[RowCheck]) -> list:
    return [fetch_rows(conn, [check], statement_timeout_ms=TIMEOUT_MS)[0] for check in checks]


def batched_selects(sent: list[str]) -> list[str]:
    return [text for text in sent if BATCH_SELECT_SHAPE.match(text)]


def test_many_rows_of_one_table_are_read_by_one_select_and_judged_as_alone(conn, ledger_dsn):
    money = balances(ledger_dsn)
    checks = [account_check(account_id, {"balance": str(money[account_id]), "version": 3})
              for account_id in range(1, 31)]
    # Written by the candidate, missing in the legacy (an UPDATE of a gone row would be stale).
    checks[4] = replace(account_check(999_999, {"balance": "1", "version": 3}), kind=StatementKind.INSERT)
    checks[9] = account_check(10, {"balance": str(money[10]), "version": 2})  # the row moved on: stale
    checks[14] = account_check(15, {"balance": str(money[15] + 1), "version": 3})  # mismatch
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert len(batched_selects(RecordingCursor.sent)) == 1
    verdicts = [judge_row(check, row).verdict for check, row in zip(checks, rows)]
    assert verdicts.count("match") == 27
    assert (verdicts[4], verdicts[9], verdicts[14]) == ("mismatch", "stale", "mismatch")
    assert rows[4] is None
    assert rows == one_by_one(conn, checks)


def test_every_sql_text_sent_has_a_generated_shape(conn, ledger_dsn, transfer_id):
    checks = [account_check(account_id, {"version": 3}) for account_id in (1, 2, 3)]
    checks += [RowCheck(table="entries", kind=StatementKind.INSERT, select_sql=ENTRY_SELECT,
                        select_params=(transfer_id, account_id), key={"transfer_id": transfer_id, "account_id": account_id},
                        expected={"amount": amount}) for account_id, amount in ((1, "-5"), (2, "5"), (3, "0"))]
    fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    selects = [text for text in RecordingCursor.sent if text.startswith("SELECT")]
    assert selects and all(SELECT_SHAPE.match(text) for text in selects)
    assert len(batched_selects(selects)) == 2  # one per table, the entries one with a two-column key


def test_two_column_key_rows_go_back_to_their_checks(conn, transfer_id):
    checks = [RowCheck(table="entries", kind=StatementKind.INSERT, select_sql=ENTRY_SELECT,
                       select_params=(transfer_id, account_id), key={"transfer_id": transfer_id, "account_id": account_id},
                       expected={"amount": amount}) for account_id, amount in ((2, "5"), (1, "-5"), (3, "0"))]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert [row["amount"] if row else None for row in rows] == [Decimal("5.0000"), Decimal("-5.0000"), None]
    assert [judge_row(check, row).verdict for check, row in zip(checks, rows)] == ["match", "match", "mismatch"]


def test_a_key_checked_twice_gives_each_check_its_own_row(conn):
    checks = [account_check(3, {"version": 3}), account_check(4, {"version": 3}), account_check(3, {"version": 3})]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert rows[0] == rows[2] and rows[0]["id"] == 3
    assert rows[0] is not rows[2]


def test_key_values_sent_as_text_are_read_as_the_column_reads_them(conn):
    checks = [account_check("5", {"version": 3}), account_check(" 6 ", {"version": 3}), account_check(7, {"version": 3}),
              account_check("888888", {"version": 3})]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert [row["id"] if row else None for row in rows] == [5, 6, 7, None]
    assert rows == one_by_one(conn, checks)


def test_deleted_rows_are_absent_in_a_batch(conn):
    checks = [RowCheck(table="accounts", kind=StatementKind.DELETE, select_sql=ACCOUNT_SELECT,
                       select_params=(account_id,), key={"id": account_id}, expected=Expectation.ROW_ABSENT)
              for account_id in (777_777, 888_888, 1)]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert [judge_row(check, row).verdict for check, row in zip(checks, rows)] == ["match", "match", "mismatch"]


def test_a_value_the_key_column_refuses_fails_only_its_own_check(conn):
    checks = [account_check(1, {"version": 3}), account_check("not a number", {"version": 3}),
              account_check(2, {"version": 3})]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert rows[0]["id"] == 1 and rows[2]["id"] == 2
    assert isinstance(rows[1], CheckerError) and "SELECT failed" in str(rows[1])


def test_text_key_of_another_spelling_is_decided_by_the_row_select(conn, ledger_dsn, transfer_id):
    select = 'SELECT "transfer_id", "action" FROM "audit_log" WHERE "transfer_id" = %s AND "action" = %s'
    with psycopg.connect(ledger_dsn, autocommit=True) as writer:
        writer.execute("INSERT INTO audit_log (transfer_id, action) VALUES (%s, 'done') ON CONFLICT DO NOTHING",
                       (transfer_id,))
    checks = [RowCheck(table="audit_log", kind=StatementKind.INSERT, select_sql=select,
                       select_params=(transfer_id, action), key={"transfer_id": transfer_id, "action": action},
                       expected={}) for action in ("done", "DONE", "missing")]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert [row["action"] if row else None for row in rows] == ["done", None, None]
    assert rows == one_by_one(conn, checks)
    # Absence on a text key is confirmed by the one-row SELECT, in the same transaction.
    assert sum(text == select for text in RecordingCursor.sent) >= 2
    RecordingCursor.sent.clear()  # again, as a VALUES list now that the key types are known
    assert fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS) == rows
    assert values_selects(RecordingCursor.sent) and sum(text == select for text in RecordingCursor.sent) >= 2


def test_key_of_a_type_without_exact_equality_falls_back_to_row_selects(conn):
    # currency is character(3), not unique: the row SELECT's answer (not a unique key) stands.
    select = 'SELECT "currency", "id" FROM "accounts" WHERE "currency" = %s'
    checks = [RowCheck(table="accounts", kind=StatementKind.UPDATE, select_sql=select, select_params=(currency,),
                       key={"currency": currency}, expected={}) for currency in ("KRW", "USD", "XXX")]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert isinstance(rows[0], CheckerError) and "not a unique key" in str(rows[0])
    assert isinstance(rows[1], CheckerError)
    assert rows[2] is None


def test_keys_beyond_one_statement_are_split(conn, monkeypatch):
    monkeypatch.setattr(checker, "MAX_KEYS_PER_SELECT", 4)
    checks = [account_check(account_id, {"version": 3}) for account_id in range(1, 11)]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert [row["id"] for row in rows] == list(range(1, 11))
    assert len(batched_selects(RecordingCursor.sent)) == 3


def test_key_columns_not_selected_are_read_for_matching_but_not_returned(conn):
    select = 'SELECT "balance" FROM "accounts" WHERE "id" = %s'
    checks = [RowCheck(table="accounts", kind=StatementKind.UPDATE, select_sql=select, select_params=(account_id,),
                       key={"id": account_id}, expected={}) for account_id in (1, 2)]
    rows = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert [set(row) for row in rows] == [{"balance"}, {"balance"}]
    assert rows == one_by_one(conn, checks)


def entry_check(transfer, account, amount) -> RowCheck:
    return RowCheck(table="entries", kind=StatementKind.INSERT, select_sql=ENTRY_SELECT,
                    select_params=(transfer, account), key={"transfer_id": transfer, "account_id": account},
                    expected={"amount": amount})


def comparable(rows: list) -> list:
    return [("error", str(row)) if isinstance(row, CheckerError) else row for row in rows]


def values_selects(sent: list[str]) -> list[str]:
    return [text for text in sent if " IN (VALUES (" in text]


def test_a_key_of_several_columns_is_read_by_a_values_list_once_its_types_are_known(conn, transfer_id):
    checks = [entry_check(transfer_id, 1, "-5"), entry_check(transfer_id, 2, "5"), entry_check(transfer_id, 3, "0"),
              entry_check(str(uuid.uuid4()), 1, "0")]
    first = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    assert not values_selects(RecordingCursor.sent)  # the first answer tells the key column types
    RecordingCursor.sent.clear()
    second = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    [values_select] = values_selects(RecordingCursor.sent)
    assert BATCH_SELECT_SHAPE.match(values_select) and SELECT_SHAPE.match(values_select)
    assert ENTRY_SELECT not in RecordingCursor.sent  # absence on a uuid and integer key is certain
    assert [row["amount"] if row else None for row in second] == [Decimal("-5.0000"), Decimal("5.0000"), None, None]
    assert second == first == one_by_one(conn, checks)


def test_values_a_values_list_cannot_bind_exactly_are_read_by_the_row_select(conn, transfer_id):
    fetch_rows(conn, [entry_check(transfer_id, 1, "-5"), entry_check(transfer_id, 2, "5")],
               statement_timeout_ms=TIMEOUT_MS)  # the key column types are known from here on
    exact = [entry_check(transfer_id.upper(), "1", "-5"), entry_check(transfer_id, 2, "5")]
    odd = [entry_check("{" + transfer_id + "}", 1, "-5"), entry_check(transfer_id.replace("-", ""), 2, "5"),
           entry_check(transfer_id, 1.0, "-5"), entry_check(transfer_id, Decimal("2"), "5"),
           entry_check(transfer_id, "99999999999999999999", "0"), entry_check(transfer_id, "\u00a01", "-5"),
           entry_check(f" {transfer_id}", 2, "5")]
    RecordingCursor.sent.clear()
    rows = fetch_rows(conn, exact + odd, statement_timeout_ms=TIMEOUT_MS)
    [values_select] = values_selects(RecordingCursor.sent)
    assert values_select.count("(") - values_select.count("(VALUES") == 2 + 1  # two key tuples, the column list
    assert comparable(rows) == comparable(one_by_one(conn, exact + odd))
    assert isinstance(rows[2 + 4], CheckerError)  # beyond bigint: the row SELECT's own error
    assert [row["amount"] for row in rows[:2]] == [Decimal("-5.0000"), Decimal("5.0000")]


@pytest.mark.parametrize("remembered", [(2950, 23), (25, 20)], ids=["integer-width-changed", "uuid-became-text"])
def test_key_types_that_changed_since_they_were_learnt_leave_the_answer_to_the_row_select(conn, transfer_id,
                                                                                        remembered):
    checks = [entry_check(transfer_id, 1, "-5"), entry_check(transfer_id, 2, "5"), entry_check(transfer_id, 3, "0")]
    expected = fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS)
    plan = checker.batch_select(ENTRY_SELECT)
    assert checker._KEY_TYPES[conn][plan] == (2950, 20)  # uuid, bigint
    checker._KEY_TYPES[conn][plan] = remembered  # as if the table had these types when last read
    RecordingCursor.sent.clear()
    assert fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS) == expected
    assert values_selects(RecordingCursor.sent) and ENTRY_SELECT in RecordingCursor.sent
    assert fetch_rows(conn, checks, statement_timeout_ms=TIMEOUT_MS) == expected
    assert checker._KEY_TYPES[conn][plan] == (2950, 20)  # learnt again
