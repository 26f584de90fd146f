"""Plotly figure specs (plain dicts: data + layout) for the NUMA pages, drawn with Plotly.react.

Plain dicts rather than plotly.graph_objects: no validation cost per request, and the same JSON
serves the first render and the partial refreshes. Times arrive as aware datetimes and are shown
in the console time zone passed in. Pure module: no Django.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

# Okabe-Ito palette (console.css uses its blue and vermillion for ok/bad).
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
BEFORE_COLOUR, AFTER_COLOUR = "#7a828e", "#0072B2"


def _local(moment: datetime, zone: tzinfo) -> str:
    """Plotly shows time strings as given: render them in the console zone without an offset."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _base_layout(title: str, height: int) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 14}},
        "height": height,
        "margin": {"l": 55, "r": 15, "t": 40, "b": 35},
        "legend": {"orientation": "h", "y": -0.15},
        "hovermode": "x unified",
        "paper_bgcolor": "rgba(0,0,0,0)",
    }


def with_gaps(points: Sequence[dict[str, Any]], factor: float = 3.0) -> list[dict[str, Any]]:
    """The points with an empty point wherever the collector was quiet for `factor` intervals or
    more, so a chart breaks its line there instead of drawing a straight line across the outage."""
    if len(points) < 3:
        return list(points)
    steps = sorted((b["t"] - a["t"]).total_seconds() for a, b in zip(points, points[1:]))
    typical = steps[len(steps) // 2]
    result: list[dict[str, Any]] = [points[0]]
    for previous, point in zip(points, points[1:]):
        if typical > 0 and (point["t"] - previous["t"]).total_seconds() > factor * typical:
            result.append({"t": previous["t"] + (point["t"] - previous["t"]) / 2})
        result.append(point)
    return result


def host_series_figure(
    points: Sequence[dict[str, Any]], zone: tzinfo, title: str = ""
) -> dict[str, Any]:
    """Three stacked panels: remote share (%), migrated pages/s, CPU cores busy per NUMA node."""
    points = with_gaps(points)
    times = [_local(point["t"], zone) for point in points]
    remote = [
        None if point.get("remote_share") is None else point["remote_share"] * 100
        for point in points
    ]
    migrated = [point.get("migrated_pages_per_s") for point in points]
    node_ids = sorted(
        {node for point in points for node in (point.get("node_cpu_cores") or {})}, key=int
    )
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "remote share %",
            "x": times,
            "y": remote,
            "xaxis": "x",
            "yaxis": "y",
            "line": {"color": PALETTE[1]},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "migrated pages/s",
            "x": times,
            "y": migrated,
            "xaxis": "x",
            "yaxis": "y2",
            "line": {"color": PALETTE[2]},
        },
    ]
    # Stacked by hand, one trace per node and stretch between collector outages: Plotly's fills
    # (and its stackgroup) bridge a gap, which would draw CPU use nobody measured.
    stretches: list[list[int]] = []
    current: list[int] = []
    for index, point in enumerate(points):
        if set(point) == {"t"}:  # a gap marker from with_gaps()
            stretches.append(current)
            current = []
        else:
            current.append(index)
    stretches.append(current)
    for stretch_number, stretch in enumerate(s for s in stretches if s):
        running = [0.0] * len(stretch)
        for index, node in enumerate(node_ids):
            own = [(points[i].get("node_cpu_cores") or {}).get(node) for i in stretch]
            running = [base + (value or 0.0) for base, value in zip(running, own)]
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": f"node {node} cores",
                    "legendgroup": f"node-{node}",
                    "showlegend": stretch_number == 0,
                    "x": [times[i] for i in stretch],
                    "y": running,
                    "customdata": own,
                    "hovertemplate": f"node {node}: %{{customdata:.2f}} cores<extra></extra>",
                    "fill": "tozeroy" if index == 0 else "tonexty",
                    "xaxis": "x",
                    "yaxis": "y3",
                    "line": {"color": PALETTE[index % len(PALETTE)]},
                }
            )
    if not node_ids:  # no per-node CPU (kernel without NUMA): show the host total
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "host cores",
                "x": times,
                "y": [point.get("cpu_cores") for point in points],
                "xaxis": "x",
                "yaxis": "y3",
            }
        )
    layout = _base_layout(title, 520)
    layout.update(
        {
            "grid": {"rows": 3, "columns": 1, "pattern": "coupled", "roworder": "top to bottom"},
            "yaxis": {"title": {"text": "remote %"}, "rangemode": "tozero"},
            "yaxis2": {"title": {"text": "pages/s"}, "rangemode": "tozero"},
            "yaxis3": {"title": {"text": "cores"}, "rangemode": "tozero"},
        }
    )
    return {"data": data, "layout": layout}


