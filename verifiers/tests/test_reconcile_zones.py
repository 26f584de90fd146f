"""Local business times and single-currency ledgers, on PostgreSQL and MariaDB.

Business times stored without a zone are wall times of the source's business_time_zone. The
ledger's session zone, the source's zone and UTC all differ here: the session runs at
America/Sao_Paulo (PostgreSQL) or UTC (MariaDB), the books are kept in Asia/Seoul, and the run's
cut-off is stored in UTC, as a saved run's is.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

from verifiers.models import LedgerSource
from verifiers.reconcile.balances import cutoff_instant, mapping_from_dict
from verifiers.reconcile.engine import reconcile_parallel, validate_mapping
from verifiers.reconcile.selectors import mapping_for
from verifiers.tests import mysql_ledgers
from verifiers.tests import reconcile_ledgers as pg_ledgers

pytestmark = pytest.mark.integration

ACCOUNTS = 30
# 00:00 in Seoul on 2 March 2024, stored as a run stores it: in UTC (15:00 on 1 March).
CUTOFF = cutoff_instant(date(2024, 3, 2), tz_name="Asia/Seoul").astimezone(timezone.utc)
SEOUL_BOOKS = {"KRW": Decimal(ACCOUNTS * 4)}  # the bank's true books at that cut-off

MAPPING = {
    "accounts_table": "acct", "account_key": "code", "balance_column": "bal",
    "entries_table": "posting", "entry_account_column": "acct_code", "entry_amount_column": "amt",
    "entry_time_column": "booked_at",
}
# Wall times in Seoul: 4 just before the cut-off, 6 exactly at it; balance now 0 + 4 + 6.
POSTINGS = ((4, "2024-03-01 23:59:59"), (6, "2024-03-02 00:00:00"))


@pytest.fixture
def pg_zoneless_ledger():
    """timestamp without time zone business times, a ccy column and no currency column at all
    in a second table pair; the database's session zone is America/Sao_Paulo."""
    ledger = pg_ledgers.create_ledger(prefix="recon_zone", accounts=3)
    with psycopg.connect(ledger.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} SET TimeZone = 'America/Sao_Paulo'").format(
            sql.Identifier(ledger.name)))
        conn.execute("CREATE TABLE acct (code text PRIMARY KEY, ccy char(3), bal numeric(20, 4))")
        conn.execute("CREATE TABLE posting (acct_code text, amt numeric(20, 4), booked_at timestamp)")
        conn.execute("INSERT INTO acct SELECT 'A' || lpad(g::text, 3, '0'), 'KRW', 10 "
                     "FROM generate_series(1, %s) g", (ACCOUNTS,))
        for amount, wall_time in POSTINGS:
            conn.execute("INSERT INTO posting SELECT code, %s, %s::timestamp FROM acct", (amount, wall_time))
    yield ledger
    pg_ledgers.drop_ledger(ledger)


@pytest.fixture
def mysql_zoneless_ledger():
    """DATETIME business times written by a +09:00 session; the console's session is UTC."""
    ledger = mysql_ledgers.create_database("recon_zone_my")
    with mysql_ledgers.server_connection(ledger.dsn) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE acct (code varchar(10) PRIMARY KEY, ccy char(3), bal decimal(20, 4))")
        cursor.execute("CREATE TABLE posting (acct_code varchar(10), amt decimal(20, 4), booked_at datetime(6))")
        codes = [f"A{n:03d}" for n in range(1, ACCOUNTS + 1)]
        cursor.executemany("INSERT INTO acct VALUES (%s, 'KRW', 10)", [(c,) for c in codes])
        for amount, wall_time in POSTINGS:
            cursor.executemany("INSERT INTO posting VALUES (%s, %s, %s)", [(c, amount, wall_time) for c in codes])
    yield ledger
    mysql_ledgers.drop_database(ledger)


def _mapping(**extra: str):
    return mapping_from_dict({**MAPPING, "currency_column": "ccy", **extra})


