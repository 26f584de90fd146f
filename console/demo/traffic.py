"""Demo traffic: reads and transfers against the legacy, mirrored to the console.

At a fixed request rate (asyncio, one keep-alive aiohttp session), 80% reads over the three GET
routes and 20% transfers between random same-currency accounts:

* a read calls the LEGACY and becomes a mirrored sample (request + legacy answer), buffered and
  posted as a JSON array to `{console}/api/v1/read-samples` every 0.5 s or 200 samples;
* a transfer runs in shadow mode on the CANDIDATE, its capture goes to
  `{console}/api/v1/write-captures`, then the LEGACY commits it and
  `{console}/api/v1/write-commits` is told `{"id": ...}`.

The console may be missing, down or refusing: answers are counted per endpoint, logged at most
once per 10 s, and traffic never stops for them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import psycopg

from console.demo import WON_MIGRATION, DemoWorldError

logger = logging.getLogger(__name__)

READ_SAMPLES_PATH = "/api/v1/read-samples"
WRITE_CAPTURES_PATH = "/api/v1/write-captures"
WRITE_COMMITS_PATH = "/api/v1/write-commits"
CONSOLE_PATHS = (READ_SAMPLES_PATH, WRITE_CAPTURES_PATH, WRITE_COMMITS_PATH)
CAPTURE_FIELDS = ("id", "dialect", "statements", "after_images")
READ_REQUEST_HEADERS = {"Accept": "application/json", "User-Agent": "mhc-demo-traffic/1.0"}
TRANSACTION_LIMITS = (10, 20)
LOG_EVERY_S = 10.0


@dataclass(frozen=True)
class TrafficConfig:
    """Where traffic goes and how much of it."""

    legacy_url: str
    candidate_url: str
    console_url: str  # "" runs without mirroring
    token: str
    rate: float  # requests per second (reads + transfers)
    transfer_share: float = 0.2
    batch_interval_s: float = 0.5
    batch_max_samples: int = 200
    status_interval_s: float = 10.0
    max_in_flight: int = 64
    request_timeout_s: float = 5.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise DemoWorldError(
                f"rate must be a positive number of requests per second, got {self.rate}"
            )
        if not 0 <= self.transfer_share <= 1:
            raise DemoWorldError(f"transfer_share must be within [0, 1], got {self.transfer_share}")
        for name in ("legacy_url", "candidate_url", "console_url"):
            url = getattr(self, name)
            if url and not url.startswith(("http://", "https://")):
                raise DemoWorldError(f"{name} must be an http(s) URL, got {url!r}")


@dataclass
class EndpointTally:
    """What one console endpoint did with what we sent (counted in samples/captures/commits)."""

    accepted: int = 0
    rejected: int = 0  # non-2xx answers
    failed: int = 0  # never answered: connection refused, timeout, or dropped from a full buffer
    statuses: Counter[int] = field(default_factory=Counter)


@dataclass
class TrafficStats:
    """Counters of one traffic run."""

    reads: int = 0
    read_errors: int = 0  # legacy unreachable for a read
    transfers: int = 0
    shadow_captured: int = 0
    shadow_refused: int = 0  # candidate answered non-200 (insufficient funds, 500 ...)
    legacy_committed: int = 0
    legacy_refused: int = 0
    transfer_errors: int = 0  # a service unreachable during a transfer
    skipped: int = 0  # ticks dropped because max_in_flight requests were outstanding
    console: dict[str, EndpointTally] = field(
        default_factory=lambda: {path: EndpointTally() for path in CONSOLE_PATHS}
    )

    def status_line(self) -> str:
        """One line for the operator's terminal."""
        console = " ".join(
            f"{path.rsplit('/', 1)[-1]}={tally.accepted}/{tally.rejected}/{tally.failed}"
            for path, tally in self.console.items()
        )
        return (
            f"traffic: reads={self.reads} (errors {self.read_errors}) transfers={self.transfers} "
            f"(shadow {self.shadow_captured}, committed {self.legacy_committed}, refused "
            f"{self.shadow_refused}/{self.legacy_refused}, errors {self.transfer_errors}) "
            f"skipped={self.skipped} console accepted/rejected/failed: {console}"
        )


