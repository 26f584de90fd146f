"""Start a reconciliation run of one ledger source: `manage.py reconcile --source NAME
[--cutoff 2026-11-25T00:00+09:00] [--wait]` (a Celery worker does the work)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from verifiers.models import LedgerSource, ReconciliationRun
from verifiers.reconcile import balances, services


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="Ledger source name.")
        parser.add_argument("--cutoff", help="ISO date-time; no offset = the source's time zone. "
                            "Default: the latest scheduled cut-off.")
        parser.add_argument("--wait", action="store_true", help="Wait for the outcome and print it.")
        parser.add_argument("--timeout", type=float, default=600.0, help="Seconds --wait waits (default 600).")

    def handle(self, *args, source: str, cutoff: str | None, wait: bool, timeout: float, **options):
        ledger = LedgerSource.objects.filter(name=source).first()
        if ledger is None:
            names = ", ".join(LedgerSource.objects.order_by("name").values_list("name", flat=True)) or "none"
            raise CommandError(f"no ledger source named {source!r} (known: {names})")
        try:
            instant = services.parse_cutoff(cutoff, ledger) if cutoff else None
            run = services.start_run(source=ledger, cutoff=instant, triggered_by="manage.py reconcile")
        except (services.ReconcileError, balances.CutoffError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"run {run.pk} started: {ledger.name} cut-off {run.cutoff.isoformat()}")
        if not wait:
            return
        run = services.wait_for_run(run_id=run.pk, timeout_s=timeout)
        if run.status == ReconciliationRun.Status.RUNNING:
            raise CommandError(f"run {run.pk} still running after {timeout:g} s (is a Celery worker up?)")
        self.stdout.write(format_outcome(run))
        if run.status == ReconciliationRun.Status.FAILED:
            raise CommandError(f"run {run.pk} failed")


def format_outcome(run: ReconciliationRun) -> str:
    """A few lines: status, counts, duration, totals per currency, error."""
    lines = [
        f"status {run.status}: {run.accounts_checked:,} accounts checked, "
        f"{run.accounts_with_differences:,} with differences, {run.duration_ms or 0:,} ms, {run.workers} part(s)"
    ]
    for currency, values in sorted((run.totals or {}).items()):
        counterpart = values.get("counterpart")
        versus = f" vs counterpart {counterpart} (difference {values.get('difference')})" if counterpart else ""
        lines.append(f"  {currency}: balance at cut-off {values.get('balance_at_cutoff')}, "
                     f"journal {values.get('journal')}{versus}")
    if run.error:
        lines.append(f"  error: {run.error}")
    return "\n".join(lines)
