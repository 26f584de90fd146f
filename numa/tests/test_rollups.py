"""Metric columns and their roll-ups (numa/rollups.py): pure, no database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from numa.rollups import METRIC_FIELDS, bucket_of, weighted_means, work_per_s


def _row(interval_s: float, **values: object) -> SimpleNamespace:
    metrics = {name: None for name in METRIC_FIELDS} | values
    return SimpleNamespace(interval_s=interval_s, node_cpu_cores={}, node_remote_share={}, **metrics)


def test_means_weigh_each_row_by_its_interval_and_skip_missing_values() -> None:
    rows = [
        _row(10.0, remote_share=0.1, cpu_cores=2.0),
        _row(30.0, remote_share=0.5),
        _row(0.0, remote_share=9.0),  # no interval: no weight
    ]
    rows[0].node_cpu_cores = {"0": 1.0}
    rows[1].node_cpu_cores = {"0": 3.0, "1": 2.0}
    means = weighted_means(rows, "interval_s")
    assert means["remote_share"] == pytest.approx(0.4)
    assert means["cpu_cores"] == pytest.approx(2.0)
    assert means["migrated_pages_per_s"] is None
    assert means["node_cpu_cores"] == {"0": pytest.approx(2.5), "1": pytest.approx(2.0)}
    assert (means["samples"], means["covered_s"]) == (2, 40.0)


def test_buckets_start_on_the_utc_minute_and_hour() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=9)))
    assert bucket_of(moment, "minute") == datetime(2026, 1, 1, 18, 4, tzinfo=timezone.utc)
    assert bucket_of(moment, "hour") == datetime(2026, 1, 1, 18, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("total", "previous", "interval", "expected"),
    [(1500.0, 1000.0, 10.0, 50.0), (900.0, 1000.0, 10.0, None), (None, 1.0, 10.0, None), (5.0, None, 10.0, None), (5.0, 1.0, None, None)],
)
def test_work_per_second_needs_both_totals_and_an_interval(total, previous, interval, expected) -> None:
    assert work_per_s(total, previous, interval) == expected
