"""Reconciliation services: ledger source checks, schedules, counterparts and whole runs
(Celery eager, a real throwaway PostgreSQL ledger)."""

from __future__ import annotations

import json
import time as _time
from datetime import date, time, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from console.models import sole_migration_pk
from verifiers.models import AccountDifference, Counterpart, LedgerSource, ReconciliationRun
from verifiers.reconcile import balances, services
from verifiers.reconcile.forms import LedgerSourceForm
from verifiers.tests import reconcile_ledgers as testing

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ledger():
    created = testing.create_ledger(accounts=120)
    yield created
    testing.drop_ledger(created)


@pytest.fixture
def source(ledger) -> LedgerSource:
    return LedgerSource.objects.create(name="test ledger", dsn=ledger.dsn, workers=2, wait_timeout_s=5,
                                       **testing.MAPPING)


@pytest.fixture
def alerts_hook(monkeypatch):
    """The runs whose alert events were published (run ids, from the event's link)."""
    calls: list[int] = []

    def publish(events):
        calls.extend(int(event.url_path.rstrip("/").rsplit("/", 1)[1]) for event in events)
        return []

    monkeypatch.setattr("console.alerts.publish", publish)
    return calls


def recent_cutoff():
    return timezone.now() - timedelta(seconds=2)


def run_to_end(source, django_capture_on_commit_callbacks, cutoff=None) -> ReconciliationRun:
    with django_capture_on_commit_callbacks(execute=True):
        run = services.start_run(source=source, cutoff=cutoff or recent_cutoff(), triggered_by="test")
    run.refresh_from_db()
    return run


# --- ledger source checks ------------------------------------------------------------------


def test_a_mapping_that_fits_the_ledger_has_no_problems(source):
    assert services.ledger_source_problems(source) == []


def test_an_unreachable_dsn_is_one_sentence_naming_host_and_port(source):
    source.dsn = "postgresql://postgres@127.0.0.1:1/nothing"
    problems = services.ledger_source_problems(source)
    assert len(problems) == 1
    assert "127.0.0.1:1" in problems[0] and problems[0].startswith("Cannot reach")


def test_a_missing_table_is_named(source):
    source.entries_table = "bookings"
    assert services.ledger_source_problems(source) == ["table bookings not found"]


def test_a_missing_column_is_named_with_the_columns_that_exist(source):
    source.balance_column = "balance"
    (problem,) = services.ledger_source_problems(source)
    assert "konto.balance (balance) not found" in problem and "saldo" in problem


def test_an_unknown_time_zone_is_rejected(source):
    source.time_zone = "Asia/Atlantis"
    problems = services.ledger_source_problems(source)
    assert any("Asia/Atlantis" in p for p in problems)


def test_a_counterpart_table_without_total_column_is_reported(source, ledger):
    source.counterpart_table = "konto"
    (problem,) = services.ledger_source_problems(source)
    assert "lacks column(s) currency, total" in problem


def test_the_source_form_lists_each_ledger_problem_as_its_own_error(ledger):
    data = {**testing.MAPPING, "name": "x", "migration": sole_migration_pk(), "dsn": ledger.dsn,
            "cutoff_time": "00:00", "time_zone": "Asia/Seoul",
            "workers": 2, "wait_timeout_s": 60, "balance_column": "nope", "currency_column": "nope2"}
    form = LedgerSourceForm(data=data)
    assert not form.is_valid()
    errors = form.non_field_errors()
    assert len(errors) == 2 and "konto.nope" in errors[0] + errors[1]


def test_the_source_form_rejects_a_bad_time_zone_on_its_field(ledger):
    data = {**testing.MAPPING, "name": "x", "dsn": ledger.dsn, "cutoff_time": "00:00", "time_zone": "Mars/Olympus",
            "workers": 2, "wait_timeout_s": 60}
    form = LedgerSourceForm(data=data)
    assert not form.is_valid()
    assert "Mars/Olympus" in form.errors["time_zone"][0]


