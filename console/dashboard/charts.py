"""Plotly figure specs (plain data + layout dicts) for the overview and the Read and Write pages,
drawn with Plotly.react.

Plain dicts, not plotly.graph_objects: no validation cost per request, and the same JSON serves
the first render and every refresh. Times are shown in the console time zone. Pure: no Django.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any, Protocol

# Okabe-Ito, as console.css: blue = match/ok, vermillion = mismatch/bad.
OVERALL_COLOUR = "#0072B2"
ROUTE_COLOURS = ("#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MISMATCH_COLOUR = "#D55E00"


class RatePointLike(Protocol):
    bucket: datetime
    matched: int
    mismatched: int
    errored: int
    stale: int

    @property
    def rate(self) -> float | None: ...


def figure_json(figure: Mapping[str, Any]) -> str:
    """The figure as the JSON a `data-figure` attribute carries (console.js draws it once laid out)."""
    return json.dumps(figure, separators=(",", ":"), default=str)


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _percent(point: RatePointLike) -> float | None:
    return None if point.rate is None else round(point.rate * 100, 3)


def match_rate_figure(
    subjects: Mapping[str, Sequence[RatePointLike]], zone: tzinfo, *, overall: Sequence[RatePointLike] = (),
    title: str = "", window: tuple[datetime, datetime] | None = None, show_stale: bool = False,
    y_title: str = "% matched",
) -> dict[str, Any]:
    """Match rate per bucket in %: per subject (route or table), and overall (thick) when given.

    Beside the overall line the subjects are thin and dotted, and hover compares all lines at
    one moment; alone (a verifier page, every route) each is a line of its own, hovered one at a
    time. With `window` the time axis spans it whole, so a young series is not stretched over a
    few seconds; markers keep a lone bucket visible. `show_stale` adds write's stale rows to hover.
    """
    counts = ("matched", "mismatched", "errored", "stale") if show_stale else ("matched", "mismatched", "errored")
    hover = "%{y:.2f}% matched · " + ", ".join(
        f"%{{customdata[{index}]:,}} {'errors' if name == 'errored' else name}" for index, name in enumerate(counts))

    def trace(name: str, points: Sequence[RatePointLike], line: dict[str, Any], marker_size: int) -> dict[str, Any]:
        return {
            "type": "scatter", "mode": "lines+markers", "marker": {"size": marker_size}, "name": name,
            "x": [_local(p.bucket, zone) for p in points], "y": [_percent(p) for p in points],
            "customdata": [[getattr(p, count) for count in counts] for p in points],
            "line": line, "hovertemplate": hover + f"<extra>{_escape(name)}</extra>",
        }

    data: list[dict[str, Any]] = []
    colours: tuple[str, ...] = ROUTE_COLOURS
    if overall:
        data.append(trace("all routes", overall, {"color": OVERALL_COLOUR, "width": 3}, 4))
    else:
        colours = (OVERALL_COLOUR, *ROUTE_COLOURS)
    for index, (subject, points) in enumerate(subjects.items()):
        line = {"color": colours[index % len(colours)], "width": 1.5, **({"dash": "dot"} if overall else {})}
        data.append(trace(subject, points, line, 3))
    lowest = min((y for t in data for y in t["y"] if y is not None), default=100.0)
    top_margin = 36 if title else 10
    return {
        "data": data,
        "layout": {
            **({"title": {"text": title, "font": {"size": 14}, "x": 0.01}} if title else {}),
            "height": 300, "margin": {"l": 50, "r": 10, "t": top_margin, "b": 30},
            "hovermode": "x unified" if overall else "closest",
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "yaxis": {"title": {"text": y_title}, "ticksuffix": "%", "gridcolor": "#e6e9ee",
                      "range": [max(0.0, min(lowest, 99.0) - 1), 100.5]},
            "xaxis": {"gridcolor": "#e6e9ee", "type": "date",
                      **({"range": [_local(window[0], zone), _local(window[1], zone)]} if window else {})},
            "legend": {"orientation": "h", "y": -0.18, "font": {"size": 11}},
        },
    }


def _escape(text: str) -> str:
    """Plotly renders <extra> content as HTML-ish text: keep route braces, drop angle brackets."""
    return text.replace("<", "‹").replace(">", "›")


def remote_share_figure(hosts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Remote memory access share per host (%), with the page-migration rate on hover."""
    names = [h["hostname"] for h in hosts]
    shares = [None if h.get("remote_share") is None else round(h["remote_share"] * 100, 2) for h in hosts]
    migrated = [h.get("migrated_pages_per_s") for h in hosts]
    return {
        "data": [{
            "type": "bar", "orientation": "h", "y": names, "x": shares, "name": "remote access",
            "customdata": [[m if m is not None else 0] for m in migrated],
            "marker": {"color": MISMATCH_COLOUR},
            "hovertemplate": "%{y}: %{x:.2f}% remote · %{customdata[0]:,.0f} pages migrated/s<extra></extra>",
        }],
        "layout": {
            "height": max(140, 40 + 28 * len(names)), "margin": {"l": 110, "r": 10, "t": 10, "b": 30},
            "xaxis": {"ticksuffix": "%", "rangemode": "tozero", "gridcolor": "#e6e9ee"},
            "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "showlegend": False,
        },
    }
