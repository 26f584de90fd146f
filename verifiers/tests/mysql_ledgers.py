"""Throwaway MySQL/MariaDB ledgers for tests (PyMySQL, on the server of MYSQL_URL).

The same "foreign" schema as ``reconcile_ledgers`` (konto, buchung), in MySQL's types:
``valuta`` is a DATETIME(6), wall times of the zone the writers' sessions run in.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import pymysql

from verifiers.benchmarks.support import mysql_connection
from verifiers.benchmarks.support import mysql_database_url as database_url
from verifiers.tests.reconcile_ledgers import ThrowawayLedger, ledger_rows

LEDGER_SCHEMA_SQL = (
    """CREATE TABLE konto (
        konto_id bigint PRIMARY KEY,
        waehrung char(3) NOT NULL,
        saldo decimal(20, 4) NOT NULL,
        anfangssaldo decimal(20, 4) NOT NULL,
        version int NOT NULL DEFAULT 0
    ) ENGINE=InnoDB""",
    """CREATE TABLE buchung (
        id bigint AUTO_INCREMENT PRIMARY KEY,
        konto bigint NOT NULL,
        betrag decimal(20, 4) NOT NULL,
        valuta datetime(6) NOT NULL DEFAULT NOW(6),
        KEY buchung_konto_valuta (konto, valuta, betrag)
    ) ENGINE=InnoDB""",
)


def server_connection(dsn: str | None = None, **kwargs: object) -> pymysql.connections.Connection:
    """A plain read-write connection (the tests' writers and setup, never the console)."""
    return mysql_connection(dsn, **kwargs)


def create_database(prefix: str) -> ThrowawayLedger:
    name = f"{prefix}_{secrets.token_hex(4)}"
    with server_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
    return ThrowawayLedger(name, database_url(name))


@contextmanager
def throwaway_database(prefix: str, statements: Iterable[str] = ()) -> Iterator[str]:
    """The DSN of a new database set up by ``statements``, dropped on leaving."""
    database = create_database(prefix)
    try:
        with server_connection(database.dsn) as conn, conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        yield database.dsn
    finally:
        drop_database(database)


def drop_database(ledger: ThrowawayLedger) -> None:
    with server_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{ledger.name}`")


def create_ledger(
    prefix: str = "recon_my", accounts: int = 200, seed: int = 7, session_zone: str = "+00:00"
) -> ThrowawayLedger:
    """A new database with ``accounts`` accounts and a few entries each, an hour old (wall
    times of ``session_zone``)."""
    ledger = create_database(prefix)
    account_rows, entry_rows = ledger_rows(accounts, seed)
    with server_connection(ledger.dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SET time_zone = %s", (session_zone,))
        for statement in LEDGER_SCHEMA_SQL:
            cursor.execute(statement)
        cursor.executemany(
            "INSERT INTO konto (konto_id, waehrung, saldo, anfangssaldo) VALUES (%s, %s, %s, %s)",
            account_rows,
        )
        cursor.executemany(
            "INSERT INTO buchung (konto, betrag, valuta) VALUES (%s, %s, NOW(6) - INTERVAL 1 HOUR)",
            entry_rows,
        )
    return ledger


def drift(dsn: str, account_id: int, amount: Decimal) -> None:
    """Change a balance without an entry (what the reconciliation must find)."""
    with server_connection(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("UPDATE konto SET saldo = saldo + %s WHERE konto_id = %s", (amount, account_id))
