"""The NUMA pages: permissions, host table and charts, gain form, host page with extras."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from console.demo.setup.numa import DEMO_PINNED_HOSTS, setup_demo
from numa import services
from numa.models import PinningEvent
from numa.tests.helpers import advanced, fixture_sample

pytestmark = pytest.mark.django_db


def _two_samples() -> None:
    first = fixture_sample("two_node")
    services.record_sample(sample=first)
    services.record_sample(sample=advanced(first, 10))


def _figures(html: str) -> list[dict]:
    import html as html_lib

    return [
        json.loads(html_lib.unescape(raw)) for raw in re.findall(r'data-figure="([^"]*)"', html)
    ]


def test_anonymous_visitors_go_to_login() -> None:
    response = Client().get("/numa/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_user_without_numa_permission_is_refused() -> None:
    user = get_user_model().objects.create_user(username="nobody")
    client = Client()
    client.force_login(user)
    assert client.get("/numa/").status_code == 403


def test_numa_page_lists_hosts_with_a_chart_per_host(operator_client: Client) -> None:
    _two_samples()
    response = operator_client.get("/numa/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "two-node-host" in html and "10.00%" in html  # remote share of the fixture interval
    figures = _figures(html)
    assert figures and {trace["name"] for trace in figures[0]["data"]} >= {
        "remote share %",
        "node 0 cores",
        "node 1 cores",
    }
    assert "vendor/plotly.min.js" in html


def test_hosts_partial_is_just_the_table(operator_client: Client) -> None:
    _two_samples()
    html = operator_client.get("/numa/?partial=hosts").content.decode()
    assert html.lstrip().startswith("<table") and "two-node-host" in html


def test_host_page_shows_series_topology_and_extras(operator_client: Client) -> None:
    _two_samples()
    from numa.models import Host

    Host.objects.update(
        extras={"perf_node_loads": {"available": False, "reason": "perf not on PATH", "tool": None}}
    )
    response = operator_client.get("/numa/hosts/two-node-host/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "not available" in html and "perf not on PATH" in html
    assert _figures(html)[0]["data"][0]["y"] == [pytest.approx(10.0)]
    assert "numa/hosts/two-node-host/?hours=1&amp;partial=chart" in html


def test_unknown_host_page_is_404(operator_client: Client) -> None:
    assert operator_client.get("/numa/hosts/ghost/").status_code == 404


def test_demo_gain_is_shown_labelled_with_interval_and_kernel_check(
    operator_client: Client, monkeypatch
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "demo-box")
    setup_demo(None)
    html = operator_client.get("/numa/").content.decode()
    assert "demo data" in html and "cluster CPU gain" in html
    assert "interval excludes 0" in html and "Kernel-side check" in html and "agrees" in html
    assert any(
        trace.get("name") == "cluster gain % (interval)"
        for figure in _figures(html)
        for trace in figure["data"]
    )


def test_operator_can_recompute_a_gain_with_other_windows(
    operator_client: Client, monkeypatch
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "demo-box")
    setup_demo(None)
    event = PinningEvent.objects.get(host__hostname=DEMO_PINNED_HOSTS[0])
    response = operator_client.post(
        "/numa/", {"event": event.pk, "window_days": "3", "gap_hours": "12"}
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.last_gain is not None
    assert event.last_gain["window_s"] == timedelta(days=3).total_seconds()
    assert event.last_gain["gap_s"] == 12 * 3600


def test_bad_window_is_reported_not_a_crash(operator_client: Client, monkeypatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "demo-box")
    setup_demo(None)
    event = PinningEvent.objects.get(host__hostname=DEMO_PINNED_HOSTS[0])
    response = operator_client.post("/numa/", {"event": event.pk, "window_days": "-1"}, follow=True)
    assert "window (days) must be between" in response.content.decode()


def test_unknown_event_is_404(operator_client: Client) -> None:
    assert operator_client.get("/numa/?event=999999").status_code == 404


def test_host_chart_breaks_its_lines_where_the_collector_was_quiet():
    from datetime import datetime, timedelta
    from datetime import timezone as tz

    from numa.charts import with_gaps

    start = datetime(2026, 11, 25, tzinfo=tz.utc)
    points = [{"t": start + timedelta(seconds=10 * i), "cpu_cores": 1.0} for i in range(5)]
    points += [{"t": start + timedelta(minutes=30, seconds=10 * i), "cpu_cores": 1.0} for i in range(3)]
    filled = with_gaps(points)
    assert len(filled) == len(points) + 1  # one break, in the half-hour outage
    assert "cpu_cores" not in filled[5] and filled[4]["t"] < filled[5]["t"] < filled[6]["t"]