@dataclass(frozen=True)
class AccountBook:
    """Account ids by currency: whom traffic reads and moves money between."""

    by_currency: dict[str, list[int]]

    @property
    def all_ids(self) -> list[int]:
        return [account_id for ids in self.by_currency.values() for account_id in ids]


async def load_account_book(ledger_url: str) -> AccountBook:
    """Read the ledger's account ids by currency."""
    try:
        async with await psycopg.AsyncConnection.connect(ledger_url, connect_timeout=5) as conn:
            rows = await (
                await conn.execute("SELECT id, currency FROM accounts ORDER BY id")
            ).fetchall()
    except psycopg.Error as exc:
        raise DemoWorldError(f"cannot read accounts from the ledger {ledger_url!r}: {exc}") from exc
    by_currency: dict[str, list[int]] = {}
    for account_id, currency in rows:
        by_currency.setdefault(currency.strip(), []).append(account_id)
    if not by_currency:
        raise DemoWorldError(f"the ledger {ledger_url!r} has no accounts; run init-ledger first")
    return AccountBook(by_currency=by_currency)


def transfer_amount(rng: random.Random, currency: str) -> str:
    """A plausible amount; USD in whole multiples of $5, so 1 in 4 hits a half-cent fee."""
    if currency == "USD":
        return str(5 * rng.randint(1, 40))
    if currency == "JPY":
        return str(100 * rng.randint(1, 300))
    return str(1000 * rng.randint(1, 300))



def mirrored_read_sample(path: str, query: str, captured_at: str, status: int, headers: dict[str, str],
                         body: str, latency_ms: float) -> dict[str, Any]:
    """A legacy GET as the gateway mirrors it to the console (design section 3's sample format)."""
    return {
        "id": str(uuid.uuid4()),
        "captured_at": captured_at,
        "request": {"method": "GET", "path": path, "query": query, "headers": dict(READ_REQUEST_HEADERS), "body": ""},
        "legacy": {"status": status, "headers": headers, "body": body, "latency_ms": round(latency_ms, 3)},
    }

