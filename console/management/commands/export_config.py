"""Write the console's whole configuration as one JSON file (stdout without FILE).

    manage.py export_config [FILE]

Sections: every kind of object an operator configures (systems, routes, verified databases, write
tables, ledger sources, NUMA hosts and pinning events, alert rules and recipients). No secrets:
databases appear as DSNs without passwords or as the name of the environment variable holding one.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from console.configuration.services import export_configuration


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, nargs="?", help="where to write (default: stdout)")

    def handle(self, *args, file: Path | None = None, **options) -> None:
        text = json.dumps(export_configuration(), indent=2, ensure_ascii=False) + "\n"
        if file is None:
            self.stdout.write(text, ending="")
            return
        try:
            file.write_text(text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot write {file}: {error}") from None
        self.stderr.write(f"configuration written to {file}")
