"""Old samples, dedupe ids and counts are deleted by policy; recent ones stay."""

from datetime import datetime, timedelta
from datetime import timezone as tz

import pytest

from verifiers.groups.recording import Verdict, record_verdicts
from verifiers.models import FiveMinuteOutcomeCount, MismatchGroup, MismatchSample, OutcomeCount, VerifiedSample
from verifiers.retention import RetentionPolicy, prune_verification_data

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 0, 0, tzinfo=tz.utc)
POLICY = RetentionPolicy(samples_days=30, verified_ids_days=3, outcome_counts_days=400)


def _mismatch(sample_id: str, at: datetime) -> Verdict:
    return Verdict(kind="read", sample_id=sample_id, subject="GET /x", captured_at=at, verdict="mismatch",
                   fingerprint="fp", title="GET /x: $.a changed", differences=[{"path": "$.a", "kind": "changed"}])


def test_prune_deletes_only_what_the_policy_no_longer_keeps():
    record_verdicts([_mismatch("old", NOW - timedelta(days=40)), _mismatch("new", NOW - timedelta(days=1))],
                    mask=lambda value: value)
    MismatchSample.objects.filter(sample_id="old").update(recorded_at=NOW - timedelta(days=40))
    MismatchSample.objects.filter(sample_id="new").update(recorded_at=NOW - timedelta(days=1))
    VerifiedSample.objects.filter(sample_id="old").update(verified_at=NOW - timedelta(days=4))
    VerifiedSample.objects.filter(sample_id="new").update(verified_at=NOW - timedelta(days=1))
    OutcomeCount.objects.create(kind="read", subject="GET /x", minute=NOW - timedelta(days=500), matched=1)
    FiveMinuteOutcomeCount.objects.create(kind="read", subject="GET /x", bucket=NOW - timedelta(days=500), matched=1)

    deleted = prune_verification_data(policy=POLICY, now=NOW)

    assert deleted == {"samples": 1, "verified_ids": 1, "outcome_counts": 1, "five_minute_counts": 1}
    assert list(MismatchSample.objects.values_list("sample_id", flat=True)) == ["new"]
    assert list(VerifiedSample.objects.values_list("sample_id", flat=True)) == ["new"]
    assert MismatchGroup.objects.get().stored_samples == 1  # room for new samples again
    oldest_kept = OutcomeCount.objects.order_by("minute").first().minute
    assert OutcomeCount.objects.count() == 2 and oldest_kept == NOW - timedelta(days=40)
    assert sorted(FiveMinuteOutcomeCount.objects.values_list("bucket", flat=True)) == [
        NOW - timedelta(days=40), NOW - timedelta(days=1)]  # the recorded verdicts' five minutes


def test_policy_comes_from_settings(settings):
    # Settings refuse bad values by name (console/tests/test_config.py); the policy just reads them.
    settings.SAMPLE_RETENTION_DAYS, settings.VERIFIED_ID_RETENTION_DAYS, settings.OUTCOME_RETENTION_DAYS = 7, 2, 90
    assert RetentionPolicy.from_settings() == RetentionPolicy(samples_days=7, verified_ids_days=2,
                                                              outcome_counts_days=90)
