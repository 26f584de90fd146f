"""Route templates and mismatch fingerprints (design sections 3 "Grouping" and 4).

Pure module (no Django). A mismatch group is identified by a short stable hash of *what kind*
of difference happened where, never of the values: the same field changing on a different
account, or at another array index, lands in the same group.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from verifiers.read.compare import Difference, parent_pattern

__all__ = [
    "FingerprintError",
    "ReadCause",
    "read_cause_fingerprint",
    "read_causes",
    "describe_fingerprint",
    "describe_write_fingerprint",
    "read_fingerprint",
    "route_template",
    "write_fingerprint",
]

FINGERPRINT_HEX_CHARS = 16  # 64 bits: collisions are irrelevant at thousands of groups

ID_PLACEHOLDER = "{id}"

# Segments that are identifiers, not route words.
_ID_SEGMENT = re.compile(
    r"""\A(?:
        [0-9]+                                                        # numeric id
      | [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}  # UUID
      | (?=[a-fA-F]*[0-9])[0-9a-fA-F]{16,}                            # long hex (with a digit)
      | [0-9]+(?:-[0-9]+)+                                            # account no. 110-234-567890
      | [A-Za-z_]*[0-9]{6,}[A-Za-z0-9_]*                              # TX20240501000123
    )\Z""",
    re.VERBOSE,
)
_PLACEHOLDER = re.compile(r"\A\{[^{}/]+\}\Z")
_HTTP_METHOD = re.compile(r"\A[A-Za-z]+\Z")


class FingerprintError(ValueError):
    """An input to route templating or fingerprinting is malformed; the message says which."""


def _path_only(path: str) -> str:
    if not isinstance(path, str):
        raise FingerprintError(f"request path must be a string, got {type(path).__name__}")
    path = path.split("#", 1)[0].split("?", 1)[0]
    if "://" in path:  # a full URL slipped in: keep only its path
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    if not path.startswith("/"):
        path = "/" + path
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return path


@lru_cache(maxsize=64)
def _compile_templates(
    templates: tuple[str, ...],
) -> tuple[tuple[str, tuple[str | None, ...]], ...]:
    """Each template as (template, segments) with None for `{name}`; most literal first."""
    compiled = []
    for template in templates:
        if not isinstance(template, str) or not template.startswith("/"):
            raise FingerprintError(f"route template {template!r} must be a string starting "
                                   "with '/'")
        normalised = _path_only(template)
        segments = tuple(None if _PLACEHOLDER.match(segment) else segment
                         for segment in normalised.split("/")[1:])
        compiled.append((normalised, segments))
    # The most specific override wins; among equals, the one listed first.
    order = sorted(range(len(compiled)),
                   key=lambda i: (-sum(s is not None for s in compiled[i][1]), i))
    return tuple(compiled[i] for i in order)


def route_template(path: str, templates: Iterable[str] = ()) -> str:
    """`/accounts/123/balance?x=1` -> `/accounts/{id}/balance`; operator templates win.

    A template like `/accounts/{account}/tx` matches segment-wise (`{name}` = one segment).
    Otherwise numeric, UUID, long-hex, dashed-digit (account-number-like) segments and
    segments with a run of 6+ digits (transaction ids) become `{id}`.
    """
    normalised = _path_only(path)
    segments = normalised.split("/")[1:]
    for template, template_segments in _compile_templates(tuple(templates)):
        if len(template_segments) == len(segments) and all(
            expected is None or expected == actual
            for expected, actual in zip(template_segments, segments)
        ):
            return template
    return "/" + "/".join(ID_PLACEHOLDER if _ID_SEGMENT.match(segment) else segment
                          for segment in segments)


def _digest(parts: Iterable[str]) -> str:
    # Unit separator between parts: no path or kind contains it, so joins can't collide.
    text = "\x1f".join(parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=FINGERPRINT_HEX_CHARS // 2).hexdigest()


def _normalised_method(method: str) -> str:
    if not isinstance(method, str) or not _HTTP_METHOD.match(method):
        raise FingerprintError(f"HTTP method must be a word like GET, got {method!r}")
    return method.upper()


def _difference_signature(differences: Iterable[Difference]) -> list[str]:
    signature = set()
    for difference in differences:
        if not isinstance(difference, Difference):
            raise FingerprintError(f"expected Difference objects, got {difference!r}")
        signature.add(f"{difference.pattern()} {difference.kind.value}")
    return sorted(signature)


def read_fingerprint(route_template: str, method: str,
                     differences: Iterable[Difference]) -> str:
    """Stable short hex hash of (method, route template, sorted set of (pattern, kind))."""
    return _digest(["read", _normalised_method(method), route_template,
                    *_difference_signature(differences)])


@dataclass(frozen=True, slots=True)
class ReadCause:
    """One cause of a read mismatch: one kind of difference within one object (or array).

    Operators triage causes, not combinations: a sample showing two independent differences
    belongs to two groups. Sibling members of one object that differ the same way are one cause
    (`$.available` follows `$.balance` when both are rounded alike); status and each compared
    header are causes of their own, and so is `$` (a body not comparable as JSON).
    """

    anchor: str  # the containing object/array pattern, or `$`, `status`, `headers.<name>`
    kind: str
    differences: tuple[Difference, ...]
    indexes: tuple[int, ...]  # positions of those differences in the sample's list


def _cause_key(difference: Difference) -> tuple[str, str]:
    return parent_pattern(difference.pattern()), difference.kind.value


def read_causes(differences: Iterable[Difference]) -> list[ReadCause]:
    """The differences of one sample split into causes, in order of first appearance."""
    by_key: dict[tuple[str, str], list[tuple[int, Difference]]] = {}
    for index, difference in enumerate(differences):
        if not isinstance(difference, Difference):
            raise FingerprintError(f"expected Difference objects, got {difference!r}")
        by_key.setdefault(_cause_key(difference), []).append((index, difference))
    return [ReadCause(anchor, kind, tuple(d for _, d in items), tuple(i for i, _ in items))
            for (anchor, kind), items in by_key.items()]


def read_cause_fingerprint(route_template: str, method: str, anchor: str, kind: str) -> str:
    """Stable short hex hash of (method, route template, cause anchor, kind): one group per cause."""
    return _digest(["read-cause", _normalised_method(method), route_template, anchor, kind])


ColumnKinds = Mapping[str, str] | Iterable[tuple[str, str]]


def _column_pairs(columns_with_kinds: ColumnKinds) -> list[tuple[str, str]]:
    items = (columns_with_kinds.items() if isinstance(columns_with_kinds, Mapping)
             else columns_with_kinds)
    pairs = set()
    for item in items:
        if (not isinstance(item, tuple) or len(item) != 2
                or not all(isinstance(part, str) and part for part in item)):
            raise FingerprintError(f"expected (column, kind) string pairs, got {item!r}")
        column, kind = item
        pairs.add((column.lower(), str(kind)))  # SQL identifiers compare case-insensitively
    return sorted(pairs)


def write_fingerprint(table: str, statement_kind: str, columns_with_kinds: ColumnKinds) -> str:
    """Stable short hex hash of (table, statement kind, sorted differing columns with kinds)."""
    if not isinstance(table, str) or not table.strip():
        raise FingerprintError(f"table must be a non-empty string, got {table!r}")
    if not isinstance(statement_kind, str) or not statement_kind.strip():
        raise FingerprintError(f"statement kind must be a non-empty string, got {statement_kind!r}")
    return _digest(["write", table.strip().lower(), statement_kind.strip().upper(),
                    *(f"{column} {kind}" for column, kind in _column_pairs(columns_with_kinds))])


_KIND_WORDS = {
    "changed": "changed",
    "type_changed": "type changed",
    "missing": "missing",
    "extra": "extra",
    "length": "length differs",
    "order_only": "order differs",
    "status": "differs",
    "header": "differs",
}


def _summarise(subject: str, items: list[tuple[str, str]], max_items: int) -> str:
    phrases = [f"{what} {_KIND_WORDS.get(kind, kind.replace('_', ' '))}" for what, kind in items]
    if not phrases:
        return subject
    shown = ", ".join(phrases[:max_items])
    rest = len(phrases) - max_items
    return f"{subject}: {shown}" + (f" (+{rest} more)" if rest > 0 else "")


def describe_fingerprint(method: str, route_template: str, differences: Iterable[Difference],
                         max_items: int = 3) -> str:
    """Short title for a read group: `GET /accounts/{id}/balance: $.amount changed`."""
    items = sorted({(d.pattern(), d.kind.value) for d in differences})
    return _summarise(f"{_normalised_method(method)} {route_template}", items, max_items)


def describe_write_fingerprint(table: str, statement_kind: str,
                               columns_with_kinds: ColumnKinds, max_items: int = 3) -> str:
    """Short title for a write group: `UPDATE accounts: balance changed`."""
    subject = f"{statement_kind.strip().upper()} {table.strip().lower()}"
    return _summarise(subject, _column_pairs(columns_with_kinds), max_items)
