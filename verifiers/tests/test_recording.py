"""Bulk recording of verdicts: counted once, counted per minute, grouped, capped."""

from datetime import datetime
from datetime import timezone as tz

import pytest

from verifiers.groups.recording import SAMPLES_PER_GROUP, Verdict, record_verdicts
from verifiers.models import MismatchGroup, MismatchSample, OutcomeCount, VerifiedSample

pytestmark = pytest.mark.django_db
AT = datetime(2026, 11, 25, 3, 4, 5, tzinfo=tz.utc)


def keep(value):
    return value


def verdict(sample_id: str, outcome: str = "match", fingerprint: str = "", **extra) -> Verdict:
    return Verdict(kind="read", sample_id=sample_id, subject="GET /accounts/{id}", captured_at=AT,
                   verdict=outcome, fingerprint=fingerprint, title="GET /accounts/{id}: $.memo missing",
                   differences=[{"path": "$.memo", "pattern": "$.memo", "kind": "missing"}], **extra)


def test_matches_are_counted_per_subject_per_minute_not_stored():
    summary = record_verdicts([verdict(f"s{i}", legacy_latency_ms=2.0, candidate_latency_ms=3.0) for i in range(5)],
                              mask=keep)
    assert summary.counted == 5
    row = OutcomeCount.objects.get()
    assert (row.matched, row.mismatched, row.minute) == (5, 0, AT.replace(second=0))
    assert (row.legacy_latency_ms_sum, row.candidate_latency_ms_sum, row.latency_count) == (10.0, 15.0, 5)
    assert not MismatchGroup.objects.exists()


def test_a_redelivered_batch_is_counted_once():
    batch = [verdict("a"), verdict("b", "mismatch", "fp1")]
    record_verdicts(batch, mask=keep)
    again = record_verdicts(batch + [verdict("c")], mask=keep)
    assert (again.counted, again.duplicates) == (1, 2)
    row = OutcomeCount.objects.get()
    assert (row.matched, row.mismatched) == (2, 1)
    assert MismatchGroup.objects.get().count == 1
    assert VerifiedSample.objects.count() == 3


def test_mismatches_update_one_group_and_report_it_new_once():
    first = record_verdicts([verdict("a", "mismatch", "fp1"), verdict("b", "mismatch", "fp1")], mask=keep)
    second = record_verdicts([verdict("c", "mismatch", "fp1")], mask=keep)
    group = MismatchGroup.objects.get()
    assert first.new_group_ids == [group.id] and second.new_group_ids == []
    assert (group.count, group.stored_samples, group.status) == (3, 3, "open")
    assert group.differences == [{"pattern": "$.memo", "kind": "missing"}]


def test_stored_samples_are_capped_per_group():
    record_verdicts([verdict(f"s{i}", "mismatch", "fp1") for i in range(SAMPLES_PER_GROUP + 15)], mask=keep)
    record_verdicts([verdict("late", "mismatch", "fp1")], mask=keep)
    group = MismatchGroup.objects.get()
    assert group.count == SAMPLES_PER_GROUP + 16
    assert MismatchSample.objects.filter(group=group).count() == SAMPLES_PER_GROUP == group.stored_samples


def test_a_resolved_group_that_mismatches_again_is_reopened_but_ignored_stays_ignored():
    record_verdicts([verdict("a", "mismatch", "fp1"), verdict("b", "mismatch", "fp2")], mask=keep)
    MismatchGroup.objects.filter(fingerprint="fp1").update(status="resolved")
    MismatchGroup.objects.filter(fingerprint="fp2").update(status="ignored")
    record_verdicts([verdict("c", "mismatch", "fp1"), verdict("d", "mismatch", "fp2")], mask=keep)
    assert MismatchGroup.objects.get(fingerprint="fp1").status == "open"
    assert MismatchGroup.objects.get(fingerprint="fp2").status == "ignored"


def test_samples_are_masked_before_they_are_stored():
    masked = record_verdicts(
        [verdict("a", "mismatch", "fp1", legacy={"body": {"holderName": "김민수"}})],
        mask=lambda value: {"masked": True} if value else value,
    )
    assert masked.counted == 1
    assert MismatchSample.objects.get().legacy == {"masked": True}


def test_an_unknown_verdict_is_refused_and_nothing_is_written():
    with pytest.raises(ValueError, match="unknown verdict 'maybe'"):
        record_verdicts([verdict("a"), verdict("b", "maybe")], mask=keep)
    assert not OutcomeCount.objects.exists() and not VerifiedSample.objects.exists()


def test_a_batch_mixing_verdicts_with_and_without_latencies_is_recorded():
    summary = record_verdicts([verdict("a", legacy_latency_ms=2.5, candidate_latency_ms=3.5), verdict("b")],
                              mask=keep)
    assert summary.counted == 2
    row = OutcomeCount.objects.get()
    assert (row.matched, row.latency_count, row.legacy_latency_ms_sum) == (2, 1, 2.5)


def test_a_resolved_group_that_mismatches_again_is_reported_as_reopened():
    record_verdicts([verdict("a", "mismatch", "fp1")], mask=keep)
    MismatchGroup.objects.filter(fingerprint="fp1").update(status="resolved")
    summary = record_verdicts([verdict("b", "mismatch", "fp1")], mask=keep)
    group = MismatchGroup.objects.get()
    assert summary.reopened_group_ids == [group.id] and summary.new_group_ids == []
    assert (group.status, group.status_changed_by) == ("open", "regression")
    assert record_verdicts([verdict("c", "mismatch", "fp1")], mask=keep).reopened_group_ids == []
