"""Plotly figure of the write verifier: match rate per table over time (from OutcomeCount)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go


def match_rate_figure(series: dict[str, list[dict[str, Any]]], time_zone: ZoneInfo) -> str:
    """An HTML fragment (plotly.js is included once by the page)."""
    figure = go.Figure()
    for table, points in sorted(series.items()):
        figure.add_trace(go.Scatter(
            x=[p["minute"].astimezone(time_zone) for p in points],
            y=[None if p["rate"] is None else round(p["rate"] * 100, 3) for p in points],
            mode="lines+markers", name=table,
            customdata=[[p["matched"], p["mismatched"], p["errored"], p["stale"]] for p in points],
            hovertemplate="%{x}<br>%{y:.2f}% matched<br>matched %{customdata[0]:,}, mismatched %{customdata[1]:,}, "
                          "errors %{customdata[2]:,}, stale %{customdata[3]:,}<extra>" + table + "</extra>",
        ))
    figure.update_layout(height=320, margin=dict(l=40, r=10, t=10, b=40), yaxis=dict(title="% rows matched"),
                         legend=dict(orientation="h"), hovermode="closest")
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
