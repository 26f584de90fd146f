"""CPU gained by a pinning event, per host and across the cluster, with its spread.

A pinning event (CPU manager static, memory manager, topology manager
single-numa-node, or a manual note) happens at ``event_time`` on some hosts.
For each host we compare a window before the event with a window of equal
length after it, leaving out the rollout gap:

    before = [event - window, event)      after = [event + gap, event + gap + window)

The metric is CPU-seconds per unit of work when the host has a throughput
metric, else plain CPU use (cores). To keep the comparison fair:

* points are aligned by time slot: (weekday, hour) when the window is at least a
  week, hour of day when it is at least a day, else twelfths of the window; only
  slots present on both sides are kept;
* the strata compared like with like are those time slots, or, with a work
  metric, load levels (quantile buckets of work/s over both windows), so busy
  hours are compared with busy hours;
* each stratum weighs its number of points, and
  gain = 1 - sum(w * after) / sum(w * before)   (positive = less CPU after).

The spread comes from a seeded bootstrap over time slots (the hours), so a noisy
week shows a wide interval instead of a gain. ``cluster_gain`` weights hosts by
CPU share and subtracts the change of unpinned control hosts over the same
period (difference in differences).

Pure module: no Django.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_LOAD_BUCKETS = 5
DEFAULT_RESAMPLES = 1000
SUB_DAY_SLOTS = 12


class GainInputError(ValueError):
    """Bad input to a gain computation (naive timestamps, negative rates, bad window...)."""


@dataclass(frozen=True)
class SeriesPoint:
    """One observation of a host: CPU use and, optionally, work done, per second.

    cpu_seconds_per_second None (or NaN) marks an interval without a rate, such
    as a counter reset; such points are left out.
    """

    timestamp: datetime
    cpu_seconds_per_second: float | None
    work_per_second: float | None = None


# Sums of one comparison cell: before (cpu, denominator, points), after (same).
CellSums = tuple[float, float, int, float, float, int]


@dataclass
class Stratum:
    """What is compared like with like: a time slot, or a load level with a work metric."""

    key: str
    before_cpu: float
    before_denominator: float  # sum of work, or number of points without a work metric
    before_points: int
    after_cpu: float
    after_denominator: float
    after_points: int

    @property
    def weight(self) -> int:
        return self.before_points + self.after_points

    @property
    def before_value(self) -> float:
        return self.before_cpu / self.before_denominator

    @property
    def after_value(self) -> float:
        return self.after_cpu / self.after_denominator


@dataclass
class HostGain:
    """Before/after comparison of one host around one event."""

    host: str
    gain: float | None
    unit: str  # "cpu_seconds_per_work" or "cpu_cores"
    before_value: float | None = None
    after_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float = 0.95
    mean_cpu_before: float | None = None  # cores; the default cluster weight
    before_points: int = 0
    after_points: int = 0
    dropped_points: int = 0
    strata: list[Stratum] = field(default_factory=list)
    reason: str | None = None  # why gain is None
    # Per matched time slot: stratum key -> CellSums. The bootstrap resamples these slots.
    slot_cells: list[dict[str, CellSums]] = field(default_factory=list, repr=False)


@dataclass
class ClusterGain:
    """Weighted gain of the pinned hosts, net of the control hosts' change."""

    gain: float | None
    treated_gain: float | None
    control_gain: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    significant: bool
    host_weights: dict[str, float] = field(default_factory=dict)
    control_weights: dict[str, float] = field(default_factory=dict)
    skipped_hosts: dict[str, str] = field(default_factory=dict)
    resamples: int = 0
    seed: int = 0


# --------------------------------------------------------------------------- helpers


def rates_from_cumulative(
    samples: Sequence[tuple[datetime, float, float | None]],
) -> list[SeriesPoint]:
    """(timestamp, cpu_seconds_total, work_total or None) counters -> per-second points.

    Each point is stamped with the end of its interval. An interval where a
    counter went down (reset, reboot) gets cpu None, so it is left out later
    instead of becoming a negative rate.
    """
    points: list[SeriesPoint] = []
    for (t0, cpu0, work0), (t1, cpu1, work1) in zip(samples, samples[1:]):
        seconds = (t1 - t0).total_seconds()
        if seconds <= 0:
            raise GainInputError(f"timestamps not increasing at {t1.isoformat()}")
        reset = cpu1 < cpu0 or (work0 is not None and work1 is not None and work1 < work0)
        if reset:
            points.append(SeriesPoint(t1, None, None))
            continue
        work_rate = (work1 - work0) / seconds if work0 is not None and work1 is not None else None
        points.append(SeriesPoint(t1, (cpu1 - cpu0) / seconds, work_rate))
    return points


