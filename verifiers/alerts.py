"""Alert events of the verifiers as a whole: a verifier that stopped making progress while work waits.

Uses the same progress figures as /healthz and the dashboard (console.progress.VerifierProgress,
read from verifiers.progress_sources); a stall repeats every check while it lasts, so the throttle
sends one alert and digests the rest.
"""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse
from django.utils import timezone

from console import alerts
from console.alerts import AlertEvent, AlertKind
from console.progress import VerifierProgress
from verifiers import progress_sources


def stall_event(progress: VerifierProgress, *, now: datetime) -> AlertEvent | None:
    """The alert of a stalled verifier; None while it keeps up (or has nothing to do)."""
    problem = progress.problem
    if problem is None:
        return None
    oldest = progress.oldest_waiting_s
    return AlertEvent(
        kind=AlertKind.VERIFIER_STALLED, key=f"stalled:{progress.verifier}", occurred_at=now,
        subject=f"{progress.verifier} verifier", severity="high", title=problem, url_path=reverse("overview"),
        facts={
            "Verifier": progress.verifier, "Waiting": progress.waiting, "Pending": progress.pending,
            "Oldest waiting": "" if oldest is None else f"{oldest:,.0f} s",
            "Live workers": "not counted" if progress.live_workers is None else progress.live_workers,
            "Stall limit": f"{progress.stall_after_s:,.0f} s",
        },
    )


def verifiers_progress() -> list[VerifierProgress]:
    # Celery workers are not pinged from a task: the one running it is alive by definition.
    return [progress_sources.read_verifier_progress(live_celery_workers=None),
            progress_sources.write_verifier_progress(live_celery_workers=None)]


def check_progress(*, now: datetime | None = None) -> list[AlertEvent]:
    """Publish an alert per stalled verifier; returns the events (the throttle may hold them)."""
    now = now or timezone.now()
    events = [event for progress in verifiers_progress() if (event := stall_event(progress, now=now))]
    alerts.publish(events)
    return events
