"""The demo's second ledger: foreign-currency deposits on MariaDB/MySQL (PyMySQL, no Django).

A bank keeps its won ledger on one engine and foreign-currency deposits on MySQL; this is the
latter, reconciled at the same 00:00 Seoul cut-off as the PostgreSQL demo ledger. Business
times are DATETIME wall times in Asia/Seoul (written by sessions at +09:00; Seoul has no DST).

It holds one **deliberate drift**: account DRIFT_ACCOUNT's balance is DRIFT_AMOUNT above its
opening balance plus entries (a batch job credited interest twice and wrote one entry), so every
reconciliation of it shows exactly that account, and the bank's books (the `bank_books` view,
derived from the journal) differ from the ledger's total in that currency by the same amount.
Writers (`run_fx_writers`) keep the ledger live with deposits and withdrawals, each updating a
balance and writing its entry in one transaction, so they never add a drift.

Writes have a legacy and a candidate behaviour (``FxFlavor``), like the PostgreSQL ledger's
transfers: with a console to send to, each write first runs as the candidate in shadow mode
(executed, captured in the ``mysql`` dialect with after-images, rolled back), then commits as the
legacy. Its one **deliberate write difference** (README, difference 6): the candidate writes a
deposit's entry memo as CANDIDATE_DEPOSIT_MEMO where the legacy writes LEGACY_DEPOSIT_MEMO.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import pymysql

from console.demo import DemoWorldError

logger = logging.getLogger(__name__)

DEFAULT_FX_LEDGER_URL = "mysql://root@127.0.0.1:3306/fx_deposits"
FX_ACCOUNT_COUNT = 300
FX_SEED = 20261202
FX_CURRENCIES = (("USD", 60), ("JPY", 25), ("EUR", 15))
DRIFT_ACCOUNT = 42
DRIFT_AMOUNT = Decimal("250.0000")
# Business times are Seoul wall times: the writers' sessions run at Seoul's (fixed) offset.
SEOUL_OFFSET = "+09:00"
# The verified database the console checks fx writes against (console/demo/setup/write.py).
FX_VERIFIED_DATABASE = "demo fx deposits"
LEGACY_DEPOSIT_MEMO = "환전 입금"
CANDIDATE_DEPOSIT_MEMO = "외화 입금"  # difference 6
WITHDRAWAL_MEMO = "해외 송금"
FX_UPDATE_SQL = ("UPDATE deposit_accounts SET balance = balance + %s, version = version + 1, updated_at = NOW(6)"
                 " WHERE id = %s")
FX_ENTRY_SQL = ("INSERT INTO deposit_entries (account_id, request_id, amount, business_time, memo)"
                " VALUES (%s, %s, %s, NOW(6), %s)")

FX_LEDGER_DDL = (
    """CREATE TABLE IF NOT EXISTS deposit_accounts (
        id              bigint PRIMARY KEY,
        account_no      varchar(20) NOT NULL UNIQUE,
        currency        char(3) NOT NULL,
        balance         decimal(20, 4) NOT NULL,
        opening_balance decimal(20, 4) NOT NULL,
        version         int NOT NULL DEFAULT 0,
        updated_at      datetime(6) NOT NULL DEFAULT NOW(6)
    ) ENGINE=InnoDB""",
    """CREATE TABLE IF NOT EXISTS deposit_entries (
        id            bigint AUTO_INCREMENT PRIMARY KEY,
        account_id    bigint NOT NULL,
        amount        decimal(20, 4) NOT NULL,
        business_time datetime(6) NOT NULL,
        memo          varchar(100) NOT NULL DEFAULT '',
        request_id    char(36) NULL,
        KEY deposit_entries_account_time (account_id, business_time, amount),
        UNIQUE KEY deposit_entries_request (request_id)
    ) ENGINE=InnoDB""",
    # Ledgers created before writes were verified: the write's id, the entry's natural key (the
    # AUTO_INCREMENT id of a rolled-back shadow run is not the committed one). MariaDB syntax.
    "ALTER TABLE deposit_entries ADD COLUMN IF NOT EXISTS request_id char(36) NULL",
    "CREATE UNIQUE INDEX IF NOT EXISTS deposit_entries_request ON deposit_entries (request_id)",
    # The bank's books (general-ledger control totals) per currency at each 00:00 Seoul cut-off
    # of the last 31 days, derived from the journal as the PostgreSQL demo's view is. Seoul's
    # date is UTC + 9 h, so no time zone tables are needed; seq_0_to_31 is MariaDB's sequence
    # engine.
    """CREATE OR REPLACE VIEW bank_books AS
    SELECT days.as_of, totals.currency,
           totals.opening + COALESCE((
               SELECT SUM(e.amount) FROM deposit_entries e JOIN deposit_accounts a ON a.id = e.account_id
               WHERE a.currency = totals.currency AND e.business_time < days.as_of), 0) AS total
    FROM (SELECT CAST(UTC_TIMESTAMP() + INTERVAL 9 HOUR AS DATE) + INTERVAL 1 DAY - INTERVAL seq DAY AS as_of
          FROM seq_0_to_31) AS days
    CROSS JOIN (SELECT currency, SUM(opening_balance) AS opening FROM deposit_accounts GROUP BY currency) AS totals""",
)
ENTRY_MEMOS = ("외화 예금", "환전 입금", "해외 송금", "이자", "")


@dataclass(frozen=True)
class FxLedgerSummary:
    created_database: bool
    seeded: bool
    accounts: int
    entries: int


def _connect(dsn: str, *, database: bool = True) -> pymysql.connections.Connection:
    parts = urlsplit(dsn)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise DemoWorldError(f"fx ledger URL {dsn!r} names no database")
    try:
        return pymysql.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""), database=name if database else None,
            autocommit=True, charset="utf8mb4", connect_timeout=5,
        )
    except pymysql.Error as exc:
        where = f"{parts.hostname or '127.0.0.1'}:{parts.port or 3306}"
        raise DemoWorldError(f"cannot connect to MariaDB/MySQL at {where} ({exc.args[-1]})") from exc


def database_name(dsn: str) -> str:
    return unquote(urlsplit(dsn).path.lstrip("/"))


def init_fx_ledger(dsn: str, *, reset: bool = False, seed: int = FX_SEED) -> FxLedgerSummary:
    """Create the database, tables, books view and seed if missing (idempotent); reset drops
    and rebuilds this one database only."""
    name = database_name(dsn)
    with _connect(dsn, database=False) as server, server.cursor() as cursor:
        if reset:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        created = cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}`") == 1
    with _connect(dsn) as conn, conn.cursor() as cursor:
        # One initialiser at a time (setup_demo and a manual init may race).
        cursor.execute("SELECT GET_LOCK(%s, 30)", (f"{name}.init",))
        try:
            for statement in FX_LEDGER_DDL:
                cursor.execute(statement)
            cursor.execute("SELECT COUNT(*) FROM deposit_accounts")
            seeded = (cursor.fetchone() or (0,))[0] == 0
            if seeded:
                _seed(conn, random.Random(seed))
            cursor.execute("SELECT (SELECT COUNT(*) FROM deposit_accounts), (SELECT COUNT(*) FROM deposit_entries)")
            accounts, entries = cursor.fetchone() or (0, 0)
        finally:
            cursor.execute("SELECT RELEASE_LOCK(%s)", (f"{name}.init",))
    return FxLedgerSummary(created_database=created, seeded=seeded, accounts=accounts, entries=entries)


def drop_fx_ledger(dsn: str) -> None:
    """Drop the database the DSN names (tests drop their throwaway fx ledgers with it)."""
    with _connect(dsn, database=False) as server, server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{database_name(dsn)}`")


def _amount(rng: random.Random, currency: str) -> Decimal:
    """A signed entry amount: cents for USD/EUR, whole yen for JPY."""
    if currency == "JPY":
        return Decimal(rng.randint(-300, 1000) * 100)
    return Decimal(rng.randint(-20_000, 80_000)) / 100


def _seed(conn: pymysql.connections.Connection, rng: random.Random) -> None:
    """FX_ACCOUNT_COUNT accounts with 2-6 entries each over the past 7 days (Seoul wall times),
    every balance = opening + entries except DRIFT_ACCOUNT's."""
    currencies = [code for code, weight in FX_CURRENCIES for _ in range(weight)]
    accounts, entries = [], []
    with conn.cursor() as cursor:
        cursor.execute("SET time_zone = %s", (SEOUL_OFFSET,))
        cursor.execute("SELECT NOW(6)")
        (now,) = cursor.fetchone() or (None,)
    for account_id in range(1, FX_ACCOUNT_COUNT + 1):
        currency = rng.choice(currencies)
        opening = abs(_amount(rng, currency)) * 10
        amounts = [_amount(rng, currency) for _ in range(rng.randint(2, 6))]
        for amount in amounts:
            business_time = now.replace(microsecond=0) - _seconds_ago(rng)
            entries.append((account_id, amount, business_time, rng.choice(ENTRY_MEMOS)))
        balance = opening + sum(amounts) + (DRIFT_AMOUNT if account_id == DRIFT_ACCOUNT else 0)
        accounts.append((account_id, f"180-{account_id:03d}-{rng.randint(0, 999999):06d}", currency, balance, opening))
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO deposit_accounts (id, account_no, currency, balance, opening_balance) VALUES (%s, %s, %s, %s, %s)",
            accounts,
        )
        cursor.executemany(
            "INSERT INTO deposit_entries (account_id, amount, business_time, memo) VALUES (%s, %s, %s, %s)", entries
        )


