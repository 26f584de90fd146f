"""Alert use cases against the database, Redis throttle store and Django's locmem mail.

Each part builds its events (verifiers.groups.alerts, verifiers.read.alerts, verifiers.reconcile.alerts,
numa.alerts, verifiers.alerts) and publishes them through console.alerts.publish.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from console.alerts import AlertKind, Decision, publish, services
from console.alerts.models import AlertRule, SentAlert
from console.tests.alerts_support import ledger_source, mismatch_verdicts, subscribe
from numa import alerts as numa_alerts
from verifiers.groups import alerts as group_alerts
from verifiers.groups.recording import record_verdicts
from verifiers.models import MismatchGroup, OutcomeCount, ReconciliationRun, Route
from verifiers.read import alerts as read_alerts
from verifiers.reconcile import alerts as reconcile_alerts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def new_group(count: int = 5, start: datetime | None = None, prefix: str = "s") -> int:
    summary = record_verdicts(mismatch_verdicts(count, start or timezone.now(), prefix=prefix))
    return (summary.new_group_ids or summary.touched_group_ids)[0]


def notify_new_groups(group_ids: list[int]) -> list[Decision]:
    return publish(group_alerts.group_events(group_ids))


def notify_reconciliation(run: ReconciliationRun) -> Decision | None:
    event = reconcile_alerts.run_event(run)
    return None if event is None else publish([event])[0]


def check_mismatch_rates() -> int:
    return len(read_alerts.check_mismatch_rates())


def test_new_group_sends_one_email_with_text_html_and_link():
    subscribe()
    group_id = new_group()
    notify_new_groups([group_id])
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["oncall@example.bank"]
    assert "New mismatch group" in message.subject
    assert f"/groups/{group_id}/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and f"/groups/{group_id}/" in html


def test_alert_link_starts_with_the_console_base_url(settings):
    settings.CONSOLE_BASE_URL = "https://mhc.example.bank"
    subscribe()
    notify_new_groups([new_group()])
    assert "https://mhc.example.bank/groups/" in mail.outbox[0].body


def test_alert_email_masks_personal_data():
    subscribe()
    group_id = new_group()
    MismatchGroup.objects.filter(pk=group_id).update(title="GET /accounts/110-234-567890/balance changed")
    notify_new_groups([group_id])
    message = mail.outbox[0]
    assert "110-234-567890" not in message.subject + message.body + message.alternatives[0][0]
    assert "7890" in message.body  # masked, not dropped: the last digits stay


def test_same_group_notified_twice_sends_once():
    subscribe()
    group_id = new_group()
    notify_new_groups([group_id])
    notify_new_groups([group_id])
    assert len(mail.outbox) == 1


def test_recipient_without_the_subscription_gets_nothing():
    subscribe(kinds=["reconciliation"])
    notify_new_groups([new_group()])
    assert mail.outbox == []


def test_inactive_recipient_gets_nothing():
    recipient = subscribe()
    recipient.active = False
    recipient.save()
    notify_new_groups([new_group()])
    assert mail.outbox == []


def test_disabled_rule_drops_the_alert():
    subscribe()
    AlertRule.objects.create(kind="new_group", enabled=False)
    assert notify_new_groups([new_group()]) == [Decision.DROP]
    assert mail.outbox == []


def test_sent_alert_is_logged():
    subscribe()
    group_id = new_group()
    notify_new_groups([group_id])
    logged = SentAlert.objects.get()
    assert logged.key == f"group:{group_id}" and not logged.digest and logged.recipients == ["oncall@example.bank"]


def test_group_activity_becomes_one_digest_when_due():
    subscribe()
    start = timezone.now()
    group_id = new_group(start=start)
    notify_new_groups([group_id])
    record_verdicts(mismatch_verdicts(50, start, prefix="more"))
    assert group_alerts.scan_group_activity(now=start + timedelta(minutes=1)) == 1
    assert services.flush_digests(now=start + timedelta(minutes=3)) == 0  # held at least 5 min
    assert services.flush_digests(now=start + timedelta(minutes=7)) == 1
    digest = mail.outbox[-1]
    assert "Digest" in digest.subject and "50 more" in digest.body
    assert SentAlert.objects.filter(digest=True, events=50).count() == 1


def test_activity_of_a_group_never_alerted_is_ignored():
    subscribe()
    start = timezone.now()
    new_group(start=start)
    assert group_alerts.scan_group_activity(now=start) == 0
    assert services.flush_digests(now=start + timedelta(hours=1)) == 0


def test_digest_goes_once_per_recipient_for_several_keys():
    subscribe("a@example.bank")
    subscribe("b@example.bank")
    start = timezone.now()
    first = new_group(start=start, prefix="a")
    second = services_group(start, "other")
    notify_new_groups([first, second])
    assert len(mail.outbox) == 4  # two groups x two recipients
    record_verdicts(mismatch_verdicts(3, start, prefix="a-more"))
    record_verdicts(mismatch_verdicts(4, start, prefix="o-more", fingerprint="other"))
    group_alerts.scan_group_activity(now=start + timedelta(minutes=1))
    assert services.flush_digests(now=start + timedelta(minutes=10)) == 2
    digests = mail.outbox[4:]
    assert sorted(m.to[0] for m in digests) == ["a@example.bank", "b@example.bank"]
    assert "7 more events in 2 alerts" in digests[0].subject


def services_group(start: datetime, fingerprint: str) -> int:
    return record_verdicts(mismatch_verdicts(2, start, prefix=fingerprint, fingerprint=fingerprint)).new_group_ids[0]


def test_reconciliation_with_differences_alerts_with_a_link_to_the_run():
    subscribe()
    run = ReconciliationRun.objects.create(
        source=ledger_source(), cutoff=timezone.now(), status="discrepancies", accounts_checked=1_000_000,
        accounts_with_differences=3, duration_ms=8_400,
    )
    notify_reconciliation(run)
    assert len(mail.outbox) == 1
    assert f"/reconciliation/runs/{run.pk}/" in mail.outbox[0].body
    assert "1,000,000" in mail.outbox[0].body


def test_failed_reconciliation_alerts_and_balanced_does_not():
    subscribe()
    source = ledger_source()
    balanced = ReconciliationRun.objects.create(source=source, cutoff=timezone.now(), status="balanced")
    assert reconcile_alerts.run_event(balanced) is None
    failed = ReconciliationRun.objects.create(source=source, cutoff=timezone.now(), status="failed",
                                              error="could not connect to 10.0.0.5")
    notify_reconciliation(failed)
    assert len(mail.outbox) == 1 and "failed" in mail.outbox[0].subject


def test_reconciliation_totals_off_alerts_even_without_account_differences():
    subscribe()
    run = ReconciliationRun.objects.create(
        source=ledger_source(), cutoff=timezone.now(), status="discrepancies",
        totals={"KRW": {"difference": str(Decimal("-1000.0000"))}},
    )
    assert notify_reconciliation(run) is Decision.SEND_NOW


def test_silent_collector_alerts_with_the_host_page():
    from numa.models import Host

    subscribe()
    host = Host.objects.create(hostname="ledger-db-1", silent=True, silent_since=timezone.now())
    publish([numa_alerts.collector_silent_event(host, now=timezone.now())])
    assert len(mail.outbox) == 1 and "/numa/hosts/ledger-db-1/" in mail.outbox[0].body


def outcome(subject: str, matched: int, mismatched: int, minute: datetime) -> None:
    OutcomeCount.objects.create(kind="read", subject=subject, minute=minute, matched=matched, mismatched=mismatched)


def test_route_over_its_rate_threshold_alerts_once_per_window():
    subscribe()
    route = Route.objects.create(method="GET", template="/accounts/{id}/balance", mismatch_rate_alert=0.05)
    now = timezone.now().replace(second=30)
    outcome(str(route), 90, 10, now.replace(second=0) - timedelta(minutes=1))
    assert check_mismatch_rates() == 1
    assert len(mail.outbox) == 1 and "10.0%" in mail.outbox[0].subject
    check_mismatch_rates()
    assert len(mail.outbox) == 1  # the second check is held for the digest


def test_route_under_threshold_or_with_old_counts_does_not_alert():
    subscribe()
    route = Route.objects.create(method="GET", template="/accounts/{id}", mismatch_rate_alert=0.2)
    now = timezone.now()
    outcome(str(route), 90, 10, now - timedelta(minutes=1))
    outcome(str(route), 0, 100, now - timedelta(minutes=30))
    assert read_alerts.check_mismatch_rates(now=now) == []


def test_rule_threshold_applies_to_routes_without_their_own():
    subscribe()
    AlertRule.objects.create(kind=AlertKind.MISMATCH_RATE.value, threshold=0.01)
    route = Route.objects.create(method="GET", template="/cards/{id}")
    now = timezone.now()
    outcome(str(route), 95, 5, now - timedelta(minutes=2))
    assert [e.key for e in read_alerts.check_mismatch_rates(now=now)] == [f"rate:{route.pk}"]


def test_rate_alert_link_keeps_the_route_in_one_encoded_parameter():
    subscribe()
    route = Route.objects.create(method="GET", template="/accounts/{id}/balance?from=a&to=b", mismatch_rate_alert=0.05)
    now = timezone.now()
    outcome(str(route), 50, 50, now - timedelta(minutes=1))
    read_alerts.check_mismatch_rates(now=now)
    assert "/groups/?subject=GET+%2Faccounts%2F%7Bid%7D%2Fbalance%3Ffrom%3Da%26to%3Db" in mail.outbox[0].body
    # The route stays one parameter; the migration it belongs to is the page's filter.
    assert SentAlert.objects.get().url.endswith("%3Ffrom%3Da%26to%3Db&migration=default")


def test_a_failing_publish_is_logged_not_raised(monkeypatch, caplog):
    def broken(events):
        raise ConnectionError("redis is away")

    monkeypatch.setattr(services, "publish_events", broken)
    group_id = new_group()
    assert notify_new_groups([group_id]) == [Decision.DROP]
    assert f"group:{group_id}" in caplog.text


def test_a_verifier_that_stops_making_progress_alerts_once_then_digests(redis_client):
    from verifiers.read import stream
    from verifiers.tasks import check_progress

    subscribe()
    stream.ensure_group(redis_client)
    ingested_ms = int((timezone.now() - timedelta(minutes=10)).timestamp() * 1000)
    redis_client.xadd(stream.STREAM_KEY, {"id": "s-1", "sample": b"{}", "ingested_at_ms": ingested_ms})
    assert check_progress() == 1  # the read verifier: a sample waits and no worker serves it
    [message] = mail.outbox
    assert "Verifier stalled" in message.subject and "no live worker" in message.subject
    assert check_progress() == 1 and len(mail.outbox) == 1  # still stalled: held for the digest
    assert SentAlert.objects.get().key == "stalled:read"


def test_a_verifier_with_nothing_waiting_does_not_alert(redis_client):
    from verifiers.tasks import check_progress

    subscribe()
    assert check_progress() == 0 and mail.outbox == []


def test_migration_drops_the_beat_rows_of_the_checks_that_moved_to_the_parts():
    import importlib

    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    migration = importlib.import_module("console.alerts.migrations.0003_drop_moved_beat_entries")
    every_minute = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    for name, task in [("alerts-check-mismatch-rates", "console.alerts.check_mismatch_rates"),
                       ("alerts-scan-group-activity", "console.alerts.scan_group_activity"),
                       ("alerts-flush-digests", "console.alerts.flush_digests")]:
        PeriodicTask.objects.create(name=name, task=task, interval=every_minute)
    migration.drop_moved_entries(apps, None)
    assert list(PeriodicTask.objects.values_list("task", flat=True)) == ["console.alerts.flush_digests"]
