"""Match rate over time per route (read) or table (write), from the per-minute roll-up."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go


def match_rate_figure(series: dict[str, list[dict[str, Any]]], time_zone: ZoneInfo, *,
                      counts: tuple[str, ...] = ("matched", "mismatched", "errored"),
                      y_title: str = "% matched") -> str:
    """The figure as JSON for a `data-figure` element (console.js draws it once laid out).

    `series` maps a subject to points {minute, rate, <counts>...}; the counts show on hover.
    """
    hover_counts = ", ".join(f"{name} %{{customdata[{index}]:,}}" for index, name in enumerate(counts))
    figure = go.Figure()
    for subject, points in sorted(series.items()):
        figure.add_trace(go.Scatter(
            x=[p["minute"].astimezone(time_zone) for p in points],
            y=[None if p["rate"] is None else round(p["rate"] * 100, 3) for p in points],
            mode="lines+markers", marker={"size": 4}, name=subject,
            customdata=[[p[name] for name in counts] for p in points],
            hovertemplate="%{x}<br>%{y:.2f}% matched<br>" + hover_counts + "<extra>" + subject + "</extra>",
        ))
    figure.update_layout(height=320, margin=dict(l=40, r=10, t=10, b=40), yaxis=dict(title=y_title),
                         legend=dict(orientation="h"), hovermode="closest",
                         paper_bgcolor="rgba(0,0,0,0)")
    return json.dumps(figure.to_plotly_json(), default=str, separators=(",", ":"))
