"""Validation of write captures and commit notes: pure, no Django, the one input schema of both endpoints.

A body is one object, a JSON array of objects, or NDJSON (one object a line, by Content-Type).
One object is answered as before (a bad one is a 4xx naming the field); a batch is answered
item by item, so one malformed capture never refuses its neighbours. The OpenAPI schema of
the endpoints is built from the constants here (verifiers/write/api.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from verifiers.ndjson import is_ndjson, ndjson_values
from verifiers.write.sqllex import SUPPORTED_DIALECTS
from verifiers.write.values import ValueEncodingError, as_given, decode

# One capture above this is refused with 413 before parsing; a single statement above
# sqlcheck.MAX_STATEMENT_CHARS (256 KB) still fits and is reported unverifiable with its reason.
MAX_CAPTURE_BYTES: Final = 2 * 1024 * 1024
# A batch body (array or NDJSON) and the items in it.
MAX_BATCH_BYTES: Final = 16 * 1024 * 1024
MAX_ITEMS_PER_REQUEST: Final = 5000
MAX_STATEMENTS: Final = 500
MAX_AFTER_IMAGES: Final = 5000
CAPTURE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,79}\Z")
CAPTURE_FIELDS: Final = frozenset({"id", "dialect", "statements", "after_images", "database"})
REQUIRED_CAPTURE_FIELDS: Final = ("id", "dialect", "statements")
STATEMENT_FIELDS: Final = frozenset({"sql", "params"})
AFTER_IMAGE_FIELDS: Final = frozenset({"table", "key", "row"})
COMMIT_FIELDS: Final = frozenset({"id"})
MAX_DIALECT_CHARS: Final = 40
# Names of the dialects the checker converts (sqllex folds the aliases).
DIALECT_NAMES: Final = (*SUPPORTED_DIALECTS, "postgresql", "pg")


class CaptureError(ValueError):
    """A capture or commit body we refuse; ``status`` is the HTTP status to answer."""

    status = 400


class CaptureTooLarge(CaptureError):
    status = 413


class CaptureConflict(CaptureError):
    """The capture names a verified database that exists but is disabled."""

    status = 409


class CaptureNotAccepted(CaptureError):
    """Nothing can verify the capture right now (no verified database enabled): retry later."""

    status = 503


def _capture_id(value: Any) -> str:
    if not isinstance(value, str) or not CAPTURE_ID_PATTERN.match(value):
        raise CaptureError(
            "'id' must be a string of 1-80 letters, digits, '.', '_', ':' or '-' starting with a letter or "
            f"digit, got {str(value)[:100]!r}"
        )
    return value


def _unknown(found: Iterable[str], allowed: frozenset[str], where: str) -> None:
    if allowed.issuperset(found):  # the common case, without building a set per object
        return
    unknown = sorted(set(found) - allowed)
    if unknown:
        raise CaptureError(f"{where}: unknown field(s) {', '.join(map(str, unknown))}; allowed: {', '.join(sorted(allowed))}")


def _params(value: Any, name: str, index: int, read: Callable[[Any], Any]) -> Any:
    if value is None:
        return None
    if not isinstance(value, (list, dict)):
        raise CaptureError(f"{name}[{index}].params must be a list (positional), an object (named) or null")
    try:
        return read(value)  # tagged values ({"$decimal": "10.50"} ...) read back exactly
    except ValueEncodingError as error:
        raise CaptureError(f"{name}[{index}].params: {error}") from None


def _objects(items: list[Any], name: str, fields: frozenset[str], limit: int) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(list name, index, item) of a list of objects with only ``fields``; CaptureError / CaptureTooLarge otherwise."""
    if len(items) > limit:
        raise CaptureTooLarge(f"{len(items)} {name} in one capture; the limit is {limit}")
    for index, item in enumerate(items):
        if type(item) is dict and fields.issuperset(item):  # the common case: nothing to name
            yield name, index, item
            continue
        where = f"{name}[{index}]"
        if not isinstance(item, dict):
            raise CaptureError(f"{where} must be an object {{{', '.join(sorted(fields))}}}")
        _unknown(item, fields, where)
        yield name, index, item


