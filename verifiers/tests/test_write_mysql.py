"""Write checks against a MySQL/MariaDB verified database: the session's safety, the SQL it
sends, batched reads and the rendering of generated SELECTs (real server of MYSQL_URL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime

import orjson
import pymysql
import pytest

from verifiers.engines import mysql as mysql_engine
from verifiers.models import VerifiedDatabase
from verifiers.tests.mysql_ledgers import server_connection, throwaway_database
from verifiers.write import mysqlread, services, targets
from verifiers.write.checker import CheckerError
from verifiers.write.mysqlread import MYSQL_SELECT_SHAPE, _same_key, mysql_batch_select, mysql_select
from verifiers.write.sqlcheck import Expectation, RowCheck, StatementKind

SCHEMA = (
    "CREATE TABLE accounts (id bigint PRIMARY KEY, memo varchar(100), balance decimal(20, 4) NOT NULL)",
    "INSERT INTO accounts (id, memo, balance) VALUES (1, 'one', 10), (2, 'two', 20), (3, 'three', 30),"
    " (4, 'four', 40)",
    "CREATE TABLE deposits (account_no varchar(20) PRIMARY KEY, memo varchar(20))"
    " DEFAULT CHARSET = utf8mb4 COLLATE utf8mb4_general_ci",
    "INSERT INTO deposits (account_no, memo) VALUES ('FX-1', 'one'), ('FX-2', 'two'), ('FX-3', 'three')",
)
CONTROL = ("START TRANSACTION READ ONLY", "COMMIT")


@pytest.fixture(scope="module")
def ledger_dsn():
    with throwaway_database("write_mysql", SCHEMA) as dsn:
        yield dsn


@pytest.fixture
def sent(ledger_dsn, monkeypatch, db) -> Iterator[list[str]]:
    """Every SQL text any PyMySQL cursor sends while the test runs (the checker's and setup's)."""
    texts: list[str] = []
    real = pymysql.cursors.Cursor.execute

    def recording(self, query, args=None):
        texts.append(query)
        return real(self, query, args)

    monkeypatch.setattr(pymysql.cursors.Cursor, "execute", recording)
    VerifiedDatabase.objects.create(name="fx", dsn=ledger_dsn, commit_delay_ms=0, capture_ttl_s=60)
    targets.forget_targets()
    yield texts
    targets.forget_targets()


def ledger_state(dsn: str) -> tuple:
    with server_connection(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, memo, balance FROM accounts ORDER BY id")
        rows = cursor.fetchall()
        cursor.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()")
        return rows, cursor.fetchone()


def test_hostile_mysql_captures_change_nothing_and_send_only_generated_selects(sent, ledger_dsn):
    before = ledger_state(ledger_dsn)
    bodies = [
        {"id": "stacked", "dialect": "mysql", "statements": [
            {"sql": "UPDATE accounts SET memo = 'x' WHERE id = 1; DROP TABLE accounts", "params": None}]},
        {"id": "backslash", "dialect": "mysql", "statements": [
            {"sql": "UPDATE accounts SET memo = 'a\\'; DROP TABLE accounts; -- ' WHERE id = 3", "params": None}]},
        {"id": "inject-params", "dialect": "mysql", "statements": [
            {"sql": "UPDATE accounts SET memo = %s WHERE id = %s",
             "params": ["'; DROP TABLE accounts; --", "1; DELETE FROM accounts"]}]},
        {"id": "inject-key", "dialect": "mysql", "statements": [
            {"sql": "UPDATE `accounts` SET `memo` = %s WHERE `id` = %s", "params": ["x", "2 OR 1=1"]}]},
        {"id": "identifier", "dialect": "mysql", "statements": [
            {"sql": "UPDATE `accounts``; DROP TABLE accounts; --` SET memo = 1 WHERE id = 1", "params": None}]},
        {"id": "honest", "dialect": "mysql", "statements": [
            {"sql": "UPDATE accounts SET memo = %s WHERE id = %s", "params": ["four", 4]}]},
    ]
    for body in bodies:
        services.ingest_capture(body=orjson.dumps(body))
        services.register_commit(body=orjson.dumps({"id": body["id"]}), queue_drain=False)
    summary = services.process_due_work(now=time.time() + 1)
    assert summary.claimed == len(bodies)
    assert summary.verdicts["match"] == 1 and summary.verdicts["unverifiable"] >= 2, dict(summary.verdicts)
    # Values were bound or read as text: '1; DELETE ...' and '2 OR 1=1' are no key exactly (mismatch), the
    # backslash-escaped quote is one memo text the legacy does not hold (mismatch).
    assert summary.verdicts["mismatch"] == 3, dict(summary.verdicts)
    assert ledger_state(ledger_dsn) == before
    checker_sql = [text for text in sent if not text.startswith("SELECT id, memo, balance FROM accounts")
                   and "COUNT(*) FROM information_schema.tables" not in text]
    for text in checker_sql:
        assert (
            text in CONTROL
            or MYSQL_SELECT_SHAPE.match(text)
            or text.startswith("SET SESSION ")  # the engine seam's fixed session settings
            or text.startswith("SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns")
            or text.startswith("SELECT table_name, column_name FROM information_schema.key_column_usage")
            or text.startswith("SELECT table_name, constraint_name FROM information_schema.check_constraints")
        ), f"unexpected SQL sent to the legacy database: {text[:200]!r}"
    assert any(MYSQL_SELECT_SHAPE.match(text) for text in checker_sql)
    assert "START TRANSACTION READ ONLY" in checker_sql


def test_checker_session_is_read_only_with_the_servers_own_statement_limit(sent):
    target = targets.target_for(targets.default_database())
    conn = target.verification_connection()
    assert mysql_engine.is_read_only(conn)
    with conn.cursor() as cursor:
        if mysql_engine.is_mariadb(conn):
            cursor.execute("SELECT @@session.max_statement_time")
            assert float(cursor.fetchone()[0]) == 2.0  # seconds: statement_timeout_ms 2000
        else:
            cursor.execute("SELECT @@session.max_execution_time")
            assert int(cursor.fetchone()[0]) == 2000
        with pytest.raises(pymysql.err.MySQLError, match="READ ONLY"):
            cursor.execute("UPDATE accounts SET memo = 'x' WHERE id = 1")


def test_a_statement_over_the_limit_is_interrupted(ledger_dsn):
    conn = mysqlread.open_connection(ledger_dsn, statement_timeout_ms=200)
    try:
        with conn.cursor() as cursor:
            # MariaDB interrupts with error 1969; MySQL's SLEEP returns 1 when interrupted.
            try:
                cursor.execute("SELECT SLEEP(3) FROM accounts WHERE id = 1")
                interrupted = cursor.fetchone()[0] == 1
            except pymysql.err.OperationalError as error:
                interrupted = "max_statement_time" in str(error) or "maximum statement execution time" in str(error)
        assert interrupted
    finally:
        conn.close()


def test_an_unreachable_server_is_an_error_naming_the_database(db):
    with pytest.raises(CheckerError, match="cannot connect to the verified database.*127.0.0.1:1"):
        mysqlread.open_connection("mysql://root@127.0.0.1:1/nothing", statement_timeout_ms=1000)


def check(key: object) -> RowCheck:
    return RowCheck(table="accounts", kind=StatementKind.UPDATE,
                    select_sql='SELECT "id", "memo" FROM "accounts" WHERE "id" = %s', select_params=(key,),
                    key={"id": key}, expected={"memo": "x"})


def deposit_check(account_no: str, *, deleted: bool = False) -> RowCheck:
    return RowCheck(table="deposits", kind=StatementKind.DELETE if deleted else StatementKind.UPDATE,
                    select_sql='SELECT "account_no", "memo" FROM "deposits" WHERE "account_no" = %s',
                    select_params=(account_no,), key={"account_no": account_no},
                    expected=Expectation.ROW_ABSENT if deleted else {"memo": "x"})


def test_integer_keys_are_read_by_one_batched_select_with_the_row_selects_answers(sent):
    target = targets.target_for(targets.default_database())
    conn = target.verification_connection()
    checks = [check(1), check(2), check("3"), check("04"), check(99), check(2)]
    alone = [mysqlread.fetch_rows(conn, [one])[0] for one in checks]
    sent.clear()
    rows = mysqlread.fetch_rows(conn, checks)
    assert rows == alone == [{"id": 1, "memo": "one"}, {"id": 2, "memo": "two"}, {"id": 3, "memo": "three"},
                             {"id": 4, "memo": "four"}, None, {"id": 2, "memo": "two"}]
    selects = [text for text in sent if text.startswith("SELECT")]
    assert selects == ["SELECT `id`, `memo` FROM `accounts` WHERE (`id`) IN ((%s), (%s), (%s), (%s), (%s))"]


def test_text_keys_under_a_case_insensitive_collation_are_batched_and_only_exact_keys_handed_back(sent):
    target = targets.target_for(targets.default_database())
    conn = target.verification_connection()
    checks = [deposit_check("FX-1"), deposit_check("FX-2"), deposit_check("FX-9"), deposit_check("FX-1")]
    alone = [mysqlread.fetch_rows(conn, [one])[0] for one in checks]
    sent.clear()
    assert mysqlread.fetch_rows(conn, checks) == alone == [
        {"account_no": "FX-1", "memo": "one"}, {"account_no": "FX-2", "memo": "two"}, None,
        {"account_no": "FX-1", "memo": "one"}]
    assert [text for text in sent if text.startswith("SELECT")] == [
        "SELECT `account_no`, `memo` FROM `deposits` WHERE (`account_no`) IN ((%s), (%s), (%s))"]
    # 'fx-3' finds 'FX-3' under the collation: not the candidate's key, so no row for an update,
    # but the row the legacy kept for a delete; both go to their row SELECT, as does the absent key
    # once a row no key accounts for came back.
    checks = [deposit_check("FX-1"), deposit_check("fx-3"), deposit_check("fx-2", deleted=True), deposit_check("FX-9")]
    alone = [mysqlread.fetch_rows(conn, [one])[0] for one in checks]
    sent.clear()
    assert mysqlread.fetch_rows(conn, checks) == alone == [
        {"account_no": "FX-1", "memo": "one"}, None, {"account_no": "FX-2", "memo": "two"}, None]
    assert len([text for text in sent if text.startswith("SELECT")]) == 4  # the batch, then three row SELECTs


def test_rendering_back_quotes_every_name_and_keeps_placeholders_bound():
    pg = 'SELECT "id", "a`b", "50%%" FROM "my db"."Order Items" WHERE "id" = %s AND "a`b" = %s'
    text, keys = mysql_select(pg)
    assert text == "SELECT `id`, `a``b`, `50%%` FROM `my db`.`Order Items` WHERE `id` = %s AND `a``b` = %s"
    assert keys == ("id", "a`b")
    assert mysql_batch_select(pg, 2) == (
        "SELECT `id`, `a``b`, `50%%` FROM `my db`.`Order Items` WHERE (`id`, `a``b`) IN ((%s, %s), (%s, %s))")
    for refused in ('SELECT "id" FROM "t" WHERE "id" = %s; DROP TABLE t', "SELECT id FROM t WHERE id = %s",
                    'SELECT "id" FROM "t" WHERE "id" = 1', 'SELECT "id" FROM "t" WHERE "id" = %s OR 1 = 1'):
        with pytest.raises(CheckerError, match="refusing"):
            mysql_select(refused)


def test_a_key_is_the_key_only_when_exactly_the_bound_value():
    assert _same_key("FX-1", "FX-1") and not _same_key("FX-1", "fx-1") and not _same_key("FX-1", "FX-1 ")
    assert _same_key(42, "42") and _same_key(42, 42) and not _same_key(42, "42abc")
    assert _same_key(date(2026, 12, 2), "2026-12-02") and not _same_key(datetime(2026, 12, 2), "2026-12-02 00:00:01")
    assert _same_key(b"\x00", b"\x00") and not _same_key(b"\x00", "00")
