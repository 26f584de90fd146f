"""Fill the database with dashboard-scale volume: 20 migrations holding 1M per-minute outcome rows
and 100k stored mismatches in all.

All in SQL (generate_series), so it takes seconds, not hours. Seeded rows are recognisable
(migrations 'seed-01'…, subjects under /seed/ and seed_ tables, fingerprints 'seed-…') and
`--clear` removes only them. Subjects and groups are dealt round-robin to the migrations.
Use a database of its own for benchmarks, e.g.
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/mhc_bench manage.py migrate
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/mhc_bench manage.py seed_volume
"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from console.models import Migration

SEED_FINGERPRINT = "seed-"
SEED_MIGRATION = "seed-"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--outcomes", type=int, default=1_000_000, help="OutcomeCount rows (default 1,000,000)")
        parser.add_argument("--mismatches", type=int, default=100_000, help="MismatchSample rows (default 100,000)")
        parser.add_argument("--subjects", type=int, default=100, help="routes + tables (60 %% read, 40 %% write)")
        parser.add_argument("--samples-per-group", type=int, default=20)
        parser.add_argument("--migrations", type=int, default=20, help="migrations sharing the rows (default 20)")
        parser.add_argument("--clear", action="store_true", help="only delete previously seeded rows")

    def handle(self, *args, outcomes: int, mismatches: int, subjects: int, samples_per_group: int, clear: bool,
               migrations: int, **options) -> None:
        if min(outcomes, mismatches) < 0 or min(subjects, samples_per_group, migrations) < 1:
            raise CommandError("--outcomes/--mismatches must be >= 0, --subjects/--samples-per-group/--migrations >= 1")
        if migrations > 999:
            raise CommandError(f"--migrations must be at most 999, not {migrations}")
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            self._clear(cursor)
            if clear:
                self.stdout.write(f"cleared seeded rows in {time.perf_counter() - started:.1f} s")
                return
            migration_ids = [
                Migration.objects.create(slug=f"{SEED_MIGRATION}{index:02d}", name=f"Seeded migration {index:02d}").pk
                for index in range(1, migrations + 1)
            ]
            minutes = max(1, -(-outcomes // subjects))  # ceil: every subject gets the same span
            read_subjects = max(1, subjects * 6 // 10)
            cursor.execute(
                """
                INSERT INTO verifiers_outcomecount
                    (migration_id, kind, subject, minute, matched, mismatched, errored, stale, orphaned, unverifiable,
                     noise_suppressed, legacy_latency_ms_sum, candidate_latency_ms_sum, latency_count)
                SELECT (%(migrations)s::bigint[])[mod(s, %(count)s) + 1], CASE WHEN s <= %(read)s THEN 'read' ELSE 'write' END,
                       CASE WHEN s <= %(read)s THEN 'GET /seed/r' || s || '/{id}' ELSE 'seed_table_' || s END,
                       date_trunc('minute', now()) - make_interval(mins => m),
                       40 + (random() * 60)::int,
                       CASE WHEN random() < 0.15 THEN (random() * 3)::int ELSE 0 END,
                       CASE WHEN random() < 0.02 THEN 1 ELSE 0 END,
                       0, 0, 0, 0, 0, 0, 0
                FROM generate_series(1, %(subjects)s) AS s, generate_series(0, %(minutes)s - 1) AS m
                LIMIT %(outcomes)s
                ON CONFLICT (migration_id, kind, subject, minute) DO NOTHING
                """,
                {"read": read_subjects, "subjects": subjects, "minutes": minutes, "outcomes": outcomes,
                 "migrations": migration_ids, "count": len(migration_ids)},
            )
            outcome_rows = cursor.rowcount
            # The five-minute roll-up of the same counts, as recording keeps it.
            cursor.execute(
                """
                INSERT INTO verifiers_fiveminuteoutcomecount
                    (migration_id, kind, subject, bucket, matched, mismatched, errored, stale)
                SELECT migration_id, kind, subject, date_bin(interval '5 minutes', minute, TIMESTAMPTZ '2000-01-01'),
                       sum(matched), sum(mismatched), sum(errored), sum(stale)
                FROM verifiers_outcomecount WHERE migration_id = ANY(%s)
                GROUP BY 1, 2, 3, 4
                """,
                [migration_ids],
            )
            groups = max(1, -(-mismatches // samples_per_group)) if mismatches else 0
            cursor.execute(
                """
                INSERT INTO verifiers_mismatchgroup
                    (migration_id, kind, fingerprint, title, subject, outcome, differences, status, severity,
                     first_seen, last_seen, count, stored_samples, status_changed_by, note)
                SELECT (%(migrations)s::bigint[])[mod(g, %(count)s) + 1], CASE WHEN mod(g, 5) < 3 THEN 'read' ELSE 'write' END,
                       %(prefix)s || g,
                       CASE WHEN mod(g, 5) < 3 THEN 'GET /seed/r' || (mod(g, 60) + 1) || '/{id}: $.items[*].amount changed #' || g
                            ELSE 'UPDATE seed_table_' || (mod(g, 40) + 61) || ': balance changed #' || g END,
                       CASE WHEN mod(g, 5) < 3 THEN 'GET /seed/r' || (mod(g, 60) + 1) || '/{id}' ELSE 'seed_table_' || (mod(g, 40) + 61) END,
                       'mismatch', '[{"pattern": "$.items[*].amount", "kind": "changed"}]'::jsonb,
                       (ARRAY['open','open','open','acknowledged','resolved','ignored'])[mod(g, 6) + 1],
                       (ARRAY['low','medium','medium','high','critical'])[mod(g, 5) + 1],
                       now() - make_interval(mins => 10000), now() - make_interval(secs => (random() * 600000)::int),
                       %(per_group)s + (random() * 5000)::int, %(per_group)s, '', ''
                FROM generate_series(1, %(groups)s) AS g
                ON CONFLICT (migration_id, kind, fingerprint) DO NOTHING
                """,
                {"prefix": SEED_FINGERPRINT, "groups": groups, "per_group": samples_per_group,
                 "migrations": migration_ids, "count": len(migration_ids)},
            )
            group_rows = cursor.rowcount
            cursor.execute(
                """
                INSERT INTO verifiers_mismatchsample
                    (group_id, sample_id, captured_at, recorded_at, outcome, request, legacy, candidate,
                     differences, select_sql, legacy_latency_ms, candidate_latency_ms, reverify_outcome,
                     reverify_differences)
                SELECT g.id, 'seed-' || g.id || '-' || n, g.last_seen - make_interval(secs => n), now(), 'mismatch',
                       jsonb_build_object('method', 'GET', 'path', '/seed/accounts/***-***-' || lpad(n::text, 4, '0')),
                       jsonb_build_object('items', jsonb_build_array(jsonb_build_object('amount', 1000 + n))),
                       jsonb_build_object('items', jsonb_build_array(jsonb_build_object('amount', 999 + n))),
                       '[{"path": "$.items[0].amount", "pattern": "$.items[*].amount", "kind": "changed"}]'::jsonb,
                       '', 12.5, 9.5, '', '[]'::jsonb
                FROM verifiers_mismatchgroup g, generate_series(1, %(per_group)s) AS n
                WHERE g.fingerprint LIKE %(like)s
                LIMIT %(mismatches)s
                ON CONFLICT (group_id, sample_id) DO NOTHING
                """,
                {"per_group": samples_per_group, "like": SEED_FINGERPRINT + "%", "mismatches": mismatches},
            )
            sample_rows = cursor.rowcount
        with connection.cursor() as cursor:
            # VACUUM too: the overview reads the roll-up by index-only scans, which need the visibility
            # map that autovacuum keeps on a live console and a fresh bulk load does not have yet.
            cursor.execute("VACUUM ANALYZE verifiers_outcomecount")
            cursor.execute("VACUUM ANALYZE verifiers_fiveminuteoutcomecount")
            cursor.execute("ANALYZE verifiers_mismatchgroup")
            cursor.execute("ANALYZE verifiers_mismatchsample")
        self.stdout.write(
            f"seeded {len(migration_ids)} migrations, {outcome_rows:,} outcome rows ({subjects} subjects x {minutes:,} minutes), "
            f"{group_rows:,} mismatch groups, {sample_rows:,} mismatch samples "
            f"in {time.perf_counter() - started:.1f} s"
        )

    def _clear(self, cursor) -> None:
        like = SEED_FINGERPRINT + "%"
        # Django's foreign keys have no ON DELETE CASCADE in the database: samples go first.
        cursor.execute(
            "DELETE FROM verifiers_mismatchsample WHERE group_id IN "
            "(SELECT id FROM verifiers_mismatchgroup WHERE fingerprint LIKE %s)", [like]
        )
        cursor.execute("DELETE FROM verifiers_mismatchgroup WHERE fingerprint LIKE %s", [like])
        for table in ("verifiers_outcomecount", "verifiers_fiveminuteoutcomecount"):
            cursor.execute(
                f"DELETE FROM {table} WHERE subject LIKE %s OR subject LIKE %s",  # noqa: S608 - the two names above
                ["GET /seed/%", "seed\\_table\\_%"],
            )
        # Seeded migrations own nothing else (every row above is gone first: no database cascade).
        cursor.execute("DELETE FROM console_migration WHERE slug ~ %s", [f"^{SEED_MIGRATION}[0-9]+$"])
