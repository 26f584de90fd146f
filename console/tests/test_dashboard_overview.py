"""The overview page and its partials: what it shows from roll-ups, and that it refreshes in parts."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from console.dashboard import selectors
from console.dashboard.formatting import format_count, format_money, format_share
from console.models import sole_migration_pk
from console.roles import OPERATORS
from verifiers.models import LedgerSource, MismatchGroup, ReconciliationRun
from verifiers.selectors import match_rate_series
from verifiers.tests.outcome_support import add_outcome_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, user_with_role):
    user = user_with_role(OPERATORS, "op")
    client.force_login(user)
    return client


def outcomes(kind: str, subject: str, matched: int, mismatched: int, minutes_ago: int = 5) -> None:
    minute = (timezone.now() - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    add_outcome_counts(kind=kind, subject=subject, minute=minute, matched=matched, mismatched=mismatched)


def group(title: str, severity: str = "high", status: str = "open", count: int = 3, kind: str = "read") -> MismatchGroup:
    now = timezone.now()
    return MismatchGroup.objects.create(kind=kind, fingerprint=title, title=title, subject="GET /a", severity=severity,
                                        status=status, first_seen=now, last_seen=now, count=count)


def run(status: str = "discrepancies", **fields) -> ReconciliationRun:
    source, _ = LedgerSource.objects.get_or_create(
        name="core ledger", defaults=dict(dsn="postgresql://postgres@127.0.0.1/x", accounts_table="a",
                                          account_key="id", balance_column="b", currency_column="c",
                                          entries_table="e", entry_account_column="a", entry_amount_column="m",
                                          entry_time_column="t"))
    return ReconciliationRun.objects.create(source=source, cutoff=timezone.now(), status=status, **fields)


def test_overview_needs_login(client):
    response = client.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_empty_overview_says_what_is_missing(operator_client):
    html = operator_client.get("/").content.decode()
    assert "No read verification in this window." in html
    assert "No run yet." in html
    assert "No open group" in html


def test_overview_serves_plotly_from_static_files_only(operator_client):
    html = operator_client.get("/").content.decode()
    assert "vendor/plotly.min.js" in html
    assert "cdn" not in html.lower()


def test_match_rate_chart_holds_overall_and_worst_route(operator_client):
    outcomes("read", "GET /accounts/{id}/balance", 990, 10)
    outcomes("read", "GET /cards/{id}", 500, 0)
    html = operator_client.get("/").content.decode()
    spec = re.search(r'id="read-rate-chart" data-figure="([^"]+)"', html).group(1)
    figure = json.loads(html_lib.unescape(spec))
    names = [trace["name"] for trace in figure["data"]]
    assert names == ["all routes", "GET /accounts/{id}/balance"]  # only routes that mismatch
    assert figure["data"][0]["y"] == [pytest.approx(1490 / 1500 * 100, abs=1e-3)]


def test_chart_times_are_in_the_console_time_zone(settings):
    settings.TIME_ZONE = "Asia/Seoul"
    outcomes("write", "accounts", 10, 0, minutes_ago=0)
    series = match_rate_series(kind="write", hours=1)
    from zoneinfo import ZoneInfo

    from console.dashboard.charts import match_rate_figure

    figure = match_rate_figure(series.subjects, ZoneInfo("Asia/Seoul"), overall=series.overall, title="w")
    shown = figure["data"][0]["x"][0]
    assert shown == series.overall[0].bucket.astimezone(ZoneInfo("Asia/Seoul")).strftime("%Y-%m-%d %H:%M")


def test_counts_older_than_the_window_are_left_out():
    outcomes("read", "GET /a", 1, 1, minutes_ago=60 * 7)
    assert match_rate_series(kind="read", hours=6).overall == []


def test_headline_shows_rates_with_thousands_separators(operator_client):
    outcomes("read", "GET /a", 1_234_000, 567)
    html = operator_client.get("/").content.decode()
    assert "1,234,567 compared" in html and "567 not matching" in html


def test_open_groups_are_counted_by_severity_and_linked(operator_client):
    critical = group("GET /a: $.x changed", severity="critical", count=1500)
    group("GET /b: $.y changed", severity="low")
    group("GET /c: resolved", severity="critical", status="resolved")
    summary = selectors.open_groups_by_severity([sole_migration_pk()])
    counts = dict(summary["counts"])
    assert counts["critical"]["total"] == 1 and counts["low"]["total"] == 1
    assert summary["latest"][0]["group"].pk == critical.pk  # most severe first
    html = operator_client.get("/").content.decode()
    assert f'href="/groups/{critical.pk}/"' in html and "1,500" in html
    assert "GET /c: resolved" not in html


def test_last_reconciliation_shows_status_cutoff_differences_duration_and_money(operator_client):
    run(status="balanced", duration_ms=1000)
    last = run(accounts_checked=1_000_000, accounts_with_differences=3, duration_ms=8_400,
               totals={"KRW": {"balance_at_cutoff": "123456789.0000", "counterpart": "123456000.0000",
                               "difference": "789.0000"}})
    html = operator_client.get("/").content.decode()
    assert f'href="/reconciliation/runs/{last.pk}/"' in html
    assert "1,000,000 checked" in html and "3 with differences" in html
    assert "8.4 s" in html and "KRW 123,456,789" in html and "KRW 789" in html
    assert selectors.reconciliation_summary([sole_migration_pk()])["history"][1]["run"].status == "balanced"


def test_numa_section_without_hosts_says_so(operator_client):
    html = operator_client.get("/").content.decode()
    assert "No host yet" in html


def test_numa_hosts_show_remote_share_and_migration_rate(operator_client):
    from numa.models import Host

    Host.objects.create(hostname="ledger-db-1", latest_remote_share=0.1234, latest_migrated_pages_per_s=1523.0,
                        latest_cpu_cores=3.5, latest_sampled_at=timezone.now())
    html = operator_client.get("/").content.decode()
    assert "ledger-db-1" in html and "12.34 %" in html and "1,523" in html
    assert 'id="numa-remote-chart"' in html


@pytest.mark.parametrize("name", ["headline", "rates", "groups", "reconciliation", "numa", "queues"])
def test_each_section_has_a_partial_that_the_page_polls(operator_client, name):
    page = operator_client.get("/").content.decode()
    url = f"/overview/partials/{name}/?hours=6"
    assert f'data-refresh-url="{url}"' in page
    response = operator_client.get(url)
    assert response.status_code == 200 and "<html" not in response.content.decode()


def test_unknown_partial_is_not_found(operator_client):
    assert operator_client.get("/overview/partials/nothing/").status_code == 404


def test_unknown_range_falls_back_to_six_hours(operator_client):
    html = operator_client.get("/?hours=9999").content.decode()
    assert "last 6 hours" in html


def test_overview_query_count_does_not_grow_with_data(operator_client):
    for index in range(30):
        group(f"GET /g{index}: changed")
        outcomes("read", f"GET /r{index}", 10, 1)
    run()
    with CaptureQueriesContext(connection) as queries:
        operator_client.get("/")
    assert len(queries) <= 15


def test_formatting_helpers():
    assert format_money("1234567.5", "KRW") == "KRW 1,234,568"
    assert format_money("-12.5", "usd") == "USD -12.50"
    assert format_money(None, "KRW") == ""
    assert format_share(0.12345, 2) == "12.35 %" and format_share(None) == "–"
    assert format_count(1234567) == "1,234,567" and format_count(2.5) == "2.5"


def test_queues_show_a_read_backlog_that_waits_too_long(operator_client, redis_client):
    from verifiers.read import stream

    stream.ensure_group(redis_client)
    old_ms = int((timezone.now().timestamp() - 900) * 1000)
    redis_client.xadd(stream.STREAM_KEY, {"id": "s-1", "sample": b"{}", "ingested_at_ms": old_ms})
    html = operator_client.get("/overview/partials/queues/").content.decode()
    assert "Verification queues" in html and "stalled" in html
    assert "read verifier: 1 sample waiting and no live worker" in html
    assert "Write" in html and "keeping up" in html
