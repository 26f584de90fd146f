"""Celery tasks of the alerts: thin, idempotent enough to retry, each calling one service."""

from __future__ import annotations

import smtplib
from datetime import datetime
from typing import Any

from celery import shared_task

from console.alerts import services
from console.alerts.events import AlertEvent

# Mail servers go away for a while: retry with back-off and jitter rather than lose the alert.
_SMTP_RETRY: dict[str, Any] = {
    "autoretry_for": (smtplib.SMTPException, OSError),
    "retry_backoff": 10,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task(name="console.alerts.send_alerts", **_SMTP_RETRY)
def send_alerts(events: list[dict[str, Any]]) -> int:
    """Send alerts decided 'send now' (a batch, one SMTP connection); returns e-mails sent."""
    return services.send_alert_emails(events=[AlertEvent.from_dict(e) for e in events])


@shared_task(name="console.alerts.flush_digests", **_SMTP_RETRY)
def flush_digests(now: str | None = None) -> int:
    """Send the digests that are due (`now`: ISO time, for tests and catch-up); returns e-mails sent."""
    return services.flush_digests(now=datetime.fromisoformat(now) if now else None)
