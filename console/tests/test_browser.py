"""The console in Debian's Chromium (Playwright): log in, see the overview's charts drawn from
demo-like data, open a mismatch group, press reverify and see the verdict a real Celery worker
reached by replaying the sample against a (tiny, fixed) candidate.

Screenshots go to artifacts/screenshots/ for people to look at.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from verifiers.benchmarks.support import free_port

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "operator-password-123"
BALANCE_ROUTE = "GET /accounts/{id}/balance"


@pytest.fixture
def candidate_url():
    """The candidate ledger, already fixed: it answers what the legacy one answered."""
    from aiohttp import web

    async def balance(request: web.Request) -> web.Response:
        return web.json_response({"account": request.match_info["id"], "balance": "1500000", "currency": "KRW"})

    port = free_port()
    loop = asyncio.new_event_loop()
    runner_box: dict[str, web.AppRunner] = {}
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_get("/accounts/{id}/balance", balance)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        runner_box["runner"] = runner
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10), "candidate did not start"
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner_box["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def read_verdict(index: int, minute, verdict: str, subject: str = BALANCE_ROUTE, fingerprint: str = ""):
    from verifiers.groups.recording import Verdict

    account = 1000 + index % 50
    legacy_body = {"account": str(account), "balance": "1500000", "currency": "KRW"}
    mismatch = verdict == "mismatch"
    candidate_body = {**legacy_body, "balance": "1499000"} if mismatch else legacy_body
    return Verdict(
        kind="read", sample_id=f"demo-{subject}-{index}", subject=subject, captured_at=minute, verdict=verdict,
        fingerprint=fingerprint, title=f"{subject}: $.balance changed" if mismatch else "",
        severity="high",
        differences=[{"path": "$.balance", "pattern": "$.balance", "kind": "changed",
                      "legacy": "1500000", "candidate": "1499000"}] if mismatch else [],
        request={"method": "GET", "path": f"/accounts/{account}/balance", "query": "", "headers": {}},
        # Bodies as the gateway mirrors them: raw text.
        legacy={"status": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(legacy_body)},
        candidate={"status": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(candidate_body)},
        legacy_latency_ms=random.uniform(20, 40), candidate_latency_ms=random.uniform(4, 9),
    )


def seed_demo_world(candidate: str) -> int:
    """Verdicts over the last 6 hours (read and write), one open group, a run, two NUMA hosts."""
    from numa.models import Host
    from verifiers.groups.recording import Verdict, record_verdicts
    from verifiers.models import LedgerSource, ReconciliationRun, Route, System

    random.seed(7)
    System.objects.create(name="candidate ledger", role=System.Role.CANDIDATE, base_url=candidate, timeout_ms=2000)
    Route.objects.create(method="GET", template="/accounts/{id}/balance", severity="high", mismatch_rate_alert=0.05)
    now = timezone.now()
    verdicts = []
    index = 0
    for step in range(72):  # every 5 minutes for 6 hours
        minute = now - timedelta(minutes=5 * step)
        for subject, share in ((BALANCE_ROUTE, 0.04 if 20 < step < 30 else 0.002), ("GET /cards/{id}", 0.0),
                               ("GET /transfers/{id}", 0.01)):
            for _ in range(15):
                index += 1
                bad = random.random() < share * 10
                verdicts.append(read_verdict(index, minute, "mismatch" if bad else "match", subject,
                                             fingerprint=f"fp-{subject}" if bad else ""))
        for table in ("accounts", "ledger_entries"):
            for _ in range(10):
                index += 1
                bad = table == "ledger_entries" and random.random() < 0.03
                verdicts.append(Verdict(kind="write", sample_id=f"w-{index}", subject=table, captured_at=minute,
                                        verdict="mismatch" if bad else "match",
                                        fingerprint=f"fp-{table}" if bad else "",
                                        title=f"UPDATE {table}: amount changed" if bad else "", severity="critical"))
    # Read and write apart: recording.py cannot yet mix batches with and without latencies.
    record_verdicts([v for v in verdicts if v.kind == "read"])
    record_verdicts([v for v in verdicts if v.kind == "write"])
    source = LedgerSource.objects.create(
        name="core ledger", dsn="postgresql://postgres@127.0.0.1/mhc_demo_ledger", accounts_table="accounts",
        account_key="account_no", balance_column="balance", currency_column="currency", entries_table="entries",
        entry_account_column="account_no", entry_amount_column="amount", entry_time_column="booked_at",
    )
    for day in range(5, 0, -1):
        ReconciliationRun.objects.create(
            source=source, cutoff=now - timedelta(days=day), status="balanced", accounts_checked=1_000_000,
            duration_ms=7_800 + day * 120, finished_at=now - timedelta(days=day),
            totals={"KRW": {"balance_at_cutoff": "98765432100.0000", "counterpart": "98765432100.0000",
                            "difference": "0.0000", "accounts": 1_000_000}},
        )
    ReconciliationRun.objects.create(
        source=source, cutoff=timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0),
        status="discrepancies",
        accounts_checked=1_000_000, accounts_with_differences=2, duration_ms=8_412, finished_at=now,
        totals={"KRW": {"balance_at_cutoff": str(Decimal("98812345600.0000")),
                        "counterpart": "98812340600.0000", "difference": "5000.0000", "accounts": 1_000_000}},
    )
    for hostname, share, migrated in (("ledger-db-1", 0.31, 1840.0), ("ledger-app-1", 0.07, 120.0)):
        Host.objects.create(hostname=hostname, delivery=Host.Delivery.SYNTHETIC, latest_remote_share=share,
                            latest_migrated_pages_per_s=migrated, latest_cpu_cores=5.2, latest_sampled_at=now,
                            last_seen=now)
    from verifiers.models import MismatchGroup

    return MismatchGroup.objects.get(fingerprint=f"fp-{BALANCE_ROUTE}").pk


@pytest.fixture
def operator_user():
    from console.roles import OPERATORS, ensure_roles

    user = get_user_model().objects.create_user("operator", password=PASSWORD)
    user.groups.add(ensure_roles()[OPERATORS])
    return user


@pytest.fixture
def browser_page(monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/ensure-chromium.sh)")
    # Playwright's sync API runs an event loop in this thread; Django must still let us use the ORM.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Seoul")
        page = context.new_page()
        page.set_default_timeout(20_000)
        yield page
        context.close()
        browser.close()


@pytest.fixture
def short_lived_connections(monkeypatch):
    """The live server's request threads must not keep connections open past the test database."""
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)


