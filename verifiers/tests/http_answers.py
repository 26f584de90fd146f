"""A local HTTP server that answers each path exactly as told: raw bytes, gzip/deflate, chunked.

The read tests need answers shaped as production APIs send them (large, compressed, chunked,
HTML error pages), which the JSON stub candidate does not produce. Runs in a thread with its
own event loop; `answers` may be changed while it runs.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web


@dataclass
class RawAnswer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    encoding: str = ""  # "", "gzip" or "deflate": the body is sent compressed with that coding
    chunked: bool = False  # Transfer-Encoding: chunked, written in 7 KB pieces
    headers: dict[str, str] = field(default_factory=dict)


def json_answer(document: Any, **options: Any) -> RawAnswer:
    return RawAnswer(body=orjson.dumps(document), **options)


def _encoded(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    return body


class AnswerServer:
    def __init__(self, answers: dict[str, RawAnswer] | None = None) -> None:
        self.answers: dict[str, RawAnswer] = answers or {}
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        answer = self.answers.get(request.path_qs) or self.answers.get(request.path)
        if answer is None:
            return web.Response(status=404, text="no answer configured")
        payload = _encoded(answer.body, answer.encoding)
        response = web.StreamResponse(status=answer.status, headers=answer.headers)
        response.content_type = answer.content_type
        if answer.encoding:
            response.headers["Content-Encoding"] = answer.encoding
        if answer.chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(payload)
        await response.prepare(request)
        step = 7 * 1024 if answer.chunked else max(1, len(payload))
        for start in range(0, len(payload), step):
            await response.write(payload[start:start + step])
        await response.write_eof()
        return response

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> AnswerServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
