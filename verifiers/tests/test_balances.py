"""Pure tests of the reconciliation arithmetic, mapping, key ranges, cut-off and CSV parsing."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from verifiers.reconcile.balances import (
    AccountDifference,
    CounterpartCsvError,
    CurrencyTotals,
    CutoffError,
    KeyRange,
    MappingError,
    PartialsError,
    RangeResult,
    ReconciliationInputError,
    combine_partials,
    compare_with_counterpart,
    cutoff_instant,
    cutoff_parameter,
    latest_cutoff,
    mapping_from_dict,
    mapping_problems,
    parse_counterpart_csv,
    percentile_fractions,
    range_result_from_rows,
    ranges_from_boundaries,
    reconciliation_status,
    split_integer_keys,
    validate_cutoff,
)
from verifiers.tests.ledger_mapping import MAPPING, MAPPING_DICT

SEOUL_OFFSET = timedelta(hours=9)


GOOD_COLUMNS = {
    "ledger.accounts": {
        "id": "bigint",
        "balance": "numeric",
        "currency": "character",
        "opening_balance": "numeric",
        "version": "integer",
    },
    "entries": {
        "id": "bigint",
        "account_id": "bigint",
        "amount": "numeric",
        "business_time": "timestamp with time zone",
    },
}


def columns_with(table: str, **changes: str | None) -> dict[str, dict[str, str]]:
    columns = {t: dict(c) for t, c in GOOD_COLUMNS.items()}
    for column, data_type in changes.items():
        if data_type is None:
            del columns[table][column]
        else:
            columns[table][column] = data_type
    return columns


# ---------------------------------------------------------------------------------- mapping


def test_mapping_from_dict_keeps_optional_columns_none_when_absent() -> None:
    assert MAPPING.version_column is None
    assert MAPPING.opening_balance_column == "opening_balance"
    assert MAPPING.accounts_table == "ledger.accounts"


def test_mapping_from_dict_rejects_unknown_key_naming_it() -> None:
    with pytest.raises(MappingError, match="unknown keys: balanse"):
        mapping_from_dict({**MAPPING_DICT, "balanse": "x"})


def test_mapping_from_dict_lists_every_missing_required_key() -> None:
    raw = dict(MAPPING_DICT)
    del raw["entries_table"], raw["entry_time_column"]
    with pytest.raises(MappingError) as caught:
        mapping_from_dict(raw)
    assert "entries_table" in str(caught.value) and "entry_time_column" in str(caught.value)


def test_a_single_currency_ledger_gives_a_code_instead_of_a_column() -> None:
    raw = {k: v for k, v in MAPPING_DICT.items() if k != "currency_column"}
    mapping = mapping_from_dict({**raw, "currency_code": "usd"})
    assert mapping.currency_code == "USD" and mapping.currency_column is None
    assert mapping_from_dict(MAPPING_DICT).business_time_zone == "UTC"
    with pytest.raises(MappingError, match="either currency_column .* or currency_code"):
        mapping_from_dict(raw)
    with pytest.raises(MappingError, match="not both or neither"):
        mapping_from_dict({**MAPPING_DICT, "currency_code": "USD"})
    with pytest.raises(MappingError, match="'US' is not a 3-letter currency code"):
        mapping_from_dict({**raw, "currency_code": "US"})


def test_the_business_time_zone_must_be_an_iana_name() -> None:
    assert mapping_from_dict({**MAPPING_DICT, "business_time_zone": "Asia/Seoul"}).business_time_zone == "Asia/Seoul"
    with pytest.raises(MappingError, match="business_time_zone: unknown time zone '\\+09:00'"):
        mapping_from_dict({**MAPPING_DICT, "business_time_zone": "+09:00"})


@pytest.mark.parametrize(
    "key, value",
    [
        ("balance_column", "balance; DROP TABLE accounts"),
        ("balance_column", 'bal"ance'),
        ("balance_column", "1balance"),
        ("balance_column", "public.balance"),
        ("accounts_table", "a.b.c"),
        ("accounts_table", ""),
    ],
)
def test_mapping_from_dict_rejects_unsafe_identifiers(key: str, value: str) -> None:
    with pytest.raises(MappingError):
        mapping_from_dict({**MAPPING_DICT, key: value})


def test_mapping_from_dict_rejects_non_string_identifier() -> None:
    with pytest.raises(MappingError, match="must be a string"):
        mapping_from_dict({**MAPPING_DICT, "account_key": 3})


def test_mapping_error_is_a_reconciliation_input_error() -> None:
    assert issubclass(MappingError, ReconciliationInputError)


def test_mapping_problems_empty_for_fitting_schema() -> None:
    assert mapping_problems(MAPPING, GOOD_COLUMNS) == []


def test_mapping_problems_reports_missing_table() -> None:
    columns = {"ledger.accounts": GOOD_COLUMNS["ledger.accounts"]}
    assert mapping_problems(MAPPING, columns) == ["table entries not found"]


def test_mapping_problems_reports_missing_column_and_lists_available() -> None:
    problems = mapping_problems(MAPPING, columns_with("entries", amount=None))
    assert len(problems) == 1
    assert "entries.amount (entry amount) not found" in problems[0]
    assert "business_time" in problems[0]


def test_mapping_problems_rejects_float_money() -> None:
    columns = columns_with("ledger.accounts", balance="double precision")
    problems = mapping_problems(MAPPING, columns)
    assert problems == [
        "column ledger.accounts.balance (balance) is double precision; money must be numeric "
        "or an integer type (exact), not floating point or text"
    ]


def test_mapping_problems_accepts_integer_minor_units() -> None:
    assert mapping_problems(MAPPING, columns_with("entries", amount="bigint")) == []


def test_mapping_problems_rejects_date_business_time() -> None:
    problems = mapping_problems(MAPPING, columns_with("entries", business_time="date"))
    assert len(problems) == 1 and "expected timestamp" in problems[0]


def test_mapping_problems_rejects_unorderable_key() -> None:
    problems = mapping_problems(MAPPING, columns_with("ledger.accounts", id="json"))
    assert any("an account key must be" in p for p in problems)


def test_mapping_problems_rejects_key_type_mismatch_between_tables() -> None:
    problems = mapping_problems(MAPPING, columns_with("entries", account_id="text"))
    assert problems == [
        "entries.account_id is text but ledger.accounts.id is bigint; "
        "entries cannot be joined to accounts"
    ]


def test_mapping_problems_checks_optional_version_column_exists() -> None:
    mapping = mapping_from_dict({**MAPPING_DICT, "version_column": "rev"})
    problems = mapping_problems(mapping, GOOD_COLUMNS)
    assert len(problems) == 1 and "ledger.accounts.rev (version) not found" in problems[0]


def test_mapping_problems_reports_each_problem_once() -> None:
    columns = columns_with("ledger.accounts", balance="text", currency="integer")
    assert len(mapping_problems(MAPPING, columns)) == 2


# ----------------------------------------------------------------------------- key ranges


def test_split_integer_keys_covers_everything_with_open_ends() -> None:
    ranges = split_integer_keys(1, 1000, 4)
    assert [(r.lower, r.upper) for r in ranges] == [
        (None, 251), (251, 501), (501, 751), (751, None)
    ]
    assert [r.index for r in ranges] == [0, 1, 2, 3]
    assert {r.count for r in ranges} == {4}


def test_split_integer_keys_with_fewer_keys_than_parts_drops_empty_ranges() -> None:
    ranges = split_integer_keys(5, 6, 4)
    assert [(r.lower, r.upper) for r in ranges] == [(None, 6), (6, None)]


def test_split_integer_keys_of_empty_table_is_one_unbounded_range() -> None:
    assert split_integer_keys(None, None, 3) == [KeyRange(0, 1, None, None)]


def test_split_integer_keys_rejects_zero_parts() -> None:
    with pytest.raises(ReconciliationInputError, match="parts must be at least 1"):
        split_integer_keys(1, 10, 0)


def test_ranges_from_boundaries_sorts_and_dedupes_text_keys() -> None:
    ranges = ranges_from_boundaries(["m", "c", "m"])
    assert [(r.lower, r.upper) for r in ranges] == [(None, "c"), ("c", "m"), ("m", None)]


def test_percentile_fractions_are_inner_cut_points() -> None:
    assert percentile_fractions(4) == [0.25, 0.5, 0.75]
    assert percentile_fractions(1) == []


def test_key_range_round_trips_through_json() -> None:
    key_range = KeyRange(1, 3, "acc-100", "acc-200")
    assert KeyRange.from_dict(json.loads(json.dumps(key_range.to_dict()))) == key_range


# ---------------------------------------------------------------------------- cut-off


def test_cutoff_instant_defaults_to_seoul_midnight() -> None:
    instant = cutoff_instant(date(2024, 3, 1))
    assert instant.utcoffset() == SEOUL_OFFSET
    assert instant.astimezone(timezone.utc) == datetime(2024, 2, 29, 15, 0, tzinfo=timezone.utc)


def test_cutoff_instant_honours_other_zone_and_time() -> None:
    instant = cutoff_instant(date(2024, 7, 1), time(23, 30), "Europe/London")
    assert instant.astimezone(timezone.utc) == datetime(2024, 7, 1, 22, 30, tzinfo=timezone.utc)


def test_cutoff_instant_rejects_unknown_zone_naming_it() -> None:
    with pytest.raises(CutoffError, match="unknown time zone 'Asia/Seul'"):
        cutoff_instant(date(2024, 1, 1), tz_name="Asia/Seul")


def test_cutoff_instant_rejects_path_like_zone() -> None:
    with pytest.raises(CutoffError, match="unknown time zone"):
        cutoff_instant(date(2024, 1, 1), tz_name="../../etc/passwd")


def test_validate_cutoff_rejects_future() -> None:
    now = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    with pytest.raises(CutoffError, match="is in the future"):
        validate_cutoff(now + timedelta(seconds=1), now)


def test_validate_cutoff_accepts_past_and_present() -> None:
    now = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    validate_cutoff(now, now)
    validate_cutoff(now - timedelta(days=1), now)


def test_validate_cutoff_rejects_naive() -> None:
    with pytest.raises(CutoffError, match="no time zone"):
        validate_cutoff(datetime(2024, 1, 1), datetime(2024, 1, 2, tzinfo=timezone.utc))


def test_latest_cutoff_before_midnight_seoul_is_previous_day() -> None:
    # 2024-03-01 23:59 Seoul is 14:59 UTC; the last cut-off is 2024-03-01 00:00 Seoul.
    now = datetime(2024, 3, 1, 14, 59, tzinfo=timezone.utc)
    assert latest_cutoff(now) == cutoff_instant(date(2024, 3, 1))


def test_latest_cutoff_just_after_midnight_seoul_is_today() -> None:
    now = datetime(2024, 3, 1, 15, 1, tzinfo=timezone.utc)
    assert latest_cutoff(now) == cutoff_instant(date(2024, 3, 2))


def test_the_cutoff_for_a_zoneless_column_is_a_wall_time_of_the_business_zone() -> None:
    stored = cutoff_instant(date(2024, 3, 2)).astimezone(timezone.utc)  # 00:00 Seoul, as saved
    zoneless = "timestamp without time zone"
    assert cutoff_parameter(stored, zoneless, "Asia/Seoul") == datetime(2024, 3, 2, 0, 0)
    # A fixed +09:00 offset is 9 hours east of UTC, never 9 hours west.
    fixed = datetime(2024, 3, 2, tzinfo=timezone(SEOUL_OFFSET))
    assert cutoff_parameter(fixed, zoneless, "Asia/Seoul") == datetime(2024, 3, 2, 0, 0)
    assert cutoff_parameter(fixed, zoneless, "UTC") == datetime(2024, 3, 1, 15, 0)
    assert cutoff_parameter(fixed, zoneless, "America/New_York") == datetime(2024, 3, 1, 10, 0)


def test_the_cutoff_for_a_zoned_column_is_the_instant_in_utc() -> None:
    fixed = datetime(2024, 3, 2, tzinfo=timezone(SEOUL_OFFSET))
    value = cutoff_parameter(fixed, "timestamp with time zone", "America/New_York")
    assert value == fixed and value.tzinfo is timezone.utc
    with pytest.raises(CutoffError):
        cutoff_parameter(datetime(2024, 3, 2), "timestamp with time zone", "UTC")


# ------------------------------------------------------------------------- counterpart CSV


def test_parse_counterpart_csv_reads_totals_as_decimals() -> None:
    totals = parse_counterpart_csv("currency,total\nKRW,1000.50\nusd,-3\n")
    assert totals == {"KRW": Decimal("1000.50"), "USD": Decimal("-3")}
    assert all(isinstance(v, Decimal) for v in totals.values())


def test_parse_counterpart_csv_allows_as_of_column_and_blank_lines() -> None:
    text = "\ufeffas_of,currency,total\n\n2024-01-01,JPY,12\n"
    assert parse_counterpart_csv(text) == {"JPY": Decimal("12")}


def test_parse_counterpart_csv_reports_bad_amount_with_line_number() -> None:
    text = 'currency,total\nKRW,1\nUSD,2\n"JPY","12,3x"\n'
    with pytest.raises(CounterpartCsvError) as caught:
        parse_counterpart_csv(text)
    assert caught.value.problems == ["line 4: amount '12,3x' is not a number"]


def test_parse_counterpart_csv_lists_every_bad_line() -> None:
    text = "currency,total\nKRWW,1\nUSD,abc\nEUR,1,2\nKRW,NaN\n"
    with pytest.raises(CounterpartCsvError) as caught:
        parse_counterpart_csv(text)
    assert caught.value.problems == [
        "line 2: currency 'KRWW' is not a 3-letter code",
        "line 3: amount 'abc' is not a number",
        "line 4: expected 2 fields, got 3",
        "line 5: amount 'NaN' is not a number",
    ]


def test_parse_counterpart_csv_rejects_duplicate_currency() -> None:
    with pytest.raises(CounterpartCsvError, match="line 3: currency KRW already given on line 2"):
        parse_counterpart_csv("currency,total\nKRW,1\nkrw,2\n")


def test_parse_counterpart_csv_rejects_wrong_header() -> None:
    with pytest.raises(CounterpartCsvError, match="header must be currency,total"):
        parse_counterpart_csv("ccy,amount\nKRW,1\n")


def test_parse_counterpart_csv_rejects_empty_text() -> None:
    with pytest.raises(CounterpartCsvError, match="empty file"):
        parse_counterpart_csv("")


# ---------------------------------------------------------------------------- arithmetic


def totals(accounts: int, balance: str, journal: str | None = None) -> CurrencyTotals:
    return CurrencyTotals(accounts, Decimal(balance), Decimal(journal or balance))


def part(index: int, count: int, **by_currency: CurrencyTotals) -> RangeResult:
    return RangeResult(KeyRange(index, count, None, None), dict(by_currency), [], 0)


def test_combine_partials_adds_totals_per_currency_exactly() -> None:
    combined = combine_partials(
        [
            part(0, 2, KRW=totals(2, "0.1"), USD=totals(1, "5")),
            part(1, 2, KRW=totals(3, "0.2")),
        ]
    )
    assert combined.totals == {"KRW": totals(5, "0.3"), "USD": totals(1, "5")}
    assert combined.accounts_checked == 6


def test_combine_partials_rejects_missing_range() -> None:
    with pytest.raises(PartialsError, match=r"missing range\(s\) \[2\] of 3"):
        combine_partials([part(0, 3), part(2, 3)])


def test_combine_partials_rejects_repeated_range() -> None:
    with pytest.raises(PartialsError, match="repeated"):
        combine_partials([part(0, 2), part(1, 2), part(1, 2)])


def test_combine_partials_names_a_missing_and_a_repeated_range_at_once() -> None:
    with pytest.raises(PartialsError) as raised:
        combine_partials([part(0, 3), part(1, 3), part(1, 3)])
    assert raised.value.problems == ["missing range(s) [3] of 3", "repeated range(s) [2]"]
    assert str(raised.value) == "missing range(s) [3] of 3; repeated range(s) [2]"


def test_combine_partials_rejects_parts_of_different_splits() -> None:
    with pytest.raises(PartialsError, match="different splits"):
        combine_partials([part(0, 2), part(1, 3)])


def test_combine_partials_rejects_nothing() -> None:
    with pytest.raises(PartialsError):
        combine_partials([])


def difference(key: int, diff: str) -> AccountDifference:
    ten = Decimal("10")
    return AccountDifference(key, "KRW", ten, ten + Decimal(diff), ten)


def test_combine_partials_keeps_differences_in_range_order_and_caps_them() -> None:
    second = RangeResult(KeyRange(1, 2, 100, None), {}, [difference(150, "1")], 1)
    first = RangeResult(KeyRange(0, 2, None, 100), {}, [difference(5, "2"), difference(7, "3")], 4)
    combined = combine_partials([second, first], diff_cap=2)
    assert [d.account_key for d in combined.differences] == [5, 7]
    assert combined.difference_count == 5


def test_account_difference_is_balance_at_cutoff_minus_journal() -> None:
    assert difference(1, "-0.0001").difference == Decimal("-0.0001")


def test_range_result_from_rows_splits_totals_and_differences() -> None:
    rows = [
        ("total", "KRW", 3, Decimal("30"), Decimal("29"), 1, None, None, None),
        ("difference", "KRW", None, Decimal("11"), Decimal("10"), None, 42, Decimal("15"), 7),
    ]
    result = range_result_from_rows(KeyRange(0, 1, None, None), rows)
    assert result.totals == {"KRW": totals(3, "30", "29")}
    assert result.differences == [
        AccountDifference(42, "KRW", Decimal("15"), Decimal("11"), Decimal("10"), 7)
    ]
    assert result.difference_count == 1 and result.accounts_checked == 3


def test_range_result_round_trips_through_json_keeping_decimals() -> None:
    result = RangeResult(
        KeyRange(0, 2, None, 100),
        {"KRW": totals(2, "12345678901234.5678", "12345678901234.5677")},
        [difference(9, "0.0001")],
        1,
        0.25,
    )
    restored = RangeResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert restored == result
    assert restored.totals["KRW"].balance_total == Decimal("12345678901234.5678")


def test_compare_with_counterpart_equal_totals_give_no_difference() -> None:
    ledger = {"KRW": totals(1, "100.00")}
    assert compare_with_counterpart(ledger, {"KRW": Decimal("100")}) == []


def test_compare_with_counterpart_reports_amount_difference() -> None:
    [diff] = compare_with_counterpart({"KRW": totals(1, "100")}, {"KRW": Decimal("99.99")})
    assert diff.currency == "KRW" and diff.difference == Decimal("0.01")


def test_compare_with_counterpart_reports_currency_missing_on_either_side() -> None:
    diffs = compare_with_counterpart({"KRW": totals(1, "5")}, {"USD": Decimal("7")})
    assert [(d.currency, d.ledger_total, d.counterpart_total) for d in diffs] == [
        ("KRW", Decimal("5"), None),
        ("USD", None, Decimal("7")),
    ]
    assert diffs[1].difference == Decimal("-7")


def test_reconciliation_status_balanced_only_without_any_difference() -> None:
    assert reconciliation_status(0, []) == "balanced"
    assert reconciliation_status(1, []) == "discrepancies"
    currency_diff = compare_with_counterpart({}, {"KRW": Decimal("1")})
    assert reconciliation_status(0, currency_diff) == "discrepancies"