def _seconds_ago(rng: random.Random) -> timedelta:
    return timedelta(seconds=rng.randint(60, 7 * 86_400))


def accounts_off_journal(dsn: str) -> dict[int, Decimal]:
    """{account: balance - (opening + entries)} for every account where that is not zero."""
    with _connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            """SELECT a.id, a.balance - a.opening_balance - COALESCE(SUM(e.amount), 0)
               FROM deposit_accounts a LEFT JOIN deposit_entries e ON e.account_id = a.id
               GROUP BY a.id, a.balance, a.opening_balance
               HAVING a.balance - a.opening_balance - COALESCE(SUM(e.amount), 0) <> 0 ORDER BY a.id"""
        )
        return {int(account): Decimal(off) for account, off in cursor.fetchall()}


def inject_fx_drift(dsn: str, account_id: int, amount: Decimal | str) -> Decimal:
    """Change one balance without an entry (the admin's "Inject drift"); the new balance."""
    delta = Decimal(amount)
    if delta == 0:
        raise DemoWorldError("the drift amount must be non-zero")
    with _connect(dsn) as conn, conn.cursor() as cursor:
        if not cursor.execute("UPDATE deposit_accounts SET balance = balance + %s WHERE id = %s", (delta, account_id)):
            raise DemoWorldError(f"no account with id {account_id} in the fx ledger")
        cursor.execute("SELECT balance FROM deposit_accounts WHERE id = %s", (account_id,))
        (balance,) = cursor.fetchone() or (None,)
    return Decimal(balance)


