"""Alert e-mails through a real SMTP server (aiosmtpd on 127.0.0.1): a burst is one alert + one digest."""

from __future__ import annotations

import email
import socket
from datetime import timedelta
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from django.test import override_settings
from django.utils import timezone

from console.alerts import tasks
from console.tests.alerts_support import mismatch_verdicts, subscribe
from verifiers.models import MismatchGroup

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def record_burst(total: int = 1_000, batch: int = 100):
    """The read verifier's path: record each batch, then its hook alerts on the new groups."""
    from verifiers.read.services import record_read_batch

    start = timezone.now()
    verdicts = mismatch_verdicts(total, start)
    for offset in range(0, total, batch):
        record_read_batch(verdicts=verdicts[offset: offset + batch])
    return start


def test_burst_of_one_thousand_mismatches_sends_one_alert_then_one_digest(smtp_inbox):
    subscribe()
    start = record_burst()
    group = MismatchGroup.objects.get()
    assert group.count == 1_000
    assert len(smtp_inbox.messages) == 1  # the alert, at once
    tasks.scan_group_activity()
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


def test_alert_arrives_with_plain_text_html_link_and_masked_data(smtp_inbox, settings):
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


def test_digest_to_several_recipients_uses_one_smtp_connection(smtp_inbox):
    for address in ("a@example.bank", "b@example.bank", "c@example.bank"):
        subscribe(address)
    start = record_burst(total=300)
    assert smtp_inbox.connections == 1  # three alert e-mails, one connection
    tasks.scan_group_activity()
    tasks.flush_digests((start + timedelta(minutes=31)).isoformat())
    assert len(smtp_inbox.messages) == 6
    assert sorted(rcpt for [rcpt] in smtp_inbox.envelopes[3:]) == ["a@example.bank", "b@example.bank", "c@example.bank"]
    assert smtp_inbox.connections == 2  # and one more for the three digests
