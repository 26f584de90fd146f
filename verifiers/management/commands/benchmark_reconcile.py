"""Time the Celery reconciliation on a generated ledger with 1 and 2 worker processes.

    manage.py benchmark_reconcile --accounts 1000000 --entries 10000000 [--workers 1,2] [--repeat 3]
        [--engine postgresql|mysql]

Builds (or reuses, when the sizes match) the engine benchmark's ``recon_bench`` database
(verifiers/benchmarks/reconcile_bench.py; on MySQL/MariaDB reconcile_bench_mysql.py, DATETIME
business times in Asia/Seoul), starts N `celery worker` processes of concurrency 1 on
a private queue, runs the whole path (coordinator, chord of parts, callback storing the run)
``--repeat`` times and prints the median. Prints figures only; asserts nothing about time.
Do not run it beside another benchmark on the same machine: they share the cores.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from verifiers.benchmarks import reconcile_bench, reconcile_bench_mysql
from verifiers.benchmarks.support import SAMPLE_LEDGER_MAPPING, database_url
from verifiers.models import LedgerSource, ReconciliationRun
from verifiers.reconcile import services

BENCH_SOURCE_NAME = "benchmark ledger"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=1_000_000)
        parser.add_argument("--entries", type=int, default=10_000_000)
        parser.add_argument("--workers", default="1,2", help="Worker process counts to try, e.g. 1,2.")
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--engine", choices=("postgresql", "mysql"), default="postgresql",
                            help="Ledger on PostgreSQL or on MySQL/MariaDB (MYSQL_URL's server).")

    def handle(self, *args, accounts: int, entries: int, workers: str, repeat: int, engine: str = "postgresql",
               **options):
        counts = [int(w) for w in workers.split(",") if w.strip()]
        if not counts or min(counts) < 1 or repeat < 1:
            raise CommandError("--workers needs positive counts such as 1,2 and --repeat at least 1")
        self.stdout.write(f"{engine} ledger: {accounts:,} accounts / {entries:,} entries (building if missing)")
        if engine == "mysql":
            cutoff = reconcile_bench_mysql.ensure_bench_ledger(accounts, entries)
            ledger = {"dsn": reconcile_bench_mysql.bench_dsn(), "business_time_zone": "Asia/Seoul"}
        else:
            cutoff = reconcile_bench.ensure_bench_ledger(accounts, entries)
            ledger = {"dsn": _url(reconcile_bench.BENCH_DATABASE), "business_time_zone": "UTC"}
        source, _ = LedgerSource.objects.update_or_create(
            name=f"{BENCH_SOURCE_NAME} ({engine})",
            defaults={**SAMPLE_LEDGER_MAPPING, **ledger, "enabled": False},
        )
        for count in counts:
            source.workers = count
            source.save(update_fields=["workers"])
            queue = f"reconcile-bench-{uuid.uuid4().hex[:8]}"
            procs = [self._start_worker(queue, f"bench{count}-{i}") for i in range(count)]
            try:
                durations = []
                for _ in range(repeat):
                    run = services.start_run(source=source, cutoff=cutoff, triggered_by="benchmark", queue=queue)
                    run = services.wait_for_run(run_id=run.pk, timeout_s=600, poll_s=0.05)
                    if run.status == ReconciliationRun.Status.RUNNING or run.status == "failed":
                        raise CommandError(f"run {run.pk} did not finish: {run.status} {run.error}")
                    durations.append(run.duration_ms or 0)
                self.stdout.write(
                    f"{count} worker(s): median {statistics.median(durations):,.0f} ms "
                    f"(runs: {', '.join(f'{d:,}' for d in durations)} ms), {run.accounts_checked:,} accounts, "
                    f"status {run.status}"
                )
            finally:
                for proc in procs:
                    os.killpg(proc.pid, signal.SIGTERM)
                for proc in procs:
                    proc.wait(30)

    def _start_worker(self, queue: str, name: str) -> subprocess.Popen:
        from console.celery import app

        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "-l", "warning", "-Q", queue,
             "--concurrency", "1", "-n", f"{name}@%h", "--without-gossip", "--without-mingle"],
            cwd=settings.BASE_DIR, env=dict(os.environ), start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            if any(node.startswith(f"{name}@") for reply in replies for node in reply):
                return proc
        os.killpg(proc.pid, signal.SIGTERM)
        raise CommandError(f"celery worker {name} did not start within 30 s")


def _url(database: str) -> str:
    return database_url(database)
