"""Storing samples: registration, rates, idempotency, validation, silence, roll-ups, retention."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from numa import services
from numa.models import Host, HourRollup, MinuteRollup, PinningEvent, RawSample
from numa.sources import HostSample
from numa.tests.helpers import advanced, fixture_sample

pytestmark = pytest.mark.django_db


def test_first_sample_registers_the_host_without_rates() -> None:
    row, created = services.record_sample(sample=fixture_sample("two_node"))
    host = Host.objects.get(hostname="two-node-host")
    assert created and row.host == host
    assert row.interval_s is None and row.remote_share is None
    assert host.node_count == 2 and host.queue_name == "numa.two-node-host"
    assert host.last_counters is not None and host.first_seen is not None


def test_second_sample_stores_rates_against_the_first() -> None:
    first = fixture_sample("two_node")
    services.record_sample(sample=first)
    row, _ = services.record_sample(
        sample=advanced(first, 10, local_node=900, other_node=100, pages_migrated=50)
    )
    assert row.interval_s == pytest.approx(10)
    assert row.remote_share == pytest.approx(0.1)
    assert row.migrated_pages_per_s == pytest.approx(5.0)
    assert set(row.node_cpu_cores) == {"0", "1"}
    host = Host.objects.get(hostname="two-node-host")
    assert host.latest_remote_share == pytest.approx(0.1)
    assert host.latest_migrated_pages_per_s == pytest.approx(5.0)


def test_four_node_sample_stores_every_node() -> None:
    first = fixture_sample("four_node")
    services.record_sample(sample=first)
    row, _ = services.record_sample(sample=advanced(first, 5, local_node=700, other_node=300))
    assert set(row.node_cpu_cores) == {"0", "1", "2", "3"}
    assert row.remote_share == pytest.approx(0.3)
    assert Host.objects.get(hostname="four-node-host").topology["distances"]["3"]


def test_repeating_a_sample_is_idempotent() -> None:
    sample = fixture_sample("one_node")
    first_row, first_created = services.record_sample(sample=sample)
    again_row, again_created = services.record_sample(sample=sample)
    assert first_created and not again_created
    assert first_row.pk == again_row.pk
    assert RawSample.objects.count() == 1


def test_sample_older_than_the_latest_is_refused() -> None:
    sample = fixture_sample("one_node")
    services.record_sample(sample=advanced(sample, 30))
    with pytest.raises(services.NumaSampleError, match="older than its latest"):
        services.record_sample(sample=sample)


def test_kernel_without_numa_is_stored_with_reasons_not_an_error() -> None:
    first = fixture_sample("no_numa")
    services.record_sample(sample=first)
    row, _ = services.record_sample(sample=advanced(first, 10))
    host = Host.objects.get(hostname="no-numa-host")
    assert host.node_count == 0
    assert "nodes" in host.unavailable
    assert row.remote_share is None and row.cpu_cores is not None


def test_counter_reset_gives_no_rate_for_that_counter() -> None:
    first = fixture_sample("two_node")
    services.record_sample(sample=first)
    later = advanced(first, 10)
    later.vmstat["numa_pages_migrated"] = 0  # went down: reset
    row, _ = services.record_sample(sample=later)
    assert row.migrated_pages_per_s is None
    assert "vmstat.numa_pages_migrated" in row.reset_counters


def test_work_counter_becomes_work_per_second() -> None:
    first = fixture_sample("one_node")
    services.record_sample(sample=first, work_total=1000.0)
    row, _ = services.record_sample(sample=advanced(first, 10), work_total=1500.0)
    assert row.work_per_s == pytest.approx(50.0)


def test_sample_from_payload_rejects_unknown_fields() -> None:
    payload = fixture_sample("one_node").to_dict() | {"surprise": 1}
    with pytest.raises(services.NumaSampleError, match="not a HostSample"):
        services.sample_from_payload(payload)


def test_sample_from_payload_rejects_negative_counters() -> None:
    payload = fixture_sample("one_node").to_dict()
    payload["vmstat"]["numa_hit"] = -5
    with pytest.raises(services.NumaSampleError, match="vmstat"):
        services.sample_from_payload(payload)


def test_sample_from_the_future_is_refused() -> None:
    sample = fixture_sample("one_node", wall_time_s=timezone.now().timestamp() + 3600)
    with pytest.raises(services.NumaSampleError, match="future"):
        services.validate_sample(sample)


def test_hostname_with_a_slash_is_refused() -> None:
    sample = fixture_sample("one_node")
    sample.hostname = "a/b"
    with pytest.raises(services.NumaSampleError, match="hostname"):
        services.validate_sample(sample)


def test_compact_counters_round_trip_and_drop_topology() -> None:
    sample = fixture_sample("two_node")
    compact = services.compact_counters(sample)
    assert "meminfo_kb" not in compact["nodes"][0]
    restored = HostSample.from_dict(compact)
    assert restored.nodes[1].numastat == sample.nodes[1].numastat


def _seen(host: Host, seconds_ago: float) -> None:
    Host.objects.filter(pk=host.pk).update(
        last_seen=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_host_without_samples_for_three_intervals_becomes_silent_once(
    monkeypatch, settings
) -> None:
    settings.NUMA_COLLECT_INTERVAL_SECONDS = 10
    monkeypatch.setattr("console.alerts.publish", lambda events: [])
    host = services.register_host(hostname="quiet")
    _seen(host, 31)
    fresh = services.register_host(hostname="fresh")
    _seen(fresh, 5)
    with pytest.MonkeyPatch.context():
        first = services.mark_silent_hosts()
        second = services.mark_silent_hosts()
    assert first == [host.pk] and second == []
    host.refresh_from_db()
    assert host.silent and host.silent_since is not None
    assert not Host.objects.get(pk=fresh.pk).silent


def test_silent_host_alert_runs_after_commit(
    monkeypatch, django_capture_on_commit_callbacks
) -> None:
    published: list[str] = []
    monkeypatch.setattr("console.alerts.publish", lambda events: published.extend(e.key for e in events))
    host = services.register_host(hostname="quiet")
    _seen(host, 3600)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.mark_silent_hosts()
    assert published == [] and len(callbacks) == 1  # nothing is said before the commit
    callbacks[0]()
    assert published == [f"collector:{host.pk}"]


def test_synthetic_and_disabled_hosts_are_never_silent() -> None:
    demo = services.register_host(hostname="demo", delivery=Host.Delivery.SYNTHETIC)
    off = services.register_host(hostname="off")
    Host.objects.filter(pk=off.pk).update(enabled=False)
    _seen(demo, 3600)
    _seen(off, 3600)
    assert services.mark_silent_hosts() == []


def test_a_new_sample_clears_silence() -> None:
    sample = fixture_sample("one_node")
    services.record_sample(sample=sample)
    Host.objects.update(silent=True, silent_since=timezone.now())
    services.record_sample(sample=advanced(sample, 10))
    assert not Host.objects.get().silent


def _samples_every_ten_seconds(count: int, start: datetime) -> Host:
    sample = fixture_sample("two_node", wall_time_s=start.timestamp())
    services.record_sample(sample=sample)
    for index in range(count):
        other = 100 if index < count // 2 else 300
        sample = advanced(sample, 10, local_node=900, other_node=other)
        services.record_sample(sample=sample)
    return Host.objects.get(hostname="two-node-host")


def test_rollup_makes_interval_weighted_minutes_and_hours() -> None:
    start = datetime(2025, 1, 6, 9, 0, 0, tzinfo=dt_timezone.utc)
    host = _samples_every_ten_seconds(12, start)  # two minutes of samples
    counts = services.rollup_host(host=host, since=start, until=start + timedelta(minutes=3))
    minutes = list(MinuteRollup.objects.filter(host=host).order_by("bucket_start"))
    assert counts["minutes"] == len(minutes) >= 2
    assert minutes[0].remote_share == pytest.approx(0.1)
    assert minutes[-1].remote_share == pytest.approx(0.25)
    hour = HourRollup.objects.get(host=host)
    assert hour.samples == 12
    assert hour.remote_share is not None and 0.1 < hour.remote_share < 0.25


def test_rollup_rerun_changes_nothing() -> None:
    start = datetime(2025, 1, 6, 9, 0, 0, tzinfo=dt_timezone.utc)
    host = _samples_every_ten_seconds(6, start)
    services.rollup_host(host=host, since=start, until=start + timedelta(minutes=2))
    first = list(MinuteRollup.objects.values_list("bucket_start", "samples", "remote_share"))
    services.rollup_host(host=host, since=start, until=start + timedelta(minutes=2))
    assert (
        list(MinuteRollup.objects.values_list("bucket_start", "samples", "remote_share")) == first
    )


def test_prune_deletes_only_data_past_retention(settings) -> None:
    settings.NUMA_RAW_RETENTION_HOURS = 1
    settings.NUMA_MINUTE_RETENTION_DAYS = 1
    host = services.register_host(hostname="h")
    now = timezone.now()
    RawSample.objects.create(host=host, sampled_at=now - timedelta(hours=2))
    RawSample.objects.create(host=host, sampled_at=now - timedelta(minutes=5))
    MinuteRollup.objects.create(host=host, bucket_start=now - timedelta(days=2))
    MinuteRollup.objects.create(host=host, bucket_start=now - timedelta(hours=2))
    pruned = services.prune_old_data(now=now)
    assert pruned["raw"] == 1 and pruned["minutes"] == 1
    assert RawSample.objects.count() == 1 and MinuteRollup.objects.count() == 1


def test_pinning_event_is_idempotent_and_needs_a_known_host() -> None:
    services.register_host(hostname="h")
    when = timezone.now()
    first, created = services.record_pinning_event(
        hostname="h", changed_at=when, kind="cpu_manager_static", who="ops"
    )
    again, created_again = services.record_pinning_event(
        hostname="h", changed_at=when, kind="cpu_manager_static"
    )
    assert created and not created_again and first.pk == again.pk
    with pytest.raises(services.PinningEventError, match="unknown host"):
        services.record_pinning_event(hostname="nope", changed_at=when, kind="manual", note="x")


@pytest.mark.parametrize(
    ("kind", "when", "note", "message"),
    [
        ("bogus", datetime(2025, 1, 1, tzinfo=dt_timezone.utc), "", "kind"),
        ("manual", datetime(2025, 1, 1), "n", "time zone"),
        ("manual", datetime(2025, 1, 1, tzinfo=dt_timezone.utc), " ", "note"),
    ],
)
def test_bad_pinning_events_are_refused(kind: str, when: datetime, note: str, message: str) -> None:
    services.register_host(hostname="h")
    with pytest.raises(services.PinningEventError, match=message):
        services.record_pinning_event(hostname="h", changed_at=when, kind=kind, note=note)
    assert not PinningEvent.objects.exists()