def _slot_of(timestamp: datetime, window: timedelta, window_start: datetime) -> str:
    if window >= timedelta(days=7):
        return f"d{timestamp.weekday()}h{timestamp.hour:02d}"
    if window >= timedelta(days=1):
        return f"h{timestamp.hour:02d}"
    block = int((timestamp - window_start) / (window / SUB_DAY_SLOTS))
    return f"b{min(block, SUB_DAY_SLOTS - 1):02d}"


def _quantile_edges(values: list[float], buckets: int) -> list[float]:
    """Inner edges splitting values into `buckets` groups of roughly equal size."""
    ordered = sorted(values)
    return [ordered[(len(ordered) * index) // buckets] for index in range(1, buckets)]


def _gain_from_sums(after_total: float, before_total: float) -> float | None:
    return None if before_total <= 0 else 1.0 - after_total / before_total


def _percentile(ordered: list[float], fraction: float) -> float:
    """Linear-interpolated percentile of an already sorted list."""
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _strata_of(slot_cells: Sequence[dict[str, CellSums]]) -> list[Stratum]:
    """Add up the cells of the given slots per stratum; keep strata seen on both sides."""
    totals: dict[str, list[float]] = {}
    for cells in slot_cells:
        for key, cell in cells.items():
            total = totals.get(key)
            if total is None:
                totals[key] = list(cell)
            else:
                for index in range(6):
                    total[index] += cell[index]
    return [
        Stratum(key, t[0], t[1], int(t[2]), t[3], t[4], int(t[5]))
        for key, t in sorted(totals.items())
        if t[2] and t[5] and t[1] > 0 and t[4] > 0
    ]


def _gain_of_strata(strata: Sequence[Stratum]) -> float | None:
    """1 - sum(w * after) / sum(w * before), w = points in the stratum."""
    weighted_after = sum(stratum.weight * stratum.after_value for stratum in strata)
    weighted_before = sum(stratum.weight * stratum.before_value for stratum in strata)
    return _gain_from_sums(weighted_after, weighted_before)


def _bootstrap_host_gain(
    slot_cells: Sequence[dict[str, CellSums]], rng: random.Random
) -> float | None:
    """The host gain over a resample (with replacement) of its time slots.

    Same arithmetic as _gain_of_strata(_strata_of(...)), inlined: this runs
    resamples x hosts times.
    """
    count = len(slot_cells)
    totals: dict[str, list[float]] = {}
    for _ in range(count):
        for key, cell in slot_cells[int(rng.random() * count)].items():
            total = totals.get(key)
            if total is None:
                totals[key] = list(cell)
            else:
                total[0] += cell[0]
                total[1] += cell[1]
                total[2] += cell[2]
                total[3] += cell[3]
                total[4] += cell[4]
                total[5] += cell[5]
    weighted_after = weighted_before = 0.0
    for b_cpu, b_den, b_n, a_cpu, a_den, a_n in totals.values():
        if b_n and a_n and b_den > 0 and a_den > 0:
            weight = b_n + a_n
            weighted_after += weight * a_cpu / a_den
            weighted_before += weight * b_cpu / b_den
    return _gain_from_sums(weighted_after, weighted_before)


def _interval(values: list[float], confidence: float) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    tail = (1.0 - confidence) / 2.0
    return _percentile(ordered, tail), _percentile(ordered, 1.0 - tail)


def _validate_common(confidence: float, resamples: int) -> None:
    if not 0.0 < confidence < 1.0:
        raise GainInputError(f"confidence must be between 0 and 1, got {confidence!r}")
    if resamples < 0:
        raise GainInputError(f"resamples must be >= 0, got {resamples!r}")


# --------------------------------------------------------------------------- host gain


def host_gain(
    series: Sequence[SeriesPoint],
    event_time: datetime,
    window: timedelta,
    gap: timedelta,
    *,
    host: str = "",
    load_buckets: int = DEFAULT_LOAD_BUCKETS,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> HostGain:
    """Gain of one host: 1 - after/before of CPU per work (or CPU use), matched by slot/load.

    Timestamps must be timezone-aware; weekday and hour are read in each
    timestamp's own zone, so pass them in the zone whose working hours matter.
    """
    if event_time.tzinfo is None:
        raise GainInputError("event_time must be timezone-aware")
    if window <= timedelta(0):
        raise GainInputError(f"window must be positive, got {window}")
    if gap < timedelta(0):
        raise GainInputError(f"gap must not be negative, got {gap}")
    if load_buckets < 1:
        raise GainInputError(f"load_buckets must be >= 1, got {load_buckets}")
    _validate_common(confidence, resamples)

    before_start, before_end = event_time - window, event_time
    after_start, after_end = event_time + gap, event_time + gap + window
    uses_work = any(point.work_per_second is not None for point in series)
    unit = "cpu_seconds_per_work" if uses_work else "cpu_cores"

    dropped = 0
    # (side, slot, cpu, work) of every usable point inside a window
    usable: list[tuple[str, str, float, float | None]] = []
    for point in series:
        if point.timestamp.tzinfo is None:
            raise GainInputError(f"timestamp {point.timestamp.isoformat()} is not timezone-aware")
        cpu = point.cpu_seconds_per_second
        if cpu is not None and cpu < 0:
            raise GainInputError(
                f"negative CPU rate {cpu} at {point.timestamp.isoformat()}: "
                "convert counters with rates_from_cumulative()"
            )
        if before_start <= point.timestamp < before_end:
            side, window_start = "before", before_start
        elif after_start <= point.timestamp < after_end:
            side, window_start = "after", after_start
        else:
            continue
        work = point.work_per_second
        if cpu is None or math.isnan(cpu) or (uses_work and (work is None or not work > 0)):
            dropped += 1
            continue
        usable.append((side, _slot_of(point.timestamp, window, window_start), cpu, work))

    result = HostGain(
        host=host, gain=None, unit=unit, confidence=confidence, dropped_points=dropped
    )
    before_cpu = [cpu for side, _, cpu, _ in usable if side == "before"]
    result.before_points = len(before_cpu)
    result.after_points = len(usable) - len(before_cpu)
    if before_cpu:
        result.mean_cpu_before = sum(before_cpu) / len(before_cpu)
    if not result.before_points or not result.after_points:
        empty = "before" if not result.before_points else "after"
        result.reason = f"no usable points in the {empty} window"
        return result

    slots_before = {slot for side, slot, _, _ in usable if side == "before"}
    slots_after = {slot for side, slot, _, _ in usable if side == "after"}
    matched_slots = slots_before & slots_after
    aligned = [entry for entry in usable if entry[1] in matched_slots]
    edges = (
        _quantile_edges([work for _, _, _, work in aligned if work is not None], load_buckets)
        if uses_work and aligned
        else []
    )

    # slot -> stratum key -> [before cpu, denominator, points, after cpu, denominator, points]
    cells_by_slot: dict[str, dict[str, list[float]]] = {}
    for side, slot, cpu, work in aligned:
        key = f"L{bisect_right(edges, work or 0.0)}" if uses_work else slot  # work > 0 when uses_work
        sums = cells_by_slot.setdefault(slot, {}).setdefault(key, [0.0, 0.0, 0, 0.0, 0.0, 0])
        offset = 0 if side == "before" else 3
        sums[offset] += cpu
        sums[offset + 1] += work if uses_work and work is not None else 1.0
        sums[offset + 2] += 1
    result.slot_cells = [
        {key: (c[0], c[1], int(c[2]), c[3], c[4], int(c[5])) for key, c in cells.items()}
        for _, cells in sorted(cells_by_slot.items())
    ]
    result.strata = _strata_of(result.slot_cells)
    if not result.strata:
        result.reason = "no time slot (and load level) seen on both sides of the event"
        return result

    weight_total = sum(stratum.weight for stratum in result.strata)
    result.before_value = (
        sum(stratum.weight * stratum.before_value for stratum in result.strata) / weight_total
    )
    result.after_value = (
        sum(stratum.weight * stratum.after_value for stratum in result.strata) / weight_total
    )
    result.gain = _gain_of_strata(result.strata)
    if result.gain is None:
        result.reason = "no CPU use before the event"
        return result

    if resamples:
        rng = random.Random(seed)
        draws = [_bootstrap_host_gain(result.slot_cells, rng) for _ in range(resamples)]
        result.ci_low, result.ci_high = _interval(
            [draw for draw in draws if draw is not None], confidence
        )
    return result


# --------------------------------------------------------------------------- cluster gain


def _usable_with_weights(
    gains: Sequence[HostGain],
    weights: Mapping[str, float] | None,
    skipped: dict[str, str],
) -> tuple[list[HostGain], dict[str, float]]:
    usable: list[HostGain] = []
    raw: dict[str, float] = {}
    for gain in gains:
        if gain.gain is None:
            skipped[gain.host] = gain.reason or "no gain"
            continue
        if weights is not None:
            if gain.host not in weights:
                raise GainInputError(f"no weight given for host {gain.host!r}")
            weight = weights[gain.host]
        else:
            weight = gain.mean_cpu_before or 0.0  # CPU share
        if weight < 0 or math.isnan(weight):
            raise GainInputError(f"weight of host {gain.host!r} must be >= 0, got {weight}")
        if weight == 0:
            skipped[gain.host] = "zero weight (no CPU use before the event)"
            continue
        usable.append(gain)
        raw[gain.host] = weight
    total = sum(raw.values())
    return usable, {host: weight / total for host, weight in raw.items()}


def _weighted(gains: dict[str, float | None], weights: dict[str, float]) -> float | None:
    present = {host: value for host, value in gains.items() if value is not None}
    weight_total = sum(weights[host] for host in present)
    if not present or weight_total <= 0:
        return None
    return sum(weights[host] * value for host, value in present.items()) / weight_total


def cluster_gain(
    host_gains: Sequence[HostGain],
    weights: Mapping[str, float] | None = None,
    control_hosts: Sequence[HostGain] = (),
    *,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> ClusterGain:
    """Weighted gain of the pinned hosts minus the weighted change of control hosts.

    weights: host -> weight (default: each host's mean CPU use before the event,
    i.e. its CPU share). control_hosts: HostGains of unpinned hosts over the same
    windows, weighted by their own CPU share. The interval comes from a seeded
    bootstrap that resamples each host's time slots; ``significant`` means the
    interval excludes 0.
    """
    _validate_common(confidence, resamples)
    hosts = [gain.host for gain in host_gains]
    if len(set(hosts)) != len(hosts):
        raise GainInputError("a host appears twice in host_gains")
    overlap = set(hosts) & {gain.host for gain in control_hosts}
    if overlap:
        raise GainInputError(f"hosts both pinned and control: {sorted(overlap)}")

    skipped: dict[str, str] = {}
    treated, treated_weights = _usable_with_weights(host_gains, weights, skipped)
    controls, control_weights = _usable_with_weights(control_hosts, None, skipped)
    result = ClusterGain(
        gain=None,
        treated_gain=None,
        control_gain=None,
        ci_low=None,
        ci_high=None,
        confidence=confidence,
        significant=False,
        host_weights=treated_weights,
        control_weights=control_weights,
        skipped_hosts=skipped,
        resamples=resamples,
        seed=seed,
    )
    if not treated:
        return result
    result.treated_gain = _weighted({g.host: g.gain for g in treated}, treated_weights)
    result.control_gain = (
        _weighted({g.host: g.gain for g in controls}, control_weights) if controls else None
    )
    result.gain = (result.treated_gain or 0.0) - (result.control_gain or 0.0)

    if resamples:
        rng = random.Random(seed)
        treated_sums = {g.host: g.slot_cells for g in treated}
        control_sums = {g.host: g.slot_cells for g in controls}
        draws: list[float] = []
        for _ in range(resamples):
            treated_draw = _weighted(
                {host: _bootstrap_host_gain(sums, rng) for host, sums in treated_sums.items()},
                treated_weights,
            )
            if treated_draw is None:
                continue
            control_draw = (
                _weighted(
                    {host: _bootstrap_host_gain(sums, rng) for host, sums in control_sums.items()},
                    control_weights,
                )
                if controls
                else None
            )
            draws.append(treated_draw - (control_draw or 0.0))
        result.ci_low, result.ci_high = _interval(draws, confidence)
        if result.ci_low is not None and result.ci_high is not None:
            result.significant = result.ci_low > 0 or result.ci_high < 0
    return result
