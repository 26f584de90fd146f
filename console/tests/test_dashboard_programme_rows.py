"""The programme table's pure part: per-migration sums into rows, sparklines (no Django, no database)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from console.dashboard.programme import (
    TREND_HOURS,
    programme_rows,
    rate_figures,
    severity_counts,
    sparkline_points,
)

SEVERITIES = ("critical", "high", "medium", "low")


@dataclass
class FakeMigration:
    pk: int
    slug: str


def test_rates_split_the_last_hour_from_the_trend_per_migration_and_kind():
    figures = rate_figures(
        [(1, "read", 0, 90, 10, 0), (1, "write", 3, 7, 0, 1)],
        [(1, "read", True, True, 50, 0, 0),  # this clock hour, within the last 60 minutes
         (1, "read", False, True, 5, 5, 0),  # the previous clock hour's last minutes
         (2, "read", True, True, 1, 1, 0)],
    )
    assert figures[(1, "read")].last_hour.rate == pytest.approx(55 / 60)
    assert figures[(1, "read")].hours[-1].rate == 1.0  # the current hour has only what is in it
    assert figures[(1, "read")].day.rate == pytest.approx(140 / 150)  # finished hours and the current one
    assert figures[(2, "read")].last_hour.rate == 0.5
    assert figures[(1, "write")].last_hour.compared == 0 and figures[(1, "write")].day.rate == 7 / 8


def test_an_hour_outside_the_finished_hours_is_refused():
    with pytest.raises(ValueError, match="hour index 23"):
        rate_figures([(1, "read", TREND_HOURS - 1, 1, 0, 0)], [])


def test_rows_keep_the_migrations_order_and_fill_gaps():
    rates = rate_figures([], [(2, "write", True, True, 999, 1, 0)])
    groups = severity_counts([(2, "critical", 2), (2, "low", 5), (1, "high", 1)], SEVERITIES)
    rows = programme_rows([FakeMigration(1, "a"), FakeMigration(2, "b")], rates, groups, {2: "run"}, SEVERITIES)
    assert [row["migration"].slug for row in rows] == ["a", "b"]
    first, second = rows
    assert first["read"]["hour"]["text"] == "–" and first["read"]["trend"] == []
    assert first["groups"] == [("critical", 0), ("high", 1), ("medium", 0), ("low", 0)]
    assert first["open_groups"] == 1 and first["last_run"] is None
    assert second["write"]["hour"] == {"text": "99.90 %", "state": "bad", "detail": "1,000 compared · 1 not matching"}
    assert second["open_groups"] == 7 and second["last_run"] == "run"


def test_a_healthy_sparkline_sits_at_the_top_and_a_dip_shows():
    (healthy,) = sparkline_points([1.0, 1.0], width=100, height=22)
    assert healthy == "0.0,1.0 100.0,1.0"
    (dip,) = sparkline_points([1.0, 0.99, 1.0], width=100, height=22)
    assert dip.split()[1] == "50.0,21.0"  # 99 % is the floor: the bottom of the box


def test_hours_without_comparisons_break_the_line():
    runs = sparkline_points([1.0, None, None, 0.5, 0.6], width=100)
    assert runs[1] == "75.0,27.0 100.0,21.8" and len(runs) == 2
    assert runs[0] == "0.0,1.0 3.0,1.0"  # a lone hour: a short dash, visible


def test_a_migrations_first_hour_shows_as_a_dash_at_the_right_edge():
    assert sparkline_points([None] * 23 + [1.0], width=120, height=28) == ["117.0,1.0 120.0,1.0"]
    assert sparkline_points([None, None]) == []
