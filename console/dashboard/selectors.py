"""Overview queries: all from roll-ups (OutcomeCount per minute, group rows, run rows, host rows).

Never a scan of samples. Each query is bounded by an index: OutcomeCount by (kind, minute),
groups by (kind, status, -last_seen), runs by started_at, hosts are a handful of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from console.dashboard.formatting import format_count, format_money, format_share
from verifiers.models import MismatchGroup, ReconciliationRun

SEVERITIES = ("critical", "high", "medium", "low")
RATE_HOURS_CHOICES = (1, 6, 24)
DEFAULT_RATE_HOURS = 6
TOP_ROUTES = 5
OPEN_STATUSES = (MismatchGroup.Status.OPEN, MismatchGroup.Status.ACKNOWLEDGED)


def bucket_for(hours: int) -> timedelta:
    """Chart resolution: about 72-144 points whatever the range."""
    return timedelta(minutes=1) if hours <= 1 else timedelta(minutes=5) if hours <= 6 else timedelta(minutes=15)


@dataclass(slots=True)
class RatePoint:
    bucket: datetime
    matched: int
    mismatched: int
    errored: int

    @property
    def compared(self) -> int:
        return self.matched + self.mismatched + self.errored

    @property
    def rate(self) -> float | None:
        return self.matched / self.compared if self.compared else None


@dataclass(slots=True)
class RateSeries:
    kind: str
    overall: list[RatePoint] = field(default_factory=list)
    routes: dict[str, list[RatePoint]] = field(default_factory=dict)  # the routes that mismatch most

    @property
    def totals(self) -> RatePoint | None:
        if not self.overall:
            return None
        return RatePoint(self.overall[-1].bucket, sum(p.matched for p in self.overall),
                         sum(p.mismatched for p in self.overall), sum(p.errored for p in self.overall))


def match_rate_series(*, kind: str, hours: int = DEFAULT_RATE_HOURS, now: datetime | None = None) -> RateSeries:
    """Overall match rate per bucket, plus the series of the routes with most mismatches."""
    now = now or timezone.now()
    since = now - timedelta(hours=hours)
    bucket = bucket_for(hours)
    series = RateSeries(kind=kind)
    with connection.cursor() as cursor:
        # One index range scan of the window (CTE materialised once); the database sums per bucket
        # for all routes and per (bucket, route) for the few worst routes only: ~500 rows come back.
        cursor.execute(
            """
            WITH w AS MATERIALIZED (
                SELECT date_bin(%s, minute, TIMESTAMPTZ '2000-01-01') AS bucket, subject,
                       matched, mismatched, errored
                FROM verifiers_outcomecount
                WHERE kind = %s AND minute >= %s AND minute <= %s
            ), worst AS (
                SELECT subject FROM w GROUP BY subject HAVING sum(mismatched + errored) > 0
                ORDER BY sum(mismatched + errored) DESC, subject LIMIT %s
            )
            SELECT bucket, NULL, sum(matched)::bigint, sum(mismatched)::bigint, sum(errored)::bigint
            FROM w GROUP BY bucket
            UNION ALL
            SELECT bucket, subject, sum(matched)::bigint, sum(mismatched)::bigint, sum(errored)::bigint
            FROM w WHERE subject IN (SELECT subject FROM worst) GROUP BY bucket, subject
            """,
            [bucket, kind, since, now, TOP_ROUTES],
        )
        rows = cursor.fetchall()
    overall: list[RatePoint] = []
    per_subject: dict[str, list[RatePoint]] = {}
    mismatches: dict[str, int] = {}
    for moment, subject, matched, mismatched, errored in rows:
        point = RatePoint(moment, matched, mismatched, errored)
        if subject is None:
            overall.append(point)
        else:
            per_subject.setdefault(subject, []).append(point)
            mismatches[subject] = mismatches.get(subject, 0) + mismatched + errored
    series.overall = sorted(overall, key=lambda p: p.bucket)
    worst = sorted(per_subject, key=lambda s: (-mismatches[s], s))
    series.routes = {subject: sorted(per_subject[subject], key=lambda p: p.bucket) for subject in worst}
    return series


def _group_url(group_id: int) -> str:
    try:
        return reverse("group-detail", args=[group_id])
    except NoReverseMatch:
        return f"/groups/{group_id}/"


def open_groups_by_severity() -> dict[str, Any]:
    """Counts of open and acknowledged groups per severity and kind, and the latest per severity."""
    counts = {severity: {"read": 0, "write": 0, "total": 0} for severity in SEVERITIES}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT severity, kind, count(*), sum(count)::bigint FROM verifiers_mismatchgroup
            WHERE status = ANY(%s) GROUP BY 1, 2
            """,
            [list(OPEN_STATUSES)],
        )
        occurrences = 0
        for severity, kind, groups, mismatches in cursor.fetchall():
            row = counts.setdefault(severity, {"read": 0, "write": 0, "total": 0})
            row[kind] = row.get(kind, 0) + groups
            row["total"] += groups
            occurrences += int(mismatches or 0)
    latest = list(
        MismatchGroup.objects.filter(status__in=OPEN_STATUSES)
        .order_by("-last_seen")
        .only("pk", "kind", "title", "subject", "severity", "status", "count", "last_seen")[:60]
    )
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    # The latest 60 by activity, shown most severe first: bounded, and a critical group is on top.
    latest.sort(key=lambda g: (rank.get(g.severity, len(SEVERITIES)), -g.last_seen.timestamp()))
    return {
        "counts": [(severity, counts[severity]) for severity in counts],
        "total": sum(row["total"] for row in counts.values()),
        "occurrences": occurrences,
        "latest": [{"group": g, "url": _group_url(g.pk)} for g in latest[:10]],
    }


