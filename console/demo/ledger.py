"""Shared ledger logic of the legacy and candidate services: SQL, money formatting, transfers.

Both services run this same code against the same database. A ServiceFlavor switches on the
candidate's deliberate differences (listed in README.md), so each difference is one flag here
rather than a second copy of the logic. No HTTP in this module: legacy.py is the web layer.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, LiteralString

import psycopg
from psycopg.rows import dict_row

from console.demo import DemoWorldError

CURRENCIES = ("KRW", "USD", "JPY")
# Smallest unit shown (and accepted in a transfer) per currency.
MINOR_UNIT = {"KRW": Decimal("1"), "USD": Decimal("0.01"), "JPY": Decimal("1")}
FEE_RATE = Decimal("0.001")
TRANSACTIONS_DEFAULT_LIMIT = 20
TRANSACTIONS_MAX_LIMIT = 100
AUDIT_ACTION_TRANSFER = "transfer.completed"
TRANSFER_STATUS_COMPLETED = "completed"


@dataclass(frozen=True)
class ServiceFlavor:
    """How one service behaves; the legacy is the reference, the candidate flips a few flags."""

    name: str
    usd_display_rounding: str  # difference 1: rounding of USD balance/amount strings
    usd_fee_rounding: str  # difference 5: rounding of the fee on USD transfers
    omit_empty_memo: bool  # difference 2: drop "memo" when it is ""
    tie_order: str  # difference 3: "ASC" or "DESC" entry id order among equal business times
    fault_one_in: int  # difference 4: a 500 for 1 read request in N (0 = never)
    shadow_writes: bool  # candidate: POST /transfers only in shadow mode, never commits


class LedgerRequestError(DemoWorldError):
    """A request the ledger refuses; carries the HTTP status and a machine-readable code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class TransferRequest:
    """A validated POST /transfers body."""

    id: uuid.UUID
    from_account: int
    to_account: int
    amount: Decimal
    currency: str


@dataclass
class StatementCapture:
    """The DML statements of one transaction as executed, with after-images from RETURNING."""

    statements: list[dict[str, Any]] = field(default_factory=list)
    after_images: list[dict[str, Any]] = field(default_factory=list)

    async def execute(
        self,
        cursor: psycopg.AsyncCursor[dict[str, Any]],
        table: str,
        key_columns: tuple[str, ...],
        query: str,
        params: tuple[Any, ...],
    ) -> dict[str, Any]:
        """Run one `... RETURNING *` statement and record it and its after-image."""
        await cursor.execute(query, params)
        row = await cursor.fetchone()
        if row is None:
            raise DemoWorldError(f"statement on {table} returned no row: {query}")
        self.statements.append({"sql": query, "params": [json_safe(p) for p in params]})
        self.after_images.append(
            {
                "table": table,
                "key": {column: json_safe(row[column]) for column in key_columns},
                "row": {column: json_safe(value) for column, value in row.items()},
            }
        )
        return row


@dataclass(frozen=True)
class TransferOutcome:
    """A transfer as executed (committed, or rolled back in shadow mode)."""

    request: TransferRequest
    fee: Decimal
    capture: StatementCapture


def json_safe(value: Any) -> Any:
    """A parameter or column value as JSON: Decimal -> str, datetime -> ISO 8601, UUID -> str."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    raise DemoWorldError(f"no JSON form for a {type(value).__name__} value")


def iso_utc(moment: datetime) -> str:
    """A timestamp as ISO 8601 in UTC with offset, the one form both services show."""
    return moment.astimezone(UTC).isoformat()


def format_money(amount: Decimal, currency: str, usd_rounding: str) -> str:
    """An amount as a decimal string in the currency's minor unit (USD rounding per flavor)."""
    rounding = usd_rounding if currency == "USD" else ROUND_HALF_UP
    return str(Decimal(amount).quantize(MINOR_UNIT[currency], rounding=rounding))