@pytest.mark.parametrize("engine", ["postgresql", "mariadb"])
def test_naive_business_times_are_wall_times_of_the_source_zone(engine, request):
    ledger = request.getfixturevalue("pg_zoneless_ledger" if engine == "postgresql" else "mysql_zoneless_ledger")
    seoul = _mapping(business_time_zone="Asia/Seoul")
    assert validate_mapping(ledger.dsn, seoul) == []
    for cutoff in (CUTOFF, CUTOFF.astimezone(timezone(timedelta(hours=9)))):  # a fixed offset keeps its sign
        outcome = reconcile_parallel(ledger.dsn, seoul, cutoff, workers=2, counterpart=SEOUL_BOOKS)
        assert outcome.status == "balanced", outcome
        assert outcome.totals["KRW"].balance_total == SEOUL_BOOKS["KRW"]
    # Read as UTC wall times (the old behaviour), both postings fall after 15:00 UTC: the
    # ledger seems empty at the cut-off and disagrees with the books, a false alarm.
    as_utc = reconcile_parallel(ledger.dsn, _mapping(), CUTOFF, workers=2, counterpart=SEOUL_BOOKS)
    assert as_utc.status == "discrepancies"
    assert as_utc.totals["KRW"].balance_total == Decimal(0)


def test_a_seoul_postgresql_ledger_balances_against_its_true_books_through_its_source(db, pg_zoneless_ledger):
    with psycopg.connect(pg_zoneless_ledger.dsn) as conn:
        (session_zone,) = conn.execute("SHOW TimeZone").fetchone()
    assert session_zone == "America/Sao_Paulo"  # neither UTC nor Seoul
    source = LedgerSource.objects.create(name="seoul", dsn=pg_zoneless_ledger.dsn, currency_column="ccy",
                                         business_time_zone="Asia/Seoul", **MAPPING)
    outcome = reconcile_parallel(pg_zoneless_ledger.dsn, mapping_for(source), CUTOFF, workers=3,
                                 counterpart=SEOUL_BOOKS)
    assert outcome.status == "balanced" and outcome.accounts_checked == ACCOUNTS
    assert outcome.currency_differences == []


@pytest.mark.parametrize("engine", ["postgresql", "mariadb"])
def test_a_single_currency_ledger_names_its_currency_in_the_mapping(engine, request):
    ledger = request.getfixturevalue("pg_zoneless_ledger" if engine == "postgresql" else "mysql_zoneless_ledger")
    mapping = mapping_from_dict({**MAPPING, "currency_code": "usd", "business_time_zone": "Asia/Seoul"})
    assert validate_mapping(ledger.dsn, mapping) == []
    outcome = reconcile_parallel(ledger.dsn, mapping, CUTOFF, workers=2, counterpart={"USD": Decimal(ACCOUNTS * 4)})
    assert outcome.status == "balanced"
    assert set(outcome.totals) == {"USD"} and outcome.totals["USD"].accounts == ACCOUNTS


def test_the_cutoff_of_a_datetime_ledger_is_taken_in_the_source_zone_not_the_server_zone(mysql_zoneless_ledger):
    # 23:59:59.5 Seoul: the posting at 23:59:59 is before it, the one at 00:00 after it.
    cutoff = datetime(2024, 3, 1, 14, 59, 59, 500000, tzinfo=timezone.utc)
    outcome = reconcile_parallel(mysql_zoneless_ledger.dsn, _mapping(business_time_zone="Asia/Seoul"), cutoff,
                                 counterpart=SEOUL_BOOKS)
    assert outcome.status == "balanced"


def test_a_mysql_source_is_checked_against_its_ledger_when_saved(db, mysql_zoneless_ledger):
    from django.core.exceptions import ValidationError

    from verifiers.reconcile import services

    dsn = mysql_zoneless_ledger.dsn
    services.save_ledger_source(source=LedgerSource(name="fx", dsn=dsn, currency_code="USD",
                                                    business_time_zone="Asia/Seoul", **MAPPING))
    with pytest.raises(ValidationError) as caught:
        services.save_ledger_source(source=LedgerSource(name="fx2", dsn=dsn, currency_column="nope", **MAPPING))
    assert any("column acct.nope (currency) not found" in m for m in caught.value.messages)
    with pytest.raises(ValidationError) as caught:
        services.save_ledger_source(source=LedgerSource(name="fx3", dsn=dsn, **MAPPING))
    assert any("either currency_column" in m for m in caught.value.messages)
