"""The gain of a pinning event as stored work: asked for from the page (or the demo setup),
computed by the numa.compute_gain task, kept in EventGain with its progress.

The arithmetic is numa/event_gains.py and numa/gains.py (pure); this module reads the series,
counts progress and stores the report. No web request computes a gain: ~18 s for 100 hosts.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Avg, F
from django.utils import timezone

from console.celery import app as celery_app
from numa.event_gains import (
    KERNEL_CHECK_FIELDS,
    GainRequestError,
    GainWindows,
    HostSeries,
    event_gain_report,
    gain_windows,
)
from numa.gains import GainInputError, SeriesPoint
from numa.models import EventGain, Host, HourRollup, MinuteRollup, PinningEvent
from numa.selectors import console_zone

logger = logging.getLogger(__name__)

DEFAULT_RESAMPLES = 1000
COMPUTE_GAIN_TASK = "numa.compute_gain"


def request_gain(
    *, event: PinningEvent, window: timedelta, gap: timedelta, who: str = "", queue: bool = True
) -> EventGain:
    """Ask for the event's gain over these windows: the row turns pending (a newer generation)
    and numa.compute_gain is queued after commit (unless queue=False: the caller computes).
    The last finished report stays shown meanwhile."""
    gain_windows(event.changed_at, window, gap)  # GainRequestError before anything is stored
    now = timezone.now()
    with transaction.atomic():
        gain, created = EventGain.objects.select_for_update().get_or_create(
            event=event,
            defaults={
                "window_s": window.total_seconds(),
                "gap_s": gap.total_seconds(),
                "requested_at": now,
                "requested_by": who[:150],
            },
        )
        if not created:
            EventGain.objects.filter(pk=gain.pk).update(
                generation=F("generation") + 1,
                status=EventGain.Status.PENDING,
                window_s=window.total_seconds(),
                gap_s=gap.total_seconds(),
                requested_at=now,
                requested_by=who[:150],
                started_at=None,
                hosts_done=0,
                hosts_total=0,
                error="",
            )
            gain.refresh_from_db()
        generation = gain.generation
        if queue:
            transaction.on_commit(lambda: _queue(event.pk, generation))
    return gain


def _queue(event_id: int, generation: int) -> None:
    # By name: numa.tasks runs this module, so importing it here would close an import cycle.
    celery_app.signature(COMPUTE_GAIN_TASK, args=(event_id, generation)).delay()


def _current(event_id: int, generation: int) -> Any:
    return EventGain.objects.filter(event_id=event_id, generation=generation)


def _series(host: Host, windows: GainWindows) -> list[SeriesPoint]:
    """Hour roll-ups for windows of a day or more, minute roll-ups below (in the console zone)."""
    model = HourRollup if windows.uses_hours else MinuteRollup
    zone = console_zone()
    uses_work = bool(host.work_metric_name)
    return [
        SeriesPoint(
            timestamp=start.astimezone(zone),
            cpu_seconds_per_second=cpu,
            work_per_second=work if uses_work else None,
        )
        for start, cpu, work in model.objects.filter(
            host=host, bucket_start__gte=windows.start, bucket_start__lt=windows.end
        )
        .values_list("bucket_start", "cpu_cores", "work_per_s")
        .order_by("bucket_start")
    ]


def _means(
    host: Host, model: type[MinuteRollup] | type[HourRollup], start: Any, end: Any
) -> dict[str, float | None]:
    return model.objects.filter(host=host, bucket_start__gte=start, bucket_start__lt=end).aggregate(
        **{name: Avg(name) for name in KERNEL_CHECK_FIELDS}
    )


def _hosts_of(event: PinningEvent, windows: GainWindows) -> tuple[list[Host], list[Host]]:
    """(treated, controls). Treated: the event's host and every host with an event of the same
    kind within the rollout gap after it. Controls: hosts with data but no pinning event over
    the whole span; demo hosts are compared only with demo hosts, live ones with live ones."""
    rollout = PinningEvent.objects.filter(
        kind=event.kind,
        changed_at__gte=event.changed_at,
        changed_at__lte=event.changed_at + windows.gap,
    ).select_related("host")
    treated = {event.host.pk: event.host} | {other.host.pk: other.host for other in rollout}
    pinned_in_span = set(
        PinningEvent.objects.filter(
            changed_at__gte=windows.start, changed_at__lt=windows.end
        ).values_list("host_id", flat=True)
    )
    model = HourRollup if windows.uses_hours else MinuteRollup
    controls = Host.objects.exclude(pk__in=pinned_in_span | set(treated)).filter(
        pk__in=model.objects.filter(
            bucket_start__gte=windows.start, bucket_start__lt=windows.end
        ).values_list("host_id", flat=True)
    )
    if event.host.delivery == Host.Delivery.SYNTHETIC:
        controls = controls.filter(delivery=Host.Delivery.SYNTHETIC)
    else:
        controls = controls.exclude(delivery=Host.Delivery.SYNTHETIC)
    return sorted(treated.values(), key=lambda host: host.hostname), list(
        controls.order_by("hostname")
    )


def gain_report(
    *,
    event: PinningEvent,
    window: timedelta,
    gap: timedelta,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    on_hosts: Any = None,
    on_host_done: Any = None,
) -> dict[str, Any]:
    """Read the treated and control hosts' series and build the report (event_gains).

    on_hosts(total) is called once the hosts are known, on_host_done() after each host.
    """
    windows = gain_windows(event.changed_at, window, gap)
    treated_hosts, control_hosts = _hosts_of(event, windows)
    if on_hosts is not None:
        on_hosts(len(treated_hosts) + len(control_hosts))
    model = HourRollup if windows.uses_hours else MinuteRollup
    after_start = event.changed_at + gap
    treated = [
        HostSeries(
            hostname=host.hostname,
            points=_series(host, windows),
            kernel_before=_means(host, model, windows.start, event.changed_at),
            kernel_after=_means(host, model, after_start, windows.end),
        )
        for host in treated_hosts
    ]
    controls = [
        HostSeries(hostname=host.hostname, points=_series(host, windows)) for host in control_hosts
    ]
    return event_gain_report(
        event={
            "id": event.pk,
            "label": str(event),
            "kind": event.kind,
            "demo": event.host.delivery == Host.Delivery.SYNTHETIC,
        },
        windows=windows,
        treated=treated,
        controls=controls,
        resamples=resamples,
        seed=seed,
        on_host_done=on_host_done,
    )


def compute_gain(*, event_id: int, generation: int, resamples: int = DEFAULT_RESAMPLES) -> str:
    """Run one requested computation (the task's body). Returns the status it ended in.

    Safe to run twice: a run whose generation is no longer current changes nothing, and the
    same generation computed again stores the same figures.
    """
    gain = EventGain.objects.select_related("event__host").filter(event_id=event_id).first()
    if gain is None or gain.generation != generation:
        return "stale"
    _current(event_id, generation).update(
        status=EventGain.Status.RUNNING, started_at=timezone.now(), hosts_done=0
    )

    def on_hosts(total: int) -> None:
        _current(event_id, generation).update(hosts_total=total)

    def on_host_done() -> None:
        _current(event_id, generation).update(hosts_done=F("hosts_done") + 1)

    try:
        report = gain_report(
            event=gain.event,
            window=timedelta(seconds=gain.window_s),
            gap=timedelta(seconds=gain.gap_s),
            resamples=resamples,
            on_hosts=on_hosts,
            on_host_done=on_host_done,
        )
    except (GainRequestError, GainInputError) as error:
        _current(event_id, generation).update(status=EventGain.Status.FAILED, error=str(error))
        return EventGain.Status.FAILED
    except Exception as error:
        _current(event_id, generation).update(
            status=EventGain.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    _current(event_id, generation).update(
        status=EventGain.Status.DONE, report=report, computed_at=timezone.now()
    )
    return EventGain.Status.DONE


def compute_gain_now(
    *, event: PinningEvent, window: timedelta, gap: timedelta, who: str = ""
) -> dict[str, Any]:
    """Request and compute in this process (demo setup, benchmarks): the stored report."""
    gain = request_gain(event=event, window=window, gap=gap, who=who, queue=False)
    compute_gain(event_id=event.pk, generation=gain.generation)
    gain.refresh_from_db()
    if gain.status != EventGain.Status.DONE or gain.report is None:
        raise GainRequestError(gain.error or f"gain of {event} ended {gain.status}")
    report: dict[str, Any] = gain.report
    return report
