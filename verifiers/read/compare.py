"""Structural comparison of a legacy and a candidate HTTP answer (read verifier, design section 3).

Pure module (no Django). The flow for a caller:

    rules = compile_rules(rules_from_dict(route_config))   # once per route pattern
    diffs = compare_responses(l_status, l_headers, l_body, c_status, c_headers, c_body, rules)

Speed (design section 9) comes from comparing subtrees with ``==`` first (C speed) and only
descending into the ones that differ. Rules that reach inside a document (ignore paths, keyed
arrays) are compiled into a small automaton whose states are cached per (state, key), so a node
where no rule can apply costs one ``is None`` test. Python's ``==`` says ``True == 1``; when a
document contains a boolean, equality of containers is confirmed on their canonical orjson
serialisation so that a boolean turned into a number is still reported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

from verifiers.read import exactjson

__all__ = [
    "CompareRules",
    "CompiledRules",
    "DiffKind",
    "Difference",
    "PatternError",
    "RulesError",
    "compare_documents",
    "compare_responses",
    "compile_rules",
    "generalise_path",
    "noise_paths",
    "secondary_unusable_reason",
    "suppress_noise",
    "parent_pattern",
    "parse_pattern",
    "rules_from_dict",
    "suppress",
]


class RulesError(ValueError):
    """A comparison rule set (or one of its patterns) is invalid; the message names the culprit."""


class PatternError(RulesError):
    """A JSONPath-like pattern or path could not be parsed."""


class DiffKind(StrEnum):
    CHANGED = "changed"
    TYPE_CHANGED = "type_changed"
    MISSING = "missing"  # present in legacy, absent in candidate
    EXTRA = "extra"  # absent in legacy, present in candidate
    LENGTH = "length"  # array lengths differ (legacy/candidate hold the two lengths)
    ORDER_ONLY = "order_only"  # same elements, other order
    STATUS = "status"
    HEADER = "header"


@dataclass(frozen=True, slots=True)
class Difference:
    """One typed difference; ``legacy``/``candidate`` are values for display (None: absent)."""

    path: str
    kind: DiffKind
    legacy: Any = None
    candidate: Any = None

    def pattern(self) -> str:
        """The path with indexes generalised: ``$.items[3].amount`` -> ``$.items[*].amount``."""
        return generalise_path(self.path)


# --------------------------------------------------------------------------------------------
# Path and pattern syntax
# --------------------------------------------------------------------------------------------


class _Wildcard:
    """Sentinel segment type; repr keeps debugging output readable."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ANY_CHILD = _Wildcard("ANY_CHILD")  # `*` / `[*]`: any one member key or array index
DESCENDANTS = _Wildcard("DESCENDANTS")  # `..`: zero or more levels

Segment = str | int | _Wildcard

_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_$@\-]+\Z")
# JSON number grammar: numeric strings with leading zeros ("0012", account-like) stay strings.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_HEADER_PREFIX = "headers."
_STATUS_PATH = "status"


def parse_pattern(pattern: str) -> tuple[Segment, ...]:
    """Parse ``$.a[2]['odd key'][*]..b.*`` into segments (str keys, int indexes, wildcards)."""
    if not isinstance(pattern, str) or not pattern.startswith("$"):
        raise PatternError(f"pattern {pattern!r} must be a string starting with '$'")
    segments: list[Segment] = []
    text = pattern
    i, end = 1, len(text)
    while i < end:
        if text.startswith("..", i):
            segments.append(DESCENDANTS)
            i += 2
            if i < end and text[i] == "[":
                continue
            i = _parse_name(text, i, segments)
        elif text[i] == ".":
            i = _parse_name(text, i + 1, segments)
        elif text[i] == "[":
            i = _parse_bracket(text, i, segments)
        else:
            raise PatternError(f"pattern {pattern!r}: unexpected {text[i]!r} at position {i}")
    if segments and segments[-1] is DESCENDANTS:
        raise PatternError(f"pattern {pattern!r} must not end with '..'")
    return tuple(segments)


def _parse_name(text: str, start: int, segments: list[Segment]) -> int:
    i = start
    while i < len(text) and text[i] not in ".[":
        i += 1
    name = text[start:i]
    if not name:
        raise PatternError(f"pattern {text!r}: empty member name at position {start}")
    segments.append(ANY_CHILD if name == "*" else name)
    return i


def _parse_bracket(text: str, start: int, segments: list[Segment]) -> int:
    i = start + 1
    if i < len(text) and text[i] in "'\"":
        quote = text[i]
        i += 1
        chars: list[str] = []
        while i < len(text) and text[i] != quote:
            if text[i] == "\\" and i + 1 < len(text):
                i += 1
            chars.append(text[i])
            i += 1
        if not text.startswith(quote + "]", i):
            raise PatternError(f"pattern {text!r}: unterminated quoted key at position {start}")
        segments.append("".join(chars))
        return i + 2
    close = text.find("]", i)
    if close < 0:
        raise PatternError(f"pattern {text!r}: missing ']' after position {start}")
    inner = text[i:close].strip()
    if inner == "*":
        segments.append(ANY_CHILD)
    elif inner.isdigit():
        segments.append(int(inner))
    else:
        raise PatternError(f"pattern {text!r}: bad index {inner!r} (use a number, * or 'key')")
    return close + 1


