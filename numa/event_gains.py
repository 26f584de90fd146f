"""The gain report of a pinning event, assembled from per-host series (pure; no Django).

numa/gains.py holds the statistics (host_gain, cluster_gain); this module decides the windows,
runs them over the treated and control hosts' series and shapes the JSON report the page and the
overview show, with the kernel-side check. numa/gain_runs.py reads the series and stores the
report (EventGain), in a Celery task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from numa.gains import HostGain, SeriesPoint, cluster_gain, host_gain

KERNEL_CHECK_FIELDS: tuple[str, ...] = (
    "remote_share",
    "migrated_pages_per_s",
    "hint_faults_per_s",
    "hint_fault_locality",
)
LOWER_IS_BETTER: tuple[str, ...] = ("remote_share", "migrated_pages_per_s", "hint_faults_per_s")


class GainRequestError(ValueError):
    """Gain windows asked for are not usable (non-positive window, negative gap...)."""


@dataclass(frozen=True)
class GainWindows:
    """before = [start, changed_at), after = [changed_at + gap, end)."""

    changed_at: datetime
    window: timedelta
    gap: timedelta

    @property
    def start(self) -> datetime:
        return self.changed_at - self.window

    @property
    def end(self) -> datetime:
        return self.changed_at + self.gap + self.window

    @property
    def uses_hours(self) -> bool:
        """Hour roll-ups for windows of a day or more, minute roll-ups below."""
        return self.window >= timedelta(days=1)


def gain_windows(changed_at: datetime, window: timedelta, gap: timedelta) -> GainWindows:
    if window <= timedelta(0):
        raise GainRequestError(f"window must be positive, got {window}")
    if gap < timedelta(0):
        raise GainRequestError(f"gap must not be negative, got {gap}")
    return GainWindows(changed_at=changed_at, window=window, gap=gap)


@dataclass(frozen=True)
class HostSeries:
    """What the report needs of one host: its CPU/work series over the whole span and, for a
    treated host, the kernel metrics' means before and after (None for a control host)."""

    hostname: str
    points: Sequence[SeriesPoint]
    kernel_before: dict[str, float | None] | None = None
    kernel_after: dict[str, float | None] | None = None


def host_gain_dict(gain: HostGain) -> dict[str, Any]:
    return {
        "host": gain.host,
        "gain": gain.gain,
        "unit": gain.unit,
        "before_value": gain.before_value,
        "after_value": gain.after_value,
        "ci_low": gain.ci_low,
        "ci_high": gain.ci_high,
        "mean_cpu_before": gain.mean_cpu_before,
        "before_points": gain.before_points,
        "after_points": gain.after_points,
        "reason": gain.reason,
    }


def kernel_verdict(rows: list[dict[str, Any]], gain: float | None) -> dict[str, Any]:
    """Does the kernel side agree with a CPU gain? Less migration, fewer hint faults, less remote.

    Per metric: "lower", "not lower" or "no data", summed over hosts (before vs after means).
    """
    outcome: dict[str, str] = {}
    for name in LOWER_IS_BETTER:
        pairs = [
            (row[name]["before"], row[name]["after"])
            for row in rows
            if row[name]["before"] is not None and row[name]["after"] is not None
        ]
        if not pairs:
            outcome[name] = "no data"
        else:
            after = sum(pair[1] for pair in pairs)
            outcome[name] = "lower" if after < sum(pair[0] for pair in pairs) else "not lower"
    checked = [value for value in outcome.values() if value != "no data"]
    if gain is None or not checked:
        agrees = None
    elif gain > 0:
        agrees = all(value == "lower" for value in checked)
    else:
        agrees = not all(value == "lower" for value in checked)
    return {"metrics": outcome, "agrees": agrees}


def _kernel_row(series: HostSeries) -> dict[str, Any]:
    before, after = series.kernel_before or {}, series.kernel_after or {}
    row: dict[str, Any] = {"host": series.hostname}
    for name in KERNEL_CHECK_FIELDS:
        row[name] = {"before": before.get(name), "after": after.get(name)}
    return row


def event_gain_report(
    *,
    event: dict[str, Any],
    windows: GainWindows,
    treated: Sequence[HostSeries],
    controls: Sequence[HostSeries],
    resamples: int = 1000,
    seed: int = 0,
    on_host_done: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """CPU gain of a pinning event per host and across the cluster, with the kernel-side check.

    event: {"id", "label", "kind", "demo"}. Treated hosts (sorted by name) are those the event and
    its rollout pinned; controls are hosts not pinned over the span, subtracted as difference in
    differences. on_host_done is called after each host's gain (progress). JSON-ready.
    """

    def gains_of(host_list: Sequence[HostSeries]) -> list[HostGain]:
        gains = []
        for series in host_list:
            gains.append(
                host_gain(
                    series.points,
                    windows.changed_at,
                    windows.window,
                    windows.gap,
                    host=series.hostname,
                    resamples=resamples,
                    seed=seed,
                )
            )
            if on_host_done is not None:
                on_host_done()
        return gains

    treated_gains = gains_of(treated)
    control_gains = gains_of(controls)
    cluster = cluster_gain(
        treated_gains, control_hosts=control_gains, resamples=resamples, seed=seed
    )
    kernel_rows = [_kernel_row(series) for series in treated]
    changed_at = windows.changed_at
    return {
        "event_id": event["id"],
        "event": event["label"],
        "kind": event["kind"],
        "changed_at": changed_at.isoformat(),
        "window_s": windows.window.total_seconds(),
        "gap_s": windows.gap.total_seconds(),
        "before": [windows.start.isoformat(), changed_at.isoformat()],
        "after": [(changed_at + windows.gap).isoformat(), windows.end.isoformat()],
        "demo": event["demo"],
        "hosts": [host_gain_dict(gain) for gain in treated_gains],
        "controls": [host_gain_dict(gain) for gain in control_gains],
        "cluster": {
            "gain": cluster.gain,
            "treated_gain": cluster.treated_gain,
            "control_gain": cluster.control_gain,
            "ci_low": cluster.ci_low,
            "ci_high": cluster.ci_high,
            "confidence": cluster.confidence,
            "significant": cluster.significant,
            "host_weights": cluster.host_weights,
            "skipped_hosts": cluster.skipped_hosts,
        },
        "kernel_check": {
            "hosts": kernel_rows,
            "verdict": kernel_verdict(kernel_rows, cluster.gain),
        },
    }
