"""Issue 11 item 6: one group per cause; a sample with two causes counts in both, never in a third."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from console.roles import VIEWERS
from verifiers.groups.fingerprint import read_cause_fingerprint, read_causes, read_fingerprint
from verifiers.models import MismatchGroup, MismatchSample, OutcomeCount
from verifiers.read import services
from verifiers.read.compare import Difference, DiffKind
from verifiers.tests.http_answers import AnswerServer, json_answer
from verifiers.tests.read_support import configure_systems, make_sample, parsed_batch, read_worker

LEGACY = {"balance": "10.13", "available": "10.13", "memo": "", "items": [{"id": 1, "memo": ""}]}


def _causes(*differences: Difference) -> list[tuple[str, str, list[str]]]:
    return [(cause.anchor, cause.kind, [d.path for d in cause.differences]) for cause in read_causes(differences)]


def test_siblings_changed_alike_are_one_cause_other_kinds_and_places_are_not():
    assert _causes(Difference("$.balance", DiffKind.CHANGED), Difference("$.available", DiffKind.CHANGED),
                   Difference("$.memo", DiffKind.MISSING), Difference("$.items[0].memo", DiffKind.MISSING),
                   Difference("$.items[3].memo", DiffKind.MISSING), Difference("$.items", DiffKind.ORDER_ONLY),
                   Difference("headers.content-type", DiffKind.HEADER)) == [
        ("$", "changed", ["$.balance", "$.available"]),
        ("$", "missing", ["$.memo"]),
        ("$.items[*]", "missing", ["$.items[0].memo", "$.items[3].memo"]),
        ("$", "order_only", ["$.items"]),
        ("headers.content-type", "header", ["headers.content-type"]),
    ]


def test_cause_fingerprints_are_stable_and_separate_from_set_fingerprints():
    assert read_cause_fingerprint("/a/{id}", "get", "$", "changed") == read_cause_fingerprint("/a/{id}", "GET", "$",
                                                                                               "changed")
    assert read_cause_fingerprint("/a/{id}", "GET", "$", "changed") != read_fingerprint(
        "/a/{id}", "GET", [Difference("$.x", DiffKind.CHANGED)])


PATH = "/accounts/{n}/balance"


def _run(redis_client, cases: dict[str, dict]) -> None:
    server = AnswerServer({PATH.format(n=n): json_answer(body) for n, body in cases.items()}).start()
    try:
        configure_systems(server.url)
        samples = [make_sample(f"s{n}", PATH.format(n=n), LEGACY) for n in cases]
        services.ingest_samples(batch=parsed_batch(samples), client=redis_client)
        read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    finally:
        server.stop()


def test_a_sample_with_two_causes_counts_in_both_groups_and_makes_no_third(db, redis_client, client, user_with_role):
    rounded = {**LEGACY, "balance": "10.12", "available": "10.12"}
    no_memo = {key: value for key, value in LEGACY.items() if key != "memo"}
    both = {key: value for key, value in rounded.items() if key != "memo"}
    _run(redis_client, {"1": rounded, "2": no_memo, "3": both, "4": both})
    groups = {g.title: g for g in MismatchGroup.objects.all()}
    assert sorted((g.count, [(d["pattern"], d["kind"]) for d in g.differences]) for g in groups.values()) == [
        (3, [("$.balance", "changed"), ("$.available", "changed")]),
        (3, [("$.memo", "missing")]),
    ]
    assert OutcomeCount.objects.get().mismatched == 4  # each sample counted once as a mismatch
    memo_group = next(g for g in groups.values() if g.differences[0]["pattern"] == "$.memo")
    assert MismatchSample.objects.filter(sample_id="s3").count() == 2
    client.force_login(user_with_role(VIEWERS, "viewer"))
    page = client.get(f"/groups/{memo_group.pk}/").content.decode()
    assert "Occurs together with" in page and "$.balance changed" in page and "in 2 stored samples" in page


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_splits_combination_groups_into_their_causes():
    executor = MigrationExecutor(connection)
    executor.migrate([("verifiers", "0005_ledger_source_zone_currency")])
    apps = executor.loader.project_state([("verifiers", "0005_ledger_source_zone_currency")]).apps
    Group, Sample = apps.get_model("verifiers", "MismatchGroup"), apps.get_model("verifiers", "MismatchSample")
    now = timezone.now()

    def group(fingerprint: str, differences: list[tuple[str, str]], count: int, **extra):
        made = Group.objects.create(kind="read", fingerprint=fingerprint, title=fingerprint, subject=f"GET {PATH}",
                                    differences=[{"pattern": p, "kind": k} for p, k in differences], count=count,
                                    first_seen=now - timedelta(hours=count), last_seen=now, **extra)
        Sample.objects.create(group=made, sample_id=f"sample-{fingerprint}", captured_at=now, outcome="mismatch")
        return made

    group("old-memo", [("$.memo", "missing")], 5, status="acknowledged", note="known")
    group("old-both", [("$.balance", "changed"), ("$.available", "changed"), ("$.memo", "missing")], 2)
    group("old-error", [("$", "error")], 1, outcome="error")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    groups = {g.fingerprint: g for g in MismatchGroup.objects.all()}
    memo = groups[read_cause_fingerprint(PATH, "GET", "$", "missing")]
    amounts = groups[read_cause_fingerprint(PATH, "GET", "$", "changed")]
    assert set(groups) == {memo.fingerprint, amounts.fingerprint, "old-error"}
    assert (memo.count, memo.status, memo.note, memo.stored_samples) == (7, "acknowledged", "known", 2)
    assert amounts.count == 2 and {d["pattern"] for d in amounts.differences} == {"$.balance", "$.available"}
    assert set(memo.samples.values_list("sample_id", flat=True)) == {"sample-old-memo", "sample-old-both"}