def gain_bars_figure(report: dict[str, Any]) -> dict[str, Any]:
    """Before vs after CPU (per unit of work, or cores) of each pinned host, and the cluster gain
    with its bootstrap interval as an error bar."""
    hosts = [row for row in report.get("hosts", []) if row.get("before_value") is not None]
    names = [row["host"] for row in hosts]
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": "before",
            "x": names,
            "y": [row["before_value"] for row in hosts],
            "marker": {"color": BEFORE_COLOUR},
        },
        {
            "type": "bar",
            "name": "after",
            "x": names,
            "y": [row["after_value"] for row in hosts],
            "marker": {"color": AFTER_COLOUR},
        },
    ]
    cluster = report.get("cluster", {})
    if cluster.get("gain") is not None:
        gain = cluster["gain"] * 100
        low = cluster.get("ci_low")
        high = cluster.get("ci_high")
        error: dict[str, Any] = {
            "type": "data",
            "symmetric": False,
            "array": [0],
            "arrayminus": [0],
        }
        if low is not None and high is not None:
            error = {
                "type": "data",
                "symmetric": False,
                "array": [high * 100 - gain],
                "arrayminus": [gain - low * 100],
            }
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "cluster gain % (interval)",
                "x": ["cluster"],
                "y": [gain],
                "error_y": error,
                "xaxis": "x2",
                "yaxis": "y2",
                "marker": {"size": 12, "color": PALETTE[1]},
            }
        )
    unit = (hosts[0]["unit"] if hosts else "cpu_cores").replace("_", " ")
    layout = _base_layout("CPU before vs after", 360)
    layout.update(
        {
            "barmode": "group",
            "hovermode": "closest",
            "xaxis": {"domain": [0, 0.72]},
            "xaxis2": {"domain": [0.8, 1], "anchor": "y2"},
            "yaxis": {"title": {"text": unit}, "rangemode": "tozero"},
            "yaxis2": {"title": {"text": "gain %"}, "anchor": "x2", "zeroline": True},
        }
    )
    return {"data": data, "layout": layout}


def gain_timeline_figure(
    series_by_host: dict[str, Sequence[dict[str, Any]]],
    report: dict[str, Any],
    zone: tzinfo,
) -> dict[str, Any]:
    """CPU cores of each pinned host across both windows, with the windows shaded."""
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": host,
            "x": [_local(point["t"], zone) for point in points],
            "y": [point.get("cpu_cores") for point in points],
            "line": {"color": PALETTE[index % len(PALETTE)]},
        }
        for index, (host, points) in enumerate(sorted(series_by_host.items()))
    ]
    shapes = []
    for side, colour in (("before", BEFORE_COLOUR), ("after", AFTER_COLOUR)):
        start, end = report[side]
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "y0": 0,
                "y1": 1,
                "opacity": 0.12,
                "line": {"width": 0},
                "fillcolor": colour,
                "x0": _local(datetime.fromisoformat(start), zone),
                "x1": _local(datetime.fromisoformat(end), zone),
            }
        )
    layout = _base_layout("CPU cores busy around the event (shaded: compared windows)", 320)
    layout.update({"shapes": shapes, "yaxis": {"title": {"text": "cores"}, "rangemode": "tozero"}})
    return {"data": data, "layout": layout}
