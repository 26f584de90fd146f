"""Run read verifier workers: consume the sample stream, replay, compare, record (design section 3).

    manage.py verify_reads [--processes 2] [--batch-size 500] [--reclaim-idle-ms 30000]

Each process is one consumer of the stream's consumer group. SIGTERM/SIGINT finish the current
batch and exit; SIGKILL loses nothing (the batch stays pending and is reclaimed by another).
"""

from __future__ import annotations

import multiprocessing
import os
import signal

from django.core.management.base import BaseCommand, CommandError
from django.db import connections


def _run_one(options: dict) -> None:
    from console.collector import freeze_loaded_objects
    from verifiers.read.pipeline import ReadVerifierWorker
    from verifiers.read.services import redis_client

    connections.close_all()  # a forked child must not share the parent's database socket
    freeze_loaded_objects()
    worker = ReadVerifierWorker(redis_client(), consumer=options.get("consumer"),
                                batch_size=options["batch_size"], block_ms=options["block_ms"],
                                reclaim_idle_ms=options["reclaim_idle_ms"], record_lag=options["record_lag"])
    worker.run(max_idle_batches=options.get("max_idle_batches"))


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        parser.add_argument("--processes", type=int, default=1)
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--block-ms", type=int, default=1000)
        parser.add_argument("--reclaim-idle-ms", type=int, default=30_000,
                            help="Take over entries pending this long on another consumer.")
        parser.add_argument("--consumer", default=None, help="Consumer name (default host-pid).")
        parser.add_argument("--record-lag", action="store_true",
                            help="Push each sample's ingest-to-verdict lag to mhc:read-lag (benchmarks).")
        parser.add_argument("--max-idle-batches", type=int, default=None,
                            help="Exit after this many empty reads in a row (tests).")

    def handle(self, *args, **options) -> None:
        if options["processes"] < 1 or options["batch_size"] < 1:
            raise CommandError("--processes and --batch-size must be at least 1")
        if options["processes"] == 1:
            _run_one(options)
            return
        if options["consumer"]:
            raise CommandError("--consumer names one process; leave it out with --processes > 1")
        connections.close_all()
        context = multiprocessing.get_context("fork")
        children = [context.Process(target=_run_one, args=(options,), daemon=False)
                    for _ in range(options["processes"])]
        for child in children:
            child.start()

        def forward(signum, frame):
            for child in children:
                if child.pid:
                    os.kill(child.pid, signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        for child in children:
            child.join()
