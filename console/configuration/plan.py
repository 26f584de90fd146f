"""What applying a configuration file would change: pure comparison of entries, no Django.

An entry is the JSON object a section exports for one row (natural key fields included); two
entries are compared as exported, so a file that was itself exported compares equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Action(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    NOT_IN_FILE = "not in file"  # kept: apply without --prune never deletes


@dataclass(frozen=True)
class Change:
    section: str
    label: str
    action: Action
    fields: tuple[str, ...] = field(default=())  # the fields an update changes

    def describe(self) -> str:
        changed = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.action.value:<11} {self.section}: {self.label}{changed}"


def compare_entry(section: str, label: str, current: Mapping[str, Any] | None,
                  desired: Mapping[str, Any]) -> Change:
    """Create, update (naming the fields) or unchanged, for one entry of the file."""
    if current is None:
        return Change(section, label, Action.CREATE)
    changed = tuple(sorted(name for name in desired.keys() | current.keys()
                           if desired.get(name) != current.get(name)))
    return Change(section, label, Action.UPDATE if changed else Action.UNCHANGED, changed)


def leftovers(section: str, labels: Iterable[str], *, prune: bool) -> list[Change]:
    """Rows the file does not mention: deleted with --prune, otherwise kept and listed."""
    action = Action.DELETE if prune else Action.NOT_IN_FILE
    return [Change(section, label, action) for label in sorted(labels)]


def summary(changes: Iterable[Change]) -> str:
    """One line: how many entries each action touches, in a fixed order."""
    counts = {action: 0 for action in Action}
    for change in changes:
        counts[change.action] += 1
    return ", ".join(f"{counts[action]} {action.value}" for action in Action if counts[action]) or "nothing"
