"""Schema building from introspected facts and admin overrides (pure), and introspection itself."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from verifiers.write.introspect import (
    TableFacts,
    TableOverride,
    TableOverrideError,
    build_schema,
    guess_version_column,
    introspect_tables,
    override_from_dict,
)
from verifiers.write.sqlcheck import TableMeta

FACTS = {
    "public.accounts": TableFacts("public", "accounts", ("id",), {"id": "bigint", "version": "integer",
                                                                   "updated_at": "timestamp with time zone"}),
    "public.entries": TableFacts("public", "entries", ("id",), {"id": "bigint", "transfer_id": "uuid"}),
    "ledger.holds": TableFacts("ledger", "holds", ("hold_id",), {"hold_id": "bigint",
                                                                   "modified_at": "timestamp with time zone"}),
    "public.nokey": TableFacts("public", "nokey", (), {"a": "text"}),
}


def test_introspected_primary_keys_become_table_meta():
    schema = build_schema(FACTS)
    assert schema["public.accounts"] == TableMeta(("id",), version_column="version")
    assert schema["accounts"] == schema["public.accounts"]
    assert schema["ledger.holds"].key_columns == ("hold_id",)


def test_table_without_key_is_left_out():
    assert "nokey" not in build_schema(FACTS)


def test_integer_version_wins_over_timestamp():
    assert guess_version_column({"version": "integer", "updated_at": "timestamp with time zone"}) == "version"
    assert guess_version_column({"modified_at": "timestamp with time zone"}) == "modified_at"
    assert guess_version_column({"version": "text"}) is None
    # MySQL: a DATETIME updated_at is a wall time of the application's zone, not comparable to the commit.
    zoneless = {"updated_at": "timestamp without time zone"}
    assert guess_version_column(zoneless) == "updated_at"
    assert guess_version_column(zoneless, zoneless_timestamps=False) is None
    assert guess_version_column({"updated_at": "timestamp with time zone"}, zoneless_timestamps=False) == "updated_at"


def test_override_replaces_key_and_adds_exclusions():
    override = TableOverride("entries", key_columns=("transfer_id", "account_id"),
                             excluded_columns=frozenset({"id", "created_at"}))
    meta = build_schema(FACTS, [override])["entries"]
    assert meta.key_columns == ("transfer_id", "account_id")
    assert meta.excluded_columns == {"id", "created_at"}


def test_override_gives_a_key_to_a_table_without_one():
    schema = build_schema(FACTS, [TableOverride("nokey", key_columns=("a",))])
    assert schema["nokey"].key_columns == ("a",)


def test_override_for_an_unseen_table_is_used_alone():
    schema = build_schema({}, [TableOverride("elsewhere.t", key_columns=("k",), version_column="v")])
    assert schema["elsewhere.t"] == TableMeta(("k",), version_column="v")


@pytest.mark.parametrize(("keys", "version", "excluded", "message"), [
    ("id", "", [], "key_columns"),
    (["id", ""], "", [], "key_columns"),
    ([], 3, [], "version_column"),
    ([], "", {"a": 1}, "excluded_columns"),
])
def test_malformed_override_names_the_field(keys, version, excluded, message):
    with pytest.raises(TableOverrideError, match=message):
        override_from_dict("accounts", keys, version, excluded)


def test_introspection_reads_keys_and_types_of_the_demo_ledger(ledger_dsn):
    with psycopg.connect(ledger_dsn, row_factory=dict_row) as conn:  # as the checker opens it
        facts = introspect_tables(conn)
    assert facts["public.accounts"].primary_key == ("id",)
    assert facts["public.accounts"].column_types["version"] == "integer"
    assert facts["public.entries"].primary_key == ("id",)
    assert build_schema(facts)["accounts"].version_column == "version"