def test_save_refuses_a_source_whose_mapping_does_not_fit(ledger):
    bad = LedgerSource(name="bad", dsn=ledger.dsn, **{**testing.MAPPING, "entries_table": "nope"})
    with pytest.raises(ValidationError, match="table nope not found"):
        services.save_ledger_source(source=bad)
    assert not LedgerSource.objects.filter(name="bad").exists()


# --- schedules -----------------------------------------------------------------------------


def test_saving_a_source_schedules_it_one_minute_after_the_cutoff_in_its_time_zone(ledger):
    source = LedgerSource(name="nightly", dsn=ledger.dsn, cutoff_time=time(23, 59), time_zone="Europe/Berlin",
                          **testing.MAPPING)
    services.save_ledger_source(source=source)
    task = LedgerSource.objects.get(pk=source.pk).schedule
    assert task.task == services.RUN_TASK_NAME and json.loads(task.args) == [source.pk]
    assert (task.crontab.hour, task.crontab.minute) == ("0", "0")
    assert str(task.crontab.timezone) == "Europe/Berlin"


def test_changing_the_cutoff_moves_the_same_schedule_and_disabling_turns_it_off(source):
    first = services.sync_schedule(source=source)
    source.cutoff_time, source.enabled = time(6, 30), False
    source.save()
    second = services.sync_schedule(source=source)
    assert second.pk == first.pk
    assert (second.crontab.hour, second.crontab.minute, second.enabled) == ("6", "31", False)


def test_deleting_a_source_deletes_its_schedule(source):
    from django_celery_beat.models import PeriodicTask

    task = services.sync_schedule(source=source)
    services.delete_ledger_source(source=source)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


# --- starting runs -------------------------------------------------------------------------


def test_a_future_cutoff_is_refused_before_any_run_is_recorded(source):
    with pytest.raises(balances.CutoffError, match="in the future"):
        services.start_run(source=source, cutoff=timezone.now() + timedelta(hours=1), triggered_by="t")
    assert not ReconciliationRun.objects.exists()


def test_a_cutoff_without_offset_is_read_in_the_sources_time_zone(source):
    cutoff = services.parse_cutoff("2026-11-25T00:00", source)
    assert cutoff.utcoffset() == timedelta(hours=9)


def test_a_cutoff_that_is_not_a_date_time_is_refused(source):
    with pytest.raises(services.ReconcileError, match="not an ISO 8601"):
        services.parse_cutoff("tomorrow", source)


def test_a_rerun_is_a_new_run_beside_the_old_one(source, django_capture_on_commit_callbacks):
    first = services.start_run(source=source, cutoff=recent_cutoff(), triggered_by="a")
    second = services.rerun(run=first, triggered_by="b")
    assert second.pk != first.pk and second.cutoff == first.cutoff
    assert ReconciliationRun.objects.filter(cutoff=first.cutoff).count() == 2


def test_the_scheduled_run_starts_once_per_cutoff(source):
    now = timezone.now()
    assert services.start_scheduled_run(source_id=source.pk, now=now) is not None
    assert services.start_scheduled_run(source_id=source.pk, now=now) is None


def test_a_disabled_source_does_not_run_on_schedule(source):
    source.enabled = False
    source.save()
    assert services.start_scheduled_run(source_id=source.pk) is None


# --- counterparts --------------------------------------------------------------------------


def test_a_counterpart_csv_with_bad_lines_names_every_line_and_stores_nothing(source):
    text = "currency,total\nKRW,100\nUS,5\nJPY,abc\n"
    with pytest.raises(balances.CounterpartCsvError) as caught:
        services.upload_counterpart_csv(source=source, cutoff_date=date(2026, 11, 25), text=text, entered_by="u")
    assert caught.value.problems[0].startswith("line 3") and caught.value.problems[1].startswith("line 4")
    assert not Counterpart.objects.exists()


