"""Overview queries: all from roll-ups (outcome counts per minute and per five minutes, group rows,
run rows, host rows).

Match rates come from the verifiers' one selector (verifiers.selectors.match_rate_series).

Never a scan of samples. Each query is bounded by an index: the outcome counts by (migration, kind,
minute or bucket), groups by (kind, status, -last_seen), runs by started_at, hosts are a handful of rows.
Every query takes the migration ids the request may see (console.migration_scope); the programme
table sums all migrations in one GROUP BY query per figure, never one query per migration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from django.core.cache import cache
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from console.dashboard import programme
from console.dashboard.formatting import format_count, format_money, format_share
from console.models import Migration
from numa.selectors import overview_summary
from verifiers.models import MismatchGroup, ReconciliationRun
from verifiers.selectors import RateSeries

SEVERITIES = ("critical", "high", "medium", "low")
RATE_HOURS_CHOICES = (1, 6, 24)
DEFAULT_RATE_HOURS = 6
OPEN_STATUSES = (MismatchGroup.Status.OPEN, MismatchGroup.Status.ACKNOWLEDGED)


def _group_url(group_id: int) -> str:
    return reverse("group-detail", args=[group_id])


def open_groups_by_severity(migration_ids: Sequence[int]) -> dict[str, Any]:
    """Counts of open and acknowledged groups per severity and kind, and the latest per severity."""
    counts = {severity: {"read": 0, "write": 0, "total": 0} for severity in SEVERITIES}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT severity, kind, count(*), sum(count)::bigint FROM verifiers_mismatchgroup
            WHERE status = ANY(%s) AND migration_id = ANY(%s) GROUP BY 1, 2
            """,
            [list(OPEN_STATUSES), list(migration_ids)],
        )
        occurrences = 0
        for severity, kind, groups, mismatches in cursor.fetchall():
            row = counts.setdefault(severity, {"read": 0, "write": 0, "total": 0})
            row[kind] = row.get(kind, 0) + groups
            row["total"] += groups
            occurrences += int(mismatches or 0)
    latest = list(
        MismatchGroup.objects.filter(status__in=OPEN_STATUSES, migration_id__in=migration_ids)
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
    url = reverse("reconciliation-run", args=[run.pk])
    return {"run": run, "url": url, "totals": totals,
            "duration_s": None if run.duration_ms is None else run.duration_ms / 1000}


def reconciliation_summary(migration_ids: Sequence[int], history: int = 10) -> dict[str, Any]:
    runs = list(ReconciliationRun.objects.select_related("source").filter(source__migration_id__in=migration_ids)
                .order_by("-started_at", "-id")[:history])
    rows = [_run_row(run) for run in runs]
    return {"last": rows[0] if rows else None, "history": rows}


def numa_summary() -> dict[str, Any]:
    """NUMA's part of the overview (numa.selectors.overview_summary)."""
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


# The trend's finished hours are summed once and kept this long: summing 23 hours of per-minute
# rows of every migration on each refresh was most of the overview's time (1M-row benchmark).
# A verdict recorded later into a finished hour shows within this delay.
FINISHED_HOURS_CACHE_S = 300


def _finished_hours(migration_ids: Sequence[int], first: datetime, hour: datetime) -> list[tuple]:
    """Sums per (migration, kind, clock hour) from `first` up to `hour` (excluded), cached.

    From the five-minute roll-up: clock hours are whole five-minute buckets."""
    key = "programme-trend:%s:%s" % (hour.isoformat(), hashlib.sha256(
        ",".join(map(str, sorted(migration_ids))).encode()).hexdigest()[:32])
    rows = cache.get(key)
    if rows is None:
        with connection.cursor() as cursor:
            # date_bin, not extract(epoch): timestamp arithmetic, no numeric per row.
            cursor.execute(
                """
                SELECT migration_id, kind, date_bin(interval '1 hour', bucket, %(first)s),
                       sum(matched)::bigint, sum(mismatched)::bigint, sum(errored)::bigint
                FROM verifiers_fiveminuteoutcomecount
                WHERE migration_id = ANY(%(ids)s) AND kind IN ('read', 'write')
                  AND bucket >= %(first)s AND bucket < %(hour)s
                GROUP BY 1, 2, 3
                """,
                {"ids": list(migration_ids), "first": first, "hour": hour},
            )
            rows = [(migration_id, kind, (bucket - first) // timedelta(hours=1), matched, mismatched, errored)
                    for migration_id, kind, bucket, matched, mismatched, errored in cursor.fetchall()]
        cache.set(key, rows, FINISHED_HOURS_CACHE_S)
    return rows


def programme_rates(migration_ids: Sequence[int], now: datetime) -> dict[tuple[int, str], programme.KindFigures]:
    """Matched, mismatched, errored per migration and kind: per clock hour over the trend (the
    finished hours cached), and over the last 60 minutes. Index-only range scans."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    first = hour - timedelta(hours=programme.TREND_HOURS - 1)
    last_hour_from = now.replace(second=0, microsecond=0) - timedelta(minutes=59)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT migration_id, kind, minute >= %(hour)s, minute >= %(last_hour_from)s,
                   sum(matched)::bigint, sum(mismatched)::bigint, sum(errored)::bigint
            FROM verifiers_outcomecount
            WHERE migration_id = ANY(%(ids)s) AND kind IN ('read', 'write')
              AND minute >= least(%(hour)s, %(last_hour_from)s) AND minute <= %(now)s
            GROUP BY 1, 2, 3, 4
            """,
            {"ids": list(migration_ids), "hour": hour, "last_hour_from": last_hour_from, "now": now},
        )
        recent = cursor.fetchall()
    return programme.rate_figures(_finished_hours(migration_ids, first, hour), recent)


def programme_groups(migration_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Open and acknowledged groups per (migration, severity)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT migration_id, severity, count(*) FROM verifiers_mismatchgroup
            WHERE status = ANY(%s) AND migration_id = ANY(%s) GROUP BY 1, 2
            """,
            [list(OPEN_STATUSES), list(migration_ids)],
        )
        return programme.severity_counts(cursor.fetchall(), SEVERITIES)


def programme_last_runs(migration_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Each migration's latest reconciliation run (any of its ledger sources)."""
    runs = (ReconciliationRun.objects.select_related("source")
            .filter(source__migration_id__in=migration_ids)
            .order_by("source__migration_id", "-started_at", "-id").distinct("source__migration_id"))
    # The FK is non-null in the database; its default (sole_migration_pk) makes the stubs think it may be None.
    return {cast(int, run.source.migration_id): {"run": run, "url": reverse("reconciliation-run", args=[run.pk])}
            for run in runs}


def programme_table(migrations: Sequence[Migration], now: datetime | None = None) -> list[dict[str, Any]]:
    """The overview's programme table: one row per migration, three queries in all."""
    ids = [migration.pk for migration in migrations]
    if not ids:
        return []
    rows = programme.programme_rows(migrations, programme_rates(ids, now or timezone.now()),
                                    programme_groups(ids), programme_last_runs(ids), SEVERITIES)
    for row in rows:
        query = f"?migration={row['migration'].slug}"
        row["urls"] = {name: reverse(name) + query for name in ("overview", "read", "write", "reconciliation")}
        row["urls"]["groups"] = reverse("group-list") + query
    return rows
