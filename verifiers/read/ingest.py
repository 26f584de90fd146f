"""Parsing and validating read samples (design section 3): pure, no Django.

A sample is `{id, captured_at, request: {method, path, query, headers, body},
legacy: {status, headers, body, latency_ms}}`. Each malformed sample is rejected with a reason
naming the field; the good ones of the same batch are kept. The request carries only a path:
a full URL (or anything that could redirect the replay to another host) is refused, because
the replay's host always comes from a configured System.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from verifiers.ndjson import is_ndjson, ndjson_values
from verifiers.read import exactjson

# Documented limits (README "Read samples"): larger bodies get HTTP 413.
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_SAMPLES_PER_REQUEST = 10_000
MAX_ID_LENGTH = 100

SAMPLE_KEYS = frozenset({"id", "captured_at", "request", "legacy"})
REQUEST_KEYS = frozenset({"method", "path", "query", "headers", "body"})
LEGACY_KEYS = frozenset({"status", "headers", "body", "latency_ms"})
_METHOD = re.compile(r"\A[A-Z]{3,7}\Z")
_ID = re.compile(r"\A[\x21-\x7e]{1,%d}\Z" % MAX_ID_LENGTH)  # printable ASCII, no spaces


class SampleError(ValueError):
    """One sample is malformed; the message names the field."""


class BatchError(ValueError):
    """The whole request body is unusable (not JSON, not an array, ...)."""


class BatchTooLargeError(BatchError):
    """Over MAX_BODY_BYTES or MAX_SAMPLES_PER_REQUEST (HTTP 413)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int  # position in the array, or 1-based line number for NDJSON
    reason: str


@dataclass(slots=True)
class ParsedBatch:
    samples: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    index_name: str = "index"  # "index" (JSON array) or "line" (NDJSON)
    repeated_in_batch: int = 0  # same id twice in one body: counted as duplicates


def _headers(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, list):  # [[name, value], ...] as HAR and some gateways write them
        pairs = value
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise SampleError(f"{where} must be an object of name -> value")
    result: dict[str, str] = {}
    for pair in pairs:
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise SampleError(f"{where} has an entry that is not a name/value pair: {pair!r:.80}")
        name, header_value = pair
        if isinstance(header_value, list):
            header_value = ", ".join(str(item) for item in header_value)
        if not isinstance(header_value, (str, int, float, Decimal)):
            raise SampleError(f"{where}.{name} must be a string")
        result[name] = str(header_value)
    return result


def _body(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):  # an embedded JSON body: its JSON text, every digit kept
        return exactjson.dumps(value).decode()
    raise SampleError(f"{where} must be a string (or JSON value), got {type(value).__name__}")


def _query(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value.lstrip("?")
    if isinstance(value, dict):
        return urlencode({str(k): str(v) for k, v in value.items()})
    raise SampleError("request.query must be a string or an object")


def _path(value: Any) -> tuple[str, str]:
    """(path, query found in it)."""
    if not isinstance(value, str) or not value:
        raise SampleError("request.path must be a non-empty string")
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        raise SampleError(f"request.path must be a path starting with a single '/', got {value[:80]!r}")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in value):
        raise SampleError("request.path contains spaces or control characters")
    if "#" in value:
        value = value.split("#", 1)[0]
    path, _, query = value.partition("?")
    if "/../" in path + "/" or "/./" in path + "/":
        raise SampleError(f"request.path {path[:80]!r} contains dot segments")
    if len(path) > 2000:
        raise SampleError("request.path is longer than 2000 characters")
    return path, query


