"""Pure tests of the reconciliation SQL builders: quoting, range bounds, plans, parameters."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from psycopg import sql

from verifiers.reconcile.balances import KeyRange, ReconciliationInputError, mapping_from_dict
from verifiers.reconcile.ledger_sql import (
    build_cutoff_balances_query,
    build_key_percentiles_query,
    build_range_query,
    range_query_params,
)
from verifiers.tests.ledger_mapping import MAPPING, MAPPING_DICT


def render(statement: sql.Composable) -> str:
    # as_string(None) renders identifiers without a connection (psycopg >= 3.2).
    return statement.as_string(None)


def test_range_query_quotes_identifiers_and_qualifies_schema() -> None:
    text = render(build_range_query(MAPPING, KeyRange(0, 2, None, 500)))
    assert '"ledger"."accounts"' in text
    assert '"a"."balance"' in text
    assert "MATERIALIZED" in text


def test_range_query_has_only_bounds_the_range_has() -> None:
    first = render(build_range_query(MAPPING, KeyRange(0, 2, None, 500)))
    assert "%(upper)s" in first and "%(lower)s" not in first
    middle = render(build_range_query(MAPPING, KeyRange(1, 3, 10, 20)))
    assert "%(upper)s" in middle and "%(lower)s" in middle
    whole = render(build_range_query(MAPPING, KeyRange(0, 1, None, None)))
    assert "%(upper)s" not in whole and "%(lower)s" not in whole


def test_range_query_without_opening_balance_journal_starts_at_zero() -> None:
    mapping = mapping_from_dict({**MAPPING_DICT, "opening_balance_column": None})
    text = render(build_range_query(mapping, KeyRange(0, 1, None, None)))
    assert "opening_balance" not in text
    assert "0 + coalesce(e.sum_before, 0)" in text


def test_range_query_lateral_plan_correlates_on_account_key() -> None:
    text = render(build_range_query(MAPPING, KeyRange(0, 1, None, None), plan="lateral"))
    assert 'LATERAL' in text and '"account_id" = "a"."id"' in text


def test_range_query_rejects_unknown_plan() -> None:
    with pytest.raises(ReconciliationInputError, match="unknown range plan"):
        build_range_query(
            MAPPING, KeyRange(0, 1, None, None), plan="hash"  # type: ignore[arg-type]
        )


def test_cutoff_balances_query_orders_by_account() -> None:
    text = render(build_cutoff_balances_query(MAPPING, KeyRange(0, 1, None, None)))
    assert text.rstrip().endswith("ORDER BY account_key")


def test_percentiles_query_takes_fractions_parameter() -> None:
    assert "%(fractions)s" in render(build_key_percentiles_query(MAPPING))


def test_range_query_params_include_only_present_bounds() -> None:
    cutoff = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert range_query_params(cutoff, KeyRange(0, 2, None, 9), 5) == {
        "cutoff": cutoff, "cap": 5, "upper": 9
    }


def test_range_query_params_reject_negative_cap() -> None:
    with pytest.raises(ReconciliationInputError, match="diff_cap"):
        range_query_params(
            datetime(2024, 1, 1, tzinfo=timezone.utc), KeyRange(0, 1, None, None), -1
        )
