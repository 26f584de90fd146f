"""Reconciliation pages, admin and management command: permissions, forms, exports."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from verifiers.models import Counterpart, LedgerSource, ReconciliationRun
from verifiers.tests import reconcile_ledgers as testing

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client):
    user = User.objects.create_user("viewer", password="pw")
    user.user_permissions.add(Permission.objects.get(codename="view_reconciliationrun"),
                              Permission.objects.get(codename="view_console"))
    client.force_login(user)
    return user


@pytest.fixture
def runner(viewer):
    viewer.user_permissions.add(Permission.objects.get(codename="rerun_reconciliation"),
                                Permission.objects.get(codename="add_counterpart"))
    return viewer


def test_the_page_shows_last_run_and_history_with_thousands_separators(client, viewer, finished_run):
    page = client.get("/reconciliation/").content.decode()
    assert "books" in page and "1,234,567" in page and "Discrepancies" in page
    assert f"/reconciliation/runs/{finished_run.pk}/" in page


def test_the_status_fragment_refreshes_alone(client, viewer, finished_run):
    fragment = client.get("/reconciliation/?partial=status").content.decode()
    assert "<html" not in fragment and "4,321 ms" in fragment


def test_the_page_needs_a_login(client):
    assert client.get("/reconciliation/").status_code == 302


def test_running_now_needs_the_rerun_permission(client, viewer, source):
    response = client.post("/reconciliation/run/", {"source": source.pk})
    assert response.status_code == 403 and not ReconciliationRun.objects.exists()


def test_run_now_for_a_future_cutoff_shows_the_error_and_starts_nothing(client, runner, source):
    future = (timezone.now() + timedelta(days=1)).isoformat()
    page = client.post("/reconciliation/run/", {"source": source.pk, "cutoff": future}).content.decode()
    assert "in the future" in page and not ReconciliationRun.objects.exists()


def test_run_now_records_a_running_run_and_opens_its_page(client, runner, source, django_capture_on_commit_callbacks):
    from unittest import mock

    with mock.patch("verifiers.reconcile.tasks.coordinate.delay") as delay, \
            django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reconciliation/run/", {"source": source.pk, "cutoff": "2026-01-01T00:00"})
    run = ReconciliationRun.objects.get()
    assert response.url == f"/reconciliation/runs/{run.pk}/"
    assert run.status == "running" and run.triggered_by == "viewer"
    assert run.cutoff.isoformat() == "2025-12-31T15:00:00+00:00"
    delay.assert_called_once_with(run.pk)


def test_a_csv_with_a_bad_line_is_refused_with_its_line_number(client, runner, source):
    upload = SimpleUploadedFile("c.csv", b"currency,total\nKRW,100\nKRW,1x\n")
    page = client.post("/reconciliation/counterparts/", {"source": source.pk, "cutoff_date": "2026-11-25",
                                                         "file": upload}).content.decode()
    assert "line 3: amount" in page and not Counterpart.objects.exists()


def test_a_good_csv_is_stored_as_the_counterpart(client, runner, source):
    upload = SimpleUploadedFile("c.csv", b"currency,total\nKRW,100\nusd,2.5\n")
    client.post("/reconciliation/counterparts/", {"source": source.pk, "cutoff_date": "2026-11-25", "file": upload})
    stored = dict(Counterpart.objects.values_list("currency", "total"))
    assert stored == {"KRW": Decimal(100), "USD": Decimal("2.5")}


def test_the_page_says_when_it_shows_only_the_latest_counterparts(client, viewer, source):
    from verifiers.reconcile.views import COUNTERPARTS_SHOWN

    day = timezone.now().date()
    for back in range(COUNTERPARTS_SHOWN):
        Counterpart.objects.create(source=source, cutoff_date=day - timedelta(days=back), currency="KRW", total=1)
    assert "Showing the latest" not in client.get("/reconciliation/").content.decode()
    Counterpart.objects.create(source=source, cutoff_date=day - timedelta(days=COUNTERPARTS_SHOWN), currency="KRW",
                               total=1)
    assert f"Showing the latest {COUNTERPARTS_SHOWN} of {COUNTERPARTS_SHOWN + 1}." in client.get("/reconciliation/").content.decode()


def test_the_run_page_shows_totals_and_differences(client, viewer, finished_run):
    page = client.get(f"/reconciliation/runs/{finished_run.pk}/").content.decode()
    assert "1,000.0000" in page and "42" in page and "differences.csv" in page


def test_long_lists_are_paged_with_links_to_the_other_pages(client, viewer, finished_run):
    from verifiers.models import AccountDifference
    from verifiers.reconcile.views import DIFFERENCES_PAGE_SIZE, HISTORY_PAGE_SIZE

    AccountDifference.objects.bulk_create([
        AccountDifference(run=finished_run, account_key=str(1000 + k), currency="KRW", balance_at_cutoff=Decimal(1),
                          journal=Decimal(0), difference=Decimal(1)) for k in range(DIFFERENCES_PAGE_SIZE)
    ])
    first = client.get(f"/reconciliation/runs/{finished_run.pk}/").content.decode()
    assert "page 1 of 2" in first and '<a href="?page=2">next →</a>' in first and "← previous" not in first
    second = client.get(f"/reconciliation/runs/{finished_run.pk}/?page=2").content.decode()
    assert "page 2 of 2" in second and '<a href="?page=1">← previous</a>' in second
    ReconciliationRun.objects.bulk_create([
        ReconciliationRun(source=finished_run.source, cutoff=finished_run.cutoff, status="balanced")
        for _ in range(HISTORY_PAGE_SIZE)
    ])
    history = client.get("/reconciliation/").content.decode()
    assert "page 1 of 2" in history and '<a href="?page=2">older →</a>' in history


def test_the_differences_export_is_csv_of_every_row(client, viewer, finished_run):
    response = client.get(f"/reconciliation/runs/{finished_run.pk}/differences.csv")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "account_key,currency,balance_at_cutoff,journal,difference"
    assert lines[1:] == ["42,KRW,10.0000,5.0000,5.0000", "43,KRW,10.0000,5.0000,5.0000"]


def test_a_rerun_from_the_page_is_a_new_run(client, runner, finished_run):
    client.post(f"/reconciliation/runs/{finished_run.pk}/rerun/")
    assert ReconciliationRun.objects.filter(cutoff=finished_run.cutoff).count() == 2
    finished_run.refresh_from_db()
    assert finished_run.status == "discrepancies"


def test_the_admin_pages_of_the_reconciliation_load(admin_client, finished_run):
    for url in ("/admin/verifiers/ledgersource/", "/admin/verifiers/ledgersource/add/",
                "/admin/verifiers/counterpart/", "/admin/verifiers/counterpart/upload/",
                "/admin/verifiers/reconciliationrun/"):
        assert admin_client.get(url).status_code == 200, url


def test_the_admin_refuses_a_source_with_an_unreachable_ledger(admin_client):
    data = {**testing.MAPPING, "name": "x", "dsn": "postgresql://postgres@127.0.0.1:1/none", "cutoff_time": "00:00",
            "time_zone": "Asia/Seoul", "workers": 2, "wait_timeout_s": 60, "enabled": "on"}
    page = admin_client.post("/admin/verifiers/ledgersource/add/", data).content.decode()
    assert "Cannot reach the ledger database at 127.0.0.1:1" in page
    assert not LedgerSource.objects.filter(name="x").exists()


def test_the_admin_drift_action_refuses_sources_other_than_the_demo(admin_client, source):
    response = admin_client.post("/admin/verifiers/ledgersource/",
                                 {"action": "inject_drift", "_selected_action": [source.pk]}, follow=True)
    assert "only be injected into the demo ledger" in response.content.decode()


def test_the_drift_action_is_the_demo_admins_and_the_product_admin_has_none():
    from django.contrib import admin

    from console.demo.setup.admin import DemoLedgerSourceAdmin
    from verifiers.reconcile.admin import LedgerSourceAdmin

    assert "inject_drift" not in LedgerSourceAdmin.actions  # what a production admin registers
    assert type(admin.site._registry[LedgerSource]) is DemoLedgerSourceAdmin  # CONSOLE_ENV=test


def test_the_command_refuses_an_unknown_source():
    with pytest.raises(CommandError, match="no ledger source named 'nope'"):
        call_command("reconcile", "--source", "nope")


def test_the_command_refuses_a_future_cutoff(source):
    with pytest.raises(CommandError, match="in the future"):
        call_command("reconcile", "--source", "books", "--cutoff", "2999-01-01T00:00+09:00")
