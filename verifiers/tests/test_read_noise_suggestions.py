"""Only paths on which two legacy answers often disagree are offered as ignore rules."""

from datetime import datetime, timedelta
from datetime import timezone as tz

import pytest

from verifiers.models import NoiseSuggestion, OutcomeCount
from verifiers.read.selectors import noise_suggestions

pytestmark = pytest.mark.django_db
SUBJECT = "GET /accounts/{id}/balance"
START = datetime(2026, 11, 25, 3, 0, tzinfo=tz.utc)


def suggestion(pattern: str, count: int) -> NoiseSuggestion:
    return NoiseSuggestion.objects.create(subject=SUBJECT, pattern=pattern, count=count,
                                          first_seen=START + timedelta(seconds=30), last_seen=START)


def test_frequent_noise_is_offered_and_a_rare_race_is_not():
    OutcomeCount.objects.create(kind="read", subject=SUBJECT, minute=START, matched=900, mismatched=100)
    suggestion("$.servedAt", 990)  # differs between nearly every two legacy calls
    suggestion("$.balance", 6)  # a transfer landed between the two calls, 0.6 % of samples
    suggestion("$.asOf", 1)
    assert [s.pattern for s in noise_suggestions()] == ["$.servedAt"]


def test_samples_before_the_path_was_first_seen_do_not_count():
    OutcomeCount.objects.create(kind="read", subject=SUBJECT, minute=START - timedelta(hours=1), matched=10_000)
    OutcomeCount.objects.create(kind="read", subject=SUBJECT, minute=START, matched=40)
    suggestion("$.servedAt", 20)
    assert [(s.pattern, s.compared) for s in noise_suggestions()] == [("$.servedAt", 40)]
