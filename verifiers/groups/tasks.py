"""Celery tasks of the mismatch groups: reverification, queued from the group page, API and admin."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from verifiers.groups import alerts as group_alerts
from verifiers.groups import services


def _result(summary: services.ReverifySummary) -> dict[str, Any]:
    return {"samples": summary.samples, "matched": summary.matched, "resolved": summary.resolved_group_ids}


@shared_task(name="verifiers.groups.reverify_group")
def reverify_group(group_id: int) -> dict[str, Any]:
    return _result(services.reverify_group(group_id=group_id))


@shared_task(name="verifiers.groups.reverify_samples")
def reverify_samples(sample_ids: list[int]) -> dict[str, Any]:
    return _result(services.reverify_samples(sample_ids=sample_ids))


@shared_task(name="verifiers.groups.scan_group_activity")
def scan_group_activity() -> int:
    """Hold further occurrences of recently alerted groups for their digest; returns how many."""
    return group_alerts.scan_group_activity()
