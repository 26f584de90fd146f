"""Match rates of either verifier over time, from the outcome roll-ups.

One selector for the overview and the Read and Write pages. Never a scan of samples: one index
range scan, summed per bucket in the database. Buckets of whole five minutes read the
five-minute roll-up (FiveMinuteOutcomeCount), a fifth of the rows; finer ones the per-minute one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

from console.dashboard.programme import MatchRate

TOP_SUBJECTS = 5
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin's origin in both roll-ups

# Which subjects get their own series: those with most mismatches (a bounded few, for the
# overview), or every subject with a judged sample in the window (the verifier pages).
_WORST_SUBJECTS = "HAVING sum(mismatched + errored) > 0"
_JUDGED_SUBJECTS = "HAVING sum(matched + mismatched + errored) > 0"


FIVE_MINUTES = timedelta(minutes=5)


def _roll_up_for(bucket: timedelta, since: datetime) -> tuple[str, str, datetime]:
    """(table, time column, first instant to read) for a chart bucket.

    The five-minute table cannot start mid-bucket: its window starts at the five minutes that
    hold `since`, which is also where date_bin puts that first point.
    """
    if bucket % FIVE_MINUTES:
        return "verifiers_outcomecount", "minute", since
    return "verifiers_fiveminuteoutcomecount", "bucket", since - (since - EPOCH) % FIVE_MINUTES


def bucket_for(hours: float) -> timedelta:
    """Chart resolution: about 72-144 points whatever the range."""
    return timedelta(minutes=1) if hours <= 1 else timedelta(minutes=5) if hours <= 6 else timedelta(minutes=15)


@dataclass(slots=True)
class RatePoint(MatchRate):
    bucket: datetime
    matched: int
    mismatched: int
    errored: int
    stale: int = 0  # write rows that moved on before the check: not judged, shown on hover


@dataclass(slots=True)
class RateSeries:
    kind: str
    overall: list[RatePoint] = field(default_factory=list)
    subjects: dict[str, list[RatePoint]] = field(default_factory=dict)  # routes (read) or tables (write)

    @property
    def totals(self) -> RatePoint | None:
        if not self.overall:
            return None
        return RatePoint(self.overall[-1].bucket, sum(p.matched for p in self.overall),
                         sum(p.mismatched for p in self.overall), sum(p.errored for p in self.overall),
                         sum(p.stale for p in self.overall))


def match_rate_series(*, kind: str, hours: float, now: datetime | None = None, bucket: timedelta | None = None,
                      top_subjects: int | None = TOP_SUBJECTS,
                      migration_ids: Sequence[int] | None = None) -> RateSeries:
    """Overall match rate per bucket, and per subject for the subjects asked for.

    `top_subjects`: that many of the subjects with most mismatches (only subjects that have
    some), most first; None: every subject judged in the window, by name. `bucket` defaults
    to `bucket_for(hours)`. `migration_ids`: only those migrations' verdicts (pages pass their
    request's console.migration_scope); None: every migration.
    """
    now = now or timezone.now()
    bucket = bucket or bucket_for(hours)
    table, column, since = _roll_up_for(bucket, now - timedelta(hours=hours))
    having = _JUDGED_SUBJECTS if top_subjects is None else _WORST_SUBJECTS
    in_migrations = "" if migration_ids is None else "AND migration_id = ANY(%s)"
    with connection.cursor() as cursor:
        # One index range scan of the window, summed per (bucket, subject) once (CTE materialised:
        # a few thousand rows instead of every minute of every migration); the totals per bucket
        # and the chosen subjects' series are read from those sums.
        cursor.execute(
            f"""
            WITH w AS MATERIALIZED (
                SELECT date_bin(%s, {column}, TIMESTAMPTZ '2000-01-01') AS bucket, subject,
                       sum(matched)::bigint AS matched, sum(mismatched)::bigint AS mismatched,
                       sum(errored)::bigint AS errored, sum(stale)::bigint AS stale
                FROM {table}
                WHERE kind = %s AND {column} >= %s AND {column} <= %s {in_migrations}
                GROUP BY 1, 2
            ), chosen AS (
                SELECT subject FROM w GROUP BY subject {having}
                ORDER BY sum(mismatched + errored) DESC, subject LIMIT %s
            )
            SELECT bucket, NULL, sum(matched)::bigint, sum(mismatched)::bigint, sum(errored)::bigint,
                   sum(stale)::bigint
            FROM w GROUP BY bucket
            UNION ALL
            SELECT bucket, subject, matched, mismatched, errored, stale
            FROM w WHERE subject IN (SELECT subject FROM chosen)
            """,  # noqa: S608 - `table`, `column`, `having` and `in_migrations` are constants above
            # psycopg adapts the timedelta bucket; django-stubs' parameter union omits timedelta
            [bucket, kind, since, now,  # type: ignore[list-item]
             *([] if migration_ids is None else [list(migration_ids)]), top_subjects],
        )
        rows = cursor.fetchall()
    series = RateSeries(kind=kind)
    per_subject: dict[str, list[RatePoint]] = {}
    mismatches: dict[str, int] = {}
    for moment, subject, matched, mismatched, errored, stale in rows:
        point = RatePoint(moment, matched, mismatched, errored, stale)
        if subject is None:
            series.overall.append(point)
        else:
            per_subject.setdefault(subject, []).append(point)
            mismatches[subject] = mismatches.get(subject, 0) + mismatched + errored
    series.overall.sort(key=lambda p: p.bucket)
    order = sorted(per_subject) if top_subjects is None else sorted(per_subject, key=lambda s: (-mismatches[s], s))
    series.subjects = {subject: sorted(per_subject[subject], key=lambda p: p.bucket) for subject in order}
    return series
