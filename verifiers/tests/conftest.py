"""Fixtures shared by the verifiers' tests: a throwaway demo ledger, a stub candidate, a ledger source."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from verifiers.benchmarks.support import CandidateServer, create_test_ledger, drop_test_ledger
from verifiers.tests.reconcile_ledgers import MAPPING


@pytest.fixture(scope="module")
def ledger_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    """A seeded demo ledger for the test module (its LEDGER_ACCOUNTS accounts, else 10), dropped after."""
    dsn = create_test_ledger(accounts=getattr(request.module, "LEDGER_ACCOUNTS", 10))
    yield dsn
    drop_test_ledger(dsn)


@pytest.fixture
def fresh_write_targets() -> Iterator[None]:
    """The write verifier's cached verification targets forgotten before and after the test (each
    test registers its own verified databases)."""
    from verifiers.write.targets import forget_targets

    forget_targets()
    yield
    forget_targets()


@pytest.fixture
def candidate() -> Iterator[CandidateServer]:
    server = CandidateServer().start()
    yield server
    server.stop()


@pytest.fixture
def source(db):
    """A ledger source with no live ledger: for tests that never reach the coordinator."""
    from verifiers.models import LedgerSource

    return LedgerSource.objects.create(name="books", dsn="postgresql://postgres@127.0.0.1:1/none", **MAPPING)


@pytest.fixture
def finished_run(source):
    """A finished run of `source` that found two accounts with differences."""
    from django.utils import timezone

    from verifiers.models import AccountDifference, ReconciliationRun

    run = ReconciliationRun.objects.create(
        source=source, cutoff=timezone.now() - timedelta(hours=1), status="discrepancies", accounts_checked=1234567,
        accounts_with_differences=2, duration_ms=4321,
        totals={"KRW": {"balance_at_cutoff": "1000.0000", "journal": "990.0000", "counterpart": "1000",
                        "difference": "0.0000", "accounts": 3}},
    )
    AccountDifference.objects.bulk_create([
        AccountDifference(run=run, account_key=str(k), currency="KRW", balance_at_cutoff=Decimal(10),
                          journal=Decimal(5), difference=Decimal(5)) for k in (42, 43)
    ])
    return run
