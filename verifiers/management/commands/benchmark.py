"""Benchmarks that print figures (never assertions): `manage.py benchmark <name> [options]`.

    manage.py benchmark read [--seconds 60] [--rate 3000] [--workers 2] [--web-workers 2] [--answer-kb 1.5]
    manage.py benchmark compare [--seconds 3]
    manage.py benchmark write [--transfers 600] [--copies 25] [--seconds 3] [--runs 3]

Other parts add a subcommand with one line in SUBCOMMANDS: name -> (add_arguments, run).

`read` drives the whole path against the configured database and Redis: HTTP ingest in batches
(gunicorn, started from the Procfile's `web` line) -> stream -> `verify_reads` workers -> a fast
local aiohttp candidate with canned answers -> compare -> record, and prints the CPU each part
spent per verified sample. For its duration it adds the System "benchmark candidate" and
disables the other candidate/second-legacy systems; their enabled flags are restored after.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from django.core.management.base import BaseCommand

ROOT = Path(__file__).resolve().parents[3]


def _compare_arguments(parser) -> None:
    parser.add_argument("--seconds", type=float, default=3.0)


def _run_compare(command: BaseCommand, options: dict[str, Any]) -> None:
    from verifiers.benchmarks import compare_bench

    compare_bench.run(seconds=options["seconds"])  # prints its own figures


def _read_arguments(parser) -> None:
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=3000.0, help="Samples per second offered.")
    parser.add_argument("--workers", type=int, default=2, help="verify_reads processes.")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers for ingest (the rest as the Procfile's web line).")
    parser.add_argument("--batch", type=int, default=500,
                        help="Samples per ingest POST (fewer when the answers would pass the ingest limit).")
    parser.add_argument("--answer-kb", type=float, default=1.5,
                        help="Size of each legacy and candidate answer in KB (e.g. 1.5 or 100).")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_body(answer_bytes: int) -> dict[str, Any]:
    """An account answer of about `answer_bytes` bytes (a history grown to that size)."""
    body: dict[str, Any] = {"id": 1, "currency": "USD", "balance": "1234.50", "available": "1234.50",
                            "updatedAt": "2025-05-01T00:00:00Z", "items": []}
    size = len(orjson.dumps(body))
    while size < answer_bytes:
        item = {"n": len(body["items"]), "amount": f"{len(body['items'])}.00", "memo": "card payment"}
        body["items"].append(item)
        size += len(orjson.dumps(item)) + 1
    return body


def _sample(n: int, legacy_body: str) -> dict[str, Any]:
    return {"id": f"bench-{uuid.uuid4().hex}", "captured_at": "2025-05-01T00:00:00+00:00",
            "request": {"method": "GET", "path": f"/accounts/{n % 5000}/balance", "query": "",
                        "headers": {"Accept": "application/json"}, "body": ""},
            "legacy": {"status": 200, "headers": {"Content-Type": "application/json"},
                       "body": legacy_body, "latency_ms": 2.0}}


async def _offer_load(url: str, token: str, rate: float, seconds: float, batch: int,
                      legacy_body: str) -> dict[str, int]:
    import aiohttp

    sent: dict[str, int] = {"accepted": 0, "refused": 0}
    interval = batch / rate
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        loop = asyncio.get_running_loop()
        started = loop.time()
        tick = 0
        in_flight: set[asyncio.Task] = set()

        async def post(body: bytes, n: int) -> None:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                outcome = "accepted" if response.status == 202 else "refused"
                sent[outcome] += n
                if response.status != 202:
                    sent[f"HTTP {response.status}"] = sent.get(f"HTTP {response.status}", 0) + n

        while loop.time() - started < seconds:
            body = orjson.dumps([_sample(tick * batch + i, legacy_body) for i in range(batch)])
            task = asyncio.create_task(post(body, batch))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * interval - loop.time()))
        if in_flight:
            await asyncio.wait(in_flight)
    return sent


def _run_read(command: BaseCommand, options: dict[str, Any]) -> None:
    from django.contrib.auth.models import User

    from console.models import ApiToken
    from console.roles import MACHINE_CLIENTS, ensure_roles
    from verifiers.benchmarks.support import CandidateServer, child_pids, cpu_by_part, procfile_web
    from verifiers.models import System
    from verifiers.read import stream
    from verifiers.read.ingest import MAX_BODY_BYTES
    from verifiers.read.services import redis_client

    answer = bench_body(int(options["answer_kb"] * 1024))
    legacy_body = orjson.dumps(answer).decode()
    answer_bytes = len(legacy_body)
    # A POST stays under the ingest limit (413 above it): 500 samples of 100 KB would be 50 MB, and
    # a body inside a JSON string grows by its escaped quotes.
    sample_bytes = len(orjson.dumps(_sample(0, legacy_body))) + 1
    batch = max(1, min(options["batch"], int(MAX_BODY_BYTES * 0.9) // sample_bytes))
    client = redis_client()
    # Start from an empty stream: a backlog left by an earlier run would be counted against this one.
    client.delete("mhc:read-lag", stream.STREAM_KEY)
    candidate = CandidateServer({f"/accounts/{n}/balance": (200, answer) for n in range(5000)}).start()
    previously_enabled = list(System.objects.filter(enabled=True).values_list("pk", flat=True))
    System.objects.filter(enabled=True).update(enabled=False)
    System.objects.update_or_create(name="benchmark candidate", defaults={
        "role": System.Role.CANDIDATE, "base_url": candidate.url, "enabled": True, "max_concurrency": 128})
    user, _ = User.objects.get_or_create(username="benchmark")
    user.groups.add(ensure_roles()[MACHINE_CLIENTS])  # ingest needs the machine-client role (else 403)
    _, token = ApiToken.issue(user=user, name="benchmark", valid_days=1)
    port = _free_port()
    web_argv, web_env = procfile_web(port, workers=options["web_workers"])  # as deployed, but the worker count
    web = subprocess.Popen(web_argv, cwd=ROOT, env=web_env, start_new_session=True)
    verifier = subprocess.Popen([sys.executable, "manage.py", "verify_reads", "--processes", str(options["workers"]),
                                 "--record-lag"], cwd=ROOT, env=dict(os.environ), start_new_session=True)
    processes = [web, verifier]
    try:
        time.sleep(3)  # gunicorn and the workers start
        # CPU of the parts over the run: a figure the host's speed swings cannot hide. With one
        # process, verify_reads verifies in itself; with more, in its forked children.
        parts = {"web": child_pids(web.pid),
                 "verifier": child_pids(verifier.pid) if options["workers"] > 1 else [verifier.pid]}
        cpu_before = cpu_by_part(parts)
        local_before = time.process_time()  # this process: the load generator and the candidate
        started = time.monotonic()
        sent = asyncio.run(_offer_load(f"http://127.0.0.1:{port}/api/v1/read-samples", token, options["rate"],
                                       options["seconds"], batch, legacy_body))
        offered_for = time.monotonic() - started
        deadline = time.monotonic() + 30
        while client.llen("mhc:read-lag") < sent["accepted"] and time.monotonic() < deadline:
            time.sleep(0.2)
        finished_for = time.monotonic() - started
        cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_by_part(parts).items()}
        cpu["load generator and candidate"] = time.process_time() - local_before
        lags = sorted(float(v) for v in client.lrange("mhc:read-lag", 0, -1))
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(30)
        candidate.stop()
        System.objects.filter(name="benchmark candidate").delete()
        System.objects.filter(pk__in=previously_enabled).update(enabled=True)
        ApiToken.objects.filter(user=user, name="benchmark").update(revoked=True)
    verified = len(lags)
    command.stdout.write(f"answers of {answer_bytes:,} bytes, {batch} samples per POST")
    command.stdout.write(f"offered {sent['accepted'] + sent['refused']:,} samples in {offered_for:.1f} s "
                         f"(accepted {sent['accepted']:,}, refused {sent['refused']:,}"
                         + "".join(f", {key} {value:,}" for key, value in sent.items() if key.startswith("HTTP"))
                         + ")")
    command.stdout.write(f"verified {verified:,} samples; sustained {verified / finished_for:,.0f} samples/s, "
                         f"{verified * answer_bytes / finished_for / 1e6:,.1f} MB/s of candidate answers "
                         f"(over {finished_for:.1f} s incl. drain)")
    if lags:
        command.stdout.write(f"ingest-to-verdict lag p50 {statistics.median(lags):,.0f} ms, "
                             f"p99 {lags[min(len(lags) - 1, int(len(lags) * 0.99))]:,.0f} ms")
    if verified:
        command.stdout.write("CPU per verified sample: " + ", ".join(
            f"{name} {1e6 * seconds / verified:,.0f} µs" for name, seconds in cpu.items()))


def _write_arguments(parser) -> None:
    parser.add_argument("--transfers", type=int, default=600, help="committed demo transfers to capture")
    parser.add_argument("--copies", type=int, default=25,
                        help="each capture ingested this many times (a run: transfers x copies captures)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per conversion measurement")
    parser.add_argument("--runs", type=int, default=3)


def _run_write(command: BaseCommand, options: dict[str, Any]) -> None:
    from verifiers.benchmarks.write_bench import main

    main(transfers=options["transfers"], copies=options["copies"], seconds=options["seconds"], runs=options["runs"])


def _reconcile_arguments(parser) -> None:
    from verifiers.management.commands.benchmark_reconcile import Command as ReconcileBenchmark

    ReconcileBenchmark().add_arguments(parser)


def _run_reconcile(command: BaseCommand, options: dict[str, Any]) -> None:
    from django.core.management import call_command

    call_command("benchmark_reconcile", accounts=options["accounts"], entries=options["entries"],
                 workers=options["workers"], repeat=options["repeat"], engine=options["engine"],
                 stdout=command.stdout)


def _overview_arguments(parser) -> None:
    parser.add_argument("--requests", type=int, default=60, help="measured requests per URL")
    parser.add_argument("--hours", type=int, default=6, choices=[1, 6, 24])


def _run_overview(command: BaseCommand, options: dict[str, Any]) -> None:
    """Seed 20 migrations with 1M outcome rows and 100k stored mismatches (replacing earlier seeds), time
    the overview, then remove the seed: other benchmarks here expect a console with one migration."""
    from django.core.management import call_command

    call_command("seed_volume", stdout=command.stdout)
    try:
        call_command("benchmark_overview", requests=options["requests"], hours=options["hours"], partials=True,
                     stdout=command.stdout)
    finally:
        call_command("seed_volume", clear=True, stdout=command.stdout)


SUBCOMMANDS: dict[str, tuple[Callable[[Any], None], Callable[[BaseCommand, dict[str, Any]], None]]] = {
    "read": (_read_arguments, _run_read),
    "compare": (_compare_arguments, _run_compare),
    "reconcile": (_reconcile_arguments, _run_reconcile),
    "overview": (_overview_arguments, _run_overview),
    "write": (_write_arguments, _run_write),
}


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser) -> None:
        sub = parser.add_subparsers(dest="benchmark", required=True)
        for name, (add_arguments, _) in SUBCOMMANDS.items():
            add_arguments(sub.add_parser(name))

    def handle(self, *args, benchmark: str, **options) -> None:
        SUBCOMMANDS[benchmark][1](self, options)
