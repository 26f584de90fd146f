"""Behaviour of the JSON/response comparison engine (pure: no database)."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from verifiers.read.compare import (
    CompareRules,
    Difference,
    DiffKind,
    PatternError,
    RulesError,
    compare_documents,
    compare_responses,
    compile_rules,
    generalise_path,
    noise_paths,
    parse_pattern,
    rules_from_dict,
    suppress,
)


def diff(legacy, candidate, **config):
    return compare_documents(legacy, candidate, compile_rules(config))


def kinds_at(differences):
    return [(d.path, d.kind) for d in differences]


# ----------------------------------------------------------------------------- basic values


def test_equal_documents_have_no_differences():
    document = {"a": 1, "b": [1, {"c": "x"}], "d": None, "e": True}
    assert diff(document, orjson.loads(orjson.dumps(document))) == []


def test_changed_leaf_is_reported_with_both_values():
    assert diff({"amount": 100}, {"amount": 101}) == [
        Difference("$.amount", DiffKind.CHANGED, 100, 101)
    ]


def test_string_to_number_is_type_changed_without_decimal_equivalence():
    assert kinds_at(diff({"amount": "100"}, {"amount": 100})) == [
        ("$.amount", DiffKind.TYPE_CHANGED)
    ]


def test_boolean_turned_number_is_type_changed_although_python_says_true_equals_one():
    assert kinds_at(diff({"flag": True}, {"flag": 1})) == [("$.flag", DiffKind.TYPE_CHANGED)]


def test_boolean_turned_number_deep_inside_equal_looking_container_is_found():
    legacy = {"items": [{"active": True, "n": 0}]}
    candidate = {"items": [{"active": 1, "n": False}]}
    assert kinds_at(diff(legacy, candidate)) == [
        ("$.items[0].active", DiffKind.TYPE_CHANGED),
        ("$.items[0].n", DiffKind.TYPE_CHANGED),
    ]


def test_int_and_float_with_same_value_are_equal():
    assert diff({"amount": 100}, {"amount": 100.0}) == []


def test_null_versus_value_is_type_changed():
    assert kinds_at(diff({"a": None}, {"a": "x"})) == [("$.a", DiffKind.TYPE_CHANGED)]


def test_object_versus_array_is_type_changed():
    assert kinds_at(diff({"a": {}}, {"a": []})) == [("$.a", DiffKind.TYPE_CHANGED)]


def test_missing_and_extra_members_are_reported_in_candidate_terms():
    differences = diff({"keep": 1, "gone": 2}, {"keep": 1, "new": 3})
    assert differences == [
        Difference("$.gone", DiffKind.MISSING, 2, None),
        Difference("$.new", DiffKind.EXTRA, None, 3),
    ]


def test_scalar_documents_are_compared_at_root():
    assert kinds_at(diff("a", "b")) == [("$", DiffKind.CHANGED)]


def test_odd_member_names_are_quoted_in_paths():
    assert kinds_at(diff({"a.b": 1}, {"a.b": 2})) == [("$['a.b']", DiffKind.CHANGED)]


def test_nested_difference_path_uses_dots_and_indexes():
    legacy = {"items": [{"amount": 1}, {"amount": 2}]}
    candidate = {"items": [{"amount": 1}, {"amount": 3}]}
    assert kinds_at(diff(legacy, candidate)) == [("$.items[1].amount", DiffKind.CHANGED)]


# ----------------------------------------------------------------------------- arrays


def test_reordered_array_is_one_order_only_difference_at_the_array():
    differences = diff({"a": [1, 2, 3]}, {"a": [3, 1, 2]})
    assert kinds_at(differences) == [("$.a", DiffKind.ORDER_ONLY)]


def test_reordered_objects_are_order_only():
    legacy = {"a": [{"id": 1}, {"id": 2}]}
    assert kinds_at(diff(legacy, {"a": [{"id": 2}, {"id": 1}]})) == [("$.a", DiffKind.ORDER_ONLY)]


def test_same_length_with_other_elements_is_per_index_not_order_only():
    assert kinds_at(diff([1, 2, 3], [1, 2, 4])) == [("$[2]", DiffKind.CHANGED)]


def test_swapped_and_changed_is_not_order_only():
    assert kinds_at(diff([1, 2], [3, 1])) == [
        ("$[0]", DiffKind.CHANGED), ("$[1]", DiffKind.CHANGED)]


def test_duplicate_counts_matter_for_order_only():
    assert DiffKind.ORDER_ONLY not in {d.kind for d in diff([1, 1, 2], [2, 2, 1])}


def test_length_difference_plus_common_prefix_differences():
    assert diff([1, 2, 3], [1, 5]) == [
        Difference("$", DiffKind.LENGTH, 3, 2),
        Difference("$[1]", DiffKind.CHANGED, 2, 5),
    ]


def test_reordered_array_with_ignored_noise_inside_is_still_order_only():
    legacy = {"items": [{"id": 1, "servedAt": "t1"}, {"id": 2, "servedAt": "t1"}]}
    candidate = {"items": [{"id": 2, "servedAt": "t2"}, {"id": 1, "servedAt": "t2"}]}
    differences = diff(legacy, candidate, ignore_paths=["$.items[*].servedAt"])
    assert kinds_at(differences) == [("$.items", DiffKind.ORDER_ONLY)]


def test_keyed_array_ignores_order():
    legacy = {"tx": [{"id": "a", "v": 1}, {"id": "b", "v": 2}]}
    candidate = {"tx": [{"id": "b", "v": 2}, {"id": "a", "v": 1}]}
    assert diff(legacy, candidate, array_keys={"$.tx": "id"}) == []


def test_keyed_array_compares_matching_elements_pairwise():
    legacy = {"tx": [{"id": "a", "v": 1}, {"id": "b", "v": 2}]}
    candidate = {"tx": [{"id": "b", "v": 5}, {"id": "a", "v": 1}]}
    assert diff(legacy, candidate, array_keys={"$.tx": "id"}) == [
        Difference("$.tx[1].v", DiffKind.CHANGED, 2, 5)
    ]


def test_keyed_array_reports_unmatched_keys_as_missing_and_extra():
    legacy = {"tx": [{"id": "a"}, {"id": "b"}]}
    candidate = {"tx": [{"id": "c"}, {"id": "a"}]}
    assert kinds_at(diff(legacy, candidate, array_keys={"$.tx": "id"})) == [
        ("$.tx[1]", DiffKind.MISSING),
        ("$.tx[0]", DiffKind.EXTRA),
    ]


def test_keyed_array_elements_without_the_key_are_missing_or_extra_unless_equal():
    legacy = {"tx": [{"id": "a"}, {"note": "x"}, {"note": "same"}]}
    candidate = {"tx": [{"note": "same"}, {"id": "a"}, {"note": "y"}]}
    assert kinds_at(diff(legacy, candidate, array_keys={"$.tx": "id"})) == [
        ("$.tx[1]", DiffKind.MISSING),
        ("$.tx[2]", DiffKind.EXTRA),
    ]


def test_keyed_array_with_wildcard_pattern_applies_at_every_level():
    legacy = {"accounts": [{"tx": [{"id": 1}, {"id": 2}]}]}
    candidate = {"accounts": [{"tx": [{"id": 2}, {"id": 1}]}]}
    assert diff(legacy, candidate, array_keys={"$.accounts[*].tx": "id"}) == []


def test_keyed_array_string_and_number_keys_do_not_match():
    differences = diff([{"id": "1"}], [{"id": 1}], array_keys={"$": "id"})
    assert {d.kind for d in differences} == {DiffKind.MISSING, DiffKind.EXTRA}


def test_unordered_array_rule_accepts_any_order_without_difference():
    assert diff({"tags": ["a", "b"]}, {"tags": ["b", "a"]}, unordered_arrays=["$.tags"]) == []


def test_unordered_array_rule_reports_unmatched_elements():
    differences = diff({"tags": ["a", "b"]}, {"tags": ["b", "c"]}, unordered_arrays=["$.tags"])
    assert differences == [
        Difference("$.tags[0]", DiffKind.MISSING, "a", None),
        Difference("$.tags[1]", DiffKind.EXTRA, None, "c"),
    ]


# ----------------------------------------------------------------------------- ignore rules


def test_ignored_top_level_member_is_skipped_even_when_missing():
    assert diff({"traceId": "a", "x": 1}, {"x": 1}, ignore_paths=["$.traceId"]) == []


def test_ignore_with_index_wildcard_applies_to_every_element():
    legacy = {"items": [{"servedAt": 1, "v": 1}, {"servedAt": 1, "v": 2}]}
    candidate = {"items": [{"servedAt": 2, "v": 1}, {"servedAt": 3, "v": 9}]}
    assert kinds_at(diff(legacy, candidate, ignore_paths=["$.items[*].servedAt"])) == [
        ("$.items[1].v", DiffKind.CHANGED)
    ]


def test_ignore_with_specific_index_applies_only_there():
    legacy = {"items": [{"v": 1}, {"v": 1}]}
    candidate = {"items": [{"v": 2}, {"v": 2}]}
    assert kinds_at(diff(legacy, candidate, ignore_paths=["$.items[0].v"])) == [
        ("$.items[1].v", DiffKind.CHANGED)
    ]


def test_ignore_with_member_wildcard():
    legacy = {"meta": {"a": 1, "b": 2}, "x": 1}
    candidate = {"meta": {"a": 3, "c": 4}, "x": 1}
    assert diff(legacy, candidate, ignore_paths=["$.meta.*"]) == []


def test_ignored_object_hides_everything_below_it():
    assert diff({"debug": {"a": [1]}}, {"debug": {"a": [2, 3]}}, ignore_paths=["$.debug"]) == []


def test_recursive_descent_ignores_member_at_any_depth():
    legacy = {"servedAt": 1, "a": {"servedAt": 1, "b": [{"servedAt": 1, "v": 1}]}}
    candidate = {"servedAt": 2, "a": {"servedAt": 2, "b": [{"servedAt": 2, "v": 2}]}}
    assert kinds_at(diff(legacy, candidate, ignore_paths=["$..servedAt"])) == [
        ("$.a.b[0].v", DiffKind.CHANGED)
    ]


def test_ignore_rule_does_not_hide_sibling_with_same_name_elsewhere():
    legacy = {"a": {"id": 1}, "b": {"id": 1}}
    candidate = {"a": {"id": 2}, "b": {"id": 2}}
    assert kinds_at(diff(legacy, candidate, ignore_paths=["$.a.id"])) == [
        ("$.b.id", DiffKind.CHANGED)
    ]


def test_root_ignore_hides_the_whole_body():
    assert diff({"a": 1}, {"a": 2}, ignore_paths=["$"]) == []


# ----------------------------------------------------------------------------- numbers


def test_decimal_equivalence_makes_numeric_string_equal_number():
    config = {"decimal_equivalence": True}
    assert diff({"a": "100.00"}, {"a": 100}, **config) == []
    assert diff({"a": "100.00"}, {"a": "100"}, **config) == []
    assert diff({"a": 100.0}, {"a": "1E+2"}, **config) == []


def test_decimal_equivalence_still_reports_numeric_change_as_changed():
    assert kinds_at(diff({"a": "100.00"}, {"a": 100.5}, decimal_equivalence=True)) == [
        ("$.a", DiffKind.CHANGED)
    ]


def test_decimal_equivalence_keeps_leading_zero_strings_as_text():
    assert kinds_at(diff({"acct": "0012"}, {"acct": 12}, decimal_equivalence=True)) == [
        ("$.acct", DiffKind.TYPE_CHANGED)
    ]


def test_non_numeric_string_versus_number_is_type_changed_even_with_equivalence():
    assert kinds_at(diff({"a": "abc"}, {"a": 1}, decimal_equivalence=True)) == [
        ("$.a", DiffKind.TYPE_CHANGED)
    ]


def test_tolerance_accepts_difference_up_to_the_bound_exactly():
    assert diff({"a": 0.1}, {"a": 0.11}, tolerance="0.01") == []
    assert kinds_at(diff({"a": 0.1}, {"a": 0.1100001}, tolerance="0.01")) == [
        ("$.a", DiffKind.CHANGED)
    ]


def test_tolerance_is_decimal_exact_where_floats_would_round():
    # 0.1 + 0.2 - 0.3 in floats is 5.55e-17; in decimals it is 0.30000000000000004 - 0.3.
    assert diff({"a": 0.3}, {"a": 0.1 + 0.2}, tolerance="0.00000000000000004") == []
    assert diff({"a": 0.3}, {"a": 0.1 + 0.2}, tolerance="0.00000000000000003") != []


def test_tolerance_applies_to_numeric_strings_with_decimal_equivalence():
    assert diff({"a": "10.00"}, {"a": "10.004"}, tolerance="0.005",
                decimal_equivalence=True) == []


def test_float_noise_without_tolerance_is_a_change():
    assert kinds_at(diff({"a": 0.3}, {"a": 0.1 + 0.2})) == [("$.a", DiffKind.CHANGED)]


# ----------------------------------------------------------------------------- other options


def test_null_equals_missing_option():
    assert diff({"a": None, "b": 1}, {"b": 1}, null_equals_missing=True) == []
    assert diff({"b": 1}, {"a": None, "b": 1}, null_equals_missing=True) == []
    assert kinds_at(diff({"a": None}, {})) == [("$.a", DiffKind.MISSING)]


def test_allow_extra_fields_option_accepts_new_members_only():
    assert diff({"a": 1}, {"a": 1, "new": 2}, allow_extra_fields=True) == []
    assert kinds_at(diff({"a": 1, "b": 2}, {"a": 1}, allow_extra_fields=True)) == [
        ("$.b", DiffKind.MISSING)
    ]


def test_compare_documents_accepts_uncompiled_rules_and_none():
    rules = CompareRules(ignore_paths=["$.t"])
    assert compare_documents({"t": 1}, {"t": 2}, rules) == []
    assert compare_documents({"t": 1}, {"t": 2}) != []


def test_python_values_that_are_not_json_still_compare():
    assert kinds_at(diff({"a": Decimal("1.5")}, {"a": Decimal("1.6")})) == [
        ("$.a", DiffKind.CHANGED)
    ]
    assert diff({"a": (1, 2)}, {"a": [1, 2]}) == []


# ----------------------------------------------------------------------------- responses


def test_identical_responses_have_no_differences():
    body = b'{"a": 1}'
    assert compare_responses(200, {}, body, 200, {}, body, compile_rules()) == []


def test_status_difference_comes_first():
    differences = compare_responses(200, {}, b"{}", 500, {}, b'{"x":1}', compile_rules())
    assert differences[0] == Difference("status", DiffKind.STATUS, 200, 500)


def test_status_is_not_compared_when_disabled():
    rules = compile_rules({"compare_status": False})
    assert compare_responses(200, {}, b"{}", 404, {}, b"{}", rules) == []


def test_only_whitelisted_headers_are_compared_case_insensitively():
    rules = compile_rules({"headers": ["Content-Type"]})
    differences = compare_responses(
        200, {"content-type": "application/json", "Date": "a"}, b"{}",
        200, [("Content-Type", "text/plain"), ("date", "b")], b"{}", rules)
    assert differences == [
        Difference("headers.content-type", DiffKind.HEADER, "application/json", "text/plain")
    ]


def test_missing_whitelisted_header_is_a_header_difference():
    rules = compile_rules({"headers": ["x-currency"]})
    differences = compare_responses(200, {"X-Currency": "KRW"}, b"", 200, {}, b"", rules)
    assert differences == [Difference("headers.x-currency", DiffKind.HEADER, "KRW", None)]


def test_json_bodies_are_parsed_regardless_of_whitespace_and_key_order():
    rules = compile_rules()
    assert compare_responses(200, {}, b'{"a":1,"b":2}', 200, {}, '{ "b": 2, "a": 1 }', rules) == []


def test_body_differences_use_rules():
    rules = compile_rules({"ignore_paths": ["$.traceId"]})
    differences = compare_responses(200, {}, b'{"traceId":"1","v":1}', 200, {},
                                    b'{"traceId":"2","v":2}', rules)
    assert kinds_at(differences) == [("$.v", DiffKind.CHANGED)]


def test_boolean_versus_number_in_raw_bodies_is_found():
    differences = compare_responses(200, {}, b'{"x":[{"ok":true}]}', 200, {},
                                    b'{"x":[{"ok":1}]}', compile_rules())
    assert kinds_at(differences) == [("$.x[0].ok", DiffKind.TYPE_CHANGED)]


def test_non_json_bodies_are_one_text_change_at_root():
    differences = compare_responses(200, {}, b"OK", 200, {}, "FAIL", compile_rules())
    assert differences == [Difference("$", DiffKind.CHANGED, "OK", "FAIL")]


def test_json_versus_non_json_body_is_type_changed():
    differences = compare_responses(200, {}, b'{"a":1}', 200, {}, b"<html>", compile_rules())
    assert kinds_at(differences) == [("$", DiffKind.TYPE_CHANGED)]


def test_ignored_header_and_status_patterns_in_ignore_paths():
    rules = compile_rules({"headers": ["date", "etag"], "ignore_paths": ["headers.date", "status"]})
    differences = compare_responses(200, {"date": "a", "etag": "1"}, b"", 201,
                                    {"date": "b", "etag": "2"}, b"", rules)
    assert kinds_at(differences) == [("headers.etag", DiffKind.HEADER)]


def test_body_of_wrong_type_is_rejected_clearly():
    with pytest.raises(TypeError, match="body must be str or bytes"):
        compare_responses(200, {}, 5, 200, {}, b"", compile_rules())


# ----------------------------------------------------------------------------- patterns and noise


def test_difference_pattern_generalises_indexes():
    difference = Difference("$.items[3].lines[12].amount", DiffKind.CHANGED)
    assert difference.pattern() == "$.items[*].lines[*].amount"


def test_generalise_keeps_header_and_status_paths():
    assert generalise_path("headers.date") == "headers.date"
    assert generalise_path("status") == "status"


def test_generalise_keeps_quoted_keys_with_brackets_or_dots_intact():
    assert generalise_path("$['a[1]...b'][2]") == "$['a[1]...b'][*]"


def test_parse_pattern_understands_all_segment_forms():
    from verifiers.read.compare import ANY_CHILD, DESCENDANTS

    assert parse_pattern("$.a[2]['b c'][*]..d.*") == (
        "a", 2, "b c", ANY_CHILD, DESCENDANTS, "d", ANY_CHILD)


@pytest.mark.parametrize("bad", ["items", "$.", "$.a[", "$.a[x]", "$['a", "$.a..", "$a"])
def test_parse_pattern_rejects_malformed_patterns(bad):
    with pytest.raises(PatternError):
        parse_pattern(bad)


# Differences between two answers: noise between two legacy answers, or a candidate's to suppress.
DIFFERENCES = [
    Difference("$.items[0].servedAt", DiffKind.CHANGED),
    Difference("$.items[5].servedAt", DiffKind.CHANGED),
    Difference("$.items[2].amount", DiffKind.CHANGED),
    Difference("$.traceId", DiffKind.CHANGED),
    Difference("$.meta.trace.id", DiffKind.CHANGED),
    Difference("headers.date", DiffKind.HEADER),
    Difference("status", DiffKind.STATUS),
]


def test_noise_paths_are_generalised_and_unique():
    assert noise_paths(DIFFERENCES) == [
        "$.items[*].amount", "$.items[*].servedAt", "$.meta.trace.id", "$.traceId", "headers.date", "status",
    ]


def test_suppress_removes_covered_differences_and_keeps_the_rest():
    kept = suppress(DIFFERENCES, ["$.items[*].servedAt", "$.meta", "headers.Date"])
    assert [d.path for d in kept] == ["$.items[2].amount", "$.traceId", "status"]


def test_noise_from_two_legacy_answers_suppresses_same_noise_in_candidate():
    legacy_a = {"traceId": "1", "items": [{"at": 1, "v": 1}, {"at": 1, "v": 2}]}
    legacy_b = {"traceId": "2", "items": [{"at": 2, "v": 1}, {"at": 2, "v": 2}]}
    candidate = {"traceId": "3", "items": [{"at": 3, "v": 1}, {"at": 3, "v": 9}]}
    patterns = noise_paths(diff(legacy_a, legacy_b))
    assert kinds_at(suppress(diff(legacy_a, candidate), patterns)) == [
        ("$.items[1].v", DiffKind.CHANGED)
    ]


def test_suppress_with_no_patterns_keeps_everything():
    differences = [Difference("$.a", DiffKind.CHANGED)]
    assert suppress(differences, []) == differences


# ----------------------------------------------------------------------------- rule validation


def test_rules_from_dict_builds_every_option():
    rules = rules_from_dict({
        "ignore_paths": ["$.traceId"], "decimal_equivalence": True, "tolerance": "0.01",
        "array_keys": {"$.tx": "id"}, "unordered_arrays": ["$.tags"], "compare_status": False,
        "headers": ["Content-Type"], "null_equals_missing": True, "allow_extra_fields": True,
    })
    assert rules.tolerance == Decimal("0.01")
    assert rules.headers == ["content-type"]
    assert rules.array_keys == {"$.tx": "id"}
    assert rules.compare_status is False


def test_rules_from_dict_rejects_unknown_key_by_name():
    with pytest.raises(RulesError, match="ignore_path"):
        rules_from_dict({"ignore_path": ["$.a"]})


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"ignore_paths": "$.a"}, "ignore_paths"),
        ({"ignore_paths": ["$.a["]}, "ignore_paths"),
        ({"ignore_paths": ["body.a"]}, "body.a"),
        ({"decimal_equivalence": "yes"}, "decimal_equivalence"),
        ({"tolerance": -1}, "tolerance"),
        ({"tolerance": "abc"}, "tolerance"),
        ({"tolerance": True}, "tolerance"),
        ({"tolerance": "NaN"}, "tolerance"),
        ({"array_keys": ["$.a"]}, "array_keys"),
        ({"array_keys": {"$.a": ""}}, "array_keys"),
        ({"array_keys": {"a": "id"}}, "array_keys"),
        ({"headers": [""]}, "headers"),
        ({"compare_status": 1}, "compare_status"),
    ],
)
def test_rules_from_dict_names_the_bad_value(config, named):
    with pytest.raises(RulesError, match=named.replace("[", r"\[").replace(".", r"\.")):
        rules_from_dict(config)


def test_rules_must_be_a_mapping():
    with pytest.raises(RulesError, match="mapping"):
        rules_from_dict(["$.a"])  # type: ignore[arg-type]


def test_compile_rules_accepts_a_config_dict():
    assert compare_documents({"t": 1}, {"t": 2}, compile_rules({"ignore_paths": ["$.t"]})) == []


def test_compiled_rules_give_same_answers_when_reused_across_documents():
    rules = compile_rules({"ignore_paths": ["$.items[*].at"]})
    first = compare_documents({"items": [{"at": 1, "v": 1}]}, {"items": [{"at": 2, "v": 2}]}, rules)
    second = compare_documents({"items": [{"at": 1, "v": 1}]}, {"items": [{"at": 2, "v": 2}]},
                               rules)
    assert first == second == [Difference("$.items[0].v", DiffKind.CHANGED, 1, 2)]


@pytest.mark.parametrize(
    ("legacy", "candidate", "expected"),
    [
        pytest.param(b'{"a": 123456789012345678901234567890}', b'{"a": 123456789012345678901234567891}',
                     [("$.a", DiffKind.CHANGED)], id="integers beyond 64 bits still parse as JSON"),
        pytest.param(b'{"amount": 12345678901234567.01}', b'{"amount": 12345678901234567.02}',
                     [("$.amount", DiffKind.CHANGED)], id="more digits than a float holds"),
        pytest.param(b'{"amount": 1.50, "id": "1234567890123456"}', b'{"amount": 1.5, "id": "1234567890123456", "x": 1}',
                     [("$.x", DiffKind.EXTRA)], id="an exact number equals its float spelling when the values agree"),
    ],
)
def test_json_numbers_are_compared_exactly(legacy: bytes, candidate: bytes, expected: list) -> None:
    assert kinds_at(compare_responses(200, {}, legacy, 200, {}, candidate, compile_rules())) == expected


def test_absurdly_nested_documents_still_get_a_verdict():
    legacy, candidate = [1], [2]
    for _ in range(900):
        legacy, candidate = [legacy], [candidate]
    assert kinds_at(diff(legacy, candidate)) == [("$", DiffKind.CHANGED)]


def test_absurd_exponents_with_decimal_equivalence_are_a_change_not_a_crash():
    differences = diff({"a": "1e999999999"}, {"a": "-1e999999999"}, decimal_equivalence=True)
    assert kinds_at(differences) == [("$.a", DiffKind.CHANGED)]


# --- keyed arrays keep their order; a different status is the whole story -------------------


def _history(*entries):
    return {"items": [{"entryId": entry_id, "memo": memo} for entry_id, memo in entries]}


ORDERED_HISTORY = {"array_keys": {"$.items": "entryId"}, "ordered_arrays": ["$.items"]}


def test_ordered_keyed_array_in_another_order_is_one_order_difference():
    rules = compile_rules(ORDERED_HISTORY)
    diffs = compare_documents(_history((1, "a"), (2, "b")), _history((2, "b"), (1, "a")), rules)
    assert [(d.path, d.kind) for d in diffs] == [("$.items", DiffKind.ORDER_ONLY)]
    assert (diffs[0].legacy, diffs[0].candidate) == ([1, 2], [2, 1])


def test_ordered_keyed_array_reports_order_and_element_differences_separately():
    rules = compile_rules(ORDERED_HISTORY)
    legacy = _history((1, ""), (2, "b"))
    candidate = {"items": [{"entryId": 2, "memo": "b"}, {"entryId": 1}]}
    diffs = compare_documents(legacy, candidate, rules)
    assert sorted((d.pattern(), d.kind) for d in diffs) == [
        ("$.items", DiffKind.ORDER_ONLY), ("$.items[*].memo", DiffKind.MISSING)]


def test_keyed_array_without_order_rule_ignores_order():
    rules = compile_rules({"array_keys": {"$.items": "entryId"}})
    assert compare_documents(_history((1, "a"), (2, "b")), _history((2, "b"), (1, "a")), rules) == []


def test_ordered_arrays_need_a_key():
    with pytest.raises(RulesError, match="'ordered_arrays': '\\$.items' has no key"):
        rules_from_dict({"ordered_arrays": ["$.items"]})


def test_a_different_status_is_reported_alone_not_with_the_error_body():
    diffs = compare_responses(200, {}, b'{"balance": "1.00", "accountId": 1}',
                              500, {}, b'{"error": "internal_error"}', compile_rules({}))
    assert [(d.path, d.kind) for d in diffs] == [("status", DiffKind.STATUS)]