class TrafficGenerator:
    """One traffic run: paced request tasks, a sample batcher, a status printer."""

    def __init__(
        self, config: TrafficConfig, book: AccountBook, session: aiohttp.ClientSession
    ) -> None:
        self.config = config
        self.book = book
        self.session = session
        self.stats = TrafficStats()
        self.rng = random.Random(config.seed)
        self._samples: list[dict[str, Any]] = []
        self._batch_full = asyncio.Event()
        self._stopping = asyncio.Event()
        self._last_logged: dict[str, float] = {}
        self._transfer_currencies = [c for c, ids in book.by_currency.items() if len(ids) >= 2]
        self._console_headers = {
            "Authorization": f"Token {config.token}",
            "Content-Type": "application/json",
        }

    # --- logging and console delivery ------------------------------------------------------------

    def _log_throttled(self, key: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last_logged.get(key, -math.inf) >= LOG_EVERY_S:
            self._last_logged[key] = now
            logger.warning(message, *args)

    async def _post_console(self, path: str, payload: bytes, items: int) -> None:
        tally = self.stats.console[path]
        try:
            async with self.session.post(
                self.config.console_url + path, params={"migration": WON_MIGRATION}, data=payload,
                headers=self._console_headers
            ) as response:
                text = await response.text()
                tally.statuses[response.status] += 1
                if 200 <= response.status < 300:
                    tally.accepted += items
                    return
                tally.rejected += items
                self._log_throttled(
                    path, "console %s answered %s: %s", path, response.status, text[:200]
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            tally.failed += items
            self._log_throttled(path, "console %s unreachable: %s", path, exc)

    def _queue_sample(self, sample: dict[str, Any]) -> None:
        self._samples.append(sample)
        overflow = len(self._samples) - 10 * self.config.batch_max_samples
        if overflow > 0:
            # The console is far behind: drop the oldest rather than grow without bound.
            del self._samples[:overflow]
            self.stats.console[READ_SAMPLES_PATH].failed += overflow
        if len(self._samples) >= self.config.batch_max_samples:
            self._batch_full.set()

    async def flush_samples(self) -> None:
        """Send everything buffered, in batches of at most batch_max_samples."""
        while self._samples:
            batch = self._samples[: self.config.batch_max_samples]
            del self._samples[: len(batch)]
            await self._post_console(READ_SAMPLES_PATH, orjson.dumps(batch), len(batch))
        self._batch_full.clear()

    async def _flush_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(
                    self._batch_full.wait(), timeout=self.config.batch_interval_s
                )
            except TimeoutError:
                pass
            try:
                await self.flush_samples()
            except Exception:  # a bad batch must not end mirroring for the rest of the run
                logger.exception("posting read samples failed")

    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.status_interval_s)
            print(self.stats.status_line(), flush=True)

    # --- requests --------------------------------------------------------------------------------

    async def one_read(self) -> None:
        """GET a random route of a random account from the legacy; mirror it as a sample."""
        account_id = self.rng.choice(self.book.all_ids)
        route = self.rng.randrange(3)
        query = ""
        if route == 0:
            path = f"/accounts/{account_id}"
        elif route == 1:
            path = f"/accounts/{account_id}/balance"
        else:
            path = f"/accounts/{account_id}/transactions"
            query = f"limit={self.rng.choice(TRANSACTION_LIMITS)}"
        url = self.config.legacy_url + path + (f"?{query}" if query else "")
        captured_at = datetime.now(UTC).isoformat()
        started = time.perf_counter()
        try:
            async with self.session.get(url, headers=READ_REQUEST_HEADERS) as response:
                body = await response.text()
                latency_ms = (time.perf_counter() - started) * 1000
                status = response.status
                # str(): aiohttp's header names are istr, which orjson will not serialise.
                headers = {str(name): value for name, value in response.headers.items()}
        except (TimeoutError, aiohttp.ClientError) as exc:
            self.stats.read_errors += 1
            self._log_throttled("legacy-read", "legacy read %s failed: %s", path, exc)
            return
        self.stats.reads += 1
        if self.config.console_url:
            self._queue_sample(mirrored_read_sample(path, query, captured_at, status, headers, body, latency_ms))

    async def one_transfer(self) -> None:
        """Shadow on the candidate, capture to the console, commit on the legacy, report it."""
        if not self._transfer_currencies:
            return
        currency = self.rng.choice(self._transfer_currencies)
        source, target = self.rng.sample(self.book.by_currency[currency], 2)
        transfer_id = str(uuid.uuid4())
        body = orjson.dumps(
            {
                "id": transfer_id,
                "from": source,
                "to": target,
                "amount": transfer_amount(self.rng, currency),
                "currency": currency,
            }
        )
        json_headers = {"Content-Type": "application/json"}
        self.stats.transfers += 1
        try:
            async with self.session.post(
                self.config.candidate_url + "/transfers?shadow=1", data=body, headers=json_headers
            ) as response:
                shadow_status, shadow_body = response.status, await response.read()
            if shadow_status == 200:
                self.stats.shadow_captured += 1
                if self.config.console_url:
                    answer = orjson.loads(shadow_body)
                    capture = {key: answer[key] for key in CAPTURE_FIELDS}
                    await self._post_console(WRITE_CAPTURES_PATH, orjson.dumps(capture), 1)
            else:
                self.stats.shadow_refused += 1
            # The legacy commits whatever the candidate did: it is the system of record.
            async with self.session.post(
                self.config.legacy_url + "/transfers", data=body, headers=json_headers
            ) as response:
                legacy_status = response.status
                await response.read()
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as exc:
            self.stats.transfer_errors += 1
            self._log_throttled("transfer", "transfer %s failed: %s", transfer_id, exc)
            return
        if legacy_status != 201:
            self.stats.legacy_refused += 1
            return
        self.stats.legacy_committed += 1
        if self.config.console_url and shadow_status == 200:
            await self._post_console(WRITE_COMMITS_PATH, orjson.dumps({"id": transfer_id}), 1)

    async def _one_request(self) -> None:
        try:
            if self.rng.random() < self.config.transfer_share:
                await self.one_transfer()
            else:
                await self.one_read()
        except Exception:  # never let one bad answer stop the demo
            logger.exception("demo traffic request failed")

    # --- the run ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> TrafficStats:
        """Send paced traffic until `stop` is set; then drain in-flight requests and samples."""
        loop = asyncio.get_running_loop()
        helpers = [asyncio.create_task(self._status_loop())]
        flusher = asyncio.create_task(self._flush_loop()) if self.config.console_url else None
        in_flight: set[asyncio.Task[None]] = set()
        interval = 1.0 / self.config.rate
        next_at = loop.time()
        try:
            while not stop.is_set():
                delay = next_at - loop.time()
                if delay > 0:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=delay)
                        break
                    except TimeoutError:
                        pass
                if loop.time() - next_at > 1.0:
                    next_at = loop.time()  # fell far behind (suspended?): no catch-up burst
                next_at += interval
                if len(in_flight) >= self.config.max_in_flight:
                    self.stats.skipped += 1
                    continue
                task = asyncio.create_task(self._one_request())
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight, timeout=self.config.request_timeout_s * 3)
        finally:
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            if flusher is not None:
                # Let a post in flight finish (cancelling it would lose its batch uncounted).
                self._stopping.set()
                self._batch_full.set()
                await asyncio.gather(flusher, return_exceptions=True)
                await self.flush_samples()
        return self.stats


