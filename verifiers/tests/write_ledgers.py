"""Helpers for the write verifier's tests and benchmark: throwaway ledger databases, demo transfers.

Not used by the product. A throwaway ledger is the demo world's schema and seed in a database
named ``mhc_write_test_<random>``, dropped afterwards; transfers run through the demo's own
``execute_transfer`` (shadow on the candidate flavor, commit on the legacy flavor).
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from console.demo.candidate import CANDIDATE_FLAVOR
from console.demo.ledger import TransferRequest, execute_transfer, shadow_capture_body
from console.demo.legacy import LEGACY_FLAVOR
from console.demo.schema import drop_database, init_ledger

SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def create_test_ledger(*, accounts: int = 60, server_dsn: str = SERVER_DSN) -> str:
    """A fresh seeded demo ledger; returns its DSN (drop it with drop_test_ledger)."""
    name = f"mhc_write_test_{uuid.uuid4().hex[:10]}"
    dsn = server_dsn.rsplit("/", 1)[0] + "/" + name
    init_ledger(dsn, account_count=accounts)
    return dsn


def drop_test_ledger(dsn: str) -> None:
    if not conninfo_to_dict(dsn).get("dbname", "").startswith("mhc_write_test_"):
        raise ValueError(f"refusing to drop {dsn!r}: not a throwaway write-test ledger")
    drop_database(dsn)


def accounts_by_currency(dsn: str, currency: str, *, minimum_balance: Decimal = Decimal("1000")) -> list[int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id FROM accounts WHERE currency = %s AND balance >= %s ORDER BY id", (currency, minimum_balance)
        ).fetchall()
    return [row[0] for row in rows]


async def _transfer(dsn: str, request: TransferRequest, *, shadow: bool) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        outcome = await execute_transfer(conn, CANDIDATE_FLAVOR if shadow else LEGACY_FLAVOR, request, shadow=shadow)
    return shadow_capture_body(outcome)


def shadow_then_commit(dsn: str, *, source: int, target: int, amount: str, currency: str,
                       commit: bool = True) -> dict[str, Any]:
    """The candidate's shadow capture of a transfer; the legacy then commits it (unless commit=False)."""
    request = TransferRequest(id=uuid.uuid4(), from_account=source, to_account=target, amount=Decimal(amount),
                              currency=currency)
    capture = asyncio.run(_transfer(dsn, request, shadow=True))
    if commit:
        asyncio.run(_transfer(dsn, request, shadow=False))
    return capture
