"""The registry of configuration sections: which model rows a section holds and how they are keyed.

A part registers its sections in AppConfig.ready(). Fields are listed explicitly (the rest of a
model is observed state or history, never configuration); `state_fields` names what is left out on
purpose, so a test can catch a new model field that was forgotten in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import models


class ConfigError(Exception):
    """An entry of a configuration file is invalid; the message names the entry and the field."""


@dataclass(frozen=True)
class Section:
    name: str
    model: type[models.Model]
    key: tuple[str, ...]  # natural key; a foreign key appears as the related section's key value
    fields: tuple[str, ...]  # configured fields besides the key
    state_fields: tuple[str, ...] = ()  # model fields that are not configuration (see module doc)
    references: dict[str, str] = field(default_factory=dict)  # foreign key field -> section name
    # Normalises a file entry before it is applied (e.g. upper-cases an HTTP method).
    normalise: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    # Checks beyond the model's own validation; raises ConfigError or ValueError with the reason.
    check: Callable[[dict[str, Any]], None] | None = None
    # Runs after a row was saved (schedules, caches); never for a dry run's rolled-back rows.
    after_save: Callable[[Any], None] | None = None
    after_delete: Callable[[Any], None] | None = None

    @property
    def allowed(self) -> set[str]:
        return set(self.key) | set(self.fields)


_SECTIONS: dict[str, Section] = {}


def register_section(section: Section) -> None:
    """Sections apply in registration order; a section must follow those it references."""
    for target in section.references.values():
        if target not in _SECTIONS:
            raise RuntimeError(f"section {section.name!r} references {target!r}, which is not registered before it")
    _SECTIONS[section.name] = section


def registered_sections() -> list[Section]:
    return list(_SECTIONS.values())
