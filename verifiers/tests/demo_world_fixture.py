"""A running demo world for end-to-end tests: a throwaway ledger, the legacy and candidate services
on free ports in a background event loop, and the legacy reads and transfers the demo's traffic
generator would send (console/demo/traffic.py), made deterministic by choosing the accounts.

Not used by the product. The ledger is named ``mhc_e2e_<random>`` and dropped on close.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import orjson
import psycopg
from aiohttp import web

from console.demo.candidate import CANDIDATE_FLAVOR, create_candidate_app
from console.demo.ledger import read_fails
from console.demo.legacy import create_legacy_app, start_app
from console.demo.schema import drop_database, init_ledger
from console.demo.traffic import CAPTURE_FIELDS, READ_REQUEST_HEADERS, mirrored_read_sample
from verifiers.benchmarks.support import database_url

LEDGER_PREFIX = "mhc_e2e_"
T = TypeVar("T")


class DemoWorldFixtureError(RuntimeError):
    """The demo world could not provide what a test asked for (no such account, service refused)."""


class BackgroundLoop:
    """An event loop in a daemon thread; the test thread hands it coroutines and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="demo-world")
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


def bound_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1 (not listening until a server takes it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class DemoWorld:
    """A seeded ledger with legacy and candidate services serving it on free local ports."""

    dsn: str
    loop: BackgroundLoop = field(default_factory=BackgroundLoop)
    legacy_url: str = ""
    candidate_url: str = ""
    _runners: list[web.AppRunner] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    @classmethod
    def start(cls) -> DemoWorld:
        dsn = database_url(LEDGER_PREFIX + uuid.uuid4().hex[:10])
        init_ledger(dsn)
        world = cls(dsn=dsn)
        try:
            urls = []
            for app in (create_legacy_app(dsn), create_candidate_app(dsn)):
                sock = bound_socket()
                world._runners.append(world.loop.run(start_app(app, sock=sock)))
                urls.append(f"http://127.0.0.1:{sock.getsockname()[1]}")
            world.legacy_url, world.candidate_url = urls
            world._session = world.loop.run(_new_session())
        except BaseException:
            world.close()
            raise
        return world

    def close(self) -> None:
        try:
            if self._session is not None:
                self.loop.run(self._session.close())
            for runner in self._runners:
                self.loop.run(runner.cleanup())
        finally:
            self.loop.close()
            if LEDGER_PREFIX in self.dsn:  # never drop anything but our own throwaway ledger
                drop_database(self.dsn)

    # --- choosing accounts -------------------------------------------------------------------

    def account_ids(self, sql: str, *, count: int, path_template: str, query: str = "") -> list[int]:
        """The first `count` accounts the SQL selects whose GET path the candidate does NOT fail
        deliberately (so a sample shows only the difference the SQL picked it for)."""
        with psycopg.connect(self.dsn) as conn:
            ids = [row[0] for row in conn.execute(sql)]
        chosen = [i for i in ids if not read_fails(CANDIDATE_FLAVOR, "GET", path_template.format(i), query)][:count]
        if len(chosen) < count:
            raise DemoWorldFixtureError(f"only {len(chosen)} accounts for {path_template}: {sql}")
        return chosen

    @staticmethod
    def failing_account_ids(path_template: str, *, count: int, query: str = "", upto: int = 2000) -> list[int]:
        """Accounts whose GET path the candidate answers with its deliberate 500."""
        failing = [
            i for i in range(1, upto + 1) if read_fails(CANDIDATE_FLAVOR, "GET", path_template.format(i), query)
        ][:count]
        if len(failing) < count:
            raise DemoWorldFixtureError(f"only {len(failing)} failing accounts for {path_template}")
        return failing

    # --- traffic, as console/demo/traffic.py sends it --------------------------------------------

    def legacy_read_sample(self, path: str, query: str = "") -> dict[str, Any]:
        """GET the path from the LEGACY and return the mirrored sample traffic.py would post."""
        return self.loop.run(self._legacy_read_sample(path, query))

    async def _legacy_read_sample(self, path: str, query: str) -> dict[str, Any]:
        assert self._session is not None
        url = self.legacy_url + path + (f"?{query}" if query else "")
        captured_at = datetime.now(UTC).isoformat()
        started = time.perf_counter()
        async with self._session.get(url, headers=READ_REQUEST_HEADERS) as response:
            body = await response.text()
            latency_ms = (time.perf_counter() - started) * 1000
            headers = {str(name): value for name, value in response.headers.items()}
            status = response.status
        return mirrored_read_sample(path, query, captured_at, status, headers, body, latency_ms)

    def shadow_capture(self, transfer: TransferRequestBody) -> dict[str, Any]:
        """POST the transfer to the candidate in shadow mode; its capture as traffic.py forwards it
        (only CAPTURE_FIELDS, the noise dropped)."""
        status, body = self.loop.run(self._post(self.candidate_url + "/transfers?shadow=1", transfer))
        if status != 200:
            raise DemoWorldFixtureError(f"candidate shadow answered {status}: {body}")
        return {key: body[key] for key in CAPTURE_FIELDS}

    def legacy_commit(self, transfer: TransferRequestBody) -> tuple[int, dict[str, Any]]:
        """POST the same transfer to the legacy, which commits it; (status, body)."""
        return self.loop.run(self._post(self.legacy_url + "/transfers", transfer))

    async def _post(self, url: str, transfer: TransferRequestBody) -> tuple[int, dict[str, Any]]:
        assert self._session is not None
        async with self._session.post(
            url, data=orjson.dumps(transfer.as_json()), headers={"Content-Type": "application/json"}
        ) as response:
            return response.status, orjson.loads(await response.read())


@dataclass(frozen=True, slots=True)
class TransferRequestBody:
    """The body of POST /transfers, sent identically to the candidate and the legacy."""

    source: int
    target: int
    amount: str
    currency: str
    transfer_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.transfer_id,
            "from": self.source,
            "to": self.target,
            "amount": self.amount,
            "currency": self.currency,
        }


async def _new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