def validate_capture(capture: Any, *, tagged: bool = True) -> dict[str, Any]:
    """The capture normalised (dialect trimmed, tagged params decoded); CaptureError names what is wrong.

    ``tagged=False``: its body holds no tag at all (``ParsedBody.tagged``), so no value needs decoding.
    """
    if not isinstance(capture, dict):
        raise CaptureError("a capture must be a JSON object {id, dialect, statements, after_images}")
    read = decode if tagged else as_given
    _unknown(capture, CAPTURE_FIELDS, "capture")
    for name in REQUIRED_CAPTURE_FIELDS:
        if name not in capture:
            raise CaptureError(f"capture: missing field '{name}'")
    capture_id = _capture_id(capture["id"])
    dialect = capture["dialect"]
    if not isinstance(dialect, str) or not dialect.strip() or len(dialect) > MAX_DIALECT_CHARS:
        # Any short name is accepted: an unsupported one makes every statement unverifiable
        # with a reason naming the supported dialects (DIALECT_NAMES), as the schema says.
        raise CaptureError(f"'dialect' must be a dialect name like {', '.join(DIALECT_NAMES)}, got {dialect!r}")
    statements = capture["statements"]
    if not isinstance(statements, list) or not statements:
        raise CaptureError("'statements' must be a non-empty list of {sql, params}")
    checked_statements = []
    for name, index, statement in _objects(statements, "statements", STATEMENT_FIELDS, MAX_STATEMENTS):
        sql = statement.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            raise CaptureError(f"{name}[{index}].sql must be a non-empty string")
        checked_statements.append({"sql": sql, "params": _params(statement.get("params"), name, index, read)})
    after_images = capture.get("after_images") or []
    if not isinstance(after_images, list):
        raise CaptureError("'after_images' must be a list of {table, key, row}")
    checked_images = []
    for name, index, image in _objects(after_images, "after_images", AFTER_IMAGE_FIELDS, MAX_AFTER_IMAGES):
        where = f"{name}[{index}]"
        if not isinstance(image.get("table"), str) or not image["table"].strip():
            raise CaptureError(f"{where}.table must be a table name")
        for part in ("key", "row"):
            if not isinstance(image.get(part), dict):
                raise CaptureError(f"{where}.{part} must be an object of column -> value")
        try:
            checked_images.append({"table": image["table"], "key": read(image["key"]), "row": read(image["row"])})
        except ValueEncodingError as error:
            raise CaptureError(f"{where}: {error}") from None
    database = capture.get("database")
    if database is not None and (not isinstance(database, str) or not database.strip()):
        raise CaptureError("'database' must be the name of a verified database")
    return {"id": capture_id, "dialect": dialect.strip(), "statements": checked_statements,
            "after_images": checked_images, "database": database}


def validate_commit(commit: Any) -> str:
    """The capture id of a commit note {id}."""
    if not isinstance(commit, dict):
        raise CaptureError("a commit note must be a JSON object {id}")
    _unknown(commit, COMMIT_FIELDS, "commit")
    if "id" not in commit:
        raise CaptureError("commit: missing field 'id'")
    return _capture_id(commit["id"])


@dataclass(slots=True)
class ParsedBody:
    """The items of a body: each the raw JSON value or the reason it could not be read."""

    items: list[tuple[int, Any | CaptureError]] = field(default_factory=list)
    single: bool = False  # one object, not a batch: answered as one
    index_name: str = "index"  # "index" (JSON array) or "line" (NDJSON, 1-based)
    tagged: bool = True  # False: no tag ({"$decimal": ...}) anywhere in the body, nothing to decode


def parse_body(body: bytes, content_type: str = "application/json") -> ParsedBody:
    """Split a body into its items (one object, a JSON array or NDJSON); CaptureError if the body is unusable."""
    if len(body) > MAX_BATCH_BYTES:
        raise CaptureTooLarge(f"body is {len(body):,} bytes; the limit is {MAX_BATCH_BYTES:,}")
    # A tag is a key starting with "$", which JSON may also spell \u0024: neither in the body, no tag.
    parsed = ParsedBody(tagged=b'"$' in body or b"\\u0024" in body)
    if is_ndjson(content_type):
        parsed.index_name = "line"
        for number, value, error in ndjson_values(body, orjson.loads):
            parsed.items.append((number, value if error is None else CaptureError(f"not valid JSON: {error}")))
    else:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise CaptureError(f"body is not valid JSON: {error}") from None
        if isinstance(document, list):
            parsed.items = list(enumerate(document))
        else:
            if len(body) > MAX_CAPTURE_BYTES:
                raise CaptureTooLarge(f"body is {len(body):,} bytes; the limit is {MAX_CAPTURE_BYTES:,}")
            parsed.single = True
            parsed.items = [(0, document)]
    if len(parsed.items) > MAX_ITEMS_PER_REQUEST:
        raise CaptureTooLarge(f"{len(parsed.items):,} items in one request; the limit is {MAX_ITEMS_PER_REQUEST:,}")
    return parsed
