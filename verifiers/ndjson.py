"""Batch bodies as NDJSON (one JSON value a line): which content types say so, and their lines.

Pure; shared by read-sample and write-capture ingest, which each word their own errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

NDJSON_MEDIA_TYPES: Final = frozenset({"application/x-ndjson", "application/jsonl", "application/jsonlines",
                                       "application/json-seq", "application/x-jsonlines"})


def is_ndjson(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in NDJSON_MEDIA_TYPES


def ndjson_values(body: bytes, loads: Callable[[bytes], Any]) -> Iterator[tuple[int, Any, ValueError | None]]:
    """Each non-blank line's 1-based number with its value, or with the error reading it."""
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, loads(line), None
        except ValueError as error:  # orjson.JSONDecodeError and exactjson's errors are ValueErrors
            yield number, None, error