def client_session(config: TrafficConfig) -> aiohttp.ClientSession:
    """A keep-alive session with a timeout on every call."""
    connector = aiohttp.TCPConnector(limit=config.max_in_flight + 8, keepalive_timeout=30)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=config.request_timeout_s)
    )


async def run_traffic(
    config: TrafficConfig,
    *,
    book: AccountBook | None = None,
    ledger_url: str | None = None,
    stop: asyncio.Event | None = None,
    duration_s: float | None = None,
) -> TrafficStats:
    """Run traffic until `stop` is set or duration_s passes; the account book comes from the ledger
    unless given."""
    if book is None:
        if not ledger_url:
            raise DemoWorldError("run_traffic needs an account book or a ledger_url")
        book = await load_account_book(ledger_url)
    stop = stop or asyncio.Event()
    timer = asyncio.get_running_loop().call_later(duration_s, stop.set) if duration_s else None
    try:
        async with client_session(config) as session:
            return await TrafficGenerator(config, book, session).run(stop)
    finally:
        if timer is not None:
            timer.cancel()


async def measure_read_throughput(
    base_url: str, account_ids: list[int], *, seconds: float, concurrency: int
) -> dict[str, float]:
    """Hammer a service's GET routes with `concurrency` workers; figures, not assertions."""
    rng = random.Random(7)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds
    paths = ("/accounts/{}", "/accounts/{}/balance", "/accounts/{}/transactions?limit=20")

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            url = base_url + rng.choice(paths).format(rng.choice(account_ids))
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                statuses[response.status] += 1
            latencies.append((time.perf_counter() - started) * 1000)

    connector = aiohttp.TCPConnector(limit=concurrency)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": float(len(latencies)),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else math.nan,
        "p99_ms": latencies[int(len(latencies) * 0.99)] if latencies else math.nan,
        "non_2xx": float(sum(n for status, n in statuses.items() if not 200 <= status < 300)),
    }
