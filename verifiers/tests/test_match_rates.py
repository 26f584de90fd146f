"""The one match-rate selector behind the overview and the Read and Write pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as tz

import pytest

from verifiers.models import OutcomeCount
from verifiers.selectors import match_rate_series

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=tz.utc)


def counts(subject: str, minutes_ago: int, kind: str = "write", **columns: int) -> None:
    OutcomeCount.objects.create(kind=kind, subject=subject, minute=NOW - timedelta(minutes=minutes_ago), **columns)


def test_every_judged_subject_by_name_per_minute_when_no_top_is_asked():
    counts("transfers", 3, matched=9, mismatched=1, stale=4)
    counts("transfers", 2, matched=5)
    counts("accounts", 2, matched=2)
    counts("(no capture)", 2, orphaned=7)  # nothing judged: no series of its own
    counts("accounts", 2, kind="read", mismatched=50)  # another kind
    series = match_rate_series(kind="write", hours=1, now=NOW, bucket=timedelta(minutes=1), top_subjects=None)
    assert list(series.subjects) == ["accounts", "transfers"]
    first, second = series.subjects["transfers"]
    assert (first.matched, first.mismatched, first.stale, first.rate) == (9, 1, 4, 0.9)
    assert second.bucket - first.bucket == timedelta(minutes=1) and second.rate == 1.0
    assert [p.compared for p in series.overall] == [10, 7]


def test_top_subjects_are_those_that_mismatch_most():
    counts("a", 5, kind="read", matched=10, mismatched=1)
    counts("b", 5, kind="read", matched=10, errored=3)
    counts("c", 5, kind="read", matched=10)
    series = match_rate_series(kind="read", hours=1, now=NOW, top_subjects=1)
    assert list(series.subjects) == ["b"]
    assert series.totals.compared == 34


def test_buckets_follow_the_window_unless_asked():
    for minute in range(1, 11):
        counts("accounts", minute, matched=1)
    series = match_rate_series(kind="write", hours=6, now=NOW, top_subjects=None)
    assert [p.matched for p in series.overall] == [5, 5]  # 5-minute buckets over 6 hours
