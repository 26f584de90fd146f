"""Gain reports from roll-ups: known answers, difference in differences, kernel check, demo data."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from console.demo.setup.numa import DEMO_CONTROL_HOST, DEMO_PINNED_HOSTS, setup_demo
from numa import gain_runs, selectors
from numa.event_gains import GainRequestError
from numa.models import EventGain, Host, HourRollup, PinningEvent

pytestmark = pytest.mark.django_db

EVENT = datetime(2025, 3, 10, 0, 0, tzinfo=dt_timezone.utc)


def _history(
    hostname: str, before: float, after: float, *, remote: tuple[float, float] = (0.3, 0.1)
) -> Host:
    host = Host.objects.create(hostname=hostname, delivery=Host.Delivery.SYNTHETIC)
    rows = []
    for hour in range(-24 * 3, 24 * 4):
        bucket = EVENT + timedelta(hours=hour)
        is_after = bucket >= EVENT
        rows.append(
            HourRollup(
                host=host,
                bucket_start=bucket,
                samples=1,
                covered_s=3600,
                cpu_cores=after if is_after else before,
                remote_share=remote[1] if is_after else remote[0],
                migrated_pages_per_s=10 if is_after else 100,
                hint_faults_per_s=5 if is_after else 50,
            )
        )
    HourRollup.objects.bulk_create(rows)
    return host


def _event(host: Host, when: datetime = EVENT) -> PinningEvent:
    return PinningEvent.objects.create(
        host=host, changed_at=when, kind=PinningEvent.Kind.CPU_MANAGER_STATIC
    )


def test_constant_cpu_drop_gives_the_exact_gain() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    report = gain_runs.gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=200
    )
    assert report["hosts"][0]["gain"] == pytest.approx(0.2)
    assert report["cluster"]["gain"] == pytest.approx(0.2)
    assert report["cluster"]["ci_low"] == pytest.approx(0.2)


def test_unpinned_host_change_is_subtracted() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    _history("c1", before=10.0, after=9.0)  # the whole cluster got 10% cheaper anyway
    report = gain_runs.gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=100
    )
    assert [row["host"] for row in report["controls"]] == ["c1"]
    assert report["cluster"]["control_gain"] == pytest.approx(0.1)
    assert report["cluster"]["gain"] == pytest.approx(0.1)


def test_hosts_pinned_during_the_rollout_gap_count_as_treated() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    _event(_history("p2", before=10.0, after=9.0), EVENT + timedelta(hours=3))
    report = gain_runs.gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=0
    )
    assert sorted(row["host"] for row in report["hosts"]) == ["p1", "p2"]
    assert report["controls"] == []


def test_kernel_check_agrees_when_migration_and_remote_share_fall() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    report = gain_runs.gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=0
    )
    verdict = report["kernel_check"]["verdict"]
    assert verdict["agrees"] is True
    assert verdict["metrics"]["migrated_pages_per_s"] == "lower"
    assert report["kernel_check"]["hosts"][0]["remote_share"] == {
        "before": pytest.approx(0.3),
        "after": pytest.approx(0.1),
    }


def test_no_data_after_the_event_gives_no_gain_with_a_reason() -> None:
    host = Host.objects.create(hostname="empty", delivery=Host.Delivery.SYNTHETIC)
    event = _event(host)
    report = gain_runs.gain_report(
        event=event, window=timedelta(days=1), gap=timedelta(0), resamples=0
    )
    assert report["cluster"]["gain"] is None
    assert "no usable points" in report["hosts"][0]["reason"]


def test_non_positive_window_is_refused() -> None:
    event = _event(Host.objects.create(hostname="h"))
    with pytest.raises(GainRequestError, match="window"):
        gain_runs.gain_report(event=event, window=timedelta(0), gap=timedelta(0))


def test_compute_gain_now_keeps_the_report_for_the_overview() -> None:
    event = _event(_history("p1", before=10.0, after=9.0))
    gain_runs.compute_gain_now(event=event, window=timedelta(days=2), gap=timedelta(hours=12))
    stored = EventGain.objects.get(event=event)
    assert stored.status == EventGain.Status.DONE and stored.computed_at is not None
    assert (stored.hosts_done, stored.hosts_total) == (1, 1)
    summary = selectors.overview_summary()
    assert summary["last_gain"]["event_id"] == event.pk
    assert summary["last_gain"]["gain"] == pytest.approx(0.1)


def test_a_request_queues_the_task_which_stores_the_result_and_progress(
    eager_celery, django_capture_on_commit_callbacks
) -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    _history("c1", before=10.0, after=10.0)
    with django_capture_on_commit_callbacks(execute=True):
        gain = gain_runs.request_gain(
            event=event, window=timedelta(days=2), gap=timedelta(hours=12), who="op"
        )
        assert gain.status == EventGain.Status.PENDING and gain.report is None
    gain.refresh_from_db()
    assert gain.status == EventGain.Status.DONE and gain.requested_by == "op"
    assert (gain.hosts_done, gain.hosts_total) == (2, 2)
    report: dict = gain.report or {}
    assert report["cluster"]["gain"] == pytest.approx(0.2)


def test_a_recompute_keeps_the_last_result_until_the_new_one_is_done(
    eager_celery, django_capture_on_commit_callbacks
) -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    first = gain_runs.compute_gain_now(event=event, window=timedelta(days=2), gap=timedelta(0))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        gain = gain_runs.request_gain(event=event, window=timedelta(days=1), gap=timedelta(0))
    assert gain.generation == 2 and gain.status == EventGain.Status.PENDING
    assert gain.report == first  # shown meanwhile, marked as the previous result
    for callback in queued:
        callback()
    gain.refresh_from_db()
    assert gain.status == EventGain.Status.DONE and gain.report["window_s"] == 86400


def test_a_stale_run_changes_nothing() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    gain = gain_runs.request_gain(
        event=event, window=timedelta(days=2), gap=timedelta(0), queue=False
    )
    gain_runs.request_gain(event=event, window=timedelta(days=1), gap=timedelta(0), queue=False)
    assert gain_runs.compute_gain(event_id=event.pk, generation=gain.generation) == "stale"
    assert EventGain.objects.get(event=event).status == EventGain.Status.PENDING


def test_a_gain_that_cannot_be_computed_is_stored_as_failed_with_the_reason(monkeypatch) -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    gain = gain_runs.request_gain(event=event, window=timedelta(days=2), gap=timedelta(0), queue=False)

    def refuse(**_: object) -> None:
        raise GainRequestError("window too short for this data")

    monkeypatch.setattr(gain_runs, "gain_report", refuse)
    assert gain_runs.compute_gain(event_id=event.pk, generation=gain.generation) == "failed"
    gain.refresh_from_db()
    assert gain.status == EventGain.Status.FAILED and "too short" in gain.error


def test_bad_windows_are_refused_before_anything_is_stored() -> None:
    event = _event(Host.objects.create(hostname="h"))
    with pytest.raises(GainRequestError, match="gap"):
        gain_runs.request_gain(event=event, window=timedelta(days=1), gap=timedelta(hours=-1))
    assert not EventGain.objects.exists()


def test_overview_summary_lists_latest_values_per_host(django_assert_max_num_queries) -> None:
    Host.objects.create(hostname="a", latest_remote_share=0.25, latest_migrated_pages_per_s=12.0)
    Host.objects.create(hostname="b")
    with django_assert_max_num_queries(2):
        summary = selectors.overview_summary()
    by_name = {row["hostname"]: row for row in summary["hosts"]}
    assert by_name["a"]["remote_share"] == 0.25 and by_name["a"]["url"] == "/numa/hosts/a/"
    assert by_name["b"]["migrated_pages_per_s"] is None
    assert summary["last_gain"] is None


def test_demo_setup_registers_this_host_and_shows_a_labelled_gain(monkeypatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "demo-box")
    setup_demo(None)
    setup_demo(None)  # idempotent
    assert Host.objects.get(hostname="demo-box").delivery == Host.Delivery.WORKER
    assert Host.objects.filter(delivery=Host.Delivery.SYNTHETIC).count() == 3
    assert PinningEvent.objects.filter(host__hostname__in=DEMO_PINNED_HOSTS).count() == 2
    gain = selectors.overview_summary()["last_gain"]
    assert gain["demo"] is True
    # 9% saving on the pinned hosts minus the unpinned host's +1% drift: about 10%.
    assert 0.07 < gain["gain"] < 0.13 and gain["significant"]
    assert HourRollup.objects.filter(host__hostname=DEMO_CONTROL_HOST).count() > 24 * 15
    # Every chart span of a demo host has points: raw samples, minute and hour roll-ups.
    host, now = Host.objects.get(hostname=DEMO_CONTROL_HOST), timezone.now()
    for span, resolution in ((timedelta(hours=1), "raw"), (timedelta(days=1), "minute"), (timedelta(days=14), "hour")):
        series = selectors.host_series(host=host, since=now - span, until=now)
        assert series["resolution"] == resolution and series["points"], span