def test_uploading_a_counterpart_again_replaces_the_same_currencies(source):
    day = date(2026, 11, 25)
    services.upload_counterpart_csv(source=source, cutoff_date=day, text="currency,total\nkrw,1\n", entered_by="u")
    services.upload_counterpart_csv(source=source, cutoff_date=day, text="currency,total\nKRW,2\n", entered_by="v")
    (row,) = Counterpart.objects.all()
    assert (row.currency, row.total, row.origin, row.entered_by) == ("KRW", Decimal(2), "csv", "v")


# --- whole runs (eager Celery, real ledger) ------------------------------------------------


def test_a_clean_ledger_with_matching_counterpart_is_balanced(
    source, ledger, eager_celery, alerts_hook, django_capture_on_commit_callbacks
):
    cutoff = recent_cutoff()
    services.save_counterpart(source=source, cutoff_date=cutoff.astimezone(balances.zone("Asia/Seoul")).date(),
                              totals=testing.currency_totals(ledger.dsn), origin="manual")
    run = run_to_end(source, django_capture_on_commit_callbacks, cutoff)
    assert run.status == "balanced", run.error
    assert run.accounts_checked == 120 and run.workers == 2
    assert run.snapshot_at is not None and run.duration_ms is not None
    assert all(values["difference"] == "0.0000" for values in run.totals.values())
    assert alerts_hook == []


def test_drift_shows_as_an_account_difference_and_alerts(
    source, ledger, eager_celery, alerts_hook, django_capture_on_commit_callbacks
):
    testing.drift(ledger.dsn, 7, Decimal("12.5"))
    try:
        run = run_to_end(source, django_capture_on_commit_callbacks)
    finally:
        testing.drift(ledger.dsn, 7, Decimal("-12.5"))
    assert run.status == "discrepancies"
    (difference,) = AccountDifference.objects.filter(run=run)
    assert (difference.account_key, difference.difference) == ("7", Decimal("12.5"))
    assert run.accounts_with_differences == 1
    assert alerts_hook == [run.pk]


def test_a_counterpart_that_disagrees_is_a_discrepancy_per_currency(
    source, ledger, eager_celery, django_capture_on_commit_callbacks
):
    cutoff = recent_cutoff()
    totals = testing.currency_totals(ledger.dsn)
    totals["USD"] += 1
    services.save_counterpart(source=source, cutoff_date=services.cutoff_date_of(source, cutoff), totals=totals,
                              origin="manual")
    run = run_to_end(source, django_capture_on_commit_callbacks, cutoff)
    assert run.status == "discrepancies"
    assert Decimal(run.totals["USD"]["difference"]) == Decimal(-1)
    assert Decimal(run.totals["KRW"]["difference"]) == 0


def test_the_counterpart_is_read_from_the_configured_table_in_the_snapshot(
    source, ledger, eager_celery, django_capture_on_commit_callbacks
):
    cutoff = recent_cutoff()
    day = services.cutoff_date_of(source, cutoff)
    with psycopg.connect(ledger.dsn) as conn:
        conn.execute("DELETE FROM gl_control")
        for currency, total in testing.currency_totals(ledger.dsn).items():
            conn.execute("INSERT INTO gl_control VALUES (%s, %s, %s)", (day, currency, total))
    source.counterpart_table, source.counterpart_date_column = "gl_control", "day"
    source.save()
    run = run_to_end(source, django_capture_on_commit_callbacks, cutoff)
    assert run.status == "balanced", run.error
    assert set(Counterpart.objects.filter(origin="table").values_list("currency", flat=True)) == {"KRW", "USD", "JPY"}


def test_a_transaction_open_since_before_the_cutoff_fails_the_run_after_the_timeout(
    source, ledger, eager_celery, alerts_hook, django_capture_on_commit_callbacks
):
    source.wait_timeout_s = 1
    source.save()
    with psycopg.connect(ledger.dsn, application_name="slow-writer") as blocker:
        blocker.execute("SELECT txid_current()")  # opens and keeps a transaction
        _time.sleep(0.2)  # the cut-off falls after the blocker began
        run = run_to_end(source, django_capture_on_commit_callbacks, timezone.now())
    assert run.status == "failed"
    assert "still open after 1 s" in run.error and "slow-writer" in run.error
    assert alerts_hook == [run.pk]


