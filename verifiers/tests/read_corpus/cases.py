"""The read conformance corpus: answer shapes production APIs send, each with its expected verdict.

A case is one route `/corpus/<name>`: the legacy answer (as the gateway captured it, decoded), the
candidate's answer on the wire (maybe gzip/deflate/chunked), optionally the second legacy
system's answer and the route's rules, and what must come out: "match", "error", or "mismatch"
with the exact set of (generalised path, kind) of its differences.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson

from verifiers.tests.http_answers import RawAnswer

JSON = "application/json"
HTML_ERROR = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


@dataclass
class Case:
    name: str
    legacy_body: bytes
    candidate: RawAnswer
    expected: str  # "match", "mismatch" or "error"
    differences: frozenset[tuple[str, str]] = frozenset()
    legacy_status: int = 200
    legacy_type: str = JSON
    secondary: RawAnswer | None = None
    rules: dict[str, Any] = field(default_factory=dict)


def _json(value: Any) -> bytes:
    return orjson.dumps(value)


def _ledger(entries: int, seed: int = 7) -> dict[str, Any]:
    """A transaction history of `entries` items (~120 bytes each), deterministic."""
    rng = random.Random(seed)
    return {"accountId": "110-234-567890", "currency": "KRW", "items": [
        {"entryId": index, "amount": f"{rng.randint(1, 10**7)}.{rng.randint(0, 99):02d}", "memo": f"transfer {index}",
         "businessTime": f"2025-05-01T{index % 24:02d}:{index % 60:02d}:00+09:00", "balanceAfter": str(rng.randint(0, 10**9))}
        for index in range(entries)]}


def _nested(depth: int, leaf: Any) -> Any:
    value: Any = leaf
    for level in range(depth):
        value = {"level": level, "child": value}
    return value


def _changed_deep(document: dict[str, Any], index: int, amount: str) -> dict[str, Any]:
    items = [dict(item) for item in document["items"]]
    items[index]["amount"] = amount
    return {**document, "items": items}


def build_cases() -> list[Case]:
    small = {"accountId": "110-234-567890", "balance": "1000.50", "currency": "KRW", "status": "active"}
    big = _ledger(600)  # ~70 KB
    huge = _ledger(9000)  # ~1 MB
    giant = _ledger(38000)  # ~5 MB, just below the default READ_MAX_RESPONSE_BYTES (5 MiB)
    hal: dict[str, Any] = {"_links": {"self": {"href": "/accounts/1"}, "transactions": {"href": "/accounts/1/transactions"}},
           "_embedded": {"owner": {"name": "Kim", "_links": {"self": {"href": "/customers/9"}}}}, "balance": "5.00"}
    jsonapi: dict[str, Any] = {"data": {"type": "accounts", "id": "1", "attributes": {"balance": "5.00", "status": "active"},
                        "relationships": {"owner": {"data": {"type": "customers", "id": "9"}}}},
               "included": [{"type": "customers", "id": "9", "attributes": {"name": "Kim"}}], "meta": {"v": 1}}
    unicode_doc = {"name": "김민수", "memo": "Überweisung – ✓ 🏦", "city": "Zürich", "rtl": "مرحبا"}
    big_int = b'{"id":123456789012345678901234567890,"seq":18446744073709551617}'
    long_decimal = b'{"rate":0.123456789012345678901234567890,"amount":1234567890123456.78}'
    cases = [
        # --- identical answers, every wire form -------------------------------------------------
        Case("small-identical", _json(small), RawAnswer(body=_json(small)), "match"),
        Case("big-identical", _json(big), RawAnswer(body=_json(big)), "match"),
        Case("big-gzip", _json(big), RawAnswer(body=_json(big), encoding="gzip"), "match"),
        Case("big-deflate", _json(big), RawAnswer(body=_json(big), encoding="deflate"), "match"),
        Case("big-chunked", _json(big), RawAnswer(body=_json(big), chunked=True), "match"),
        Case("huge-gzip-chunked", _json(huge), RawAnswer(body=_json(huge), encoding="gzip", chunked=True), "match"),
        Case("giant-chunked", _json(giant), RawAnswer(body=_json(giant), chunked=True), "match"),
        Case("reordered-keys", _json(small), RawAnswer(body=_json(dict(reversed(list(small.items()))))), "match"),
        Case("whitespace-pretty", _json(small), RawAnswer(body=orjson.dumps(small, option=orjson.OPT_INDENT_2)),
             "match"),
        Case("hal-identical", _json(hal), RawAnswer(body=_json(hal), content_type="application/hal+json"), "match",
             legacy_type="application/hal+json"),
        Case("jsonapi-identical", _json(jsonapi), RawAnswer(body=_json(jsonapi), content_type="application/vnd.api+json"),
             "match", legacy_type="application/vnd.api+json"),
        Case("unicode-identical", _json(unicode_doc), RawAnswer(body=orjson.dumps(unicode_doc)), "match"),
        Case("unicode-escaped", _json(unicode_doc),
             RawAnswer(body=__import__("json").dumps(unicode_doc, ensure_ascii=True).encode()), "match"),
        Case("big-integers-identical", big_int, RawAnswer(body=big_int.replace(b",", b", ")), "match"),
        Case("long-decimals-identical", long_decimal, RawAnswer(body=long_decimal), "match"),
        Case("decimal-strings-identical", _json({"amount": "0.10"}), RawAnswer(body=_json({"amount": "0.10"})), "match"),
        Case("deeply-nested-identical", _json(_nested(200, "x")), RawAnswer(body=_json(_nested(200, "x"))), "match"),
        Case("empty-body-both", b"", RawAnswer(status=204, body=b"", content_type="text/plain"), "match",
             legacy_status=204, legacy_type="text/plain"),
        Case("empty-object-both", b"{}", RawAnswer(body=b"{}"), "match"),
        Case("empty-array-both", b"[]", RawAnswer(body=b"[]"), "match"),
        Case("plain-text-identical", b"OK\r\n", RawAnswer(body=b"OK\r\n", content_type="text/plain"), "match",
             legacy_type="text/plain"),
        Case("not-found-identical", _json({"error": "not_found"}), RawAnswer(status=404, body=_json({"error": "not_found"})),
             "match", legacy_status=404),
        Case("timestamps-ignored", _json({**small, "servedAt": "2025-05-01T00:00:00.000Z"}),
             RawAnswer(body=_json({**small, "servedAt": "2025-05-01T00:00:01.123Z"})), "match",
             rules={"ignore_paths": ["$.servedAt"]}),
        Case("null-vs-missing-allowed", _json({**small, "note": None}), RawAnswer(body=_json(small)), "match",
             rules={"null_equals_missing": True}),
        Case("decimal-equivalence-on-path", _json({"amount": "100.0", "fee": "5"}),
             RawAnswer(body=_json({"amount": 100, "fee": "5"})), "match", rules={"decimal_equivalence": ["$.amount"]}),
        Case("noise-from-secondary", _json({**small, "traceId": "a1"}), RawAnswer(body=_json({**small, "traceId": "c3"})),
             "match", secondary=RawAnswer(body=_json({**small, "traceId": "b2"}))),
        # --- real differences, every wire form ----------------------------------------------------
        Case("small-changed", _json(small), RawAnswer(body=_json({**small, "balance": "1000.51"})), "mismatch",
             frozenset({("$.balance", "changed")})),
        Case("big-deep-change-gzip", _json(big), RawAnswer(body=_json(_changed_deep(big, 590, "0.01")), encoding="gzip"),
             "mismatch", frozenset({("$.items[*].amount", "changed")})),
        Case("huge-deep-change-chunked", _json(huge),
             RawAnswer(body=_json(_changed_deep(huge, 8999, "0.01")), chunked=True), "mismatch",
             frozenset({("$.items[*].amount", "changed")})),
        Case("huge-deep-change-with-secondary", _json(huge),
             RawAnswer(body=_json(_changed_deep(huge, 8000, "0.01")), encoding="gzip", chunked=True), "mismatch",
             frozenset({("$.items[*].amount", "changed")}), secondary=RawAnswer(body=_json(huge), chunked=True)),
        Case("number-became-string", _json({"amount": 100}), RawAnswer(body=_json({"amount": "100"})), "mismatch",
             frozenset({("$.amount", "type_changed")})),
        Case("decimal-string-precision", _json({"amount": "0.10"}), RawAnswer(body=_json({"amount": "0.1"})), "mismatch",
             frozenset({("$.amount", "changed")})),
        Case("decimal-equivalence-not-elsewhere", _json({"amount": "100.0", "fee": "5"}),
             RawAnswer(body=_json({"amount": 100, "fee": 5})), "mismatch", frozenset({("$.fee", "type_changed")}),
             rules={"decimal_equivalence": ["$.amount"]}),
        Case("big-integer-last-digit", big_int, RawAnswer(body=big_int.replace(b"1617", b"1618")), "mismatch",
             frozenset({("$.seq", "changed")})),
        Case("long-decimal-last-digit", long_decimal, RawAnswer(body=long_decimal.replace(b"890,", b"891,")),
             "mismatch", frozenset({("$.rate", "changed")})),
        Case("null-vs-missing", _json({**small, "note": None}), RawAnswer(body=_json(small)), "mismatch",
             frozenset({("$.note", "missing")})),
        Case("null-vs-value", _json({**small, "note": None}), RawAnswer(body=_json({**small, "note": ""})), "mismatch",
             frozenset({("$.note", "type_changed")})),
        Case("boolean-vs-number", _json({"active": True}), RawAnswer(body=_json({"active": 1})), "mismatch",
             frozenset({("$.active", "type_changed")})),
        Case("extra-field", _json(small), RawAnswer(body=_json({**small, "tier": "gold"})), "mismatch",
             frozenset({("$.tier", "extra")})),
        Case("hal-link-changed", _json(hal),
             RawAnswer(body=_json({**hal, "_links": {**hal["_links"], "self": {"href": "/v2/accounts/1"}}}),
                       content_type="application/hal+json"),
             "mismatch", frozenset({("$._links.self.href", "changed")}), legacy_type="application/hal+json"),
        Case("jsonapi-attribute-changed", _json(jsonapi),
             RawAnswer(body=_json({**jsonapi, "data": {**jsonapi["data"], "attributes": {"balance": "5.01",
                                                                                         "status": "active"}}}),
                       content_type="application/vnd.api+json"),
             "mismatch", frozenset({("$.data.attributes.balance", "changed")}), legacy_type="application/vnd.api+json"),
        Case("unicode-changed", _json(unicode_doc), RawAnswer(body=_json({**unicode_doc, "name": "김민주"})), "mismatch",
             frozenset({("$.name", "changed")})),
        Case("array-shorter", _json(big), RawAnswer(body=_json({**big, "items": big["items"][:-1]})), "mismatch",
             frozenset({("$.items", "length")})),
        Case("deeply-nested-change", _json(_nested(200, "x")), RawAnswer(body=_json(_nested(200, "y"))), "mismatch",
             frozenset({("$" + ".child" * 200, "changed")})),
        Case("status-500", _json(small), RawAnswer(status=500, body=_json({"error": "internal"})), "mismatch",
             frozenset({("status", "status")})),
        Case("html-error-page-200", _json(small), RawAnswer(body=HTML_ERROR, content_type="text/html"), "mismatch",
             frozenset({("$", "type_changed")})),
        Case("empty-candidate-body", _json(small), RawAnswer(body=b""), "mismatch", frozenset({("$", "type_changed")})),
        Case("plain-text-changed", b"OK\r\n", RawAnswer(body=b"OK\n", content_type="text/plain"), "mismatch",
             frozenset({("$", "changed")}), legacy_type="text/plain"),
        Case("too-large-candidate", _json(small), RawAnswer(body=b'{"pad":"' + b"x" * (6 * 1024 * 1024) + b'"}',
                                                            chunked=True), "error"),
        # --- second legacy answers that fail in every way: they hide nothing -------------------------
        Case("secondary-html-error", _json(small), RawAnswer(body=_json({**small, "balance": "9"})),
             "mismatch", frozenset({("$.balance", "changed")}),
             secondary=RawAnswer(body=HTML_ERROR, content_type="text/html")),
        Case("secondary-empty-object", _json(small), RawAnswer(body=_json({**small, "balance": "9"})), "mismatch",
             frozenset({("$.balance", "changed")}), secondary=RawAnswer(body=b"{}")),
        Case("secondary-500", _json(small), RawAnswer(body=_json({**small, "balance": "9"})), "mismatch",
             frozenset({("$.balance", "changed")}), secondary=RawAnswer(status=500, body=_json({"balance": "8"}))),
        Case("secondary-truncated-gzip", _json(small), RawAnswer(body=_json({**small, "balance": "9"})), "mismatch",
             frozenset({("$.balance", "changed")}),
             secondary=RawAnswer(body=b"\x1f\x8b\x08\x00garbage", content_type=JSON,
                                 headers={"Content-Encoding": "gzip"})),
        Case("secondary-plain-text-whole-body", b"total=10", RawAnswer(body=b"total=11", content_type="text/plain"),
             "mismatch", frozenset({("$", "changed")}), legacy_type="text/plain",
             secondary=RawAnswer(body=b"total=12", content_type="text/plain")),
        Case("secondary-container-length", _json(big), RawAnswer(body=_json(_changed_deep(big, 3, "0.01"))),
             "mismatch", frozenset({("$.items[*].amount", "changed")}),
             secondary=RawAnswer(body=_json({**big, "items": big["items"][:-1]}))),
    ]
    return cases
