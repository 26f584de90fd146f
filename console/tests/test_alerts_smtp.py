"""Alert e-mails through a real SMTP server (aiosmtpd on 127.0.0.1): a burst is one alert + one digest."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings
from django.utils import timezone

from console.alerts import publish, tasks
from console.progress import VerifierProgress
from console.tests.alerts_support import ledger_source, mismatch_verdicts, subscribe
from numa import alerts as numa_alerts
from numa.models import Host
from verifiers import alerts as verifier_alerts
from verifiers.benchmarks.support import free_port
from verifiers.groups import alerts as group_alerts
from verifiers.groups import tasks as group_tasks
from verifiers.groups.recording import record_verdicts
from verifiers.models import MismatchGroup, OutcomeCount, ReconciliationRun, Route
from verifiers.read import alerts as read_alerts
from verifiers.reconcile import alerts as reconcile_alerts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


class Inbox:
    """aiosmtpd handler keeping every message, and counting connections (one EHLO each)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[list[str]] = []
        self.connections = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802 (aiosmtpd hook)
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(list(envelope.rcpt_tos))
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_inbox():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
                               EMAIL_HOST="127.0.0.1", EMAIL_PORT=port, EMAIL_USE_TLS=False,
                               EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="", EMAIL_TIMEOUT=5):
            yield inbox
    finally:
        controller.stop()


def parts(message: Message) -> dict[str, str]:
    return {part.get_content_type(): part.get_payload(decode=True).decode()  # type: ignore[union-attr]  # bytes when decode=True
            for part in message.walk() if not part.is_multipart()}


@pytest.fixture
def record_burst(django_capture_on_commit_callbacks):
    """The read verifier's path: record each batch, then its hook alerts on the new groups (after commit)."""
    from verifiers.read.services import record_read_batch

    def record(total: int = 1_000, batch: int = 100):
        start = timezone.now()
        verdicts = mismatch_verdicts(total, start)
        for offset in range(0, total, batch):
            with django_capture_on_commit_callbacks(execute=True):
                record_read_batch(verdicts=verdicts[offset: offset + batch])
        return start

    return record


def test_burst_of_one_thousand_mismatches_sends_one_alert_then_one_digest(smtp_inbox, record_burst):
    subscribe()
    start = record_burst()
    group = MismatchGroup.objects.get()
    assert group.count == 1_000
    assert len(smtp_inbox.messages) == 1  # the alert, at once
    group_tasks.scan_group_activity()
    tasks.flush_digests((start + timedelta(minutes=2)).isoformat())
    assert len(smtp_inbox.messages) == 1  # the digest is still held
    tasks.flush_digests((start + timedelta(minutes=31)).isoformat())
    assert len(smtp_inbox.messages) == 2
    alert, digest = smtp_inbox.messages
    assert "New mismatch group" in alert["Subject"]
    assert "Digest" in digest["Subject"]
    assert "900 more" in parts(digest)["text/plain"]
    tasks.flush_digests((start + timedelta(hours=2)).isoformat())
    assert len(smtp_inbox.messages) == 2  # nothing left


def test_alert_arrives_with_plain_text_html_link_and_masked_data(smtp_inbox, settings, record_burst):
    subscribe()
    record_burst(total=100)
    group = MismatchGroup.objects.get()
    [message] = smtp_inbox.messages
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    link = f"{settings.CONSOLE_BASE_URL}/groups/{group.pk}/"
    assert link in bodies["text/plain"] and f'href="{link}"' in bodies["text/html"]
    assert "1500000" in bodies["text/plain"]  # the differing values are shown
    for body in bodies.values():
        assert "110-234-567890" not in body and "홍길동" not in body


def test_digest_to_several_recipients_uses_one_smtp_connection(smtp_inbox, record_burst):
    for address in ("a@example.bank", "b@example.bank", "c@example.bank"):
        subscribe(address)
    start = record_burst(total=300)
    assert smtp_inbox.connections == 1  # three alert e-mails, one connection
    group_tasks.scan_group_activity()
    tasks.flush_digests((start + timedelta(minutes=31)).isoformat())
    assert len(smtp_inbox.messages) == 6
    assert sorted(rcpt for [rcpt] in smtp_inbox.envelopes[3:]) == ["a@example.bank", "b@example.bank", "c@example.bank"]
    assert smtp_inbox.connections == 2  # and one more for the three digests


def test_each_part_builds_its_events_and_one_publish_delivers_them(smtp_inbox, settings):
    """The port end to end: every part's events, one publish, one e-mail each, links encoded."""
    subscribe()
    now = timezone.now()
    group_id = record_verdicts(mismatch_verdicts(3, now)).new_group_ids[0]
    route = Route.objects.create(method="GET", template="/cards/{id}", mismatch_rate_alert=0.05)
    OutcomeCount.objects.create(kind="read", subject=str(route), minute=now - timedelta(minutes=1),
                                matched=50, mismatched=50)
    run = ReconciliationRun.objects.create(source=ledger_source(), cutoff=now, status="failed", error="timeout")
    host = Host.objects.create(hostname="ledger db 1", silent=True, silent_since=now)
    stalled = VerifierProgress(verifier="read", backlog=3_000, pending=0, oldest_waiting_s=600.0, live_workers=0,
                               stall_after_s=120.0)
    events = [
        *group_alerts.group_events([group_id], now=now), *read_alerts.rate_events(now=now),
        reconcile_alerts.run_event(run, now=now), numa_alerts.collector_silent_event(host, now=now),
        verifier_alerts.stall_event(stalled, now=now),
    ]
    assert [decision.value for decision in publish(events)] == ["send_now"] * 5
    texts = {" ".join(str(message["Subject"]).split()): parts(message)["text/plain"] for message in smtp_inbox.messages}
    assert len(texts) == 5
    base = settings.CONSOLE_BASE_URL
    expected_links = [
        f"{base}/groups/{group_id}/", f"{base}/groups/?subject=GET+%2Fcards%2F%7Bid%7D",
        f"{base}/reconciliation/runs/{run.pk}/", f"{base}/numa/hosts/ledger%20db%201/", f"{base}/",
    ]
    for link in expected_links:
        assert any(link in text for text in texts.values()), link
    assert any("Verifier stalled" in subject and "no live worker" in subject for subject in texts)