def _captured_at(value: Any) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        seconds = float(value)
        seconds = seconds / 1000 if seconds > 1e11 else seconds  # epoch ms or s
        return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()
    if not isinstance(value, str):
        raise SampleError("captured_at must be an ISO 8601 time or epoch milliseconds")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise SampleError(f"captured_at {value[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise SampleError("captured_at must carry a time zone (e.g. +00:00 or Z)")
    return moment.isoformat()


def validate_sample(raw: Any) -> dict[str, Any]:
    """The sample normalised (headers as str dicts, bodies as text); SampleError if malformed."""
    if not isinstance(raw, dict):
        raise SampleError(f"a sample must be an object, got {type(raw).__name__}")
    unknown = set(raw) - SAMPLE_KEYS
    if unknown:
        raise SampleError(f"unknown field(s) {sorted(unknown)}")
    sample_id = raw.get("id")
    if isinstance(sample_id, int) and not isinstance(sample_id, bool):
        sample_id = str(sample_id)
    if not isinstance(sample_id, str) or not _ID.match(sample_id):
        raise SampleError(f"id must be 1-{MAX_ID_LENGTH} printable characters without spaces")
    if "captured_at" not in raw:
        raise SampleError("captured_at is missing")
    captured_at = _captured_at(raw["captured_at"])
    request, legacy = raw.get("request"), raw.get("legacy")
    if not isinstance(request, dict):
        raise SampleError("request must be an object")
    if not isinstance(legacy, dict):
        raise SampleError("legacy must be an object")
    for name, value, allowed in (("request", request, REQUEST_KEYS), ("legacy", legacy, LEGACY_KEYS)):
        extra = set(value) - allowed
        if extra:
            raise SampleError(f"unknown field(s) in {name}: {sorted(extra)}")
    method = request.get("method", "GET")
    if not isinstance(method, str) or not _METHOD.match(method.upper()):
        raise SampleError(f"request.method {method!r:.20} is not an HTTP method")
    path, query_in_path = _path(request.get("path"))
    query = _query(request.get("query")) or query_in_path
    status = legacy.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise SampleError("legacy.status must be an HTTP status code (100-599)")
    latency = legacy.get("latency_ms")
    # A body with exact numbers is parsed with Decimals: latency_ms may be one.
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float, Decimal))
                                or not 0 <= latency < 10**9):
        raise SampleError("legacy.latency_ms must be a non-negative number")
    return {
        "id": sample_id,
        "captured_at": captured_at,
        "request": {
            "method": method.upper(), "path": path, "query": query,
            "headers": _headers(request.get("headers"), "request.headers"),
            "body": _body(request.get("body"), "request.body"),
        },
        "legacy": {
            "status": status,
            "headers": _headers(legacy.get("headers"), "legacy.headers"),
            "body": _body(legacy.get("body"), "legacy.body"),
            "latency_ms": float(latency) if latency is not None else None,
        },
    }


def parse_batch(body: bytes, content_type: str) -> ParsedBatch:
    """Validate a request body (JSON array or NDJSON by Content-Type) sample by sample."""
    if len(body) > MAX_BODY_BYTES:
        raise BatchTooLargeError(f"body of {len(body)} bytes exceeds the {MAX_BODY_BYTES} byte limit")
    batch = ParsedBatch()
    if is_ndjson(content_type):
        batch.index_name = "line"
        items: list[tuple[int, Any]] = []
        for number, value, error in ndjson_values(body, exactjson.loads):
            if error is None:
                items.append((number, value))
            else:
                batch.rejected.append(Rejection(number, f"not JSON: {error}"))
    else:
        try:
            document = exactjson.loads(body)
        except ValueError as error:
            raise BatchError(f"body is not JSON: {error}") from None
        if isinstance(document, dict):
            document = [document]  # one sample on its own is accepted too
        if not isinstance(document, list):
            raise BatchError("body must be a JSON array of samples (or NDJSON)")
        items = list(enumerate(document))
    if len(items) + len(batch.rejected) > MAX_SAMPLES_PER_REQUEST:
        raise BatchTooLargeError(
            f"{len(items) + len(batch.rejected)} samples exceed the {MAX_SAMPLES_PER_REQUEST} per request limit")
    seen: set[str] = set()
    for index, raw in items:
        try:
            sample = validate_sample(raw)
        except SampleError as error:
            batch.rejected.append(Rejection(index, str(error)))
            continue
        if sample["id"] in seen:  # repeated within the batch: a duplicate, not a new sample
            batch.repeated_in_batch += 1
            continue
        seen.add(sample["id"])
        batch.samples.append(sample)
    batch.rejected.sort(key=lambda rejection: rejection.index)
    return batch


def encode_sample(sample: dict[str, Any]) -> bytes:
    return exactjson.dumps(sample)