def pick_a_migration_in_the_picker(page, base_url: str) -> None:
    """A second migration joins: the overview shows both side by side, and the navigation's picker
    narrows every page to one and keeps it from page to page."""
    from console.models import Migration
    from verifiers.models import MismatchGroup

    fx = Migration.objects.create(slug="fx-deposits", name="FX deposits")
    now = timezone.now()
    MismatchGroup.objects.create(migration=fx, kind="read", fingerprint="fp-fx", title="GET /fx/{id}: $.rate changed",
                                 subject="GET /fx/{id}", severity="critical", first_seen=now, last_seen=now, count=4)

    page.goto(f"{base_url}/")
    assert page.locator("#programme tbody tr").count() == 2
    assert "GET /fx/{id}: $.rate changed" in page.inner_text("#groups")
    page.screenshot(path=str(SCREENSHOTS / "overview-two-migrations.png"), full_page=True)

    page.select_option("#migration-picker", "fx-deposits")  # submits itself (console.js)
    page.wait_for_url(f"{base_url}/?migration=fx-deposits")
    assert "Overview: FX deposits" in page.inner_text("h1")
    groups = page.inner_text("#groups")
    assert "GET /fx/{id}: $.rate changed" in groups and BALANCE_ROUTE not in groups

    page.click('nav[aria-label="Main"] a:text("Read")')
    page.wait_for_url(f"{base_url}/read/?migration=fx-deposits")
    assert page.input_value("#migration-picker") == "fx-deposits"
    assert "GET /fx/{id}: $.rate changed" in page.inner_text("main")

    page.select_option("#migration-picker", "")
    page.wait_for_url(f"{base_url}/read/?migration=")
    assert BALANCE_ROUTE in page.inner_text("main")


def test_operator_sees_charts_opens_a_group_and_reverifies_it(
    short_lived_connections, celery_worker_process, live_server, candidate_url, operator_user, browser_page
):
    from django.db import connections

    from verifiers.models import MismatchGroup, MismatchSample

    try:
        group_id = seed_demo_world(candidate_url)
        page = browser_page

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "operator")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.wait_for_selector("#read-rate-chart.js-plotly-plot .main-svg")
        page.wait_for_selector("#write-rate-chart.js-plotly-plot .main-svg")
        page.wait_for_selector("#numa-remote-chart.js-plotly-plot .main-svg")
        assert page.locator("#read-rate-chart .scatterlayer .trace").count() >= 2  # all routes + worst route
        assert "KRW 5,000" in page.inner_text("#reconciliation")
        page.screenshot(path=str(SCREENSHOTS / "overview-1280.png"), full_page=True)
        page.set_viewport_size({"width": 1366, "height": 768})  # a laptop
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / "overview-laptop.png"), full_page=False)
        page.set_viewport_size({"width": 1280, "height": 900})

        page.click(f'#groups a[href="/groups/{group_id}/"]')
        page.wait_for_url(f"{live_server.url}/groups/{group_id}/")
        page.wait_for_selector("details.sample[open]")
        # the differing lines are highlighted in the side-by-side bodies
        assert page.locator("details.sample[open] .diff pre .hl").count() > 0
        page.screenshot(path=str(SCREENSHOTS / "group-before-reverify.png"))

        page.click("text=Reverify all samples")
        page.wait_for_url(f"{live_server.url}/groups/{group_id}/")
        assert "Reverification queued" in page.inner_text("main")
        for _ in range(60):  # the worker replays every stored sample against the candidate
            if not MismatchSample.objects.filter(group_id=group_id, reverified_at__isnull=True).exists():
                break
            page.wait_for_timeout(500)
        outcomes = list(MismatchSample.objects.filter(group_id=group_id).values_list("reverify_outcome", "reverify_differences"))
        assert outcomes and all(outcome == "match" for outcome, _ in outcomes), outcomes
        for _ in range(20):  # the worker resolves the group just after recording the samples' outcomes
            if MismatchGroup.objects.filter(pk=group_id, status="resolved").exists():
                break
            page.wait_for_timeout(250)
        page.reload()
        page.wait_for_selector("text=reverify: match")
        assert MismatchGroup.objects.get(pk=group_id).status == "resolved"
        assert "Resolved" in page.inner_text("main")
        page.screenshot(path=str(SCREENSHOTS / "group-after-reverify.png"))

        page.goto(f"{live_server.url}/")
        page.wait_for_selector("#read-rate-chart .main-svg")
        page.screenshot(path=str(SCREENSHOTS / "overview-after-reverify.png"), full_page=True)

        pick_a_migration_in_the_picker(page, live_server.url)
    finally:
        # The ORM calls above ran beside Playwright's loop and got a connection of their own
        # (asgiref context): close it, or the test database cannot be dropped after the run.
        connections.close_all()
