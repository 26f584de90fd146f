"""Gain reports from roll-ups: known answers, difference in differences, kernel check, demo data."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from console.demo.setup.numa import DEMO_CONTROL_HOST, DEMO_PINNED_HOSTS, setup_demo
from numa import selectors, services
from numa.models import Host, HourRollup, PinningEvent

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
    report = selectors.event_gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=200
    )
    assert report["hosts"][0]["gain"] == pytest.approx(0.2)
    assert report["cluster"]["gain"] == pytest.approx(0.2)
    assert report["cluster"]["ci_low"] == pytest.approx(0.2)


def test_unpinned_host_change_is_subtracted() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    _history("c1", before=10.0, after=9.0)  # the whole cluster got 10% cheaper anyway
    report = selectors.event_gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=100
    )
    assert [row["host"] for row in report["controls"]] == ["c1"]
    assert report["cluster"]["control_gain"] == pytest.approx(0.1)
    assert report["cluster"]["gain"] == pytest.approx(0.1)


def test_hosts_pinned_during_the_rollout_gap_count_as_treated() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    _event(_history("p2", before=10.0, after=9.0), EVENT + timedelta(hours=3))
    report = selectors.event_gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=0
    )
    assert sorted(row["host"] for row in report["hosts"]) == ["p1", "p2"]
    assert report["controls"] == []


def test_kernel_check_agrees_when_migration_and_remote_share_fall() -> None:
    event = _event(_history("p1", before=10.0, after=8.0))
    report = selectors.event_gain_report(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=0
    )
    verdict = report["kernel_check"]["verdict"]
    assert verdict["agrees"] is True
    assert verdict["metrics"]["migrated_pages_per_s"] == "lower"
    assert report["kernel_check"]["hosts"][0]["remote_share"] == {
        "before": pytest.approx(0.3),
        "after": pytest.approx(0.1),
    }


def test_kernel_check_disagrees_when_remote_share_rises_with_a_cpu_gain() -> None:
    rows = [
        {
            "remote_share": {"before": 0.1, "after": 0.3},
            "migrated_pages_per_s": {"before": 1, "after": 0.5},
            "hint_faults_per_s": {"before": None, "after": None},
        }
    ]
    verdict = selectors.kernel_verdict(rows, gain=0.1)
    assert verdict["agrees"] is False and verdict["metrics"]["hint_faults_per_s"] == "no data"


def test_no_data_after_the_event_gives_no_gain_with_a_reason() -> None:
    host = Host.objects.create(hostname="empty", delivery=Host.Delivery.SYNTHETIC)
    event = _event(host)
    report = selectors.event_gain_report(
        event=event, window=timedelta(days=1), gap=timedelta(0), resamples=0
    )
    assert report["cluster"]["gain"] is None
    assert "no usable points" in report["hosts"][0]["reason"]


def test_non_positive_window_is_refused() -> None:
    event = _event(Host.objects.create(hostname="h"))
    with pytest.raises(selectors.GainRequestError, match="window"):
        selectors.event_gain_report(event=event, window=timedelta(0), gap=timedelta(0))


def test_compute_event_gain_keeps_the_report_for_the_overview() -> None:
    event = _event(_history("p1", before=10.0, after=9.0))
    services.compute_event_gain(
        event=event, window=timedelta(days=2), gap=timedelta(hours=12), resamples=50
    )
    summary = selectors.overview_summary()
    assert summary["last_gain"]["event_id"] == event.pk
    assert summary["last_gain"]["gain"] == pytest.approx(0.1)


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