@lru_cache(maxsize=8192)
def _key_segment(key: str) -> str:
    if _SIMPLE_KEY.match(key):
        return "." + key
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return "['" + escaped + "']"


def child_path(path: str, key: Any) -> str:
    if type(key) is int:
        return f"{path}[{key}]"
    return path + _key_segment(str(key))


def _render_segments(segments: Iterable[Segment]) -> str:
    parts = ["$"]
    after_descendants = False
    for segment in segments:
        if segment is ANY_CHILD:
            part = "[*]"
        elif segment is DESCENDANTS:
            part = ".."
        elif isinstance(segment, int):
            part = f"[{segment}]"
        else:
            part = _key_segment(segment)
            if after_descendants and part.startswith("."):
                part = part[1:]  # `..` already separates: `$..name`, not `$...name`
        parts.append(part)
        after_descendants = segment is DESCENDANTS
    return "".join(parts)


@lru_cache(maxsize=65536)
def parent_pattern(pattern: str) -> str:
    """``$.items[*].amount`` -> ``$.items[*]``; ``$`` and header/status paths stay as they are."""
    if not pattern.startswith("$") or pattern == "$":
        return pattern
    return _render_segments(parse_pattern(pattern)[:-1])


@lru_cache(maxsize=65536)
def generalise_path(path: str) -> str:
    """``$.items[3].amount`` -> ``$.items[*].amount``; header and status paths stay as they are."""
    if not path.startswith("$"):
        return path
    segments = parse_pattern(path)
    return _render_segments(ANY_CHILD if isinstance(s, int) else s for s in segments)


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass
class CompareRules:
    """Comparison rules for one route pattern, as configured by an admin."""

    # `$.traceId`, `$.items[*].servedAt`, `$..servedAt`; also `status` and `headers.<name>`.
    ignore_paths: list[str] = field(default_factory=list)
    # "100.00" == 100 == 100.0; only strings in JSON number syntax count as numeric. In a config
    # dict: true (route-wide) or a list of path patterns it applies to.
    decimal_equivalence: bool = False
    decimal_equivalence_paths: list[str] = field(default_factory=list)
    # Absolute tolerance for numbers, exact decimal arithmetic. In a config dict: one number
    # (route-wide) or {pattern: number}; a path's own tolerance wins over the route's.
    tolerance: Decimal = Decimal(0)
    tolerance_paths: dict[str, Decimal] = field(default_factory=dict)
    # Array pattern -> key field: that array is compared as a set keyed by the field.
    array_keys: dict[str, str] = field(default_factory=dict)
    # Array patterns compared as multisets without a key (no order_only difference).
    unordered_arrays: list[str] = field(default_factory=list)
    # Keyed arrays whose order matters as well (a history sorted differently is a difference).
    ordered_arrays: list[str] = field(default_factory=list)
    compare_status: bool = True
    # Whitelist of header names compared (case-insensitive); empty compares none.
    headers: list[str] = field(default_factory=list)
    # Serialisers disagree on nulls: `{"a": null}` equals `{}` when set.
    null_equals_missing: bool = False
    # Candidate may add members (backward-compatible API growth) without a difference.
    allow_extra_fields: bool = False


# The per-path forms are written in the config as decimal_equivalence / tolerance themselves.
_RULE_KEYS = frozenset(CompareRules.__dataclass_fields__) - {"decimal_equivalence_paths", "tolerance_paths"}


def _require_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RulesError(f"rule {key!r} must be true or false, got {value!r}")
    return value


