"""Retention of verification data: stored samples (personal data, masked but still kept only as
long as needed), the ids that make redelivery count once, and the per-minute counts.

Deletes in bounded chunks so a large backlog never holds long locks on tables the verifiers write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

CHUNK_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of row is kept (settings; README "Configuration")."""

    samples_days: int  # stored mismatch samples, including their masked payloads
    verified_ids_days: int  # must outlast any redelivery (stream reclaim, capture TTL): hours
    outcome_counts_days: int  # per-minute counts behind the charts

    @classmethod
    def from_settings(cls) -> "RetentionPolicy":
        return cls(
            samples_days=settings.SAMPLE_RETENTION_DAYS,
            verified_ids_days=settings.VERIFIED_ID_RETENTION_DAYS,
            outcome_counts_days=settings.OUTCOME_RETENTION_DAYS,
        )


def _delete_older(table: str, column: str, before: datetime) -> int:
    """Delete rows of `table` with `column` < before, CHUNK_ROWS at a time; returns the count."""
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN "  # noqa: S608 - table/column are constants
                f"(SELECT id FROM {table} WHERE {column} < %s LIMIT %s)",
                [before, CHUNK_ROWS],
            )
            deleted += cursor.rowcount
            if cursor.rowcount < CHUNK_ROWS:
                return deleted


def prune_verification_data(*, policy: RetentionPolicy | None = None, now: datetime | None = None) -> dict[str, int]:
    """Delete what the policy no longer keeps; returns the rows deleted per kind."""
    policy = policy or RetentionPolicy.from_settings()
    now = now or timezone.now()
    samples = _delete_older("verifiers_mismatchsample", "recorded_at", now - timedelta(days=policy.samples_days))
    if samples:
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE verifiers_mismatchgroup g SET stored_samples = coalesce(
                    (SELECT count(*) FROM verifiers_mismatchsample s WHERE s.group_id = g.id), 0)
                WHERE g.stored_samples > 0
                """
            )
    return {
        "samples": samples,
        "verified_ids": _delete_older("verifiers_verifiedsample", "verified_at",
                                      now - timedelta(days=policy.verified_ids_days)),
        "outcome_counts": _delete_older("verifiers_outcomecount", "minute",
                                        now - timedelta(days=policy.outcome_counts_days)),
        "five_minute_counts": _delete_older("verifiers_fiveminuteoutcomecount", "bucket",
                                            now - timedelta(days=policy.outcome_counts_days)),
    }
