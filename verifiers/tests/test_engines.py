"""The engine seam: DSN schemes, read-only sessions with a time limit, metadata, on real servers."""

from __future__ import annotations

import psycopg
import pymysql
import pytest
from django.core.exceptions import ValidationError

from verifiers.engines import EngineError, dialect_of, engine_for
from verifiers.engines import mysql as mysql_engine
from verifiers.engines import postgresql as postgresql_engine
from verifiers.models import LedgerSource, VerifiedDatabase
from verifiers.tests import mysql_ledgers, reconcile_ledgers


def test_the_scheme_picks_the_engine() -> None:
    assert dialect_of("postgresql://u@h/db") == dialect_of("host=h dbname=db") == "postgresql"
    assert dialect_of("mysql://u@h/db") == dialect_of("mariadb://u@h/db") == "mysql"
    assert engine_for("mysql://u@h/db") is mysql_engine
    assert engine_for("postgres://u@h/db") is postgresql_engine
    with pytest.raises(EngineError, match="unsupported database scheme 'oracle'"):
        dialect_of("oracle://u@h/db")


def test_a_mysql_dsn_is_parsed_with_defaults_and_its_password_never_shown() -> None:
    parsed = mysql_engine.parse_dsn("mysql://app:s%40cret@db.internal/deposits")
    assert (parsed.host, parsed.port, parsed.user, parsed.password, parsed.database) == (
        "db.internal", 3306, "app", "s@cret", "deposits")
    assert mysql_engine.redact("mysql://app:s3cret@h:3307/d") == "mysql://app:***@h:3307/d"
    with pytest.raises(EngineError, match="names no database"):
        mysql_engine.parse_dsn("mysql://app@h:3306/")


def test_quoting_doubles_the_quote_character() -> None:
    assert mysql_engine.quote("db.ta`ble") == "`db`.`ta``ble`"
    assert postgresql_engine.quote('sch.ta"ble') == '"sch"."ta""ble"'


@pytest.fixture
def mysql_ledger():
    ledger = mysql_ledgers.create_ledger(prefix="engine_my", accounts=3)
    yield ledger
    mysql_ledgers.drop_database(ledger)


def test_a_mariadb_session_is_read_only_with_a_statement_limit_and_reads_metadata(mysql_ledger) -> None:
    conn = mysql_engine.connect(mysql_ledger.dsn, statement_timeout_s=1.5)
    try:
        assert mysql_engine.is_read_only(conn)
        limit = "max_statement_time" if mysql_engine.is_mariadb(conn) else "max_execution_time"
        ((value,),) = mysql_engine.fetchall(conn, f"SELECT @@session.{limit}")
        assert float(value) == (1.5 if limit == "max_statement_time" else 1500)
        with pytest.raises(pymysql.err.MySQLError, match="READ ONLY"):
            mysql_engine.fetchall(conn, "UPDATE konto SET saldo = 0")
        columns = mysql_engine.columns(conn, ["konto", f"{mysql_ledger.name}.buchung", "missing"])
        assert set(columns) == {"konto", f"{mysql_ledger.name}.buchung"}
        assert columns["konto"]["saldo"] == "numeric" and columns["konto"]["waehrung"] == "character"
        assert columns[f"{mysql_ledger.name}.buchung"]["valuta"] == "timestamp without time zone"
        assert mysql_engine.primary_key(conn, "konto") == ("konto_id",)
        mysql_engine.begin_snapshot(conn)
        assert mysql_engine.fetchall(conn, "SELECT COUNT(*) FROM konto") == [(3,)]
        mysql_engine.end_transaction(conn)
    finally:
        conn.close()


def test_an_unreachable_mysql_server_is_one_sentence() -> None:
    with pytest.raises(EngineError, match="cannot reach the database at 127.0.0.1:1"):
        mysql_engine.connect("mysql://root@127.0.0.1:1/none", statement_timeout_s=1, connect_timeout_s=1)


def test_a_postgresql_session_is_read_only_with_a_statement_timeout() -> None:
    ledger = reconcile_ledgers.create_ledger(prefix="engine_pg", accounts=3)
    try:
        with postgresql_engine.connect(ledger.dsn, statement_timeout_s=1.5) as conn:
            assert postgresql_engine.is_read_only(conn)
            assert conn.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("UPDATE konto SET saldo = 0")
            assert postgresql_engine.columns(conn, ["konto"])["konto"]["saldo"] == "numeric"
    finally:
        reconcile_ledgers.drop_ledger(ledger)


def test_ledger_sources_and_verified_databases_take_mysql_dsns(db) -> None:
    mapping = {**reconcile_ledgers.MAPPING}
    LedgerSource(name="fx", dsn="mysql://recon@fx-db:3306/deposits", **mapping).full_clean()
    with pytest.raises(ValidationError, match="No passwords"):
        LedgerSource(name="fx", dsn="mysql://recon:pw@fx-db:3306/deposits", **mapping).full_clean()
    VerifiedDatabase(name="fx", dsn="mysql://recon@fx-db:3306/deposits").full_clean()
    VerifiedDatabase(name="fx", dsn="mariadb://recon@fx-db:3306/deposits").full_clean()
    with pytest.raises(ValidationError, match="No passwords"):
        VerifiedDatabase(name="fx", dsn="mysql://recon:pw@fx-db:3306/deposits").full_clean()
    with pytest.raises(ValidationError, match="postgresql:// or mysql://"):
        VerifiedDatabase(name="fx", dsn="oracle://recon@fx-db:1521/deposits").full_clean()


def test_mysql_range_groups_add_up_to_totals_and_capped_differences() -> None:
    from decimal import Decimal as D

    from verifiers.reconcile.balances import KeyRange
    from verifiers.reconcile.engine_mysql import range_result_from_groups

    rows = [  # currency, diff_key, accounts, balance at cut-off, journal, balance now, version
        ("KRW", None, 10, D("100"), D("100"), D("999"), 3),
        ("KRW", 42, 1, D("7"), D("5"), D("9"), 2),
        ("USD", 7, 1, D("1"), D("0"), D("1"), None),
        ("KRW", 3, 1, D("-1"), D("0"), D("0"), 1),
    ]
    result = range_result_from_groups(KeyRange(0, 1, None, None), rows, diff_cap=2)
    assert result.totals["KRW"].accounts == 12 and result.totals["KRW"].balance_total == D("106")
    assert result.totals["KRW"].journal_total == D("105") and result.totals["USD"].accounts == 1
    assert result.difference_count == 3
    assert [(d.account_key, d.difference) for d in result.differences] == [(3, D("-1")), (7, D("1"))]
