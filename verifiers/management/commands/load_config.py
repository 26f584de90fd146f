"""Load systems and routes (and other parts' sections) from a JSON file; idempotent upserts.

    manage.py load_config FILE

    {"systems": [{"name": "candidate", "role": "candidate", "base_url": "http://127.0.0.1:8102",
                  "timeout_ms": 2000, "max_concurrency": 64, "headers_to_add": {"X-Shadow": "1"},
                  "enabled": true}],
     "routes": [{"method": "GET", "template": "/accounts/{id}/balance", "enabled": true,
                 "sampling_ratio": 1.0, "active_from": "08:00", "active_until": "20:00",
                 "severity": "high", "rules": {"ignore_paths": ["$.traceId"]}}]}

Other parts add a loader to SECTION_LOADERS (section name -> function(list of entries) -> count).
Every entry is validated first; the file is applied in one transaction or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from verifiers.models import Route, System
from verifiers.read.compare import RulesError, rules_from_dict


class ConfigError(Exception):
    """A config entry is invalid; the message names it."""


SYSTEM_FIELDS = {"name", "role", "base_url", "timeout_ms", "max_concurrency", "headers_to_add", "enabled"}
ROUTE_FIELDS = {"method", "template", "enabled", "sampling_ratio", "active_from", "active_until", "rules",
                "severity", "mismatch_rate_alert"}


def _check_fields(entry: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be an object")
    unknown = set(entry) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    return entry


def _save(instance, where: str) -> None:
    try:
        instance.full_clean(validate_unique=False)
    except ValidationError as error:
        raise ConfigError(f"{where}: {'; '.join(f'{k}: {v}' for k, v in error.message_dict.items())}") from None
    instance.save()


def load_systems(entries: list[Any]) -> int:
    for index, entry in enumerate(entries):
        entry = _check_fields(entry, SYSTEM_FIELDS, f"systems[{index}]")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"systems[{index}]: name is required")
        system = System.objects.filter(name=name).first() or System(name=name)
        for key, value in entry.items():
            setattr(system, key, value)
        _save(system, f"systems[{index}] ({name})")
    return len(entries)


def load_routes(entries: list[Any]) -> int:
    for index, entry in enumerate(entries):
        entry = _check_fields(entry, ROUTE_FIELDS, f"routes[{index}]")
        template = entry.get("template")
        method = str(entry.get("method", "GET")).upper()
        where = f"routes[{index}] ({method} {template})"
        if not isinstance(template, str):
            raise ConfigError(f"routes[{index}]: template is required")
        try:
            rules_from_dict(entry.get("rules", {}))
        except RulesError as error:
            raise ConfigError(f"{where}: rules: {error}") from None
        route = Route.objects.filter(method=method, template=template).first() or Route(method=method, template=template)
        for key, value in entry.items():
            if key != "method":
                setattr(route, key, value)
        _save(route, where)
    return len(entries)


def load_write_tables(entries: list[Any]) -> int:
    from verifiers.write.services import WriteConfigError, load_write_table_rules

    try:
        return load_write_table_rules(entries=entries)
    except WriteConfigError as error:
        raise ConfigError(str(error)) from None


SECTION_LOADERS: dict[str, Callable[[list[Any]], int]] = {
    "systems": load_systems,
    "routes": load_routes,
    "write_tables": load_write_tables,
}


def load_config(document: Any) -> dict[str, int]:
    """Apply a config document in one transaction; ConfigError names the bad entry."""
    if not isinstance(document, dict):
        raise ConfigError("the config file must hold a JSON object of section -> list")
    unknown = set(document) - set(SECTION_LOADERS)
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: {sorted(SECTION_LOADERS)}")
    counts: dict[str, int] = {}
    with transaction.atomic():
        for section, loader in SECTION_LOADERS.items():
            if section in document:
                if not isinstance(document[section], list):
                    raise ConfigError(f"section {section!r} must be a list")
                counts[section] = loader(document[section])
    return counts


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options) -> None:
        try:
            document = json.loads(file.read_text())
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error}") from None
        except ValueError as error:
            raise CommandError(f"{file} is not JSON: {error}") from None
        try:
            counts = load_config(document)
        except ConfigError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(", ".join(f"{section}: {n}" for section, n in counts.items()) or "nothing to load")
