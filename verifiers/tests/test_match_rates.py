"""The one match-rate selector behind the overview and the Read and Write pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as tz

import pytest

from verifiers.groups.recording import record_verdicts
from verifiers.groups.verdict import Verdict
from verifiers.selectors import match_rate_series
from verifiers.tests.outcome_support import add_outcome_counts

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=tz.utc)


def counts(subject: str, minutes_ago: int, kind: str = "write", **columns: int) -> None:
    add_outcome_counts(kind=kind, subject=subject, minute=NOW - timedelta(minutes=minutes_ago), **columns)


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


def test_buckets_of_five_minutes_start_at_the_five_minutes_holding_the_window_start():
    counts("accounts", 6 * 60 + 6, matched=4)  # 20:54: before that bucket
    counts("accounts", 6 * 60 + 3, matched=1)  # 20:57: in the 20:55 bucket, which holds the window start
    counts("accounts", 6 * 60, matched=2)
    series = match_rate_series(kind="write", hours=6.01, now=NOW, bucket=timedelta(minutes=5),
                               top_subjects=None)  # the window starts 20:59:24
    assert [(p.bucket.hour, p.bucket.minute, p.matched) for p in series.overall] == [(20, 55, 1), (21, 0, 2)]


def test_recording_fills_both_roll_ups():
    """Verdicts recorded in several batches (two in one minute, minutes in one five) sum the same either way."""
    verdicts = [Verdict(kind="write", sample_id=f"c{i}", subject=("accounts", "entries")[i % 2],
                        captured_at=NOW - timedelta(minutes=i % 13, seconds=7), verdict=("match", "mismatch", "stale")[i % 3],
                        fingerprint="fp" if i % 3 == 1 else "", title="t",
                        differences=[{"path": "balance", "kind": "changed"}] if i % 3 == 1 else [])
                for i in range(60)]
    record_verdicts(verdicts[:25], mask=lambda value: value)
    record_verdicts(verdicts[25:], mask=lambda value: value)
    by_five = match_rate_series(kind="write", hours=1, now=NOW, bucket=timedelta(minutes=5), top_subjects=None)
    by_minute = match_rate_series(kind="write", hours=1, now=NOW, bucket=timedelta(minutes=1), top_subjects=None)
    summed: dict[datetime, tuple[int, int, int]] = {}
    for point in by_minute.overall:
        five = point.bucket.replace(minute=point.bucket.minute - point.bucket.minute % 5)
        matched, mismatched, stale = summed.get(five, (0, 0, 0))
        summed[five] = (matched + point.matched, mismatched + point.mismatched, stale + point.stale)
    assert {p.bucket: (p.matched, p.mismatched, p.stale) for p in by_five.overall} == summed
    assert by_five.totals.compared == 40 and by_five.totals.stale == 20
    assert list(by_five.subjects) == ["accounts", "entries"]
