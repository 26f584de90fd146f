"""Which migration an ingest request belongs to (pure: `pytest -p no:django`)."""

from __future__ import annotations

import pytest

from console.ingest_scope import IngestScopeError, choose_migration

KNOWN = ["fx", "won"]


def test_one_migration_needs_nothing_named():
    assert choose_migration(named=None, token_slug=None, known=["default"]) == "default"
    assert choose_migration(named=None, token_slug=None, known=[]) is None


def test_several_migrations_and_none_named_is_refused_naming_them():
    with pytest.raises(IngestScopeError, match=r"name the migration \(\?migration=<slug>\): fx, won") as caught:
        choose_migration(named=None, token_slug=None, known=KNOWN)
    assert caught.value.status == 400


@pytest.mark.parametrize("named", ["gl", " "])
def test_an_unknown_or_empty_slug_names_the_known_ones(named):
    with pytest.raises(IngestScopeError, match="known migrations: fx, won") as caught:
        choose_migration(named=named, token_slug=None, known=KNOWN)
    assert caught.value.status == 400


def test_a_limited_token_files_under_its_migration_and_refuses_another():
    assert choose_migration(named=None, token_slug="won", known=KNOWN) == "won"
    assert choose_migration(named="won", token_slug="won", known=KNOWN) == "won"
    with pytest.raises(IngestScopeError, match="limited to migration 'won'; it cannot ingest into 'fx'") as caught:
        choose_migration(named="fx", token_slug="won", known=KNOWN)
    assert caught.value.status == 403
