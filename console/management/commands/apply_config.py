"""Apply a configuration file (as export_config writes it): idempotent, in one transaction.

    manage.py apply_config FILE [--dry-run] [--prune]

Entries are matched by their natural key (a system's name, a route's method and template, ...),
created or updated; a section absent from the file is left alone; rows of a listed section that
the file does not mention are kept and listed, or deleted with --prune. --dry-run validates
everything and prints what would change without changing anything. A bad entry is named with its
field, and nothing is applied.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from console.configuration.plan import Action, summary
from console.configuration.sections import ConfigError
from console.configuration.services import apply_configuration


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="print what would change; change nothing")
        parser.add_argument("--prune", action="store_true", help="delete rows of listed sections not in the file")

    def handle(self, *args, file: Path, dry_run: bool = False, prune: bool = False, **options) -> None:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error}") from None
        except ValueError as error:
            raise CommandError(f"{file} is not JSON: {error}") from None
        try:
            changes = apply_configuration(document, prune=prune, dry_run=dry_run)
        except ConfigError as error:
            raise CommandError(str(error)) from None
        for change in changes:
            if change.action != Action.UNCHANGED:
                self.stdout.write(change.describe())
        prefix = "dry run, nothing changed: would " if dry_run else ""
        self.stdout.write(f"{prefix}{summary(changes)}")
