"""Outcome counts for tests that draw charts or tables: written to both roll-ups, as recording does."""

from __future__ import annotations

from datetime import datetime

from verifiers.groups.recording import FIVE_MINUTE_COLUMNS
from verifiers.models import FiveMinuteOutcomeCount, OutcomeCount


def add_outcome_counts(*, kind: str, subject: str, minute: datetime, **columns) -> OutcomeCount:
    """One minute's counts (`migration=` optional), added to its five minutes too."""
    row = OutcomeCount.objects.create(kind=kind, subject=subject, minute=minute, **columns)
    bucket = minute.replace(minute=minute.minute - minute.minute % 5, second=0, microsecond=0)
    five, _ = FiveMinuteOutcomeCount.objects.get_or_create(
        migration=row.migration, kind=kind, subject=subject, bucket=bucket)
    for column in FIVE_MINUTE_COLUMNS:
        setattr(five, column, getattr(five, column) + columns.get(column, 0))
    five.save()
    return row
