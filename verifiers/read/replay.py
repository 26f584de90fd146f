"""Replaying sampled requests against configured systems with aiohttp (no Django).

One keep-alive pool (ClientSession) per System, a semaphore bounding requests in flight, a
per-system timeout, the system's headers_to_add. The URL is the System's base URL plus the
sample's path and query only: a sample cannot choose the host (no SSRF), and only a short
whitelist of its request headers is forwarded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

# Request headers of a sample that are replayed; everything else (Host, Cookie, Authorization,
# X-Forwarded-*) is dropped so a crafted sample cannot steer or impersonate.
FORWARDED_REQUEST_HEADERS = frozenset({
    "accept", "accept-language", "content-type", "user-agent", "x-request-id", "if-none-match",
})
# Default of the READ_MAX_RESPONSE_BYTES setting: an answer is read whole up to this many
# (decoded) bytes; a longer one is an `error` verdict, never a comparison of part of a body.
MAX_RESPONSE_BYTES = 5 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class SystemTarget:
    """What the replayer needs of a System row."""

    name: str
    base_url: str
    timeout_ms: int = 2000
    max_concurrency: int = 64
    headers_to_add: dict[str, str] = field(default_factory=dict)
    max_response_bytes: int = MAX_RESPONSE_BYTES


class AnswerTooLargeError(Exception):
    """The decoded answer passed the size limit."""


async def read_whole_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """Every byte of the (already de-chunked and decompressed) body, or AnswerTooLargeError.

    `StreamReader.read(n)` returns what happens to be buffered (often 32-128 KB), not n bytes:
    the body is read chunk by chunk to its end. Counting decoded bytes also bounds a gzip bomb.
    """
    declared = response.headers.get("Content-Length", "")
    if not response.headers.get("Content-Encoding") and declared.isdigit():
        if int(declared) > limit:
            raise AnswerTooLargeError
        return await response.read()  # the common case: the length is known and within the limit
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise AnswerTooLargeError
        parts.append(chunk)
    return b"".join(parts)


@dataclass(slots=True)
class Answer:
    """A replayed answer, or the error that prevented one."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    latency_ms: float = 0.0
    error: str = ""

    def as_record(self) -> dict[str, Any]:
        if self.error:
            return {"error": self.error, "latency_ms": round(self.latency_ms, 3)}
        return {"status": self.status, "headers": self.headers,
                "body": self.body.decode("utf-8", "replace"), "latency_ms": round(self.latency_ms, 3)}


def target_url(base_url: str, path: str, query: str) -> URL:
    """base URL + path + query; the path can only add to the base's path, never change the host."""
    base = URL(base_url)
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"path {path[:80]!r} must start with a single '/'")
    full_path = base.path.rstrip("/") + path
    url = base.with_path(full_path, encoded=False)
    return url.with_query(query) if query else url


class SystemClient:
    """Requests to one System over its own keep-alive pool (create inside a running loop)."""

    def __init__(self, target: SystemTarget) -> None:
        self.target = target
        connector = aiohttp.TCPConnector(limit=max(1, target.max_concurrency), keepalive_timeout=60,
                                         ttl_dns_cache=300)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=target.timeout_ms / 1000),
            auto_decompress=True, skip_auto_headers=("User-Agent",))
        self.semaphore = asyncio.Semaphore(max(1, target.max_concurrency))

    async def fetch(self, request: dict[str, Any]) -> Answer:
        headers = {name: value for name, value in (request.get("headers") or {}).items()
                   if name.lower() in FORWARDED_REQUEST_HEADERS}
        headers.update(self.target.headers_to_add)
        method = request.get("method", "GET")
        body = request.get("body") or None
        try:
            url = target_url(self.target.base_url, request["path"], request.get("query") or "")
        except (ValueError, KeyError) as error:
            return Answer(error=f"bad request path: {error}")
        async with self.semaphore:
            started = time.perf_counter()
            try:
                async with self.session.request(method, url, headers=headers,
                                                data=body.encode() if isinstance(body, str) else body,
                                                allow_redirects=False) as response:
                    limit = self.target.max_response_bytes
                    try:
                        content = await read_whole_body(response, limit)
                    except AnswerTooLargeError:
                        return Answer(error=f"{self.target.name}: answer larger than READ_MAX_RESPONSE_BYTES "
                                            f"({limit} bytes)",
                                      latency_ms=(time.perf_counter() - started) * 1000)
                    latency = (time.perf_counter() - started) * 1000
                    return Answer(status=response.status,
                                  headers={str(k): v for k, v in response.headers.items()},
                                  body=content, latency_ms=latency)
            except asyncio.TimeoutError:
                return Answer(error=f"{self.target.name}: timed out after {self.target.timeout_ms} ms",
                              latency_ms=(time.perf_counter() - started) * 1000)
            except aiohttp.ClientError as error:
                return Answer(error=f"{self.target.name}: {type(error).__name__}: {error}"[:300],
                              latency_ms=(time.perf_counter() - started) * 1000)

    async def close(self) -> None:
        await self.session.close()
