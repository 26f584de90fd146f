"""Ledger database of the demo world: DDL, deterministic seed, drift injection, invariant check.

Administrative and run once per demo, so it uses plain (sync) psycopg. The seed is built from a
fixed random seed, so every fresh ledger holds the same accounts, entries and ties, and every
deliberate difference of the candidate (README.md) has accounts that show it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, LiteralString

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from console.demo import DemoWorldError

DEFAULT_ACCOUNT_COUNT = 2000
DEFAULT_SEED = 20240601

LEDGER_TABLES = ("audit_log", "entries", "transfers", "accounts", "customers")

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS customers (
    id      bigint PRIMARY KEY,
    name    text NOT NULL,
    phone   text NOT NULL,
    email   text NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id              bigint PRIMARY KEY,
    account_no      text NOT NULL UNIQUE,
    customer_id     bigint NOT NULL REFERENCES customers (id),
    currency        char(3) NOT NULL CHECK (currency IN ('KRW', 'USD', 'JPY')),
    balance         numeric(20, 4) NOT NULL,
    opening_balance numeric(20, 4) NOT NULL,
    version         integer NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Beyond the brief's columns: what GET /accounts/{id} shows.
    status          text NOT NULL DEFAULT 'active',
    memo            text NOT NULL DEFAULT '',
    opened_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS transfers (
    id           uuid PRIMARY KEY,
    from_account bigint NOT NULL REFERENCES accounts (id),
    to_account   bigint NOT NULL REFERENCES accounts (id),
    amount       numeric(20, 4) NOT NULL,
    fee          numeric(20, 4) NOT NULL,
    currency     char(3) NOT NULL,
    status       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS entries (
    id            bigserial PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts (id),
    transfer_id   uuid REFERENCES transfers (id),
    amount        numeric(20, 4) NOT NULL,
    business_time timestamptz NOT NULL,
    memo          text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS entries_account_business_time ON entries (account_id, business_time);
-- Natural key of a transfer's entry: ids come from a sequence, so a shadow run and the real
-- commit get different ids; a write verifier can match on this instead.
CREATE UNIQUE INDEX IF NOT EXISTS entries_transfer_account ON entries (transfer_id, account_id);
CREATE TABLE IF NOT EXISTS audit_log (
    id          bigserial PRIMARY KEY,
    transfer_id uuid NOT NULL,
    action      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_transfer_action ON audit_log (transfer_id, action);
-- The bank's own books (general-ledger control totals) per currency as of each 00:00 Seoul cut-off
-- of the last 31 days, for the reconciliation to compare with. A real bank's books come from
-- its GL; the demo derives them from opening balances and entries (the journal), so they agree
-- with the ledger until someone changes a balance without an entry (inject-drift).
CREATE OR REPLACE VIEW bank_books AS
SELECT day::date AS as_of, totals.currency, totals.opening + COALESCE(moved.amount, 0) AS total
-- Days are the bank's (Seoul) days, not the database session's: between 15:00 and 24:00 UTC they differ.
FROM generate_series((now() AT TIME ZONE 'Asia/Seoul')::date - 30, (now() AT TIME ZONE 'Asia/Seoul')::date + 1,
                     interval '1 day') AS day
CROSS JOIN LATERAL (
    SELECT currency, SUM(opening_balance) AS opening FROM accounts GROUP BY currency
) AS totals
LEFT JOIN LATERAL (
    SELECT SUM(e.amount) AS amount FROM entries e JOIN accounts a ON a.id = e.account_id
    WHERE a.currency = totals.currency
      AND e.business_time < (day::date::timestamp AT TIME ZONE 'Asia/Seoul')
) AS moved ON true;
"""

SURNAMES = (
    "김",
    "이",
    "박",
    "최",
    "정",
    "강",
    "조",
    "윤",
    "장",
    "임",
    "한",
    "오",
    "서",
    "신",
    "권",
    "황",
    "안",
    "송",
    "류",
    "홍",
)
GIVEN_SYLLABLES = (
    "민",
    "서",
    "지",
    "현",
    "준",
    "우",
    "하",
    "윤",
    "도",
    "예",
    "수",
    "은",
    "진",
    "영",
    "호",
    "성",
    "아",
    "주",
    "연",
    "희",
    "태",
    "경",
    "재",
    "혜",
)
ACCOUNT_MEMOS = ("급여 통장", "비상금", "생활비", "모임 회비", "적금 연결")
ENTRY_MEMOS = ("급여", "카드대금", "이체", "ATM 출금", "관리비", "통신비", "환전")
# Share of each currency among seeded accounts.
CURRENCY_WEIGHTS = (("KRW", 70), ("USD", 20), ("JPY", 10))
# Share of accounts whose two newest entries share a business time (deliberate difference 3).
TIE_SHARE = 0.15
# Share of USD accounts whose balance ends in an exact half cent after an even cent (difference 1).
HALF_CENT_BALANCE_SHARE = 0.5


