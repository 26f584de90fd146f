"""Helpers for the write verifier's tests: throwaway ledger databases (the benchmarks'), demo transfers.

Transfers run through the demo's own ``execute_transfer`` (shadow on the candidate flavor,
commit on the legacy flavor).
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import psycopg

from console.demo.candidate import CANDIDATE_FLAVOR
from console.demo.ledger import TransferRequest, execute_transfer, shadow_capture_body
from console.demo.legacy import LEGACY_FLAVOR


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
