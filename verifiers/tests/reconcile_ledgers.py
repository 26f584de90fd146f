"""Throwaway ledger databases for tests and the proof (plain psycopg, on the server of DATABASE_URL).

A deliberately "foreign" schema (names unlike ours) so the tests prove the mapping is used.
"""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self

import psycopg
from psycopg import sql

from verifiers.benchmarks.support import database_url

LEDGER_SCHEMA_SQL = """
CREATE TABLE konto (
    konto_id bigint PRIMARY KEY,
    waehrung char(3) NOT NULL,
    saldo numeric(20, 4) NOT NULL,
    anfangssaldo numeric(20, 4) NOT NULL,
    version int NOT NULL DEFAULT 0
);
CREATE TABLE buchung (
    id bigserial PRIMARY KEY,
    konto bigint NOT NULL REFERENCES konto (konto_id),
    betrag numeric(20, 4) NOT NULL,
    valuta timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX buchung_konto_valuta ON buchung (konto, valuta) INCLUDE (betrag);
CREATE TABLE gl_control (day date NOT NULL, currency text NOT NULL, total numeric(30, 4) NOT NULL);
"""

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


def create_ledger(prefix: str = "recon_test", accounts: int = 200, seed: int = 7) -> ThrowawayLedger:
    """A new database ``<prefix>_<random>`` with ``accounts`` accounts and a few entries each."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(database_url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = database_url(name)
    rng = random.Random(seed)
    with psycopg.connect(dsn) as conn:
        conn.execute(LEDGER_SCHEMA_SQL)
        with conn.cursor() as cur:
            account_rows, entry_rows = [], []
            for account_id in range(1, accounts + 1):
                amounts = [Decimal(rng.randint(-5000, 20000)) for _ in range(rng.randint(1, 4))]
                opening = Decimal(rng.randint(0, 100000))
                account_rows.append((account_id, CURRENCIES[account_id % 3], opening + sum(amounts), opening))
                entry_rows += [(account_id, amount) for amount in amounts]
            with cur.copy("COPY konto (konto_id, waehrung, saldo, anfangssaldo) FROM STDIN") as copy:
                for row in account_rows:
                    copy.write_row(row)
            # Entries of the past: an hour ago, well before any cut-off a test picks.
            with cur.copy("COPY buchung (konto, betrag) FROM STDIN") as copy:
                for entry in entry_rows:
                    copy.write_row(entry)
        conn.execute("UPDATE buchung SET valuta = now() - interval '1 hour'")
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