@dataclass(frozen=True)
class InvariantBreak:
    """An account whose balance is not opening_balance + sum(entries.amount)."""

    account_id: int
    balance: Decimal
    expected_balance: Decimal


@dataclass(frozen=True)
class SeedSummary:
    """What init_ledger found or built."""

    created_database: bool
    seeded: bool
    accounts: int
    entries: int


def _maintenance_conninfo(dsn: str) -> tuple[str, str]:
    """The DSN of the server's `postgres` database and the ledger database's name."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise DemoWorldError(f"ledger URL {dsn!r} is not a valid PostgreSQL DSN: {exc}") from exc
    dbname = params.get("dbname")
    if not dbname:
        raise DemoWorldError(f"ledger URL {dsn!r} names no database")
    return make_conninfo(dsn, dbname="postgres"), str(dbname)


def _connect(dsn: str, **kwargs: object) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, connect_timeout=5, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        raise DemoWorldError(f"cannot connect to the ledger database {dsn!r}: {exc}") from exc


def create_database_if_missing(dsn: str) -> bool:
    """Create the database the DSN names unless it exists; True when it was created."""
    maintenance_dsn, dbname = _maintenance_conninfo(dsn)
    with _connect(maintenance_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return True


def drop_database(dsn: str) -> None:
    """Drop the database the DSN names (tests use it for their throwaway ledgers only)."""
    maintenance_dsn, dbname = _maintenance_conninfo(dsn)
    with _connect(maintenance_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def init_ledger(
    dsn: str,
    *,
    reset: bool = False,
    account_count: int = DEFAULT_ACCOUNT_COUNT,
    seed: int = DEFAULT_SEED,
) -> SeedSummary:
    """Create the database, schema and seed if missing (idempotent); reset=True rebuilds them."""
    if account_count < 10:
        raise DemoWorldError(f"account_count must be at least 10, got {account_count}")
    created = create_database_if_missing(dsn)
    with _connect(dsn) as conn:
        # One initialiser at a time (the demo's `run` may race a manual init-ledger).
        conn.execute("SELECT pg_advisory_xact_lock(7301001)")
        if reset:
            conn.execute("DROP TABLE IF EXISTS " + ", ".join(LEDGER_TABLES) + " CASCADE")
        conn.execute(LEDGER_DDL)
        existing = conn.execute("SELECT count(*) FROM accounts").fetchone()
        seeded = False
        if not existing or existing[0] == 0:
            _seed(conn, account_count=account_count, rng=random.Random(seed))
            seeded = True
        accounts, entries = conn.execute(
            "SELECT (SELECT count(*) FROM accounts), (SELECT count(*) FROM entries)"
        ).fetchone() or (0, 0)
    return SeedSummary(created_database=created, seeded=seeded, accounts=accounts, entries=entries)


def _korean_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_SYLLABLES) + rng.choice(GIVEN_SYLLABLES)


def _entry_amount(rng: random.Random, currency: str) -> Decimal:
    """A signed entry amount in the currency's usual granularity."""
    sign = 1 if rng.random() < 0.6 else -1
    if currency == "KRW":
        return Decimal(sign * rng.randint(1, 500) * 1000)
    if currency == "JPY":
        return Decimal(sign * rng.randint(10, 500) * 100)
    if rng.random() < 0.3:
        # Interest-like amount ending in an exact half cent after an even cent (x.x05, x.x25 ...):
        # HALF_UP and HALF_EVEN disagree on it (difference 1, in transaction history).
        return Decimal(2 * rng.randint(1, 400)) / 100 + Decimal("0.005")
    return Decimal(sign * rng.randint(100, 50000)) / 100


