"""Queue the samples of a file for verification: JSON Lines, HAR 1.2 or GoReplay (`1`/`2` records).

    manage.py replay FILE [--format jsonl|har|gor] [--batch 500] [--migration SLUG]

Samples go to the same Redis Stream as HTTP ingest (idempotent on the sample id), filed under
--migration (required when the console has several, like `?migration=` on the API). Bad records are
counted and listed, the rest are queued.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from console.ingest_scope import IngestScopeError, choose_migration
from console.models import Migration
from verifiers.read import stream
from verifiers.read.ingest import ParsedBatch, SampleError, validate_sample
from verifiers.read.samplefiles import READERS, SampleFileError, read_sample_file
from verifiers.read.services import ingest_samples, redis_client


class Command(BaseCommand):
    help = __doc__
    migration: str | None = None

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=sorted(READERS), default=None)
        parser.add_argument("--batch", type=int, default=500)
        parser.add_argument("--migration", default=None, help="slug of the migration the samples belong to")

    def handle(self, *args, file: Path, format: str | None, batch: int, migration: str | None = None,
               **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file} is not a readable file")
        known = sorted(Migration.objects.values_list("slug", flat=True))
        try:
            chosen = choose_migration(named=migration, token_slug=None, known=known)
            self.migration = chosen if len(known) > 1 else None  # one migration: samples name none, as via the API
        except IngestScopeError as error:
            raise CommandError(str(error).replace("(?migration=<slug>)", "(--migration SLUG)")) from None
        client = redis_client()
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        problems: list[str] = []
        pending = ParsedBatch()
        progress = tqdm(unit=" samples", desc=file.name, disable=options.get("verbosity", 1) == 0)
        try:
            records = read_sample_file(file, format)
            for record in records:
                if isinstance(record, SampleFileError):
                    totals["rejected"] += 1
                    problems.append(str(record))
                    continue
                try:
                    pending.samples.append(validate_sample(record))
                except SampleError as error:
                    totals["rejected"] += 1
                    problems.append(f"{record.where}: {error}")
                if len(pending.samples) >= batch:
                    self._flush(client, pending, totals, progress, file)
                    pending = ParsedBatch()
            self._flush(client, pending, totals, progress, file)
        except SampleFileError as error:
            raise CommandError(str(error)) from None
        finally:
            progress.close()
        for problem in problems[:20]:
            self.stderr.write(problem)
        if len(problems) > 20:
            self.stderr.write(f"... and {len(problems) - 20} more")
        self.stdout.write(f"accepted {totals['accepted']}, duplicates {totals['duplicates']}, "
                          f"rejected {totals['rejected']}")

    def _flush(self, client, pending: ParsedBatch, totals: dict[str, int], progress, file: Path) -> None:
        if not pending.samples:
            return
        while True:
            try:
                result = ingest_samples(batch=pending, client=client, migration=self.migration)
                break
            except stream.StreamFullError:
                time.sleep(1)  # the verifiers are behind: wait rather than fail a long file
        totals["accepted"] += result.accepted
        totals["duplicates"] += result.duplicates
        progress.update(len(pending.samples))
