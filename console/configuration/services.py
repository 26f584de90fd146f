"""Export the configuration to one document, and apply a document in one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.deletion import ProtectedError, RestrictedError

from console.configuration.plan import Action, Change, compare_entry, leftovers
from console.configuration.sections import ConfigError, Section, registered_sections

FORMAT_VERSION = 1


# --- export -----------------------------------------------------------------------------------

def export_configuration() -> dict[str, Any]:
    """Every registered section's rows as JSON-ready entries, in a stable order."""
    document: dict[str, Any] = {"format": FORMAT_VERSION}
    for section in registered_sections():
        entries = [export_entry(section, row) for row in section.model._default_manager.all()]
        document[section.name] = sorted(entries, key=lambda entry: _label(section, entry))
    return document


def export_entry(section: Section, row: models.Model) -> dict[str, Any]:
    return {name: _exported_value(section, row, name) for name in (*section.key, *section.fields)}


def _exported_value(section: Section, row: models.Model, name: str) -> Any:
    if name in section.references:
        related = getattr(row, name)
        return None if related is None else _natural_key_value(_section(section.references[name]), related)
    return _json_value(getattr(row, name))


def _natural_key_value(section: Section, row: models.Model) -> Any:
    values = [_exported_value(section, row, name) for name in section.key]
    return values[0] if len(values) == 1 else values


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _label(section: Section, entry: dict[str, Any]) -> str:
    return " ".join(str(entry[name]) for name in section.key if entry.get(name) is not None)


def _section(name: str) -> Section:
    return next(section for section in registered_sections() if section.name == name)


# --- apply ------------------------------------------------------------------------------------

def apply_configuration(document: Any, *, prune: bool = False, dry_run: bool = False) -> list[Change]:
    """Create or update what the document lists (and, with prune, delete what it does not), all or
    nothing. A section absent from the document is left alone. A dry run validates everything the
    same way and rolls back. ConfigError names the first bad entry and field."""
    sections = registered_sections()
    if not isinstance(document, dict):
        raise ConfigError("the file must hold a JSON object of section name -> list of entries")
    unknown = set(document) - {section.name for section in sections} - {"format"}
    if unknown:
        raise ConfigError(f"unknown section(s) {sorted(unknown)}; known: {sorted(s.name for s in sections)}")
    if document.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        raise ConfigError(f"format {document['format']!r} is not supported; this console reads format {FORMAT_VERSION}")
    changes: list[Change] = []
    with transaction.atomic():
        for section in sections:
            if section.name in document:
                changes += _apply_section(section, document[section.name], prune=prune)
        if dry_run:
            transaction.set_rollback(True)
    return changes


def _apply_section(section: Section, entries: Any, *, prune: bool) -> list[Change]:
    if not isinstance(entries, list):
        raise ConfigError(f"section {section.name!r} must be a list of entries")
    changes: list[Change] = []
    applied: set[Any] = set()
    for index, raw in enumerate(entries):
        change, pk = _apply_entry(section, raw, f"{section.name}[{index}]", applied)
        changes.append(change)
        applied.add(pk)
    rest = list(section.model._default_manager.exclude(pk__in=applied))
    labels = {_label(section, export_entry(section, row)): row for row in rest}
    changes += leftovers(section.name, labels, prune=prune)
    if prune:
        for label, row in labels.items():
            try:
                row.delete()
            except (ProtectedError, RestrictedError) as error:
                raise ConfigError(f"{section.name}: cannot delete {label}: {error.args[0]}") from None
            if section.after_delete:
                section.after_delete(row)
    return changes


def _apply_entry(section: Section, raw: Any, where: str, applied: set[Any]) -> tuple[Change, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be an object")
    unknown = set(raw) - section.allowed
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; allowed {sorted(section.allowed)}")
    entry = section.normalise(dict(raw)) if section.normalise else dict(raw)
    # A reference in a key may be null where the model allows it (an alert rule for every migration).
    missing = [name for name in section.key if entry.get(name) in (None, "") and name not in section.references]
    if missing:
        raise ConfigError(f"{where}: {', '.join(missing)} is required")
    label = _label(section, entry)
    where = f"{where} ({label})"
    if section.check:
        try:
            section.check(entry)
        except (ConfigError, ValueError) as error:
            raise ConfigError(f"{where}: {error}") from None
    values = {name: _resolve(section, name, value, where) for name, value in entry.items()}
    for name in section.key:
        if values.get(name) is None:
            values[name] = _unnamed_reference(section, name, where)
    lookup = {name: values[name] for name in section.key}
    existing = section.model._default_manager.filter(**lookup).first()
    if existing is not None and existing.pk in applied:
        raise ConfigError(f"{where}: listed twice")
    before = export_entry(section, existing) if existing else None
    row = existing or section.model()
    for name, value in values.items():
        setattr(row, name, value)
    try:
        row.full_clean(validate_unique=False)
    except ValidationError as error:
        raise ConfigError(f"{where}: {_validation_text(error)}") from None
    change = compare_entry(section.name, label, before, export_entry(section, row))
    if change.action != Action.UNCHANGED:
        row.save()
        if section.after_save:
            section.after_save(row)
    return change, row.pk


def _resolve(section: Section, name: str, value: Any, where: str) -> Any:
    """A reference by natural key becomes the related row (which earlier sections applied)."""
    if name not in section.references or value is None:
        return value
    target = _section(section.references[name])
    key_values = value if isinstance(value, list) else [value]
    if len(key_values) != len(target.key):
        raise ConfigError(f"{where}: {name} must name a {target.name} entry by {', '.join(target.key)}")
    related = target.model._default_manager.filter(**dict(zip(target.key, key_values))).first()
    if related is None:
        raise ConfigError(f"{where}: {name} {value!r} is not a known {target.name} entry")
    return related


def _unnamed_reference(section: Section, name: str, where: str) -> Any:
    """A key reference left out: null where the model allows it, else the field's default (a
    console's only migration); with no default (several migrations) the entry must name it."""
    field = section.model._meta.get_field(name)
    assert isinstance(field, models.ForeignKey) and field.related_model is not None
    if field.null:
        return None
    default = field.get_default()
    if default is None:
        raise ConfigError(f"{where}: {name} is required (the console has several)")
    related: type[models.Model] = field.related_model  # type: ignore[assignment]
    return related._default_manager.get(pk=default)


def _validation_text(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(f"{name}: {' '.join(messages)}" if name != "__all__" else " ".join(messages)
                         for name, messages in error.message_dict.items())
    return " ".join(error.messages)
