"""Plotly figure specs (plain data + layout dicts) for the overview, drawn with Plotly.react.

Plain dicts, not plotly.graph_objects: no validation cost per request, and the same JSON serves
the first render and every refresh. Times are shown in the console time zone. Pure: no Django.
"""

from __future__ import annotations

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

    @property
    def rate(self) -> float | None: ...


def _local(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _percent(point: RatePointLike) -> float | None:
    return None if point.rate is None else round(point.rate * 100, 3)


def match_rate_figure(
    title: str, overall: Sequence[RatePointLike], routes: Mapping[str, Sequence[RatePointLike]], zone: tzinfo,
    window: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """Overall match rate (thick) and the routes that mismatch most (thin), per bucket, in %.

    With `window` the time axis spans it whole, so a young series is not stretched over a
    few seconds; markers keep a lone bucket visible.
    """
    hover = ("%{y:.2f}% matched · %{customdata[0]:,} matched, %{customdata[1]:,} mismatched, "
             "%{customdata[2]:,} errors")
    data: list[dict[str, Any]] = [{
        "type": "scatter", "mode": "lines+markers", "marker": {"size": 4}, "name": "all routes",
        "x": [_local(p.bucket, zone) for p in overall], "y": [_percent(p) for p in overall],
        "customdata": [[p.matched, p.mismatched, p.errored] for p in overall],
        "line": {"color": OVERALL_COLOUR, "width": 3}, "hovertemplate": hover + "<extra>all routes</extra>",
    }]
    for index, (subject, points) in enumerate(routes.items()):
        data.append({
            "type": "scatter", "mode": "lines+markers", "marker": {"size": 3}, "name": subject,
            "x": [_local(p.bucket, zone) for p in points], "y": [_percent(p) for p in points],
            "customdata": [[p.matched, p.mismatched, p.errored] for p in points],
            "line": {"color": ROUTE_COLOURS[index % len(ROUTE_COLOURS)], "width": 1.5, "dash": "dot"},
            "hovertemplate": hover + f"<extra>{_escape(subject)}</extra>",
        })
    lowest = min((y for trace in data for y in trace["y"] if y is not None), default=100.0)
    return {
        "data": data,
        "layout": {
            "title": {"text": title, "font": {"size": 14}, "x": 0.01},
            "height": 300, "margin": {"l": 50, "r": 10, "t": 36, "b": 30},
            "hovermode": "x unified", "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
            "yaxis": {"title": {"text": "% matched"}, "ticksuffix": "%", "gridcolor": "#e6e9ee",
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
