"""JSON in and out keeping every digit: integers of any size and decimals exactly. Pure, no Django.

orjson is fast but turns integers beyond 64 bits and numbers with 16+ significant digits into
floats, which could make two different amounts look equal (or one amount look different from
itself after a round trip). Every place a sample or an answer body enters the read verifier
(HTTP JSON and NDJSON, the Redis stream, replay files, compared bodies) parses with `loads`:
orjson where it is exact, else the standard library with `Decimal` for every fraction and
Python's unbounded `int`. `dumps` writes those values back digit for digit.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["dumps", "loads", "needs_exact_parse"]

# A run of 16 digit-or-dot bytes is the cheap (C-level) tell of a number orjson cannot hold.
_DIGITS_AND_DOT = bytes.maketrans(b"0123456789.", b"9" * 11)
_LONG_NUMBER = b"9" * 16
# A fraction ending in 0 (`1.50`): a float would drop the zero. The delimiter after it keeps
# strings out (a string ends in a quote), so timestamps like "00:00:00.000Z" do not trigger it.
_TRAILING_ZERO_FRACTION = re.compile(rb"\.[0-9]*0[,}\]\s]|\.[0-9]*0\Z")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def needs_exact_parse(data: bytes, *, keep_number_text: bool = True) -> bool:
    if _LONG_NUMBER in data.translate(_DIGITS_AND_DOT):
        return True
    return keep_number_text and _TRAILING_ZERO_FRACTION.search(data) is not None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _exact_loads(data: bytes) -> Any:
    try:
        return json.loads(data, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def loads(data: bytes | bytearray | memoryview | str, *, keep_number_text: bool = True) -> Any:
    """Parse JSON; raises ValueError (orjson's or json's JSONDecodeError are ValueErrors).

    Values are always exact. keep_number_text=True also keeps how a number was written (`1.50`
    stays `1.50` when written back): for ingest, where an embedded body is re-serialised. Comparing
    and the worker's stream (bodies already text) pass False: the orjson fast path for `2.0`.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if needs_exact_parse(raw, keep_number_text=keep_number_text):
        return _exact_loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # e.g. 1e400 (infinite as a double): exact as a Decimal; truly bad JSON fails again here.
        return _exact_loads(raw)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{value} is not a JSON number")
        return orjson.Fragment(str(value))
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _big_ints_as_fragments(value: Any) -> Any:
    kind = type(value)
    if kind is int and not _INT64_MIN <= value <= _UINT64_MAX:
        return orjson.Fragment(str(value))
    if kind is dict:
        return {key: _big_ints_as_fragments(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_big_ints_as_fragments(item) for item in value]
    return value


def dumps(value: Any, *, option: int | None = None) -> bytes:
    """JSON bytes; Decimals and integers beyond 64 bits are written with all their digits."""
    try:
        return orjson.dumps(value, default=_default, option=option)
    except orjson.JSONEncodeError as error:
        if "64-bit" not in str(error):
            raise
        return orjson.dumps(_big_ints_as_fragments(value), default=_default, option=option)
