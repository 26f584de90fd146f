"""Configuration as code with two migrations: every owned entry names its migration, and export then
apply on an empty database gives the same configuration (issue 15 items 1 and 4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from console.alerts.models import AlertRecipient, AlertRule
from console.models import Migration
from console.tests.test_configuration import apply, empty_the_database, export
from verifiers.models import LedgerSource, Route

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
OWNED_SECTIONS = ("systems", "routes", "verified_databases", "write_tables", "ledger_sources")


def readme_example() -> dict:
    """The README's two-migration configuration file (the example the operators copy)."""
    text = README.read_text()
    section = text[text.index("## Configuration as code"):]
    blocks = re.findall(r"```json\n(.*?)```", section, re.S)
    documents = [json.loads(block) for block in blocks]
    return next(document for document in documents if len(document.get("migrations", [])) == 2)


def test_the_readme_file_for_two_migrations_applies_and_round_trips(tmp_path):
    apply(tmp_path, readme_example())
    assert sorted(Migration.objects.values_list("slug", flat=True)) == ["fx-deposits", "won-deposits"]
    # The same route template and database name in both, each its migration's own.
    assert Route.objects.filter(template="/accounts/{id}/balance").count() == 2
    assert set(LedgerSource.objects.values_list("migration__slug", "name")) == {
        ("won-deposits", "won ledger"), ("fx-deposits", "fx ledger")}
    assert AlertRule.objects.get(migration__slug="fx-deposits").threshold == 0.01
    assert AlertRecipient.objects.get(migration=None).email == "programme@bank.example"

    exported = export()
    for name in OWNED_SECTIONS:
        assert exported[name] and all(entry["migration"] in ("won-deposits", "fx-deposits")
                                      for entry in exported[name]), name
    empty_the_database()
    Migration.objects.all().delete()
    apply(tmp_path, exported)
    assert export() == exported


def test_an_owned_entry_without_its_migration_is_refused_when_there_are_several(tmp_path):
    document = readme_example()
    del document["routes"][0]["migration"]
    with pytest.raises(Exception, match=r"routes\[0\].*migration is required \(the console has several\)"):
        apply(tmp_path, document)