def _require_str_list(key: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise RulesError(f"rule {key!r} must be a list of strings, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise RulesError(f"rule {key!r} contains {item!r}, which is not a non-empty string")
    return [item.strip() for item in value]


def _body_pattern(key: str, pattern: str) -> tuple[Segment, ...]:
    try:
        return parse_pattern(pattern)
    except PatternError as error:
        raise RulesError(f"rule {key!r}: {error}") from None


def _tolerance(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise RulesError(f"rule 'tolerance' must be a number or numeric string, got {value!r}")
    try:
        tolerance = Decimal(str(value).strip())
    except InvalidOperation:
        raise RulesError(f"rule 'tolerance' is not a number: {value!r}") from None
    if not tolerance.is_finite() or tolerance < 0:
        raise RulesError(f"rule 'tolerance' must be finite and >= 0, got {value!r}")
    return tolerance


def rules_from_dict(config: Mapping[str, Any]) -> CompareRules:
    """Build validated rules from a config dict; raises RulesError naming a bad key or value."""
    if not isinstance(config, Mapping):
        raise RulesError(f"rules must be a mapping, got {type(config).__name__}")
    unknown = sorted(str(key) for key in config if key not in _RULE_KEYS)
    if unknown:
        raise RulesError(f"unknown rule key(s) {unknown}; allowed: {sorted(_RULE_KEYS)}")
    rules = CompareRules()
    if "ignore_paths" in config:
        rules.ignore_paths = _require_str_list("ignore_paths", config["ignore_paths"])
        for pattern in rules.ignore_paths:
            if pattern.startswith("$"):
                _body_pattern("ignore_paths", pattern)
            elif pattern != _STATUS_PATH and not pattern.lower().startswith(_HEADER_PREFIX):
                raise RulesError(
                    f"rule 'ignore_paths': {pattern!r} must start with '$', be 'status' "
                    "or 'headers.<name>'"
                )
    for key in ("compare_status", "null_equals_missing", "allow_extra_fields"):
        if key in config:
            setattr(rules, key, _require_bool(key, config[key]))
    if "decimal_equivalence" in config:
        value = config["decimal_equivalence"]
        if isinstance(value, bool):
            rules.decimal_equivalence = value
        else:
            rules.decimal_equivalence_paths = _require_str_list("decimal_equivalence", value)
            for pattern in rules.decimal_equivalence_paths:
                _body_pattern("decimal_equivalence", pattern)
    if "tolerance" in config:
        value = config["tolerance"]
        if isinstance(value, Mapping):
            for pattern, amount in value.items():
                _body_pattern("tolerance", pattern)
                rules.tolerance_paths[pattern] = _tolerance(amount)
        else:
            rules.tolerance = _tolerance(value)
    if "array_keys" in config:
        array_keys = config["array_keys"]
        if not isinstance(array_keys, Mapping):
            raise RulesError(f"rule 'array_keys' must map array pattern -> key field, "
                             f"got {array_keys!r}")
        for pattern, key_field in array_keys.items():
            _body_pattern("array_keys", pattern)
            if not isinstance(key_field, str) or not key_field:
                raise RulesError(f"rule 'array_keys': key field for {pattern!r} must be a "
                                 f"non-empty string, got {key_field!r}")
        rules.array_keys = dict(array_keys)
    if "unordered_arrays" in config:
        rules.unordered_arrays = _require_str_list("unordered_arrays", config["unordered_arrays"])
        for pattern in rules.unordered_arrays:
            _body_pattern("unordered_arrays", pattern)
    if "ordered_arrays" in config:
        rules.ordered_arrays = _require_str_list("ordered_arrays", config["ordered_arrays"])
        for pattern in rules.ordered_arrays:
            if pattern not in rules.array_keys:
                raise RulesError(f"rule 'ordered_arrays': {pattern!r} has no key in 'array_keys' "
                                 "(an unkeyed array is always compared in order)")
    if "headers" in config:
        rules.headers = [name.lower() for name in _require_str_list("headers", config["headers"])]
    return rules


# --------------------------------------------------------------------------------------------
# Compiled rules: a lazily built automaton over path segments
# --------------------------------------------------------------------------------------------


class _Node:
    """A node of the pattern trie; `loops` marks the target of `..` (active at any depth)."""

    __slots__ = ("children", "any_child", "descendants", "loops", "ignored", "array_key",
                 "unordered", "ordered", "decimal_equivalence", "tolerance")

    def __init__(self, loops: bool = False) -> None:
        self.children: dict[str | int, _Node] = {}
        self.any_child: _Node | None = None
        self.descendants: _Node | None = None
        self.loops = loops
        self.ignored = False
        self.array_key: str | None = None
        self.unordered = False
        self.ordered = False
        self.decimal_equivalence = False  # per-path rules: apply to the leaf at this path
        self.tolerance: Decimal | None = None


_MAX_TRANSITIONS = 4096  # per state; keys like account numbers must not grow the cache forever


class _State:
    """A set of active trie nodes at one position of a document, with cached transitions."""

    __slots__ = ("nodes", "ignored", "array_key", "unordered", "ordered", "strip_keys", "shallow",
                 "transitions", "_automaton", "decimal_equivalence", "tolerance")

    def __init__(self, nodes: tuple[_Node, ...], automaton: _Automaton) -> None:
        self.nodes = nodes
        self.ignored = any(node.ignored for node in nodes)
        self.array_key = next((n.array_key for n in nodes if n.array_key is not None), None)
        self.unordered = any(node.unordered for node in nodes)
        self.ordered = any(node.ordered for node in nodes)
        self.decimal_equivalence = any(node.decimal_equivalence for node in nodes)
        tolerances = [node.tolerance for node in nodes if node.tolerance is not None]
        self.tolerance = max(tolerances) if tolerances else None
        # Member keys ignored right below this state: stripped before a whole-dict `==`.
        self.strip_keys = tuple(sorted({
            key for node in nodes for key, child in node.children.items()
            if isinstance(key, str) and child.ignored
        }))
        # True when the only rules below are those ignored members (the common case).
        self.shallow = all(
            not node.loops and node.any_child is None and node.descendants is None
            and all(isinstance(key, str) and child.ignored
                    for key, child in node.children.items())
            for node in nodes
        )
        self.transitions: dict[str | int, _State | None] = {}
        self._automaton = automaton

    def step(self, segment: str | int) -> _State | None:
        try:
            return self.transitions[segment]
        except KeyError:
            pass
        following: list[_Node] = []
        for node in self.nodes:
            child = node.children.get(segment)
            if child is not None:
                _activate(child, following)
            if node.any_child is not None:
                _activate(node.any_child, following)
            if node.loops:
                _activate(node, following)
        state = self._automaton.state(following)
        if len(self.transitions) < _MAX_TRANSITIONS:
            self.transitions[segment] = state
        return state


def _activate(node: _Node, active: list[_Node]) -> None:
    # Epsilon closure: a node with a `..` edge also activates its descendant anchor.
    while node is not None and node not in active:
        active.append(node)
        node = node.descendants  # type: ignore[assignment]


class _Automaton:
    def __init__(self) -> None:
        self.root = _Node()
        self._states: dict[tuple[int, ...], _State] = {}

    def add(self, segments: tuple[Segment, ...]) -> _Node:
        node = self.root
        for segment in segments:
            if segment is DESCENDANTS:
                if node.descendants is None:
                    node.descendants = _Node(loops=True)
                node = node.descendants
            elif segment is ANY_CHILD:
                if node.any_child is None:
                    node.any_child = _Node()
                node = node.any_child
            else:
                node = node.children.setdefault(segment, _Node())  # type: ignore[arg-type]
        return node

    def state(self, nodes: list[_Node]) -> _State | None:
        if not nodes:
            return None
        key = tuple(sorted(id(node) for node in nodes))
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State(tuple(nodes), self)
        return state

    def start(self) -> _State | None:
        active: list[_Node] = []
        _activate(self.root, active)
        if len(active) == 1 and self._is_empty(self.root):
            return None
        return self.state(active)

    @staticmethod
    def _is_empty(node: _Node) -> bool:
        return not (node.children or node.any_child or node.descendants or node.ignored
                    or node.array_key or node.unordered or node.ordered or node.decimal_equivalence
                    or node.tolerance is not None)


_EXACT = Context(prec=200)  # enough digits that tolerance arithmetic never rounds
_SORTED = orjson.OPT_SORT_KEYS


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, default=_json_default, option=_SORTED)


def _to_decimal(value: Any, numeric_strings: bool) -> Decimal | None:
    kind = type(value)
    if kind is int:
        return Decimal(value)
    if kind is float:
        return Decimal(repr(value))  # shortest round-trip text, i.e. what the JSON said
    if kind is Decimal:
        return value
    if numeric_strings and kind is str and _JSON_NUMBER.match(value):
        return Decimal(value)
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


class _Engine:
    """The recursive comparison; one instance per strictness so no per-call state is stored."""

    __slots__ = ("rules", "strict", "tolerance", "decimal_equivalence", "null_equals_missing",
                 "allow_extra_fields")

    def __init__(self, rules: CompareRules, strict: bool) -> None:
        self.rules = rules
        self.strict = strict
        self.tolerance = rules.tolerance
        self.decimal_equivalence = rules.decimal_equivalence
        self.null_equals_missing = rules.null_equals_missing
        self.allow_extra_fields = rules.allow_extra_fields

    def same(self, a: Any, b: Any) -> bool:
        """True only if a and b are provably equal in JSON terms (type and value)."""
        if a is b:
            return True
        if a != b:
            return False
        kind = type(a)
        if kind is not type(b):
            return False  # 1 vs 1.0 or True vs 1: let the leaf comparison decide
        if self.strict and (kind is dict or kind is list):
            try:
                return _canonical(a) == _canonical(b)
            except TypeError:
                return False
        return True

    def values(self, a: Any, b: Any, path: str, state: _State | None,
               out: list[Difference]) -> None:
        if state is not None and state.ignored:
            return
        kind_a, kind_b = type(a), type(b)
        if kind_a is dict and kind_b is dict:
            self.dicts(a, b, path, state, out)
        elif kind_a is list and kind_b is list:
            self.lists(a, b, path, state, out)
        elif isinstance(a, Mapping) and isinstance(b, Mapping):
            self.dicts(dict(a), dict(b), path, state, out)
        elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            self.lists(list(a), list(b), path, state, out)
        else:
            self.leaves(a, b, path, out, state)

    def dicts(self, a: dict[str, Any], b: dict[str, Any], path: str, state: _State | None,
              out: list[Difference]) -> None:
        same = self.same
        if state is not None and state.strip_keys:
            # Equal apart from ignored members? Two C-level copies beat a Python loop.
            a_rest, b_rest = a.copy(), b.copy()
            for key in state.strip_keys:
                a_rest.pop(key, None)
                b_rest.pop(key, None)
            if same(a_rest, b_rest):
                return
        for key, a_value in a.items():
            if key in b:
                b_value = b[key]
                if same(a_value, b_value):
                    continue
            elif a_value is None and self.null_equals_missing:
                continue
            child = state.step(key) if state is not None else None
            if child is not None and child.ignored:
                continue
            if key in b:
                self.values(a_value, b[key], child_path(path, key), child, out)
            else:
                out.append(Difference(child_path(path, key), DiffKind.MISSING, a_value, None))
        if self.allow_extra_fields or b.keys() <= a.keys():
            return
        for key, b_value in b.items():
            if key in a or (b_value is None and self.null_equals_missing):
                continue
            child = state.step(key) if state is not None else None
            if child is None or not child.ignored:
                out.append(Difference(child_path(path, key), DiffKind.EXTRA, None, b_value))

    def lists(self, a: list[Any], b: list[Any], path: str, state: _State | None,
              out: list[Difference]) -> None:
        if state is not None:
            if state.array_key is not None:
                self.keyed(a, b, path, state, state.array_key, out)
                return
            if state.unordered:
                self.unordered(a, b, path, state, out)
                return
        same = self.same
        first = len(out)
        first_unequal = -1
        for index in range(min(len(a), len(b))):
            a_item, b_item = a[index], b[index]
            if same(a_item, b_item):
                continue
            child = state.step(index) if state is not None else None
            if child is None or not child.ignored:
                before = len(out)
                self.values(a_item, b_item, f"{path}[{index}]", child, out)
                if first_unequal < 0 and len(out) > before:
                    first_unequal = index
        if len(a) != len(b):
            out.insert(first, Difference(path, DiffKind.LENGTH, len(a), len(b)))
        elif len(out) > first and self.is_permutation(a, b, state, first_unequal):
            del out[first:]
            out.append(Difference(path, DiffKind.ORDER_ONLY, a, b))

    def is_permutation(self, a: list[Any], b: list[Any], state: _State | None,
                       probe_index: int) -> bool:
        """Same multiset of elements (ignored sub-paths removed)? Probes one element first."""
        if state is None and a[probe_index] not in b:
            return False  # cheap necessary condition, C-level `==`
        b_keys = [self.element_key(b, index, state) for index in range(len(b))]
        if self.element_key(a, probe_index, state) not in b_keys:
            return False  # a changed value, not a move: skip canonicalising the rest of a
        a_keys = [self.element_key(a, index, state) for index in range(len(a))]
        return Counter(a_keys) == Counter(b_keys)

    def keyed(self, a: list[Any], b: list[Any], path: str, state: _State, key_field: str,
              out: list[Difference]) -> None:
        if self.same(a, b):
            return
        a_keyed, a_loose = _index_by_key(a, key_field)
        b_keyed, b_loose = _index_by_key(b, key_field)
        for key, a_index in a_keyed.items():
            b_index = b_keyed.get(key)
            child = state.step(a_index)
            if child is not None and child.ignored:
                continue
            if b_index is None:
                out.append(Difference(f"{path}[{a_index}]", DiffKind.MISSING, a[a_index], None))
            elif not self.same(a[a_index], b[b_index]):
                self.values(a[a_index], b[b_index], f"{path}[{a_index}]", child, out)
        for key, b_index in b_keyed.items():
            if key not in a_keyed:
                self.report_extra(b, b_index, path, state, out)
        self.match_loosely(a, a_loose, b, b_loose, path, state, out)
        if state.ordered:
            common = [key for key in a_keyed if key in b_keyed]
            b_positions = [b_keyed[key] for key in common]
            if b_positions != sorted(b_positions):
                out.append(Difference(path, DiffKind.ORDER_ONLY,
                                      [a[a_keyed[key]][key_field] for key in common],
                                      [b[index][key_field] for index in sorted(b_positions)]))

    def unordered(self, a: list[Any], b: list[Any], path: str, state: _State,
                  out: list[Difference]) -> None:
        if not self.same(a, b):
            self.match_loosely(a, list(range(len(a))), b, list(range(len(b))), path, state, out)

    def match_loosely(self, a: list[Any], a_indexes: list[int], b: list[Any],
                      b_indexes: list[int], path: str, state: _State,
                      out: list[Difference]) -> None:
        """Pair elements equal as a multiset; the rest are missing / extra."""
        waiting: dict[bytes, list[int]] = {}
        for b_index in b_indexes:
            waiting.setdefault(self.element_key(b, b_index, state), []).append(b_index)
        for a_index in a_indexes:
            matches = waiting.get(self.element_key(a, a_index, state))
            if matches:
                matches.pop(0)
                continue
            child = state.step(a_index)
            if child is None or not child.ignored:
                out.append(Difference(f"{path}[{a_index}]", DiffKind.MISSING, a[a_index], None))
        for b_index in sorted(i for indexes in waiting.values() for i in indexes):
            self.report_extra(b, b_index, path, state, out)

    @staticmethod
    def element_key(items: list[Any], index: int, state: _State | None) -> bytes:
        """Canonical bytes of one element with its ignored sub-paths removed."""
        item = items[index]
        if state is not None:
            child = state.step(index)
            if child is not None:
                item = _without_ignored(item, child)
        try:
            return _canonical(item)
        except TypeError:
            return repr(item).encode()

    @staticmethod
    def report_extra(b: list[Any], b_index: int, path: str, state: _State,
                     out: list[Difference]) -> None:
        child = state.step(b_index)
        if child is None or not child.ignored:
            out.append(Difference(f"{path}[{b_index}]", DiffKind.EXTRA, None, b[b_index]))

    def leaves(self, a: Any, b: Any, path: str, out: list[Difference], state: _State | None = None) -> None:
        type_a, type_b = _json_type(a), _json_type(b)
        if type_a == "number" and type_b == "number" and a == b:
            return
        decimal_equivalence, tolerance = self.decimal_equivalence, self.tolerance
        if state is not None:  # rules listed for this very path
            decimal_equivalence = decimal_equivalence or state.decimal_equivalence
            if state.tolerance is not None:
                tolerance = state.tolerance
        if (type_a == "number" or type_b == "number" or decimal_equivalence) and (
            type_a in ("number", "string") and type_b in ("number", "string")
        ):
            decimal_a = _to_decimal(a, decimal_equivalence)
            decimal_b = _to_decimal(b, decimal_equivalence)
            if decimal_a is not None and decimal_b is not None:
                try:
                    if _EXACT.abs(_EXACT.subtract(decimal_a, decimal_b)) <= tolerance:
                        return
                except ArithmeticError:  # NaN, infinities, absurd exponents: they just differ
                    pass
                out.append(Difference(path, DiffKind.CHANGED, a, b))
                return
        if type_a != type_b:
            out.append(Difference(path, DiffKind.TYPE_CHANGED, a, b))
        elif a != b:
            out.append(Difference(path, DiffKind.CHANGED, a, b))


def _index_by_key(items: list[Any], key_field: str) -> tuple[dict[Any, int], list[int]]:
    """Index elements by their key value; elements without a usable, unique key stay loose."""
    keyed: dict[Any, int] = {}
    loose: list[int] = []
    duplicated: set[Any] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or key_field not in item:
            loose.append(index)
            continue
        value = item[key_field]
        if isinstance(value, (dict, list)):
            loose.append(index)
            continue
        key = (type(value) is str, value)  # "1" and 1 are different keys
        if key in duplicated:
            loose.append(index)
        elif key in keyed:
            duplicated.add(key)
            loose.append(keyed.pop(key))
            loose.append(index)
        else:
            keyed[key] = index
    loose.sort()
    return keyed, loose


def _without_ignored(value: Any, state: _State | None) -> Any:
    """A copy of value with every ignored sub-path removed (for order-insensitive matching)."""
    if state is None:
        return value
    if state.shallow and type(value) is dict:
        stripped = value.copy()
        for key in state.strip_keys:
            stripped.pop(key, None)
        return stripped
    if isinstance(value, Mapping):
        kept = {}
        for key, item in value.items():
            child = state.step(key)
            if child is None:
                kept[key] = item
            elif not child.ignored:
                kept[key] = _without_ignored(item, child)
        return kept
    if isinstance(value, (list, tuple)):
        kept_items = []
        for index, item in enumerate(value):
            child = state.step(index)
            if child is None:
                kept_items.append(item)
            elif not child.ignored:
                kept_items.append(_without_ignored(item, child))
        return kept_items
    return value


class CompiledRules:
    """Rules precompiled for the hot path; build with compile_rules() once per rule set."""

    def __init__(self, rules: CompareRules) -> None:
        self.rules = rules
        automaton = _Automaton()
        ignored_headers: set[str] = set()
        self.status_ignored = False
        for pattern in rules.ignore_paths:
            if pattern == _STATUS_PATH:
                self.status_ignored = True
            elif pattern.lower().startswith(_HEADER_PREFIX):
                ignored_headers.add(pattern[len(_HEADER_PREFIX):].lower())
            else:
                automaton.add(_body_pattern("ignore_paths", pattern)).ignored = True
        for pattern, key_field in rules.array_keys.items():
            automaton.add(_body_pattern("array_keys", pattern)).array_key = key_field
        for pattern in rules.unordered_arrays:
            automaton.add(_body_pattern("unordered_arrays", pattern)).unordered = True
        for pattern in rules.ordered_arrays:
            automaton.add(_body_pattern("ordered_arrays", pattern)).ordered = True
        for pattern in rules.decimal_equivalence_paths:
            automaton.add(_body_pattern("decimal_equivalence", pattern)).decimal_equivalence = True
        for pattern, tolerance in rules.tolerance_paths.items():
            automaton.add(_body_pattern("tolerance", pattern)).tolerance = tolerance
        self.start = automaton.start()
        self.headers = frozenset(name.lower() for name in rules.headers) - ignored_headers
        self.loose = _Engine(rules, strict=False)
        self.strict = _Engine(rules, strict=True)

    def body_ignored(self) -> bool:
        return self.start is not None and self.start.ignored


def compile_rules(rules: CompareRules | Mapping[str, Any] | None = None) -> CompiledRules:
    """Precompile rules (a CompareRules, a config dict, or None for defaults)."""
    if rules is None:
        rules = CompareRules()
    elif not isinstance(rules, CompareRules):
        rules = rules_from_dict(rules)
    return CompiledRules(rules)


_DEFAULT_RULES = compile_rules()


def _as_compiled(rules: CompiledRules | CompareRules | None) -> CompiledRules:
    if isinstance(rules, CompiledRules):
        return rules
    if rules is None:
        return _DEFAULT_RULES
    return compile_rules(rules)  # slow path: callers in loops should compile once


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def _has_boolean(serialised: bytes) -> bool:
    # Over-approximation ("true" inside a string counts): only costs the strict, slower path.
    return b"true" in serialised or b"false" in serialised


def compare_documents(legacy: Any, candidate: Any,
                      rules: CompiledRules | CompareRules | None = None,
                      *, may_contain_booleans: bool | None = None) -> list[Difference]:
    """Differences between two parsed JSON values, in document order.

    ``may_contain_booleans`` lets a caller that has the raw text skip serialising again.
    """
    compiled = _as_compiled(rules)
    if compiled.body_ignored():
        return []
    if may_contain_booleans is None:
        try:
            legacy_text, candidate_text = orjson.dumps(legacy), orjson.dumps(candidate)
        except TypeError:
            may_contain_booleans = True  # non-JSON Python values: stay on the safe side
        else:
            if legacy_text == candidate_text:
                return []
            may_contain_booleans = _has_boolean(legacy_text) or _has_boolean(candidate_text)
    engine = compiled.strict if may_contain_booleans else compiled.loose
    out: list[Difference] = []
    if not engine.same(legacy, candidate):
        try:
            engine.values(legacy, candidate, "$", compiled.start, out)
        except RecursionError:
            # Hostile nesting (hundreds of levels): still a verdict, just not a structural one.
            return [Difference("$", DiffKind.CHANGED, legacy, candidate)]
    return out


_NOT_JSON = object()


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        return _NOT_JSON
    try:
        return exactjson.loads(body, keep_number_text=False)  # big integers and long decimals stay exact
    except ValueError:
        return _NOT_JSON


def _as_bytes(body: str | bytes | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"response body must be str or bytes, got {type(body).__name__}")


def _as_text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | None


def _wanted_headers(headers: HeaderInput, wanted: frozenset[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    if not headers:
        return found
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    for name, value in pairs:
        lowered = str(name).lower()
        if lowered in wanted:
            text = str(value).strip()
            # Repeated headers are one comma-joined value (RFC 9110 section 5.3).
            found[lowered] = f"{found[lowered]}, {text}" if lowered in found else text
    return found


def compare_responses(legacy_status: int, legacy_headers: HeaderInput,
                      legacy_body: str | bytes | None, candidate_status: int,
                      candidate_headers: HeaderInput, candidate_body: str | bytes | None,
                      rules: CompiledRules | CompareRules | None = None) -> list[Difference]:
    """Differences between two HTTP answers: status, whitelisted headers, then the body."""
    compiled = _as_compiled(rules)
    out: list[Difference] = []
    if (compiled.rules.compare_status and not compiled.status_ignored
            and legacy_status != candidate_status):
        out.append(Difference(_STATUS_PATH, DiffKind.STATUS, legacy_status, candidate_status))
    if compiled.headers:
        legacy_wanted = _wanted_headers(legacy_headers, compiled.headers)
        candidate_wanted = _wanted_headers(candidate_headers, compiled.headers)
        for name in sorted(compiled.headers):
            legacy_value, candidate_value = legacy_wanted.get(name), candidate_wanted.get(name)
            if legacy_value != candidate_value:
                out.append(Difference(_HEADER_PREFIX + name, DiffKind.HEADER, legacy_value,
                                      candidate_value))
    if out and out[0].kind is DiffKind.STATUS:
        # An error page against an answer: the body paths would only restate the status and
        # would split one fault into a group per route shape.
        return out
    legacy_bytes, candidate_bytes = _as_bytes(legacy_body), _as_bytes(candidate_body)
    if legacy_bytes == candidate_bytes or compiled.body_ignored():
        return out
    legacy_value = _parse_json(legacy_bytes)
    candidate_value = _parse_json(candidate_bytes)
    legacy_is_json = legacy_value is not _NOT_JSON
    candidate_is_json = candidate_value is not _NOT_JSON
    if legacy_is_json and candidate_is_json:
        booleans = _has_boolean(legacy_bytes) or _has_boolean(candidate_bytes)
        out.extend(compare_documents(legacy_value, candidate_value, compiled,
                                     may_contain_booleans=booleans))
    elif legacy_is_json or candidate_is_json:
        out.append(Difference("$", DiffKind.TYPE_CHANGED, _as_text(legacy_bytes),
                              _as_text(candidate_bytes)))
    else:
        out.append(Difference("$", DiffKind.CHANGED, _as_text(legacy_bytes),
                              _as_text(candidate_bytes)))
    return out


# --------------------------------------------------------------------------------------------
# Noise (two legacy answers disagree) and suppression
# --------------------------------------------------------------------------------------------


def noise_paths(legacy_a_diffs: Iterable[Difference]) -> list[str]:
    """Generalised patterns of the differences between two legacy answers to the same request."""
    return sorted({difference.pattern() for difference in legacy_a_diffs})


class _PathMatcher:
    def __init__(self, patterns: tuple[str, ...]) -> None:
        automaton = _Automaton()
        self.literals: set[str] = set()
        for pattern in patterns:
            if pattern.startswith("$"):
                automaton.add(_body_pattern("suppress", pattern)).ignored = True
            else:
                self.literals.add(pattern.lower())
        self.start = automaton.start()

    def matches(self, path: str) -> bool:
        if not path.startswith("$"):
            return path.lower() in self.literals
        state = self.start
        if state is None:
            return False
        if state.ignored:
            return True
        for segment in parse_pattern(path):
            state = state.step(segment)  # type: ignore[arg-type]
            if state is None:
                return False
            if state.ignored:
                return True  # a pattern covers this path or one of its ancestors
        return False


@lru_cache(maxsize=256)
def _path_matcher(patterns: tuple[str, ...]) -> _PathMatcher:
    return _PathMatcher(patterns)


def suppress(diffs: Iterable[Difference], patterns: Iterable[str]) -> list[Difference]:
    """The differences not covered by any pattern (a pattern also covers everything below it)."""
    matcher = _path_matcher(tuple(sorted(set(patterns))))
    return [difference for difference in diffs if not matcher.matches(difference.path)]


# --------------------------------------------------------------------------------------------
# Honest noise: a second legacy answer is evidence only where it is comparable
# --------------------------------------------------------------------------------------------


def _media_type(headers: HeaderInput) -> str:
    return _wanted_headers(headers, frozenset({"content-type"})).get("content-type", "").split(";", 1)[0] \
        .strip().lower()


def secondary_unusable_reason(legacy_status: int, legacy_headers: HeaderInput, legacy_body: str | bytes | None,
                              other_status: int, other_headers: HeaderInput,
                              other_body: str | bytes | None) -> str:
    """Why a second legacy answer cannot tell noise from a difference ("" when it can).

    It must be the same kind of answer as the legacy one: same status, same content type (when
    both name one), parsed the same way (JSON or not, same top-level type), and not empty where
    the legacy answer has content. An HTML error page or `{}` would otherwise "explain" every
    difference of the candidate.
    """
    if legacy_status != other_status:
        return f"status {other_status} where the legacy answered {legacy_status}"
    legacy_type, other_type = _media_type(legacy_headers), _media_type(other_headers)
    if legacy_type and other_type and legacy_type != other_type:
        return f"content type {other_type} where the legacy answered {legacy_type}"
    legacy_bytes, other_bytes = _as_bytes(legacy_body), _as_bytes(other_body)
    if legacy_bytes == other_bytes:
        return ""
    if legacy_bytes.strip() and not other_bytes.strip():
        return "an empty body where the legacy answer has one"
    legacy_value, other_value = _parse_json(legacy_bytes), _parse_json(other_bytes)
    if (legacy_value is _NOT_JSON) != (other_value is _NOT_JSON):
        return "a body not parsed the same way as the legacy one (JSON against not JSON)"
    if legacy_value is _NOT_JSON:
        return ""
    if _json_type(legacy_value) != _json_type(other_value):
        return f"a JSON {_json_type(other_value)} where the legacy answered a JSON {_json_type(legacy_value)}"
    if isinstance(legacy_value, (dict, list)) and legacy_value and not other_value:
        return f"an empty JSON {_json_type(other_value)} where the legacy one has content"
    return ""


def suppress_noise(diffs: Iterable[Difference], legacy_diffs: Iterable[Difference]) -> list[Difference]:
    """The candidate differences not explained by the same difference between two legacy answers.

    Explained means: the same generalised path with the same kind. Never the whole body (`$`), and
    never by a container above the difference (a list whose length varies between two legacy
    calls does not hide a changed amount inside it), nor by another kind at the same path (a
    timestamp that varies does not hide the candidate dropping it).
    """
    explained = {(d.pattern(), d.kind) for d in legacy_diffs if d.path != "$"}
    if not explained:
        return list(diffs)
    return [d for d in diffs if (d.pattern(), d.kind) not in explained]
