"""Recording verdicts in bulk: shared by the read and the write verifier.

One call per batch, one transaction: the sample ids not seen before are claimed (so a batch
redelivered after a worker died is counted once), matches become per-minute counts, mismatches
update their group and keep a capped number of masked samples. Everything is a handful of
set-based statements per batch, whatever the batch size.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Sequence

from django.db import connection, transaction
from django.utils import timezone

from console.models import sole_migration_pk
from verifiers.groups.verdict import GroupMembership, Verdict

# Samples kept per group: enough to see the pattern, bounded so a storm cannot fill the disk.
SAMPLES_PER_GROUP = 20

VERDICT_COLUMNS = {
    "match": "matched",
    "mismatch": "mismatched",
    "error": "errored",
    "stale": "stale",
    "orphaned": "orphaned",
    "unverifiable": "unverifiable",
}
# The per-minute columns the charts read, also kept per five minutes.
FIVE_MINUTE_COLUMNS = ("matched", "mismatched", "errored", "stale")
GROUPED_VERDICTS = frozenset({"mismatch", "error", "orphaned", "unverifiable"})


@dataclass(slots=True)
class RecordSummary:
    counted: int = 0
    duplicates: int = 0
    new_group_ids: list[int] = field(default_factory=list)
    reopened_group_ids: list[int] = field(default_factory=list)  # resolved groups that mismatch again
    touched_group_ids: list[int] = field(default_factory=list)


def record_verdicts(verdicts: list[Verdict], *, mask: Callable[[Any], Any] | None = None,
                    claim_ids: Sequence[str] | None = None) -> RecordSummary:
    """Count and store a batch of verdicts; safe to call again with the same batch.

    ``claim_ids`` (one per verdict, default each verdict's sample id) name what is claimed against
    redelivery: verdicts sharing one are counted or skipped together. The write verifier claims a
    unit of work (a capture's check) once instead of each of its rows: one row to insert, not six.
    """
    summary = RecordSummary()
    if not verdicts:
        return summary
    for verdict in verdicts:
        if verdict.verdict not in VERDICT_COLUMNS:
            raise ValueError(f"unknown verdict {verdict.verdict!r} for sample {verdict.sample_id}")
    _file_under_migrations(verdicts)
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        claims = list(claim_ids) if claim_ids is not None else [v.sample_id for v in verdicts]
        if len(claims) != len(verdicts):
            raise ValueError(f"{len(claims)} claim ids for {len(verdicts)} verdicts")
        keys = [(v.migration_id, v.kind, claim) for v, claim in zip(verdicts, claims)]
        fresh = _claim_new_sample_ids(cursor, list(dict.fromkeys(keys)), now)
        batch = [v for v, key in zip(verdicts, keys) if key in fresh]
        summary.counted = len(batch)
        summary.duplicates = len(verdicts) - len(batch)
        if not batch:
            return summary
        _add_outcome_counts(cursor, batch)
        # One unit per (verdict, group it counts in): a sample with two causes counts in both.
        grouped = [(v, membership) for v in batch if v.verdict in GROUPED_VERDICTS
                   for membership in v.memberships() if membership.fingerprint]
        if grouped:
            group_rows, summary.reopened_group_ids = _upsert_groups(cursor, grouped)
            summary.new_group_ids = [gid for gid, inserted, _ in group_rows.values() if inserted]
            summary.touched_group_ids = [gid for gid, _, _ in group_rows.values()]
            _store_samples(cursor, grouped, group_rows, mask or _default_mask())
    return summary


def _file_under_migrations(verdicts: list[Verdict]) -> None:
    """Verdicts that name no migration belong to the console's only one; with several, that is a bug."""
    unnamed = [v for v in verdicts if v.migration_id is None]
    if not unnamed:
        return
    sole = sole_migration_pk()
    if sole is None:
        raise ValueError(f"verdict for sample {unnamed[0].sample_id} names no migration, and the console has several")
    for verdict in unnamed:
        verdict.migration_id = sole


def _default_mask() -> Callable[[Any], Any]:
    from console.masking import DEFAULT_MASKING_RULES, mask_document

    return lambda value: mask_document(value, DEFAULT_MASKING_RULES)


ClaimKey = tuple[int | None, str, str]  # (migration id, kind, claim id)


def _claim_new_sample_ids(cursor, keys: list[ClaimKey], now: datetime) -> set[ClaimKey]:
    migrations = [migration for migration, _, _ in keys]
    kinds = [kind for _, kind, _ in keys]
    ids = [claim for _, _, claim in keys]
    cursor.execute(
        """
        INSERT INTO verifiers_verifiedsample (migration_id, kind, sample_id, verified_at)
        SELECT m, k, i, %s FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS t(m, k, i)
        ON CONFLICT (migration_id, kind, sample_id) DO NOTHING
        RETURNING migration_id, kind, sample_id
        """,
        [now, migrations, kinds, ids],
    )
    return {(migration, kind, sample_id) for migration, kind, sample_id in cursor.fetchall()}


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _add_outcome_counts(cursor, batch: list[Verdict]) -> None:
    columns = list(dict.fromkeys(VERDICT_COLUMNS.values())) + [
        "noise_suppressed", "legacy_latency_ms_sum", "candidate_latency_ms_sum", "latency_count",
    ]
    # Sums start as floats so every array sent to PostgreSQL has one element type.
    totals: dict[tuple[int | None, str, str, datetime], dict[str, float]] = defaultdict(
        lambda: {c: 0.0 if c.endswith("_sum") else 0 for c in columns}
    )
    last_at: object = object()  # no instant yet
    minute = datetime.min
    for v in batch:
        if v.captured_at is not last_at:  # the rows of one write capture share their instant
            last_at, minute = v.captured_at, _minute(v.captured_at)
        row = totals[(v.migration_id, v.kind, v.subject, minute)]
        row[VERDICT_COLUMNS[v.verdict]] += 1
        row["noise_suppressed"] += v.noise_suppressed
        if v.legacy_latency_ms is not None and v.candidate_latency_ms is not None:
            row["legacy_latency_ms_sum"] += v.legacy_latency_ms
            row["candidate_latency_ms_sum"] += v.candidate_latency_ms
            row["latency_count"] += 1
    keys = sorted(totals, key=lambda k: (k[0] or 0, k[1], k[2], k[3]))  # one lock order for concurrent recorders
    arrays: list[list[Any]] = [[k[i] for k in keys] for i in range(4)]
    arrays += [[totals[k][c] for k in keys] for c in columns]
    casts = ["bigint[]", "text[]", "text[]", "timestamptz[]"] + [
        "float8[]" if c.endswith("_sum") else "bigint[]" for c in columns
    ]
    names = ["migration_id", "kind", "subject", "minute", *columns]
    cursor.execute(
        f"""
        INSERT INTO verifiers_outcomecount ({", ".join(names)})
        SELECT * FROM unnest({", ".join(f"%s::{cast}" for cast in casts)})
        ON CONFLICT (migration_id, kind, subject, minute) DO UPDATE SET
        {", ".join(f"{c} = verifiers_outcomecount.{c} + EXCLUDED.{c}" for c in columns)}
        """,
        arrays,
    )
    # The same counts per five minutes for the long charts (FiveMinuteOutcomeCount). Summed here,
    # since one statement cannot update a row twice; ordered so that concurrent recorders lock
    # rows in one order.
    chart_columns = ", ".join(FIVE_MINUTE_COLUMNS)
    cursor.execute(
        f"""
        INSERT INTO verifiers_fiveminuteoutcomecount (migration_id, kind, subject, bucket, {chart_columns})
        SELECT migration_id, kind, subject, date_bin(interval '5 minutes', minute, TIMESTAMPTZ '2000-01-01'),
               {", ".join(f"sum({c})" for c in FIVE_MINUTE_COLUMNS)}
        FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[],
                    {", ".join("%s::bigint[]" for _ in FIVE_MINUTE_COLUMNS)})
             AS t(migration_id, kind, subject, minute, {chart_columns})
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (migration_id, kind, subject, bucket) DO UPDATE SET
        {", ".join(f"{c} = verifiers_fiveminuteoutcomecount.{c} + EXCLUDED.{c}" for c in FIVE_MINUTE_COLUMNS)}
        """,  # noqa: S608 - column names are the constants above
        arrays[:4] + [[totals[k][c] for k in keys] for c in FIVE_MINUTE_COLUMNS],
    )


Unit = tuple[Verdict, GroupMembership]


GroupKey = tuple[int | None, str, str]  # (migration id, kind, fingerprint)


def _upsert_groups(
    cursor, grouped: list[Unit]
) -> tuple[dict[GroupKey, tuple[int, bool, int]], list[int]]:
    """(migration, kind, fingerprint) -> (group id, newly created, samples already stored); reopened ids."""
    by_key: dict[GroupKey, list[Unit]] = defaultdict(list)
    for v, membership in grouped:
        by_key[(v.migration_id, v.kind, membership.fingerprint)].append((v, membership))
    rows = []
    for (migration_id, kind, fingerprint), members in by_key.items():
        first, first_membership = members[0]
        seen = [m.captured_at for m, _ in members]
        differences = list({(d.get("pattern", d.get("path")), d.get("kind")): None
                            for d in first_membership.differences})  # each (pattern, kind) once
        rows.append((kind, fingerprint, first_membership.title[:300], first.subject[:300], first.verdict,
                     json.dumps([{"pattern": pattern, "kind": kind_} for pattern, kind_ in differences]),
                     first.severity, min(seen), max(seen), len(members), migration_id))
    result: dict[GroupKey, tuple[int, bool, int]] = {}
    reopened: list[int] = []
    for row in sorted(rows):  # a stable order: concurrent workers lock groups in the same order
        # Existing groups (the common case) are updated without INSERT, which would draw a
        # sequence value per batch and leave gaps in the group ids operators read.
        cursor.execute(
            """
            UPDATE verifiers_mismatchgroup AS g SET
                count = g.count + %s,
                last_seen = GREATEST(g.last_seen, %s),
                first_seen = LEAST(g.first_seen, %s),
                -- a resolved group that mismatches again is a regression: open it again, say so
                status = CASE WHEN g.status = 'resolved' THEN 'open' ELSE g.status END,
                status_changed_at = CASE WHEN g.status = 'resolved' THEN now() ELSE g.status_changed_at END,
                status_changed_by = CASE WHEN g.status = 'resolved' THEN 'regression' ELSE g.status_changed_by END
            FROM (SELECT id, status AS old_status FROM verifiers_mismatchgroup
                  WHERE migration_id = %s AND kind = %s AND fingerprint = %s FOR UPDATE) AS old
            WHERE g.id = old.id
            RETURNING g.id, g.stored_samples, old.old_status
            """,
            (row[9], row[8], row[7], row[10], row[0], row[1]),
        )
        existing = cursor.fetchone()
        if existing:
            result[(row[10], row[0], row[1])] = (existing[0], False, existing[1])
            if existing[2] == "resolved":
                reopened.append(existing[0])
            continue
        cursor.execute(
            """
            INSERT INTO verifiers_mismatchgroup AS g
                (kind, fingerprint, title, subject, outcome, differences, severity, first_seen, last_seen,
                 count, migration_id, status, stored_samples, status_changed_by, note)
            VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, 'open', 0, '', '')
            ON CONFLICT (migration_id, kind, fingerprint) DO UPDATE SET
                count = g.count + EXCLUDED.count,
                last_seen = GREATEST(g.last_seen, EXCLUDED.last_seen),
                first_seen = LEAST(g.first_seen, EXCLUDED.first_seen),
                -- lost the race with another worker's insert: an ordinary update then
                status = g.status
            RETURNING id, (xmax = 0) AS inserted, stored_samples
            """,
            row,
        )
        group_id, inserted, stored = cursor.fetchone()
        result[(row[10], row[0], row[1])] = (group_id, inserted, stored)
    return result, reopened


def _store_samples(cursor, grouped: list[Unit], group_rows, mask: Callable[[Any], Any]) -> None:
    per_group: dict[int, list[Verdict]] = defaultdict(list)
    for v, membership in grouped:
        group_id, _, stored = group_rows[(v.migration_id, v.kind, membership.fingerprint)]
        if stored + len(per_group[group_id]) < SAMPLES_PER_GROUP:
            per_group[group_id].append(v)
    values = []
    for group_id, members in per_group.items():
        for v in members:
            values.append((
                group_id, v.sample_id[:100], v.captured_at, v.verdict,
                json.dumps(mask(v.request)), json.dumps(mask(v.legacy)), json.dumps(mask(v.candidate)),
                json.dumps(mask(v.differences)), v.select_sql, v.legacy_latency_ms, v.candidate_latency_ms,
            ))
    if not values:
        return
    cursor.executemany(
        """
        INSERT INTO verifiers_mismatchsample
            (group_id, sample_id, captured_at, recorded_at, outcome, request, legacy, candidate, differences,
             select_sql, legacy_latency_ms, candidate_latency_ms, reverify_outcome, reverify_differences)
        VALUES (%s, %s, %s, now(), %s, %s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb, %s, %s, %s, '', '[]'::jsonb)
        ON CONFLICT (group_id, sample_id) DO NOTHING
        """,
        values,
    )
    cursor.execute(
        """
        UPDATE verifiers_mismatchgroup g SET stored_samples = s.n
        FROM (SELECT group_id, count(*) AS n FROM verifiers_mismatchsample
              WHERE group_id = ANY(%s) GROUP BY group_id) s
        WHERE g.id = s.group_id
        """,
        [list(per_group)],
    )