def _run_row(run: ReconciliationRun) -> dict[str, Any]:
    totals = []
    for currency, values in sorted((run.totals or {}).items()):
        totals.append({
            "currency": currency,
            "balance": format_money(values.get("balance_at_cutoff"), currency),
            "counterpart": format_money(values.get("counterpart"), currency),
            "difference": format_money(values.get("difference"), currency),
            "off": values.get("difference") not in (None, "") and float(values["difference"]) != 0,
        })
    try:
        url = reverse("reconciliation-run", args=[run.pk])
    except NoReverseMatch:
        url = f"/reconciliation/runs/{run.pk}/"
    return {"run": run, "url": url, "totals": totals,
            "duration_s": None if run.duration_ms is None else run.duration_ms / 1000}


def reconciliation_summary(history: int = 10) -> dict[str, Any]:
    runs = list(ReconciliationRun.objects.select_related("source").order_by("-started_at", "-id")[:history])
    rows = [_run_row(run) for run in runs]
    return {"last": rows[0] if rows else None, "history": rows}


def numa_summary() -> dict[str, Any] | None:
    """numa.selectors.overview_summary() when the NUMA part provides it, else None."""
    try:
        from numa.selectors import overview_summary
    except ImportError:
        return None
    return overview_summary()


def _rate_tile(series: RateSeries) -> dict[str, Any]:
    totals = series.totals
    if totals is None or not totals.compared:
        return {"rate": "–", "detail": "nothing verified yet", "state": "muted"}
    bad = totals.mismatched + totals.errored
    return {
        "rate": format_share(totals.rate, 2),
        "detail": f"{format_count(totals.compared)} compared · {format_count(bad)} not matching",
        "state": "bad" if bad else "ok",
    }


def headline(read: RateSeries, write: RateSeries, groups: dict[str, Any], reconciliation: dict[str, Any],
             numa: dict[str, Any] | None) -> dict[str, Any]:
    """The five figures at the top of the page, ready to show."""
    by_severity = dict(groups["counts"])
    urgent = by_severity.get("critical", {}).get("total", 0) + by_severity.get("high", {}).get("total", 0)
    gain = (numa or {}).get("last_gain")
    gain_tile = None
    if gain and gain.get("gain") is not None:
        interval = ""
        if gain.get("ci_low") is not None and gain.get("ci_high") is not None:
            interval = f"95 % interval {format_share(gain['ci_low'])} to {format_share(gain['ci_high'])}"
        gain_tile = {"value": format_share(gain["gain"]), "detail": interval, "url": gain.get("url", ""),
                     "state": "ok" if gain["gain"] > 0 else "bad" if gain["gain"] < 0 else "muted",
                     "demo": bool(gain.get("demo"))}
    return {
        "read": _rate_tile(read), "write": _rate_tile(write),
        "open_groups": groups["total"], "urgent_groups": urgent,
        "groups_state": "bad" if urgent else "warn" if groups["total"] else "ok",
        "last_run": reconciliation["last"], "gain": gain_tile,
    }
