"""Tests of numa.gains with synthetic series whose answers are known."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from numa.gains import (
    GainInputError,
    HostGain,
    SeriesPoint,
    cluster_gain,
    host_gain,
    rates_from_cumulative,
)

EVENT = datetime(2025, 3, 10, 0, 0, tzinfo=timezone.utc)  # a Monday
WEEK = timedelta(days=7)
DAY = timedelta(days=1)
GAP = timedelta(days=1)
STEP = timedelta(minutes=20)


def daily_load(moment: datetime) -> float:
    """Requests/s with a day/night cycle and quiet weekends."""
    base = 400.0 if 8 <= moment.hour < 20 else 120.0
    return base * (0.3 if moment.weekday() >= 5 else 1.0)


def make_series(
    cpu_of: Callable[[datetime, float, bool], float],
    *,
    with_work: bool = True,
    start: datetime = EVENT - WEEK,
    end: datetime = EVENT + GAP + WEEK,
    keep: Callable[[datetime], bool] = lambda moment: True,
    seed: int = 1,
) -> list[SeriesPoint]:
    """Points every STEP; cpu_of(moment, work, is_after) gives CPU cores."""
    rng = random.Random(seed)
    points = []
    moment = start
    while moment < end:
        if keep(moment):
            work = daily_load(moment) * (1 + rng.uniform(-0.2, 0.2))
            cpu = cpu_of(moment, work, moment >= EVENT)
            points.append(SeriesPoint(moment, cpu, work if with_work else None))
        moment += STEP
    return points


def per_request(drop: float) -> Callable[[datetime, float, bool], float]:
    """CPU = 2 ms per request, then (1 - drop) times that after the event."""
    return lambda moment, work, after: 0.002 * work * ((1 - drop) if after else 1.0)


# ------------------------------------------------------------------ host gain


def test_cpu_per_work_drop_of_13_percent_gives_gain_013() -> None:
    gain = host_gain(make_series(per_request(0.13)), EVENT, WEEK, GAP, host="a")
    assert gain.gain == pytest.approx(0.13, abs=1e-9)
    assert gain.unit == "cpu_seconds_per_work"
    assert gain.ci_low is not None and gain.ci_high is not None
    assert gain.ci_low <= 0.13 <= gain.ci_high
    assert gain.ci_high - gain.ci_low < 1e-6  # an exact drop has no spread


def test_plain_cpu_use_without_work_metric_gives_gain_013() -> None:
    series = make_series(per_request(0.13), with_work=False)
    gain = host_gain(series, EVENT, WEEK, GAP)
    assert gain.unit == "cpu_cores"
    assert gain.gain == pytest.approx(0.13, abs=0.02)  # load noise differs per side


def test_rollout_gap_is_left_out() -> None:
    # During the gap CPU spikes (rollout restarts); it must not count.
    def cpu(moment: datetime, work: float, after: bool) -> float:
        if EVENT <= moment < EVENT + GAP:
            return 50.0
        return per_request(0.13)(moment, work, after)

    gain = host_gain(make_series(cpu), EVENT, WEEK, GAP)
    assert gain.gain == pytest.approx(0.13, abs=1e-9)


def test_pure_noise_interval_contains_zero_and_is_not_significant() -> None:
    noise = random.Random(7)
    series = make_series(lambda m, work, after: 2.0 * (1 + noise.gauss(0, 0.15)), with_work=False)
    gain = host_gain(series, EVENT, WEEK, GAP, seed=3)
    assert gain.ci_low is not None and gain.ci_high is not None
    assert gain.ci_low < 0 < gain.ci_high
    result = cluster_gain([gain], seed=3)
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low < 0 < result.ci_high
    assert result.significant is False


def test_counter_reset_in_the_middle_is_dropped_not_read_as_a_gain() -> None:
    # Cumulative CPU-seconds and request counters, as a host exports them.
    rng = random.Random(5)
    cumulative = []
    cpu_total = work_total = 0.0
    moment = EVENT - WEEK
    step_s = STEP.total_seconds()
    while moment < EVENT + GAP + WEEK:
        work = daily_load(moment) * (1 + rng.uniform(-0.2, 0.2))
        cpu = per_request(0.13)(moment, work, moment >= EVENT)
        cpu_total += cpu * step_s
        work_total += work * step_s
        if moment == EVENT + GAP + timedelta(days=3):
            cpu_total = work_total = 0.0  # exporter restarted
        cumulative.append((moment, cpu_total, work_total))
        moment += STEP
    series = rates_from_cumulative(cumulative)
    gain = host_gain(series, EVENT, WEEK, GAP)
    assert gain.dropped_points == 1
    assert gain.gain == pytest.approx(0.13, abs=0.01)


def test_rates_from_cumulative_marks_resets_with_none() -> None:
    t0 = EVENT
    points = rates_from_cumulative(
        [(t0, 100.0, 10.0), (t0 + timedelta(seconds=10), 120.0, 30.0),
         (t0 + timedelta(seconds=20), 5.0, 2.0)]
    )
    assert points[0].cpu_seconds_per_second == pytest.approx(2.0)
    assert points[0].work_per_second == pytest.approx(2.0)
    assert points[1].cpu_seconds_per_second is None


def test_weekly_alignment_ignores_a_missing_weekend_after_the_event() -> None:
    # No change at all, strong weekday/weekend pattern, and the collector was
    # down for the weekend after the event: only matching slots are compared.
    series = make_series(
        lambda m, work, after: 4.0 if m.weekday() < 5 else 0.5,
        with_work=False,
        keep=lambda m: not (m >= EVENT and m.weekday() >= 5),
    )
    gain = host_gain(series, EVENT, WEEK, GAP)
    assert gain.gain == pytest.approx(0.0, abs=1e-12)
    assert gain.before_points > gain.after_points
    before = [p.cpu_seconds_per_second or 0.0 for p in series if p.timestamp < EVENT]
    naive_before = sum(before) / len(before)
    assert naive_before < 4.0  # the unaligned comparison would have shown a "loss"


def test_daily_windows_align_by_hour_of_day() -> None:
    # One-day windows, night hours missing after the event, no real change.
    series = make_series(
        lambda m, work, after: 3.0 if 8 <= m.hour < 20 else 1.0,
        with_work=False,
        start=EVENT - DAY,
        end=EVENT + timedelta(hours=2) + DAY,
        keep=lambda m: not (m >= EVENT and not 8 <= m.hour < 20),
    )
    gain = host_gain(series, EVENT, DAY, timedelta(hours=2))
    assert gain.gain == pytest.approx(0.0, abs=1e-12)
    assert {stratum.key for stratum in gain.strata} == {f"h{hour:02d}" for hour in range(8, 20)}


def test_matching_load_levels_removes_most_of_a_busier_week_bias() -> None:
    # No real change, but 40% more traffic after: the fixed overhead makes CPU per
    # request look lower. Comparing like with like removes most of that.
    def cpu(moment: datetime, work: float, after: bool) -> float:
        return 0.5 + 0.002 * work

    rng = random.Random(11)
    series = []
    moment = EVENT - WEEK
    while moment < EVENT + GAP + WEEK:
        work = rng.uniform(50, 600) * (1.4 if moment >= EVENT else 1.0)
        series.append(SeriesPoint(moment, cpu(moment, work, False), work))
        moment += STEP
    unmatched = host_gain(series, EVENT, WEEK, GAP, load_buckets=1, resamples=0)
    matched = host_gain(series, EVENT, WEEK, GAP, resamples=0)  # default 5 load levels
    assert unmatched.gain is not None and matched.gain is not None
    assert unmatched.gain > 0.05
    assert abs(matched.gain) < unmatched.gain / 3


def test_no_points_after_the_event_gives_no_gain_with_reason() -> None:
    series = make_series(per_request(0.0), end=EVENT)
    gain = host_gain(series, EVENT, WEEK, GAP)
    assert gain.gain is None
    assert gain.reason == "no usable points in the after window"


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(GainInputError, match="timezone"):
        host_gain([SeriesPoint(datetime(2025, 3, 3), 1.0)], EVENT, WEEK, GAP)
    with pytest.raises(GainInputError, match="event_time"):
        host_gain([], datetime(2025, 3, 10), WEEK, GAP)


def test_negative_cpu_rate_is_rejected_with_a_hint() -> None:
    with pytest.raises(GainInputError, match="rates_from_cumulative"):
        host_gain([SeriesPoint(EVENT - DAY, -3.0)], EVENT, WEEK, GAP)


def test_bad_window_and_gap_are_rejected() -> None:
    with pytest.raises(GainInputError, match="window"):
        host_gain([], EVENT, timedelta(0), GAP)
    with pytest.raises(GainInputError, match="gap"):
        host_gain([], EVENT, WEEK, -GAP)


# ------------------------------------------------------------------ cluster gain


def host(name: str, drop: float, seed: int, noise: float = 0.05, scale: float = 1.0) -> HostGain:
    rng = random.Random(seed)
    series = make_series(
        lambda m, work, after: scale
        * per_request(drop)(m, work, after)
        * (1 + rng.gauss(0, noise)),
        seed=seed,
    )
    return host_gain(series, EVENT, WEEK, GAP, host=name, resamples=0)


def test_cluster_gain_of_hosts_that_all_dropped_13_percent_is_significant() -> None:
    gains = [host(f"h{index}", 0.13, seed=index) for index in range(3)]
    result = cluster_gain(gains, resamples=300)
    assert result.gain == pytest.approx(0.13, abs=0.01)
    assert result.control_gain is None
    assert result.significant is True
    assert result.ci_low is not None and result.ci_low > 0


def test_difference_in_differences_subtracts_the_control_change() -> None:
    treated = [host(f"pinned{index}", 0.13, seed=index) for index in range(3)]
    controls = [host(f"free{index}", 0.05, seed=10 + index) for index in range(2)]
    result = cluster_gain(treated, control_hosts=controls, resamples=300)
    assert result.treated_gain == pytest.approx(0.13, abs=0.01)
    assert result.control_gain == pytest.approx(0.05, abs=0.01)
    assert result.gain == pytest.approx(0.08, abs=0.015)
    assert result.ci_low is not None and result.ci_high is not None and result.gain is not None
    assert result.ci_low <= result.gain <= result.ci_high


def test_default_weights_are_cpu_shares() -> None:
    big = host("big", 0.20, seed=1, noise=0.0, scale=3.0)
    small = host("small", 0.0, seed=2, noise=0.0, scale=1.0)
    result = cluster_gain([big, small], resamples=0)
    assert big.mean_cpu_before is not None and small.mean_cpu_before is not None
    share = big.mean_cpu_before / (big.mean_cpu_before + small.mean_cpu_before)
    assert share == pytest.approx(0.75, abs=0.01)  # 3x the CPU of the other host
    assert result.host_weights["big"] == pytest.approx(share)
    assert result.gain == pytest.approx(share * 0.20, abs=1e-9)


def test_explicit_weights_override_cpu_share() -> None:
    a = host("a", 0.20, seed=1, noise=0.0)
    b = host("b", 0.0, seed=2, noise=0.0)
    result = cluster_gain([a, b], weights={"a": 1.0, "b": 3.0}, resamples=0)
    assert result.gain == pytest.approx(0.05, abs=1e-6)


def test_hosts_without_a_gain_are_skipped_with_their_reason() -> None:
    good = host("good", 0.13, seed=1, noise=0.0)
    empty = host_gain([], EVENT, WEEK, GAP, host="empty")
    result = cluster_gain([good, empty], resamples=0)
    assert result.skipped_hosts == {"empty": "no usable points in the before window"}
    assert result.gain == pytest.approx(0.13, abs=1e-9)


def test_bootstrap_is_reproducible_with_the_same_seed() -> None:
    gains = [host(f"h{index}", 0.10, seed=index, noise=0.2) for index in range(2)]
    first = cluster_gain(gains, resamples=200, seed=42)
    second = cluster_gain(gains, resamples=200, seed=42)
    assert (first.ci_low, first.ci_high) == (second.ci_low, second.ci_high)


def test_host_both_pinned_and_control_is_rejected() -> None:
    a = host("a", 0.1, seed=1, noise=0.0)
    with pytest.raises(GainInputError, match="both pinned and control"):
        cluster_gain([a], control_hosts=[a], resamples=0)


def test_missing_explicit_weight_is_rejected() -> None:
    a = host("a", 0.1, seed=1, noise=0.0)
    with pytest.raises(GainInputError, match="no weight"):
        cluster_gain([a], weights={"b": 1.0}, resamples=0)


def test_bad_confidence_is_rejected() -> None:
    with pytest.raises(GainInputError, match="confidence"):
        cluster_gain([], confidence=1.5)
