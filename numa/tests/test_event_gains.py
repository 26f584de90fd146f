"""The gain report of a pinning event from given series (numa/event_gains.py): pure, no database."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from numa.event_gains import (
    GainRequestError,
    HostSeries,
    event_gain_report,
    gain_windows,
    kernel_verdict,
)
from numa.gains import SeriesPoint

EVENT = datetime(2025, 3, 10, 0, 0, tzinfo=dt_timezone.utc)
EVENT_INFO = {"id": 7, "label": "p1: CPU manager: static", "kind": "cpu_manager_static", "demo": False}


def _series(before: float, after: float) -> list[SeriesPoint]:
    return [
        SeriesPoint(
            timestamp=EVENT + timedelta(hours=hour),
            cpu_seconds_per_second=after if hour >= 0 else before,
        )
        for hour in range(-24 * 3, 24 * 4)
    ]


def test_report_holds_per_host_and_cluster_gains_and_counts_progress() -> None:
    done: list[int] = []
    report = event_gain_report(
        event=EVENT_INFO,
        windows=gain_windows(EVENT, timedelta(days=2), timedelta(hours=12)),
        treated=[
            HostSeries(
                "p1",
                _series(10.0, 8.0),
                kernel_before={"remote_share": 0.3, "migrated_pages_per_s": 100.0},
                kernel_after={"remote_share": 0.1, "migrated_pages_per_s": 10.0},
            )
        ],
        controls=[HostSeries("c1", _series(10.0, 9.0))],
        resamples=50,
        on_host_done=lambda: done.append(1),
    )
    assert len(done) == 2
    assert report["event_id"] == 7 and report["window_s"] == 2 * 86400 and report["gap_s"] == 43200
    assert report["hosts"][0]["gain"] == pytest.approx(0.2)
    assert report["controls"][0]["gain"] == pytest.approx(0.1)
    assert report["cluster"]["gain"] == pytest.approx(0.1)
    assert report["before"] == [(EVENT - timedelta(days=2)).isoformat(), EVENT.isoformat()]
    assert report["kernel_check"]["verdict"]["agrees"] is True
    assert report["kernel_check"]["hosts"][0]["hint_faults_per_s"] == {"before": None, "after": None}


def test_kernel_check_disagrees_when_remote_share_rises_with_a_cpu_gain() -> None:
    rows = [
        {
            "remote_share": {"before": 0.1, "after": 0.3},
            "migrated_pages_per_s": {"before": 1, "after": 0.5},
            "hint_faults_per_s": {"before": None, "after": None},
        }
    ]
    verdict = kernel_verdict(rows, gain=0.1)
    assert verdict["agrees"] is False and verdict["metrics"]["hint_faults_per_s"] == "no data"


def test_kernel_check_without_data_has_no_opinion() -> None:
    rows = [{name: {"before": None, "after": None} for name in ("remote_share", "migrated_pages_per_s", "hint_faults_per_s")}]
    assert kernel_verdict(rows, gain=0.2)["agrees"] is None


@pytest.mark.parametrize(("window", "gap", "message"), [(0, 0, "window"), (-1, 0, "window"), (1, -1, "gap")])
def test_unusable_windows_are_refused(window: float, gap: float, message: str) -> None:
    with pytest.raises(GainRequestError, match=message):
        gain_windows(EVENT, timedelta(days=window), timedelta(hours=gap))


def test_windows_of_a_day_or_more_use_hour_rollups() -> None:
    assert gain_windows(EVENT, timedelta(days=1), timedelta(0)).uses_hours
    assert not gain_windows(EVENT, timedelta(hours=6), timedelta(0)).uses_hours
