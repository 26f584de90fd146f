"""Plotly figures of the read verifier, built from the per-minute roll-up (never from scans)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go


def match_rate_figure(series: dict[str, list[dict[str, Any]]], time_zone: ZoneInfo) -> str:
    """Match rate per route over time as an HTML fragment (plotly.js is included by the page)."""
    figure = go.Figure()
    for subject, points in sorted(series.items()):
        figure.add_trace(go.Scatter(
            x=[p["minute"].astimezone(time_zone) for p in points],
            y=[None if p["rate"] is None else round(p["rate"] * 100, 3) for p in points],
            mode="lines+markers", name=subject,
            customdata=[[p["matched"], p["mismatched"], p["errored"]] for p in points],
            hovertemplate="%{x}<br>%{y:.2f}% matched<br>matched %{customdata[0]:,}, mismatched "
                          "%{customdata[1]:,}, errors %{customdata[2]:,}<extra>" + subject + "</extra>",
        ))
    figure.update_layout(height=320, margin=dict(l=40, r=10, t=10, b=40), yaxis=dict(title="% matched"),
                         legend=dict(orientation="h"), hovermode="closest")
    return figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})
