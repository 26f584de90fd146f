"""Reading sample files for `manage.py replay`: JSON Lines, HAR 1.2 and GoReplay. Pure, no Django.

Every reader yields raw sample dicts (validated later by ingest.validate_sample) or a
SampleFileError for one bad record, so a caller can count it and go on. Files without sample
ids (HAR, GoReplay without ids) get a stable id derived from the file name and record, so
replaying the same file twice is deduplicated.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from verifiers.read import exactjson

# The monkeys GoReplay puts between payloads, as the bytes on disk.
GOREPLAY_SEPARATOR = "\n\U0001F435\U0001F648\U0001F649\n".encode()


class SampleFileError(ValueError):
    """One record of a sample file is unusable; the message says where and why."""


def detect_format(path: Path) -> str:
    """'jsonl', 'har' or 'gor' from the extension, else from the first bytes."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix == ".har":
        return "har"
    if suffix in {".gor", ".goreplay"}:
        return "gor"
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith((b"1 ", b"2 ", b"3 ")):
        return "gor"
    if head.startswith(b"{") and b'"log"' in head[:200]:
        return "har"
    return "jsonl"


def _stable_id(prefix: str, *parts: str) -> str:
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()
    return f"{prefix}-{digest}"


class LocatedSample(dict):
    """A raw sample that remembers where in its file it came from, for error messages."""

    def __init__(self, where: str, sample: dict[str, Any]) -> None:
        super().__init__(sample)
        self.where = where


def read_jsonl(path: Path) -> Iterator[LocatedSample | SampleFileError]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = exactjson.loads(line)
            except ValueError as error:
                yield SampleFileError(f"{path.name} line {number}: not JSON ({error})")
                continue
            if not isinstance(record, dict):
                yield SampleFileError(f"{path.name} line {number}: a sample must be a JSON object")
                continue
            if "id" not in record:
                record["id"] = _stable_id("jsonl", path.name, str(number), line.decode("utf-8", "replace"))
            yield LocatedSample(f"{path.name} line {number}", record)