def transfer_fee(amount: Decimal, currency: str, usd_rounding: str) -> Decimal:
    """The fee recorded on a transfer: 0.1% of the amount in the minor unit."""
    rounding = usd_rounding if currency == "USD" else ROUND_HALF_UP
    return (amount * FEE_RATE).quantize(MINOR_UNIT[currency], rounding=rounding)


def request_fault_bucket(method: str, path: str, query: str) -> int:
    """A stable number for a request (sha256 of method, path and raw query string)."""
    digest = hashlib.sha256(f"{method.upper()} {path}?{query}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def read_fails(flavor: ServiceFlavor, method: str, path: str, query: str) -> bool:
    """Whether this flavor answers this read with a deliberate 500 (same answer every time)."""
    return (
        flavor.fault_one_in > 0
        and request_fault_bucket(method, path, query) % flavor.fault_one_in == 0
    )


def _memo_fields(flavor: ServiceFlavor, memo: str) -> dict[str, str]:
    return {} if flavor.omit_empty_memo and memo == "" else {"memo": memo}


# --- reads ---------------------------------------------------------------------------------------

ACCOUNT_SQL = """
SELECT a.id, a.account_no, c.name AS holder_name, a.currency, a.status, a.memo, a.opened_at
FROM accounts a JOIN customers c ON c.id = a.customer_id
WHERE a.id = %s
"""
BALANCE_SQL = "SELECT id, currency, balance, updated_at FROM accounts WHERE id = %s"
# One round trip; LEFT JOIN LATERAL tells "no such account" (no row) from "no entries" (null entry).
TRANSACTIONS_SQL = """
SELECT a.currency, e.id AS entry_id, e.amount, e.memo, e.business_time
FROM accounts a
LEFT JOIN LATERAL (
    SELECT id, amount, memo, business_time FROM entries
    WHERE account_id = a.id
    ORDER BY business_time DESC, id {tie_order}
    LIMIT %s
) e ON true
WHERE a.id = %s
ORDER BY e.business_time DESC, e.id {tie_order}
"""
TRANSACTIONS_SQL_BY_ORDER = {
    order: TRANSACTIONS_SQL.format(tie_order=order) for order in ("ASC", "DESC")
}


def _not_found(account_id: int) -> LedgerRequestError:
    return LedgerRequestError(404, "account_not_found", f"no account with id {account_id}")


async def _account_row(
    conn: psycopg.AsyncConnection[Any], query: LiteralString, account_id: int
) -> dict[str, Any]:
    """The one row `query` selects for the account; 404 when there is none."""
    cur = conn.cursor(row_factory=dict_row)
    row = await (await cur.execute(query, (account_id,))).fetchone()
    if row is None:
        raise _not_found(account_id)
    return row


async def account_view(
    conn: psycopg.AsyncConnection[Any], flavor: ServiceFlavor, account_id: int
) -> dict[str, Any]:
    """Body of GET /accounts/{id} (without the noise fields)."""
    row = await _account_row(conn, ACCOUNT_SQL, account_id)
    return {
        "id": row["id"],
        "accountNo": row["account_no"],
        "holderName": row["holder_name"],
        "currency": row["currency"],
        "status": row["status"],
        **_memo_fields(flavor, row["memo"]),
        "openedAt": iso_utc(row["opened_at"]),
    }


async def balance_view(
    conn: psycopg.AsyncConnection[Any], flavor: ServiceFlavor, account_id: int
) -> dict[str, Any]:
    """Body of GET /accounts/{id}/balance; available equals balance (no holds in the demo)."""
    row = await _account_row(conn, BALANCE_SQL, account_id)
    shown = format_money(row["balance"], row["currency"], flavor.usd_display_rounding)
    return {
        "accountId": row["id"],
        "currency": row["currency"],
        "balance": shown,
        "available": shown,
        "asOf": iso_utc(row["updated_at"]),
    }


def parse_limit(raw: str | None) -> int:
    """The ?limit= of the transactions route, validated."""
    if raw is None or raw == "":
        return TRANSACTIONS_DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise LedgerRequestError(
            400, "bad_limit", f"limit must be an integer, got {raw!r}"
        ) from None
    if not 1 <= limit <= TRANSACTIONS_MAX_LIMIT:
        raise LedgerRequestError(
            400, "bad_limit", f"limit must be between 1 and {TRANSACTIONS_MAX_LIMIT}, got {limit}"
        )
    return limit


async def transactions_view(
    conn: psycopg.AsyncConnection[Any], flavor: ServiceFlavor, account_id: int, limit: int
) -> dict[str, Any]:
    """Body of GET /accounts/{id}/transactions: newest first, ties by entry id per flavor."""
    cur = conn.cursor(row_factory=dict_row)
    rows = await (
        await cur.execute(TRANSACTIONS_SQL_BY_ORDER[flavor.tie_order], (limit, account_id))
    ).fetchall()
    if not rows:
        raise _not_found(account_id)
    items = [
        {
            "entryId": row["entry_id"],
            "amount": format_money(row["amount"], row["currency"], flavor.usd_display_rounding),
            **_memo_fields(flavor, row["memo"]),
            "businessTime": iso_utc(row["business_time"]),
        }
        for row in rows
        if row["entry_id"] is not None
    ]
    return {"accountId": account_id, "items": items, "count": len(items)}


# --- writes --------------------------------------------------------------------------------------

LOCK_ACCOUNTS_SQL = (
    "SELECT id, currency, balance FROM accounts WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
)
DEBIT_SQL = (
    "UPDATE accounts SET balance = balance - %s, version = version + 1, updated_at = now()"
    " WHERE id = %s RETURNING *"
)
CREDIT_SQL = (
    "UPDATE accounts SET balance = balance + %s, version = version + 1, updated_at = now()"
    " WHERE id = %s RETURNING *"
)
INSERT_TRANSFER_SQL = (
    "INSERT INTO transfers (id, from_account, to_account, amount, fee, currency,"
    " status, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now()) RETURNING *"
)
INSERT_ENTRY_SQL = (
    "INSERT INTO entries (account_id, transfer_id, amount, business_time, memo)"
    " VALUES (%s, %s, %s, now(), %s) RETURNING *"
)
INSERT_AUDIT_SQL = (
    "INSERT INTO audit_log (transfer_id, action, created_at) VALUES (%s, %s, now()) RETURNING *"
)


def _bad(detail: str) -> LedgerRequestError:
    return LedgerRequestError(400, "bad_transfer", detail)


def _account_id_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _bad(f"'{name}' must be an account id (integer), got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise _bad(f"'{name}' must be an account id (integer), got {value!r}") from None


def parse_transfer_request(body: Any) -> TransferRequest:
    """Validate a POST /transfers body {id, from, to, amount, currency}."""
    if not isinstance(body, dict):
        raise _bad("body must be a JSON object {id, from, to, amount, currency}")
    unknown = set(body) - {"id", "from", "to", "amount", "currency"}
    if unknown:
        raise _bad(f"unknown fields: {', '.join(sorted(unknown))}")
    try:
        transfer_id = uuid.UUID(str(body.get("id")))
    except ValueError:
        raise _bad(f"'id' must be a UUID, got {body.get('id')!r}") from None
    from_account = _account_id_field(body, "from")
    to_account = _account_id_field(body, "to")
    if from_account == to_account:
        raise _bad("'from' and 'to' must be different accounts")
    currency = body.get("currency")
    if currency not in CURRENCIES:
        raise _bad(f"'currency' must be one of {', '.join(CURRENCIES)}, got {currency!r}")
    raw_amount = body.get("amount")
    if isinstance(raw_amount, bool) or not isinstance(raw_amount, (str, int, float)):
        raise _bad(f"'amount' must be a decimal string, got {raw_amount!r}")
    try:
        amount = Decimal(str(raw_amount))
    except InvalidOperation:
        raise _bad(f"'amount' must be a decimal string, got {raw_amount!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise _bad(f"'amount' must be positive, got {raw_amount!r}")
    if amount != amount.quantize(MINOR_UNIT[currency], rounding=ROUND_HALF_UP):
        raise _bad(f"'amount' {raw_amount!r} has more decimals than {currency} allows")
    return TransferRequest(
        id=transfer_id,
        from_account=from_account,
        to_account=to_account,
        amount=amount,
        currency=currency,
    )


async def execute_transfer(
    conn: psycopg.AsyncConnection[Any],
    flavor: ServiceFlavor,
    request: TransferRequest,
    *,
    shadow: bool,
) -> TransferOutcome:
    """Run a transfer's transaction; commit it, or roll it back when shadow=True.

    Statements: lock both accounts (a read, not captured), the two balance updates in account id
    order (so concurrent opposite transfers cannot deadlock), the transfer row, two entries and
    the audit row, each with RETURNING * for its after-image.
    """
    capture = StatementCapture()
    fee = transfer_fee(request.amount, request.currency, flavor.usd_fee_rounding)
    async with conn.transaction() as transaction:
        cur = conn.cursor(row_factory=dict_row)
        if await (
            await cur.execute("SELECT 1 FROM transfers WHERE id = %s", (request.id,))
        ).fetchone():
            raise LedgerRequestError(
                409, "duplicate_transfer", f"transfer {request.id} exists already"
            )
        accounts = {
            row["id"]: row
            for row in await (
                await cur.execute(LOCK_ACCOUNTS_SQL, ([request.from_account, request.to_account],))
            ).fetchall()
        }
        for account_id in (request.from_account, request.to_account):
            if account_id not in accounts:
                raise _not_found(account_id)
            if accounts[account_id]["currency"] != request.currency:
                raise LedgerRequestError(
                    422,
                    "currency_mismatch",
                    f"account {account_id} holds {accounts[account_id]['currency']}, "
                    f"transfer is in {request.currency}",
                )
        if accounts[request.from_account]["balance"] < request.amount:
            raise LedgerRequestError(
                409,
                "insufficient_funds",
                f"account {request.from_account} cannot cover {request.amount}",
            )
        moves = sorted([(request.from_account, DEBIT_SQL), (request.to_account, CREDIT_SQL)])
        for account_id, statement in moves:
            await capture.execute(cur, "accounts", ("id",), statement, (request.amount, account_id))
        await capture.execute(
            cur,
            "transfers",
            ("id",),
            INSERT_TRANSFER_SQL,
            (
                request.id,
                request.from_account,
                request.to_account,
                request.amount,
                fee,
                request.currency,
                TRANSFER_STATUS_COMPLETED,
            ),
        )
        await capture.execute(
            cur,
            "entries",
            ("id",),
            INSERT_ENTRY_SQL,
            (request.from_account, request.id, -request.amount, ""),
        )
        await capture.execute(
            cur,
            "entries",
            ("id",),
            INSERT_ENTRY_SQL,
            (request.to_account, request.id, request.amount, ""),
        )
        await capture.execute(
            cur, "audit_log", ("id",), INSERT_AUDIT_SQL, (request.id, AUDIT_ACTION_TRANSFER)
        )
        if shadow:
            raise psycopg.Rollback(transaction)
    return TransferOutcome(request=request, fee=fee, capture=capture)


def shadow_capture_body(outcome: TransferOutcome) -> dict[str, Any]:
    """The capture a shadow transfer answers with (the console's write-captures format)."""
    return {
        "id": str(outcome.request.id),
        "dialect": "postgres",
        "statements": outcome.capture.statements,
        "after_images": outcome.capture.after_images,
    }


def committed_transfer_body(outcome: TransferOutcome, flavor: ServiceFlavor) -> dict[str, Any]:
    """The body of a committed transfer."""
    request = outcome.request
    return {
        "id": str(request.id),
        "status": TRANSFER_STATUS_COMPLETED,
        "from": request.from_account,
        "to": request.to_account,
        "amount": format_money(request.amount, request.currency, flavor.usd_display_rounding),
        "fee": format_money(outcome.fee, request.currency, flavor.usd_display_rounding),
        "currency": request.currency,
    }
