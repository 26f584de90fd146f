"""The MySQL slice of the write conformance corpus end to end on the real MariaDB/MySQL server.

The same path as the PostgreSQL corpus (verifiers/tests/write_corpus/harness.py): the legacy
runs each transaction on a throwaway database of MYSQL_URL's server, the verified database is
that database's ``mysql://`` DSN, captures are in the ``mysql`` dialect.
"""

from __future__ import annotations

import pytest

from verifiers.tests.mysql_ledgers import server_connection, throwaway_database
from verifiers.tests.write_corpus.cases import Case
from verifiers.tests.write_corpus.harness import assert_corpus_exact, recording_verdicts
from verifiers.tests.write_corpus.mysql_cases import CASES, SCHEMA_STATEMENTS

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def corpus_dsn():
    with throwaway_database("write_corpus_my", SCHEMA_STATEMENTS) as dsn:
        yield dsn


@pytest.fixture
def recorded(corpus_dsn, monkeypatch):
    yield from recording_verdicts(corpus_dsn, monkeypatch)


def run_legacy(dsn: str, case: Case) -> None:
    """The legacy application's transaction, committed (its session in UTC, as the console reads)."""
    with server_connection(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SET time_zone = '+00:00'")
        cursor.execute("START TRANSACTION")
        for sql, params in case.legacy:
            cursor.execute(sql, params)
        cursor.execute("COMMIT")


def test_mysql_corpus_has_no_false_match_no_false_mismatch_and_no_error(corpus_dsn, recorded):
    assert len(CASES) >= 30
    assert all(case.dialect == "mysql" for case in CASES)
    assert_corpus_exact(CASES, lambda case: run_legacy(corpus_dsn, case), recorded)