@dataclass
class FxWriterStats:
    commits: int = 0
    refused: int = 0  # withdrawals beyond the balance, not written
    captures_sent: int = 0  # shadow captures the console accepted
    console_failures: int = 0  # captures or commits the console refused or did not answer


@dataclass(frozen=True)
class FxFlavor:
    """How one side writes fx deposits; the candidate differs only in the deposit memo."""

    name: str
    deposit_memo: str


LEGACY_FX = FxFlavor("legacy", LEGACY_DEPOSIT_MEMO)
CANDIDATE_FX = FxFlavor("candidate", CANDIDATE_DEPOSIT_MEMO)


@dataclass(frozen=True)
class FxWrite:
    """One deposit (amount > 0) or withdrawal, identified by request_id on both sides."""

    request_id: str
    account_id: int
    amount: Decimal


def fx_write(conn: pymysql.connections.Connection, flavor: FxFlavor, write: FxWrite, *,
             shadow: bool) -> dict[str, Any] | None:
    """Run one write's transaction (the balance and its entry; Seoul session time).

    None when refused (the balance would go negative). Otherwise the capture (``mysql``
    dialect, the statements with their params, after-images), and the transaction is committed,
    or with ``shadow`` rolled back (the candidate never commits).
    """
    memo = flavor.deposit_memo if write.amount > 0 else WITHDRAWAL_MEMO
    statements = [(FX_UPDATE_SQL, [write.amount, write.account_id]),
                  (FX_ENTRY_SQL, [write.account_id, write.request_id, write.amount, memo])]
    with conn.cursor() as cursor:
        conn.begin()
        try:
            cursor.execute("SELECT balance FROM deposit_accounts WHERE id = %s FOR UPDATE", (write.account_id,))
            row = cursor.fetchone()
            if row is None or row[0] + write.amount < 0:
                conn.rollback()
                return None
            for sql_text, params in statements:
                cursor.execute(sql_text, params)
            cursor.execute("SELECT balance, version FROM deposit_accounts WHERE id = %s", (write.account_id,))
            balance, version = cursor.fetchone() or (None, None)
            cursor.execute("SELECT account_id, amount, memo FROM deposit_entries WHERE request_id = %s",
                           (write.request_id,))
            entry = cursor.fetchone() or (None, None, None)
        except BaseException:
            conn.rollback()
            raise
        if shadow:
            conn.rollback()
        else:
            conn.commit()
    return {
        "id": write.request_id, "dialect": "mysql", "database": FX_VERIFIED_DATABASE,
        "statements": [{"sql": sql_text, "params": [str(p) if isinstance(p, Decimal) else p for p in params]}
                       for sql_text, params in statements],
        "after_images": [
            {"table": "deposit_accounts", "key": {"id": write.account_id},
             "row": {"balance": str(balance), "version": version}},
            {"table": "deposit_entries", "key": {"request_id": write.request_id},
             "row": {"account_id": entry[0], "amount": str(entry[1]), "memo": entry[2]}},
        ],
    }


