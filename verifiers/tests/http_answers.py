"""A local HTTP server that answers each path exactly as told: raw bytes, gzip/deflate, chunked.

The read tests need answers shaped as production APIs send them (large, compressed, chunked,
HTML error pages), which the JSON stub candidate does not produce. Runs in a thread with its
own event loop; `answers` may be changed while it runs.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from verifiers.benchmarks.support import CandidateServer


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


class AnswerServer(CandidateServer):
    """The benchmark's candidate server (thread, loop, start/stop) answering raw wire forms."""

    def __init__(self, answers: dict[str, RawAnswer] | None = None) -> None:
        super().__init__()
        self.answers: dict[str, RawAnswer] = answers or {}  # type: ignore[assignment]

    def start(self) -> AnswerServer:
        super().start()
        return self

    async def _handle(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
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
