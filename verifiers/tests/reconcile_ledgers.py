"""Throwaway ledger databases for tests and the proof (plain psycopg, on the server of DATABASE_URL).

The benchmark's sample ledger under deliberately "foreign" names (unlike ours), so the tests
prove the mapping is used.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, LiteralString, Self

import psycopg
from psycopg import sql

from console.demo.schema import copy_rows
from verifiers.benchmarks.support import database_url, ledger_index_sql, ledger_schema_sql

# The counterpart table a test fills with the general ledger's totals per day and currency.
GL_CONTROL_SQL = "CREATE TABLE gl_control (day date NOT NULL, currency text NOT NULL, total numeric(30, 4) NOT NULL)"

MAPPING = {
    "accounts_table": "konto",
    "account_key": "konto_id",
    "balance_column": "saldo",
    "currency_column": "waehrung",
    "opening_balance_column": "anfangssaldo",
    "version_column": "version",
    "entries_table": "buchung",
    "entry_account_column": "konto",
    "entry_amount_column": "betrag",
    "entry_time_column": "valuta",
}
CURRENCIES = ("KRW", "USD", "JPY")


@dataclass(frozen=True)
class ThrowawayLedger:
    name: str
    dsn: str


def ledger_rows(
    accounts: int, seed: int
) -> tuple[list[tuple[int, str, Decimal, Decimal]], list[tuple[int, Decimal]]]:
    """Accounts 1..``accounts`` (id, currency, balance, opening balance), each with one to four
    entries (account, amount) that its balance already includes: a consistent ledger."""
    rng = random.Random(seed)
    account_rows, entry_rows = [], []
    for account_id in range(1, accounts + 1):
        amounts = [Decimal(rng.randint(-5000, 20000)) for _ in range(rng.randint(1, 4))]
        opening = Decimal(rng.randint(0, 100000))
        account_rows.append((account_id, CURRENCIES[account_id % 3], opening + sum(amounts), opening))
        entry_rows += [(account_id, amount) for amount in amounts]
    return account_rows, entry_rows


def create_ledger(prefix: str = "recon_test", accounts: int = 200, seed: int = 7) -> ThrowawayLedger:
    """A new database ``<prefix>_<random>`` with ``accounts`` accounts and a few entries each."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = database_url(name)
    account_rows, entry_rows = ledger_rows(accounts, seed)
    with psycopg.connect(dsn) as conn:
        conn.execute(ledger_schema_sql(MAPPING))
        conn.execute(GL_CONTROL_SQL)
        with conn.cursor() as cur:
            copy_rows(cur, "COPY konto (konto_id, waehrung, saldo, anfangssaldo) FROM STDIN", account_rows)
            # Entries of the past: an hour ago, well before any cut-off a test picks.
            copy_rows(cur, "COPY buchung (konto, betrag) FROM STDIN", entry_rows)
        conn.execute("UPDATE buchung SET valuta = now() - interval '1 hour'")
        conn.execute(ledger_index_sql(MAPPING))
        conn.execute("ANALYZE konto, buchung")
    return ThrowawayLedger(name, dsn)


def drop_ledger(ledger: ThrowawayLedger) -> None:
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(ledger.name)))


def currency_totals(dsn: str) -> dict[str, Decimal]:
    """Current balance total per currency (ground truth when nothing moves)."""
    with psycopg.connect(dsn) as conn:
        return {c.strip(): t for c, t in conn.execute("SELECT waehrung, sum(saldo) FROM konto GROUP BY 1")}


def drift(dsn: str, account_id: int, amount: Decimal) -> None:
    """Change a balance without an entry (what the reconciliation must find)."""
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE konto SET saldo = saldo + %s WHERE konto_id = %s", (amount, account_id))


def assert_run_matches_ground_truth(
    run: Any,
    truth: tuple[dict[int, Decimal], dict[int, Decimal], dict[int, str]],
    drifts: dict[int, Decimal],
) -> None:
    """A finished proof run against the ground truth read after the writers stopped: totals per
    currency, exactly the injected drifts (nothing else differs), and those recorded per account."""
    from verifiers.models import AccountDifference

    balance_at_cutoff, journal, currency = truth
    assert run.accounts_checked == len(balance_at_cutoff)
    for code in ("KRW", "USD", "JPY"):
        accounts = [a for a in balance_at_cutoff if currency[a] == code]
        assert Decimal(run.totals[code]["balance_at_cutoff"]) == sum(balance_at_cutoff[a] for a in accounts)
        assert Decimal(run.totals[code]["journal"]) == sum(journal[a] for a in accounts)
    # Every account's cut-off balance equals its journal except the drifted ones, by exactly the drift.
    truth_differences = {a: balance_at_cutoff[a] - journal[a] for a in balance_at_cutoff
                         if balance_at_cutoff[a] != journal[a]}
    assert truth_differences == drifts
    recorded = {int(d.account_key): (d.balance_at_cutoff, d.journal, d.difference)
                for d in AccountDifference.objects.filter(run=run)}
    assert recorded == {a: (balance_at_cutoff[a], journal[a], drifts[a]) for a in drifts}