def next_write(conn: pymysql.connections.Connection, rng: random.Random) -> FxWrite | None:
    """A random deposit or withdrawal of an existing account (None: no such account)."""
    account_id = rng.randint(1, FX_ACCOUNT_COUNT)
    with conn.cursor() as cursor:
        cursor.execute("SELECT currency FROM deposit_accounts WHERE id = %s", (account_id,))
        row = cursor.fetchone()
    if row is None:
        return None
    return FxWrite(str(uuid.UUID(int=rng.getrandbits(128), version=4)), account_id, _amount(rng, row[0]))


@dataclass(frozen=True)
class FxConsole:
    """Where the shadow captures and commit notices go (the console's write API)."""

    url: str
    token: str

    def post(self, path: str, body: dict[str, Any]) -> bool:
        request = urllib.request.Request(
            self.url.rstrip("/") + path, data=orjson.dumps(body), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Token {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return 200 <= answer.status < 300
        except (urllib.error.URLError, OSError):
            return False


def write_one(conn: pymysql.connections.Connection, rng: random.Random, stats: FxWriterStats,
              console: FxConsole | None = None) -> None:
    """One deposit or withdrawal committed by the legacy; with a console, shadowed by the
    candidate first and its capture sent, then the commit notice after the legacy commit."""
    write = next_write(conn, rng)
    if write is None:
        stats.refused += 1
        return
    captured = False
    if console is not None:
        capture = fx_write(conn, CANDIDATE_FX, write, shadow=True)
        if capture is not None:
            captured = console.post("/api/v1/write-captures", capture)
            stats.captures_sent += captured
            stats.console_failures += not captured
    if fx_write(conn, LEGACY_FX, write, shadow=False) is None:
        stats.refused += 1
        return
    stats.commits += 1
    if captured and not console.post("/api/v1/write-commits", {"id": write.request_id}):  # type: ignore[union-attr]
        stats.console_failures += 1


def _writer_loop(dsn: str, rate: float, stop: asyncio.Event, stats: FxWriterStats, seed: int | None,
                 console: FxConsole | None) -> None:
    rng = random.Random(seed)
    conn = _connect(dsn)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET time_zone = %s", (SEOUL_OFFSET,))
        interval = 1.0 / rate
        next_at = time.monotonic()
        while not stop.is_set():
            write_one(conn, rng, stats, console)
            next_at = max(next_at + interval, time.monotonic())
            time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        conn.close()


async def run_fx_writers(
    dsn: str, *, rate: float = 2.0, stop: asyncio.Event, seed: int | None = None,
    console: FxConsole | None = None,
) -> FxWriterStats:
    """Deposits and withdrawals at ``rate`` per second until ``stop`` (a thread: PyMySQL is sync);
    with ``console``, each is shadowed by the candidate and checked by the write verifier.

    A ledger that cannot be reached or is not initialised is logged once; the demo goes on."""
    stats = FxWriterStats()
    try:
        await asyncio.to_thread(_writer_loop, dsn, rate, stop, stats, seed, console)
    except (DemoWorldError, pymysql.Error) as exc:
        logger.warning("fx deposit writers stopped: %s", exc)
    return stats