def _target_balance(rng: random.Random, currency: str) -> Decimal:
    if currency == "KRW":
        return Decimal(rng.randint(1_000, 50_000) * 1000)
    if currency == "JPY":
        return Decimal(rng.randint(1_000, 50_000) * 100)
    cents = Decimal(rng.randint(100_000, 5_000_000)) / 100
    if rng.random() < HALF_CENT_BALANCE_SHARE:
        # Even last cent + half cent, e.g. 10.125: 10.13 HALF_UP vs 10.12 HALF_EVEN.
        cents = (cents * 100 // 2 * 2) / 100
        return cents + Decimal("0.005")
    return cents


def _seed(conn: psycopg.Connection, *, account_count: int, rng: random.Random) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    customer_count = max(1, account_count * 4 // 5)
    with conn.cursor() as cur:
        with cur.copy("COPY customers (id, name, phone, email) FROM STDIN") as copy:
            for customer_id in range(1, customer_count + 1):
                phone = f"010-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
                copy.write_row(
                    (customer_id, _korean_name(rng), phone, f"customer{customer_id:05d}@example.kr")
                )
        currencies = [code for code, weight in CURRENCY_WEIGHTS for _ in range(weight)]
        used_account_numbers: set[str] = set()
        account_rows: list[tuple[object, ...]] = []
        entry_rows: list[tuple[object, ...]] = []
        for account_id in range(1, account_count + 1):
            currency = rng.choice(currencies)
            account_no = ""
            while not account_no or account_no in used_account_numbers:
                account_no = f"110-{rng.randint(100, 999)}-{rng.randint(0, 999_999):06d}"
            used_account_numbers.add(account_no)
            times = sorted(
                now - timedelta(seconds=rng.randint(60, 7 * 86_400))
                for _ in range(rng.randint(2, 6))
            )
            if rng.random() < TIE_SHARE:
                # The two newest entries share a business time (difference 3).
                times[-2] = times[-1]
            amounts = [_entry_amount(rng, currency) for _ in times]
            balance = _target_balance(rng, currency)
            opening_balance = balance - sum(amounts, Decimal(0))
            if opening_balance < 0:
                # Whole units keep the half-cent pattern of a USD balance.
                balance += math.ceil(-opening_balance / 1000) * 1000
                opening_balance = balance - sum(amounts, Decimal(0))
            memo = rng.choice(ACCOUNT_MEMOS) if rng.random() < 0.2 else ""
            opened_at = now - timedelta(
                days=rng.randint(30, 3 * 365), seconds=rng.randint(0, 86_399)
            )
            account_rows.append(
                (
                    account_id,
                    account_no,
                    rng.randint(1, customer_count),
                    currency,
                    balance,
                    opening_balance,
                    len(times),
                    times[-1],
                    memo,
                    opened_at,
                )
            )
            for business_time, amount in zip(times, amounts, strict=True):
                entry_memo = rng.choice(ENTRY_MEMOS) if rng.random() < 0.5 else ""
                entry_rows.append((account_id, amount, business_time, entry_memo))
        copy_rows(
            cur,
            "COPY accounts (id, account_no, customer_id, currency, balance, opening_balance,"
            " version, updated_at, memo, opened_at) FROM STDIN",
            account_rows,
        )
        copy_rows(cur, "COPY entries (account_id, amount, business_time, memo) FROM STDIN", entry_rows)
        cur.execute("ANALYZE customers, accounts, entries")


def copy_rows(cur: psycopg.Cursor[Any], statement: LiteralString, rows: Iterable[Sequence[Any]]) -> None:
    """Load ``rows`` with one ``COPY ... FROM STDIN`` statement (much faster than INSERTs)."""
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def inject_drift(dsn: str, account_id: int, amount: Decimal | str | int) -> Decimal:
    """Change one account's balance by `amount` without an entry; return the new balance.

    This is the fault the midnight reconciliation must find: balance no longer equals
    opening_balance + sum(entries.amount) for exactly this account.
    """
    try:
        delta = Decimal(str(amount))
    except ArithmeticError as exc:
        raise DemoWorldError(f"drift amount {amount!r} is not a decimal number") from exc
    if not delta.is_finite() or delta == 0:
        raise DemoWorldError(f"drift amount must be a non-zero finite number, got {amount!r}")
    with _connect(dsn) as conn:
        row = conn.execute(
            "UPDATE accounts SET balance = balance + %s WHERE id = %s RETURNING balance",
            (delta, account_id),
        ).fetchone()
    if row is None:
        raise DemoWorldError(f"no account with id {account_id} in the ledger")
    return Decimal(row[0])


def accounts_breaking_invariant(dsn: str) -> list[InvariantBreak]:
    """Accounts whose balance differs from opening_balance + sum of their entries."""
    with _connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT a.id, a.balance, a.opening_balance + coalesce(e.total, 0)
            FROM accounts a
            LEFT JOIN (SELECT account_id, sum(amount) AS total FROM entries GROUP BY account_id) e
                   ON e.account_id = a.id
            WHERE a.balance <> a.opening_balance + coalesce(e.total, 0)
            ORDER BY a.id
            """
        ).fetchall()
    return [InvariantBreak(account_id=r[0], balance=r[1], expected_balance=r[2]) for r in rows]