def _har_headers(items: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            name = item["name"]
            if name.startswith(":"):  # HTTP/2 pseudo headers are not headers
                continue
            headers[name] = str(item.get("value", ""))
    return headers


def _har_body(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    text = content.get("text") or ""
    if content.get("encoding") == "base64" and text:
        return base64.b64decode(text).decode("utf-8", "replace")
    return text


def read_har(path: Path) -> Iterator[LocatedSample | SampleFileError]:
    try:
        document = exactjson.loads(path.read_bytes())
        entries = document["log"]["entries"]
    except (ValueError, KeyError, TypeError) as error:
        yield SampleFileError(f"{path.name}: not a HAR 1.2 file (log.entries missing or not JSON: {error})")
        return
    for index, entry in enumerate(entries):
        try:
            request, response = entry["request"], entry["response"]
            url = urlsplit(request["url"])
            started = entry.get("startedDateTime") or datetime.now(timezone.utc).isoformat()
            yield LocatedSample(f"{path.name} entry {index}", {
                "id": _stable_id("har", path.name, str(index), started, request["url"]),
                "captured_at": started,
                "request": {
                    "method": request.get("method", "GET"),
                    "path": url.path or "/",
                    "query": url.query,
                    "headers": _har_headers(request.get("headers")),
                    "body": (request.get("postData") or {}).get("text", ""),
                },
                "legacy": {
                    "status": response["status"],
                    "headers": _har_headers(response.get("headers")),
                    "body": _har_body(response.get("content")),
                    "latency_ms": float(entry["time"]) if isinstance(entry.get("time"), (int, float)) else None,
                },
            })
        except (KeyError, TypeError, ValueError) as error:
            yield SampleFileError(f"{path.name} entry {index}: missing or bad field ({error})")


def _dechunk(body: bytes) -> bytes:
    """A `Transfer-Encoding: chunked` body as the bytes it carries (RFC 9112 section 7.1)."""
    out: list[bytes] = []
    position = 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise ValueError("chunk size line without CRLF")
        size = int(body[position:line_end].split(b";", 1)[0].strip(), 16)
        position = line_end + 2
        if size == 0:
            return b"".join(out)  # trailers, if any, are not part of the body
        if position + size > len(body):
            raise ValueError(f"chunk of {size} bytes runs past the record")
        out.append(body[position:position + size])
        position += size
        if body[position:position + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        position += 2


def _decoded_body(headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
    """Undo what HTTP says was applied on the wire (chunking, then gzip/deflate); keep every other byte.

    The headers that described the wire form go, since the body no longer has that form.
    """
    by_name = {name.lower(): name for name in headers}
    kept = dict(headers)
    if "chunked" in headers.get(by_name.get("transfer-encoding", ""), "").lower():
        body = _dechunk(body)
        kept.pop(by_name["transfer-encoding"])
    elif "content-length" in by_name and headers[by_name["content-length"]].strip().isdigit():
        body = body[:int(headers[by_name["content-length"]])]  # anything after it is not the body
    coding = headers.get(by_name.get("content-encoding", ""), "").strip().lower()
    if coding in {"gzip", "x-gzip"}:
        body = gzip.decompress(body)
    elif coding == "deflate":
        try:
            body = zlib.decompress(body)
        except zlib.error:  # some servers send raw deflate without the zlib wrapper
            body = zlib.decompress(body, -zlib.MAX_WBITS)
    elif coding not in {"", "identity"}:
        raise ValueError(f"content coding {coding!r} is not supported")
    if coding:
        kept.pop(by_name["content-encoding"])
    if "content-length" in by_name:
        kept[by_name["content-length"]] = str(len(body))
    return kept, body


def _split_http(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    """(first line, headers, body bytes exactly as recorded)."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        head, _, body = raw.partition(b"\n\n")
    lines = head.decode("iso-8859-1").replace("\r\n", "\n").split("\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip()] = value.strip()
    return lines[0], headers, body


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def read_goreplay(path: Path) -> Iterator[LocatedSample | SampleFileError]:
    """Join `1` (request) and `2` (original response) payloads by their id; `3` is ignored.

    Read as bytes, never as text lines: a body's CR, LF and CRLF stay as they were.
    """
    data = path.read_bytes()
    requests: dict[str, tuple[str, str, dict[str, str], bytes, str]] = {}
    for number, payload in enumerate(data.split(GOREPLAY_SEPARATOR), start=1):
        payload = payload.lstrip(b"\n")
        if not payload.strip():
            continue
        meta_bytes, _, raw = payload.partition(b"\n")
        meta_line = meta_bytes.decode("utf-8", "replace").strip()
        meta = meta_line.split()
        if len(meta) < 3 or meta[0] not in {"1", "2", "3"}:
            yield SampleFileError(f"{path.name} payload {number}: header {meta_line[:60]!r} is not GoReplay")
            continue
        kind, record_id, timestamp = meta[0], meta[1], meta[2]
        first, headers, body = _split_http(raw)
        try:
            headers, body = _decoded_body(headers, body)
        except (ValueError, OSError, EOFError, zlib.error) as error:
            yield SampleFileError(f"{path.name} payload {number}: body not decodable as its headers say ({error})")
            continue
        if kind == "1":
            requests[record_id] = (timestamp, first, headers, body, meta_line)
        elif kind == "2":
            request = requests.pop(record_id, None)
            if request is None:
                yield SampleFileError(f"{path.name} payload {number}: response {record_id} has no request before it")
                continue
            try:
                yield LocatedSample(f"{path.name} request {record_id}",
                                    _goreplay_sample(path, record_id, request, first, headers, body, meta))
            except SampleFileError as error:
                yield error
    for record_id in requests:
        yield SampleFileError(f"{path.name}: request {record_id} has no original response (`2` record)")


def _goreplay_sample(path: Path, record_id: str, request: tuple[str, str, dict[str, str], bytes, str],
                     status_line: str, headers: dict[str, str], body: bytes, meta: list[str]) -> dict[str, Any]:
    timestamp, request_line, request_headers, request_body, _ = request
    parts = request_line.split(" ")
    if len(parts) < 2:
        raise SampleFileError(f"{path.name}: request {record_id} line {request_line[:60]!r} is not HTTP")
    target = urlsplit(parts[1])
    try:
        status = int(status_line.split(" ")[1])
        captured = datetime.fromtimestamp(int(timestamp) / 1e9, tz=timezone.utc).isoformat()
    except (IndexError, ValueError):
        raise SampleFileError(f"{path.name}: record {record_id} has a bad status line or timestamp") from None
    latency_ms = int(meta[3]) / 1e6 if len(meta) > 3 and meta[3].isdigit() else None
    return {
        "id": _stable_id("gor", path.name, record_id, timestamp),
        "captured_at": captured,
        "request": {"method": parts[0], "path": target.path or "/", "query": target.query,
                    "headers": request_headers, "body": _text(request_body)},
        "legacy": {"status": status, "headers": headers, "body": _text(body), "latency_ms": latency_ms},
    }


READERS = {"jsonl": read_jsonl, "har": read_har, "gor": read_goreplay}


def read_sample_file(path: Path, file_format: str | None = None) -> Iterator[LocatedSample | SampleFileError]:
    """Raw samples (or per-record errors) of a file in any supported format."""
    chosen = file_format or detect_format(path)
    if chosen not in READERS:
        raise SampleFileError(f"unknown sample file format {chosen!r}; use one of {sorted(READERS)}")
    for item in READERS[chosen](path):
        yield item
