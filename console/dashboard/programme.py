"""The programme table of the overview: every migration side by side, from per-migration sums.

Pure: the database sums per (migration, kind, clock hour) and per (migration, severity) in one
GROUP BY query each (console.dashboard.selectors.programme_table); this module turns those rows
into what a table row shows: read and write match rates over the last 60 minutes and the trend's
24 clock hours, open groups by severity, the last reconciliation, and an hourly match-rate
sparkline (inline SVG, no script).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.dashboard.formatting import format_count, format_share

TREND_HOURS = 24
LONE_HOUR_DASH = 3.0  # sparkline units
SPARK_WIDTH = 120
SPARK_HEIGHT = 28


class MatchRate:
    """The console's one match rate, for anything counting matched, mismatched and errored
    (a mixin of slotted dataclasses: this programme table's tallies, verifiers' RatePoint)."""

    __slots__ = ()
    matched: int
    mismatched: int
    errored: int

    @property
    def compared(self) -> int:
        return self.matched + self.mismatched + self.errored

    @property
    def rate(self) -> float | None:
        """matched / (matched + mismatched + errored); stale, orphaned, unverifiable say nothing."""
        return self.matched / self.compared if self.compared else None


@dataclass(slots=True)
class Tally(MatchRate):
    matched: int = 0
    mismatched: int = 0
    errored: int = 0

    def add(self, matched: int, mismatched: int, errored: int) -> None:
        self.matched += matched
        self.mismatched += mismatched
        self.errored += errored


@dataclass(slots=True)
class KindFigures:
    """One verifier's figures for one migration: `hours[i]` is clock hour i of the trend, oldest
    first, the last one the current (partial) hour; `last_hour` the last 60 minutes."""

    hours: list[Tally] = field(default_factory=lambda: [Tally() for _ in range(TREND_HOURS)])
    last_hour: Tally = field(default_factory=Tally)

    @property
    def day(self) -> Tally:
        total = Tally()
        for hour in self.hours:
            total.add(hour.matched, hour.mismatched, hour.errored)
        return total


def _figures_of(figures: dict[tuple[int, str], KindFigures], migration_id: int, kind: str) -> KindFigures:
    found = figures.get((migration_id, kind))
    if found is None:  # not setdefault: building 24 tallies per row was the table's main Python cost
        found = figures[(migration_id, kind)] = KindFigures()
    return found


def rate_figures(closed_hours: Iterable[tuple[int, str, int, int, int, int]],
                 recent: Iterable[tuple[int, str, bool, bool, int, int, int]]) -> dict[tuple[int, str], KindFigures]:
    """{(migration id, kind): figures} from two kinds of rows.

    `closed_hours`: (migration id, kind, hour index 0..22, matched, mismatched, errored), the
    trend's finished hours. `recent`: (migration id, kind, in the current hour, in the last 60
    minutes, matched, mismatched, errored), the minutes since the earlier of the two starts.
    An hour index outside the finished hours is a caller's bug and refused.
    """
    figures: dict[tuple[int, str], KindFigures] = {}
    for migration_id, kind, hour, matched, mismatched, errored in closed_hours:
        if not 0 <= hour < TREND_HOURS - 1:
            raise ValueError(f"hour index {hour} outside the trend's {TREND_HOURS - 1} finished hours")
        _figures_of(figures, migration_id, kind).hours[hour].add(int(matched), int(mismatched), int(errored))
    for migration_id, kind, current_hour, last_hour, matched, mismatched, errored in recent:
        kind_figures = _figures_of(figures, migration_id, kind)
        if current_hour:
            kind_figures.hours[-1].add(int(matched), int(mismatched), int(errored))
        if last_hour:
            kind_figures.last_hour.add(int(matched), int(mismatched), int(errored))
    return figures


def rate_cell(tally: Tally) -> dict[str, Any]:
    """A match rate ready to show: text, state class and what it is based on."""
    if not tally.compared:
        return {"text": "–", "state": "muted", "detail": "nothing compared"}
    bad = tally.mismatched + tally.errored
    return {"text": format_share(tally.rate, 2), "state": "bad" if bad else "ok",
            "detail": f"{format_count(tally.compared)} compared · {format_count(bad)} not matching"}


def sparkline_points(rates: Sequence[float | None], *, width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT,
                     floor: float | None = None) -> list[str]:
    """SVG polyline point lists ("x,y x,y …"), one per unbroken run of hours with a rate.

    The y axis spans `floor` (default: the lowest rate shown, at most 99 %) to 100 %, so a dip
    from 100 % to 99.5 % is visible and a healthy line sits at the top. Hours without any
    comparison break the line rather than drawing a fake 0 or 100 %.
    """
    known = [rate for rate in rates if rate is not None]
    if not known:
        return []
    bottom = min(min(known), 0.99) if floor is None else floor
    span = (1.0 - bottom) or 1.0
    step = width / max(1, len(rates) - 1)
    runs: list[list[tuple[float, float]]] = [[]]
    for index, rate in enumerate(rates):
        if rate is None:
            if runs[-1]:
                runs.append([])
            continue
        y = (1.0 - (rate - bottom) / span) * (height - 2) + 1
        runs[-1].append((index * step, y))
    # A lone hour (the first hour of a new migration, say) draws a short dash: a one-point
    # polyline draws nothing.
    return [" ".join(f"{x:.1f},{y:.1f}" for x, y in
                     (run if len(run) > 1 else [(max(0.0, run[0][0] - LONE_HOUR_DASH), run[0][1]),
                                                (max(LONE_HOUR_DASH, run[0][0]), run[0][1])]))
            for run in runs if run]


def severity_counts(rows: Iterable[tuple[int, str, int]], severities: Sequence[str]) -> dict[int, dict[str, int]]:
    """{migration id: {severity: open groups, …, "total": n}} from (migration id, severity, count) rows."""
    counts: dict[int, dict[str, int]] = {}
    for migration_id, severity, count in rows:
        row = counts.setdefault(migration_id, {**{s: 0 for s in severities}, "total": 0})
        row[severity] = row.get(severity, 0) + int(count)
        row["total"] += int(count)
    return counts


def programme_rows(migrations: Sequence[Any], rates: Mapping[tuple[int, str], KindFigures],
                   groups: Mapping[int, Mapping[str, int]], last_runs: Mapping[int, Any],
                   severities: Sequence[str]) -> list[dict[str, Any]]:
    """One row per migration (in the order given) with everything its table row shows.

    `migrations` need `.pk`; `last_runs` maps a migration id to its latest run (any object) or
    lacks it when the migration never reconciled.
    """
    empty_groups = {**{s: 0 for s in severities}, "total": 0}
    rows = []
    for migration in migrations:
        row: dict[str, Any] = {"migration": migration, "last_run": last_runs.get(migration.pk)}
        for kind in ("read", "write"):
            figures = rates.get((migration.pk, kind)) or KindFigures()
            row[kind] = {"hour": rate_cell(figures.last_hour), "day": rate_cell(figures.day),
                         "trend": sparkline_points([hour.rate for hour in figures.hours])}
        open_groups = groups.get(migration.pk, empty_groups)
        row["groups"] = [(severity, open_groups.get(severity, 0)) for severity in severities]
        row["open_groups"] = open_groups["total"]
        rows.append(row)
    return rows
