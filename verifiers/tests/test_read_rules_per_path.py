"""Issue 11 item 7: decimal equivalence and tolerance per listed path (route-wide still possible)."""

from __future__ import annotations

import pytest

from verifiers.models import MismatchGroup, OutcomeCount, Route
from verifiers.read import services
from verifiers.read.compare import RulesError, compare_documents, compile_rules, rules_from_dict
from verifiers.tests.http_answers import AnswerServer, json_answer
from verifiers.tests.read_support import configure_systems, make_sample, parsed_batch, read_worker

LEGACY = {"amount": "100.0", "fee": "5", "rate": "1.005", "items": [{"amount": "1.50", "code": "7"}]}
CANDIDATE = {"amount": 100, "fee": 5, "rate": "1.004", "items": [{"amount": 1.5, "code": 7}]}


def _found(rules: dict) -> list[tuple[str, str]]:
    return [(d.path, d.kind.value) for d in compare_documents(LEGACY, CANDIDATE, compile_rules(rules))]


def test_decimal_equivalence_on_listed_paths_only():
    assert _found({"decimal_equivalence": ["$.amount", "$.items[*].amount"]}) == [
        ("$.fee", "type_changed"), ("$.rate", "changed"), ("$.items[0].code", "type_changed")]


def test_route_wide_decimal_equivalence_still_works():
    assert _found({"decimal_equivalence": True}) == [("$.rate", "changed")]


def test_tolerance_on_a_listed_path_only():
    rules = {"decimal_equivalence": True, "tolerance": {"$.rate": "0.001"}}
    assert _found(rules) == []
    assert compare_documents({"a": "1.005", "b": "1.005"}, {"a": "1.004", "b": "1.004"},
                             compile_rules(rules | {"tolerance": {"$.a": "0.001"}}))[0].path == "$.b"


def test_a_path_tolerance_wins_over_the_route_tolerance():
    rules = compile_rules({"tolerance": {"$.exact": "0"}, "decimal_equivalence": True})
    assert [d.path for d in compare_documents({"exact": 1, "x": 1}, {"exact": 2, "x": 2}, rules)] == ["$.exact", "$.x"]
    rules = compile_rules({"tolerance": "5", "decimal_equivalence": True} | {"tolerance": {"$.exact": "0"}})
    assert [d.path for d in compare_documents({"exact": 1, "x": 1}, {"exact": 2, "x": 2}, rules)] == ["$.exact", "$.x"]


@pytest.mark.parametrize("config, named", [
    ({"decimal_equivalence": "yes"}, "decimal_equivalence"),
    ({"decimal_equivalence": ["amount"]}, "decimal_equivalence"),
    ({"tolerance": {"$.a": "x"}}, "tolerance"),
    ({"tolerance": {"$.a[": "1"}}, "tolerance"),
    ({"decimal_equivalence_paths": ["$.a"]}, "unknown rule"),
])
def test_bad_per_path_rules_name_the_rule(config, named):
    with pytest.raises(RulesError, match=named):
        rules_from_dict(config)


def test_per_path_rules_end_to_end(db, redis_client):
    server = AnswerServer({"/accounts/1/balance": json_answer(CANDIDATE)}).start()
    try:
        configure_systems(server.url)
        Route.objects.update(rules={"decimal_equivalence": ["$.amount", "$.items[*].amount", "$.rate"],
                                    "tolerance": {"$.rate": "0.001"}})
        services.ingest_samples(batch=parsed_batch([make_sample("p1", body=LEGACY)]), client=redis_client)
        read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    finally:
        server.stop()
    assert OutcomeCount.objects.get().mismatched == 1
    found = {(d["pattern"], d["kind"]) for group in MismatchGroup.objects.all() for d in group.differences}
    assert found == {("$.fee", "type_changed"), ("$.items[*].code", "type_changed")}
