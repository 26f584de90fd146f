"""The web layer both demo services share, and the legacy ledger service built with it.

aiohttp over a small psycopg AsyncConnectionPool. Every answer (errors too) carries the noise a
real gateway adds: a random `traceId`, `servedAt` (epoch milliseconds) and an `X-Trace-Id`
header. The legacy flavor is the reference behaviour; candidate.py flips the documented flags.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import ROUND_HALF_UP
from typing import Any

import orjson
import psycopg
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from console.demo import BIND_HOST
from console.demo.ledger import (
    LedgerRequestError,
    ServiceFlavor,
    account_view,
    balance_view,
    committed_transfer_body,
    execute_transfer,
    parse_limit,
    parse_transfer_request,
    read_fails,
    shadow_capture_body,
    transactions_view,
)

logger = logging.getLogger(__name__)

LEGACY_FLAVOR = ServiceFlavor(
    name="legacy",
    usd_display_rounding=ROUND_HALF_UP,
    usd_fee_rounding=ROUND_HALF_UP,
    omit_empty_memo=False,
    tie_order="ASC",
    fault_one_in=0,
    shadow_writes=False,
)
DEFAULT_POOL_MAX_SIZE = 4
MAX_BODY_BYTES = 64 * 1024

FLAVOR_KEY = web.AppKey("flavor", ServiceFlavor)
POOL_KEY = web.AppKey("pool", AsyncConnectionPool)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(payload: dict[str, Any], status: int = 200) -> web.Response:
    """A JSON answer with the noise fields every response of the demo services carries."""
    trace_id = uuid.uuid4().hex
    body = {**payload, "traceId": trace_id, "servedAt": int(time.time() * 1000)}
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        content_type="application/json",
        headers={"X-Trace-Id": trace_id},
    )


def error_response(status: int, code: str, detail: str) -> web.Response:
    return json_response({"error": code, "detail": detail}, status=status)


def _account_id(request: web.Request) -> int:
    raw = request.match_info["account_id"]
    try:
        return int(raw)
    except ValueError:
        raise LedgerRequestError(
            400, "bad_account_id", f"account id must be an integer, got {raw!r}"
        ) from None


@web.middleware
async def ledger_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn refusals into JSON answers, and the candidate's deliberate read faults into 500s."""
    flavor = request.app[FLAVOR_KEY]
    if request.method == "GET" and read_fails(
        flavor, request.method, request.path, request.query_string
    ):
        return error_response(500, "internal_error", "deliberate demo fault (see README)")
    try:
        return await handler(request)
    except LedgerRequestError as exc:
        return error_response(exc.status, exc.code, exc.detail)
    except psycopg.errors.UniqueViolation:
        return error_response(409, "duplicate_transfer", "a transfer with this id exists already")
    except web.HTTPException as exc:
        return error_response(exc.status, "http_error", exc.reason)
    except psycopg.OperationalError as exc:
        logger.warning("%s ledger database unavailable: %s", flavor.name, exc)
        return error_response(503, "ledger_unavailable", "the ledger database is unavailable")


async def get_account(request: web.Request) -> web.Response:
    async with request.app[POOL_KEY].connection() as conn:
        return json_response(
            await account_view(conn, request.app[FLAVOR_KEY], _account_id(request))
        )


async def get_balance(request: web.Request) -> web.Response:
    async with request.app[POOL_KEY].connection() as conn:
        return json_response(
            await balance_view(conn, request.app[FLAVOR_KEY], _account_id(request))
        )


async def get_transactions(request: web.Request) -> web.Response:
    account_id = _account_id(request)
    limit = parse_limit(request.query.get("limit"))
    async with request.app[POOL_KEY].connection() as conn:
        return json_response(
            await transactions_view(conn, request.app[FLAVOR_KEY], account_id, limit)
        )


async def post_transfer(request: web.Request) -> web.Response:
    """Commit a transfer (legacy) or run it in shadow mode and return the capture (candidate)."""
    flavor = request.app[FLAVOR_KEY]
    shadow = request.query.get("shadow", "") in ("1", "true")
    if shadow and not flavor.shadow_writes:
        raise LedgerRequestError(
            400, "shadow_unsupported", f"the {flavor.name} service has no shadow mode"
        )
    if flavor.shadow_writes and not shadow:
        raise LedgerRequestError(
            403, "shadow_only", f"the {flavor.name} service runs in shadow mode; use ?shadow=1"
        )
    try:
        body = json.loads(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise LedgerRequestError(400, "bad_json", "body is not valid JSON") from None
    transfer = parse_transfer_request(body)
    async with request.app[POOL_KEY].connection() as conn:
        outcome = await execute_transfer(conn, flavor, transfer, shadow=shadow)
    if shadow:
        return json_response(shadow_capture_body(outcome))
    return json_response(committed_transfer_body(outcome, flavor), status=201)


def create_service_app(
    dsn: str, flavor: ServiceFlavor, *, pool_max_size: int = DEFAULT_POOL_MAX_SIZE
) -> web.Application:
    """An aiohttp app serving the ledger routes with the given flavor over its own pool."""
    app = web.Application(middlewares=[ledger_errors], client_max_size=MAX_BODY_BYTES)
    app[FLAVOR_KEY] = flavor

    async def pool_context(app: web.Application) -> AsyncIterator[None]:
        # autocommit: a read is one statement, no BEGIN/COMMIT round trips; transfers open
        # their own transaction.
        pool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=pool_max_size,
            open=False,
            kwargs={"autocommit": True},
            name=f"demo-{flavor.name}",
        )
        await pool.open(wait=True, timeout=10)
        app[POOL_KEY] = pool
        yield
        await pool.close()

    app.cleanup_ctx.append(pool_context)
    app.router.add_get("/accounts/{account_id}", get_account)
    app.router.add_get("/accounts/{account_id}/balance", get_balance)
    app.router.add_get("/accounts/{account_id}/transactions", get_transactions)
    app.router.add_post("/transfers", post_transfer)
    return app


def create_legacy_app(dsn: str, *, pool_max_size: int = DEFAULT_POOL_MAX_SIZE) -> web.Application:
    """The legacy ledger service: the reference answers; commits transfers."""
    return create_service_app(dsn, LEGACY_FLAVOR, pool_max_size=pool_max_size)


async def start_app(
    app: web.Application,
    *,
    host: str = BIND_HOST,
    port: int | None = None,
    sock: socket.socket | None = None,
    reuse_port: bool = False,
) -> web.AppRunner:
    """Serve an app on host:port (or a bound socket) in the running loop; returns its runner.

    reuse_port lets several processes share the port (the kernel spreads connections)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site: web.BaseSite
    if sock is not None:
        site = web.SockSite(runner, sock)
    else:
        site = web.TCPSite(runner, host, port, reuse_address=True, reuse_port=reuse_port or None)
    await site.start()
    return runner
