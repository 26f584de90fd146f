"""Side-by-side display of two JSON documents with the differing paths highlighted, line by line.

Pure: the group page turns the lines into HTML. The document is pretty-printed the way
`json.dumps(value, indent=2, ensure_ascii=False)` does, while tracking the JSON path of every
line, so a highlight lands on the exact member or element that differs (not on every line that
happens to contain the same key name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from verifiers.read.compare import child_path

# Which side shows a difference of each kind (array-level kinds mark the array's opening line).
LEGACY_SIDE_KINDS = frozenset({"changed", "type_changed", "missing", "order_only", "length"})
CANDIDATE_SIDE_KINDS = frozenset({"changed", "type_changed", "extra", "order_only", "length"})
CONTAINER_KINDS = frozenset({"order_only", "length"})
INDENT = "  "


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    highlighted: bool


@dataclass(frozen=True, slots=True)
class Highlights:
    """Paths whose whole subtree is highlighted, and container paths marked on their first line."""

    subtrees: frozenset[str]
    openers: frozenset[str]


def highlights_for(differences: Iterable[Mapping[str, Any]], side: str) -> Highlights:
    """The highlights of one side ('legacy' or 'candidate') for a sample's stored differences."""
    kinds = LEGACY_SIDE_KINDS if side == "legacy" else CANDIDATE_SIDE_KINDS
    subtrees: set[str] = set()
    openers: set[str] = set()
    for difference in differences:
        path, kind = str(difference.get("path", "")), str(difference.get("kind", ""))
        if not path.startswith("$") or kind not in kinds:
            continue
        (openers if kind in CONTAINER_KINDS else subtrees).add(path)
    return Highlights(frozenset(subtrees), frozenset(openers))


def pretty_lines(value: Any, highlights: Highlights) -> list[Line]:
    """`value` pretty-printed, one Line per output line, highlighted where it differs."""
    lines: list[Line] = []

    def emit(depth: int, text: str, marked: bool) -> None:
        lines.append(Line(INDENT * depth + text, marked))

    def walk(node: Any, path: str, depth: int, prefix: str, suffix: str, inherited: bool) -> None:
        marked = inherited or path in highlights.subtrees
        opener = marked or path in highlights.openers
        if isinstance(node, dict) and node:
            emit(depth, prefix + "{", opener)
            items = list(node.items())
            for index, (key, child) in enumerate(items):
                key_text = json.dumps(key, ensure_ascii=False) + ": "
                walk(child, child_path(path, str(key)), depth + 1, key_text,
                     "," if index < len(items) - 1 else "", marked)
            emit(depth, "}" + suffix, marked)
        elif isinstance(node, list) and node:
            emit(depth, prefix + "[", opener)
            for index, child in enumerate(node):
                walk(child, child_path(path, index), depth + 1, "", "," if index < len(node) - 1 else "", marked)
            emit(depth, "]" + suffix, marked)
        else:
            emit(depth, prefix + json.dumps(node, ensure_ascii=False, default=str) + suffix, opener)

    walk(value, "$", 0, "", "", False)
    return lines