def test_an_unreachable_ledger_fails_the_run_with_one_sentence(
    source, eager_celery, django_capture_on_commit_callbacks
):
    source.dsn = "postgresql://postgres@127.0.0.1:1/nothing"
    source.save()
    run = run_to_end(source, django_capture_on_commit_callbacks)
    assert run.status == "failed" and run.error.startswith("cannot reach the ledger database at 127.0.0.1:1")


def test_a_mapping_broken_after_saving_fails_the_run_naming_the_column(
    source, eager_celery, django_capture_on_commit_callbacks
):
    LedgerSource.objects.filter(pk=source.pk).update(balance_column="gone")
    source.refresh_from_db()
    run = run_to_end(source, django_capture_on_commit_callbacks)
    assert run.status == "failed" and "konto.gone" in run.error


def test_finishing_twice_records_the_differences_once(source, ledger, eager_celery, django_capture_on_commit_callbacks):
    testing.drift(ledger.dsn, 3, Decimal(5))
    try:
        run = run_to_end(source, django_capture_on_commit_callbacks)
    finally:
        testing.drift(ledger.dsn, 3, Decimal(-5))
    assert services.finish_run(run_id=run.pk, part_results=[]) == "skipped: not running"
    assert AccountDifference.objects.filter(run=run).count() == 1


def test_a_part_error_fails_the_run_with_the_range_named(source):
    run = ReconciliationRun.objects.create(source=source, cutoff=recent_cutoff())
    services.finish_run(run_id=run.pk, part_results=[{"error": "range 2/2 [60, +inf): boom"}])
    run.refresh_from_db()
    assert run.status == "failed" and "range 2/2" in run.error


# --- a run whose worker died -----------------------------------------------------------------


def test_the_watchdog_fails_a_run_whose_heartbeat_stopped_with_the_reason(source, alerts_hook):
    now = timezone.now()
    silent = ReconciliationRun.objects.create(source=source, cutoff=recent_cutoff(),
                                              heartbeat_at=now - timedelta(seconds=600))
    busy = ReconciliationRun.objects.create(source=source, cutoff=recent_cutoff(), heartbeat_at=now)
    assert services.fail_stale_runs(now=now, stale_after_s=480) == [silent.pk]
    assert services.fail_stale_runs(now=now, stale_after_s=480) == []  # safe to run twice
    silent.refresh_from_db()
    busy.refresh_from_db()
    assert silent.status == "failed" and "No progress for over 480 s" in silent.error
    assert busy.status == "running"


def test_every_step_of_a_run_beats(source, ledger, eager_celery, django_capture_on_commit_callbacks):
    run = run_to_end(source, django_capture_on_commit_callbacks)
    assert run.status == "balanced" and run.heartbeat_at is not None and run.heartbeat_at >= run.started_at


def test_a_redelivered_coordinator_after_the_snapshot_fails_the_run_instead_of_running_twice(source):
    run = ReconciliationRun.objects.create(source=source, cutoff=recent_cutoff(), snapshot_at=timezone.now())
    assert services.coordinate_run(run_id=run.pk) == "failed: interrupted"
    assert services.coordinate_run(run_id=run.pk) == "skipped: not running"


def test_visibility_timeout_covers_the_longest_task_and_no_countdown_outlives_it(settings):
    from verifiers.write import services as write_services

    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility == settings.CELERY_TASK_TIME_LIMIT + settings.TASK_REDELIVERY_MARGIN_S
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT < visibility
    assert write_services.MAX_DRAIN_COUNTDOWN_S < visibility
    assert settings.RECONCILE_STALE_AFTER_S >= settings.CELERY_TASK_TIME_LIMIT
