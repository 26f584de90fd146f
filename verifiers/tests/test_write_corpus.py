"""The DML conformance corpus (verifiers/tests/write_corpus) end to end on a real PostgreSQL.

See verifiers/tests/write_corpus/harness.py for what runs per case and what is counted.
"""

from __future__ import annotations

import psycopg
import pytest

from verifiers.benchmarks.support import create_test_ledger, drop_test_ledger
from verifiers.tests.write_corpus.cases import CASES, SCHEMA_SQL, Case
from verifiers.tests.write_corpus.harness import assert_corpus_exact, recording_verdicts

pytestmark = pytest.mark.django_db
LEDGER_ACCOUNTS = 10


@pytest.fixture(scope="module")
def corpus_dsn():
    dsn = create_test_ledger(accounts=LEDGER_ACCOUNTS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL)
    yield dsn
    drop_test_ledger(dsn)


@pytest.fixture
def recorded(corpus_dsn, monkeypatch):
    yield from recording_verdicts(corpus_dsn, monkeypatch)


def run_legacy(dsn: str, case: Case) -> None:
    with psycopg.connect(dsn) as conn:  # one transaction, committed on leaving
        for sql, params in case.legacy:
            conn.execute(sql, params)


def test_corpus_has_no_false_match_no_false_mismatch_and_no_error(corpus_dsn, recorded):
    assert len(CASES) >= 45
    assert_corpus_exact(CASES, lambda case: run_legacy(corpus_dsn, case), recorded)