class BackgroundLoops:
    """``count`` daemon threads running ``self._loop(n)`` from the start of a ``with`` block to its end."""

    def __init__(self, count: int = 1) -> None:
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(count)]

    def _loop(self, n: int) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


# -------------------------------------------------------------------------------- the proofs
# Both proofs (PostgreSQL, MariaDB) run the same writers and the same run across the cut-off on
# a ledger of PROOF_ACCOUNTS + 3 accounts with PROOF_DRIFTS injected.

PROOF_ACCOUNTS = 3000
PROOF_WRITERS = 3
PROOF_DRIFTS = {11: Decimal("7.25"), 2500: Decimal("-3")}
# Plain SQL both engines take (%s placeholders); entries take their business time from the
# column's default, now() in the writer session's zone.
DEPOSIT_SQL = (
    "UPDATE konto SET saldo = saldo + %s, version = version + 1 WHERE konto_id = %s",
    "INSERT INTO buchung (konto, betrag) VALUES (%s, %s)",
)
TRANSFER_SQL = (
    "UPDATE konto SET saldo = saldo - %s WHERE konto_id = %s",
    "UPDATE konto SET saldo = saldo + %s WHERE konto_id = %s",
    "INSERT INTO buchung (konto, betrag) VALUES (%s, %s), (%s, %s)",
)


def proof_writes(rng: random.Random) -> list[tuple[LiteralString, tuple[Any, ...]]]:
    """One writer transaction: a transfer between two accounts of one currency (two entries) or,
    30 % of the time, a deposit (one entry: the totals move too)."""
    currency = rng.randrange(3)
    first = rng.randrange(PROOF_ACCOUNTS // 3) * 3 + currency + 3
    second = rng.randrange(PROOF_ACCOUNTS // 3) * 3 + currency + 3
    first, second = (min(first, second), max(first, second))
    amount = Decimal(rng.randint(1, 9999)) / 100
    if first == second or rng.random() < 0.3:
        update, insert = DEPOSIT_SQL
        return [(update, (amount, first)), (insert, (first, amount))]
    # Lock in key order: transfers never deadlock each other.
    debit, credit, insert = TRANSFER_SQL
    return [(debit, (amount, first)), (credit, (amount, second)), (insert, (first, -amount, second, amount))]


class ProofWriters(BackgroundLoops):
    """Threads committing ``proof_writes``, each in its own transaction; counts the commits and
    keeps the errors. A subclass's ``_loop`` runs them on its engine's connection."""

    def __init__(self, dsn: str, count: int) -> None:
        super().__init__(count)
        self.dsn = dsn
        self.commits = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def committed(self) -> None:
        with self._lock:
            self.commits += 1


def run_across_the_cutoff(
    source: Any, writers: ProofWriters, read_cutoff: Callable[[], datetime]
) -> tuple[datetime, Any, int]:
    """With the writers running for a second: take the cut-off, let transfers keep committing across
    it, run the reconciliation to its end. Returns the cut-off, the finished run and the writers'
    commits from the cut-off to the run's end."""
    from verifiers.reconcile import services

    time.sleep(1.0)
    cutoff = read_cutoff()
    commits_at_cutoff = writers.commits
    time.sleep(0.2)  # transfers keep committing across the cut-off
    run = services.start_run(source=source, cutoff=cutoff, triggered_by="proof")
    run = services.wait_for_run(run_id=run.pk, timeout_s=120)
    commits_during_run = writers.commits - commits_at_cutoff
    time.sleep(0.3)
    return cutoff, run, commits_during_run


def assert_single_slot_run_balances(source: Any, cutoff: datetime) -> None:
    """A run with one worker slot (the coordinator and every part share it) ends, balanced."""
    from verifiers.reconcile import services

    run = services.start_run(source=source, cutoff=cutoff, triggered_by="proof")
    run = services.wait_for_run(run_id=run.pk, timeout_s=60)
    assert run.status == "balanced", run.error
    assert run.workers == 3 and run.accounts_checked == PROOF_ACCOUNTS + 3
