"""Tagged JSON for the values a write can hold: pure, no Django.

Plain JSON loses what SQL keeps: a decimal literal (``SET balance = 10.50``) has no JSON
type, integers above 64 bits do not fit orjson, and timestamps, dates, UUIDs and bytes come
back from PostgreSQL as Python objects. Row checks travel through Redis and into stored
samples, so every value is written in a tagged form that reads back to the same value:

    Decimal("10.50")      {"$decimal": "10.50"}
    2**70                 {"$int": "1180591620717411303424"}   (only beyond 64 bits)
    datetime / date / time {"$datetime": "2024-01-01T10:00:00+09:00"} / {"$date": ...} / {"$time": ...}
    bytes                 {"$bytes": "<base64>"}
    UUID                  {"$uuid": "..."}
    NaN / Infinity        {"$float": "nan"}
    a dict that looks like one of these tags: {"$object": {...}}

Captures may use the same tags in their params (``{"$decimal": "10.50"}``, ``{"$int": "..."}``,
``{"$bytes": "..."}``) for values JSON cannot carry exactly. ``storable`` gives an encoded value the
form a PostgreSQL ``jsonb`` column accepts (no NUL characters, no lone surrogates).
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Final

_INT64: Final = 2**63 - 1
_PLAIN: Final = (str, bool, type(None))  # JSON as they are (ints and floats are checked first)
OBJECT_TAG: Final = "$object"


class ValueEncodingError(ValueError):
    """A tagged value whose payload does not read back (names the tag)."""


def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _big_int(text: str) -> int:
    return int(text)


def _bytes(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _float(text: str) -> float:
    value = float(text)
    if math.isfinite(value):
        raise ValueError("only nan, inf and -inf are tagged")
    return value


_DECODERS: Final[dict[str, Callable[[str], Any]]] = {
    "$decimal": _decimal,
    "$int": _big_int,
    "$datetime": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time.fromisoformat,
    "$bytes": _bytes,
    "$uuid": uuid.UUID,
    "$float": _float,
}
TAGS: Final = frozenset(_DECODERS)


def encode(value: Any) -> Any:
    """``value`` with every non-JSON value (and tag look-alike) in its tagged form."""
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is int:
        return value if -_INT64 - 1 <= value <= _INT64 else {"$int": str(value)}
    if kind is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if kind is list or kind is tuple:
        for item in value:
            item_type = type(item)
            if item_type not in _PLAIN and not (item_type is int and -_INT64 - 1 <= item <= _INT64):
                return [encode(v) for v in value]
        return list(value)
    if kind is dict:
        if len(value) == 1:  # a key {"id": 42}: plain unless its one key looks like a tag
            (key, item), = value.items()
            item_type = type(item)
            if type(key) is str and key[:1] != "$" and (
                    item_type in _PLAIN or (item_type is int and -_INT64 - 1 <= item <= _INT64)):
                return value
        else:
            for key, item in value.items():
                item_type = type(item)
                if type(key) is not str or (item_type not in _PLAIN
                                            and not (item_type is int and -_INT64 - 1 <= item <= _INT64)):
                    break
            else:
                return value  # hot path: a row of plain JSON values (a one-key dict may look like a tag)
        encoded = {str(k): encode(v) for k, v in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in TAGS | {OBJECT_TAG}:
            return {OBJECT_TAG: encoded}
        return encoded
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return encode(int(value))
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.isoformat()}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, float):
        return encode(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return encode(dict(value))
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    raise ValueEncodingError(f"cannot encode a value of type {type(value).__name__}")


_CONTAINERS: Final = (dict, list)


def decode(value: Any) -> Any:
    """The value ``encode`` was given (tags read back); ValueEncodingError on a bad payload."""
    kind = type(value)
    if kind is list:
        # Hot path: params are mostly flat lists of JSON scalars, returned as they are.
        for item in value:
            if type(item) in _CONTAINERS:
                return [decode(v) for v in value]
        return value
    if kind is dict:
        if len(value) == 1:
            (tag, payload), = value.items()
            if tag == OBJECT_TAG and type(payload) is dict:
                return {k: decode(v) for k, v in payload.items()}
            reader = _DECODERS.get(tag)
            if reader is not None:
                if not isinstance(payload, str):
                    raise ValueEncodingError(f"{tag} needs a string, got {type(payload).__name__}")
                try:
                    return reader(payload)
                except (ValueError, InvalidOperation, binascii.Error) as error:
                    raise ValueEncodingError(f"{tag} value {payload[:60]!r} does not read: {error}") from None
        for item in value.values():
            if type(item) in _CONTAINERS:
                return {k: decode(v) for k, v in value.items()}
        return value
    return value


def as_given(value: Any) -> Any:
    """What ``decode`` is for JSON known to hold no tag: the value itself (nothing to read back)."""
    return value


def _clean_text(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def storable(value: Any) -> Any:
    """A JSON value (already encoded) with text a PostgreSQL jsonb column accepts: NUL and lone surrogates spelled out."""
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, dict):
        return {_clean_text(str(k)): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
