"""Benchmark of the write verifier: conversion with/without the template cache, and captures/s end to end.

    python manage.py benchmark write [--transfers 600] [--copies 25] [--seconds 3]
    python -m verifiers.benchmarks.write_bench          (same, with console.settings)

1. Conversion: ``verifiers.benchmarks.sqlcheck_bench`` (a ledger-transfer statement mix), uncached
   sqlglot path vs the TemplateCache, statements/s.
2. End to end against the local PostgreSQL: a throwaway demo ledger (dropped afterwards) gets
   ``--transfers`` real committed transfers (the demo's own code); their captures (6 statements,
   6 after-images each) are ingested ``--copies`` times (25: 15,000 captures a run) under fresh
   ids in NDJSON batches of REQUEST_BATCH through ``services.ingest_captures`` (validate +
   convert + one Redis round trip per batch) on gunicorn run by the Procfile's `web` line, committed in
   batches the same way, and drained (two drain processes, as the Celery worker's concurrency
   of 2 runs them) through the checker (one batched read-only
   SELECT per table and template, compare, record). The console database writes are rolled
   back at the end; Redis keys live under a private prefix and are deleted. Besides the
   headline figures it prints the CPU each part spent per run: gunicorn's workers, the drains,
   the PostgreSQL backends of the bench's databases (those still connected at the end: a lower
   bound), the Redis server (shared with anything else using it: an upper bound) and this
   process (the HTTP load generator), so where the two cores go is visible.
Prints figures, asserts none.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from typing import Any


def _committed_captures(dsn: str, transfers: int) -> list[dict[str, Any]]:
    """Captures of real committed transfers between disjoint same-currency account pairs."""
    import psycopg

    from console.demo.ledger import TransferRequest, execute_transfer, shadow_capture_body
    from console.demo.legacy import LEGACY_FLAVOR

    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id, currency FROM accounts WHERE balance >= 100 ORDER BY id").fetchall()
    by_currency: dict[str, list[int]] = {}
    for account_id, currency in rows:
        by_currency.setdefault(currency, []).append(account_id)
    pairs = [(ids[i], ids[i + 1], currency) for currency, ids in by_currency.items() for i in range(0, len(ids) - 1, 2)]
    amount = {"KRW": Decimal("1000"), "JPY": Decimal("100"), "USD": Decimal("5")}

    async def run_all() -> list[dict[str, Any]]:
        captures = []
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            for source, target, currency in pairs[:transfers]:
                request = TransferRequest(uuid.uuid4(), source, target, amount[currency], currency)
                captures.append(shadow_capture_body(await execute_transfer(conn, LEGACY_FLAVOR, request, shadow=False)))
        return captures

    return asyncio.run(run_all())


REQUEST_BATCH = 500
NDJSON = "application/x-ndjson"
def drain_forever() -> None:
    """The drain process: what the Celery task `process_due` runs, in a loop (the bench kills it)."""
    from verifiers.write import services

    while True:
        if services.drain(budget_s=20.0).claimed == 0:
            time.sleep(0.02)  # a deployed drain is queued by the commits; polling costs CPU too


def _postgres_backends(dsns: list[str]) -> list[int]:
    """PIDs of the PostgreSQL backends serving these databases (the bench's own: its databases are its own)."""
    from django.db import connection
    from psycopg.conninfo import conninfo_to_dict

    names = [str(conninfo_to_dict(dsn).get("dbname", "")) for dsn in dsns]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()", [names])
        return [int(pid) for (pid,) in cursor.fetchall()]


def _redis_cpu_seconds(client: Any) -> float:
    """CPU of the Redis server so far (shared with whatever else uses it: an upper bound for the bench)."""
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def _wait_for_port(port: int, seconds: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not listen on {port} within {seconds:.0f} s")


async def _post_all(base_url: str, token: str, batches: list[tuple[bytes, bytes]], senders: int) -> int:
    """POST each (captures, commit notes) NDJSON pair, ``senders`` pairs in flight; returns accepted captures."""
    import aiohttp

    headers = {"Authorization": f"Token {token}", "Content-Type": NDJSON}
    accepted = 0
    queue = list(reversed(batches))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:

        async def post(path: str, body: bytes) -> dict[str, Any]:
            async with session.post(base_url + path, data=body, headers=headers) as response:
                answer = await response.json(content_type=None)
                if response.status != 202 or answer.get("rejected"):
                    raise RuntimeError(f"{path} answered {response.status}: {str(answer)[:300]}")
                return answer

        async def sender() -> None:
            nonlocal accepted
            while queue:
                captures, commits = queue.pop()
                accepted += (await post("/api/v1/write-captures", captures))["accepted"]
                await post("/api/v1/write-commits", commits)

        await asyncio.gather(*(sender() for _ in range(senders)))
    return accepted


def _bodies(captures: list[dict[str, Any]], run: str, copies: int, database: str,
            batch: int = REQUEST_BATCH) -> list[tuple[bytes, bytes]]:
    """NDJSON bodies as a candidate sends them: ``batch`` captures, then their commit notes."""
    import orjson

    ids = [f"{run}-{copy}-{capture['id']}" for copy in range(copies) for capture in captures]
    items = [orjson.dumps({**capture, "id": capture_id, "database": database})
             for capture_id, capture in zip(ids, (c for _ in range(copies) for c in captures))]
    return [(b"\n".join(items[start:start + batch]),
             b"\n".join(orjson.dumps({"id": capture_id}) for capture_id in ids[start:start + batch]))
            for start in range(0, len(items), batch)]


def _checked(run: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM verifiers_verifiedsample WHERE kind = 'write' AND sample_id LIKE %s",
                       [f"check:{run}-%"])
        return int(cursor.fetchone()[0])


def _wait_checked(run: str, count: int, store: Any, seconds: float = 600.0) -> float:
    """When the drains have recorded every capture of ``run``; raises if some are missing.

    Polled on the store's queues (three O(1) ZCARDs), not on PostgreSQL: a count(*) of the
    claims every 20 ms is a scan of a table every run grows (~3 ms of server CPU a poll here),
    taken from the system under measurement. The queues hold
    only the bench's work (a Redis database of its own), and a capture leaves ``processing``
    after its verdicts are committed; the claims are then counted once.
    """
    deadline = time.monotonic() + seconds
    while True:
        counts = store.counts()
        if not (counts.awaiting_commit or counts.due or counts.processing):
            finished = time.monotonic()
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"captures still queued after {seconds:.0f} s: {counts}")
        time.sleep(0.005)
    if (done := _checked(run)) < count:
        raise RuntimeError(f"only {done:,} of {count:,} captures of {run} were recorded")
    return finished


def run_end_to_end(*, transfers: int = 600, copies: int = 25, runs: int = 3, drainers: int = 2,
                   senders: int = 2) -> list[dict[str, float]]:
    """Captures/s end to end as deployed, ``runs`` times on one ledger; prints and returns the figures.

    gunicorn, started from the Procfile's own `web` line (workers, threads, keep-alive), takes the NDJSON
    batches over HTTP; ``drainers`` separate processes run the drain the Celery task runs
    (claim, batched read-only SELECTs, judge, record to PostgreSQL): two, as the Procfile's
    worker (``--concurrency 2``) runs two drains at once under load (each commit batch queues
    one; their claims split the work). With one, the drain falls behind while both web workers
    are busy and finishes alone on one core. The clock stops when the store's queues are empty
    (every capture's verdicts committed); the claims in PostgreSQL are counted afterwards.
    A run is ``transfers * copies`` captures (15,000 by default, ~4 s here): sustained throughput,
    not a burst whose figure the first and last tenth of a second decide. The drain lag (last
    capture checked after the last commit note was answered) is printed apart.
    """
    import signal
    import subprocess
    import uuid as uuid_module

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from console.demo.setup.write import DEMO_TABLE_RULES
    from console.models import ApiToken
    from console.roles import MACHINE_CLIENTS, ensure_roles
    from verifiers.benchmarks.support import (
        child_pids,
        cpu_by_part,
        create_test_ledger,
        drop_test_ledger,
        free_port,
        process_cpu,
        procfile_web,
    )
    from verifiers.models import VerifiedDatabase, WriteTableRule
    from verifiers.write import services

    dsn = create_test_ledger(accounts=2000)
    tag = uuid_module.uuid4().hex[:8]
    database_name = f"write benchmark {tag}"
    user = get_user_model().objects.get_or_create(username="write-benchmark")[0]
    user.groups.add(ensure_roles()[MACHINE_CLIENTS])
    token = ApiToken.issue(user=user, name=f"write benchmark {tag}", valid_days=1)[1]
    for table, fields in DEMO_TABLE_RULES.items():
        WriteTableRule.objects.update_or_create(table=table, defaults={**fields, "rules": {}})
    target = VerifiedDatabase.objects.create(name=database_name, dsn=dsn, commit_delay_ms=0, capture_ttl_s=600)
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    connection.close()  # the children open their own
    web_argv, web_env = procfile_web(port)
    web = subprocess.Popen(web_argv, cwd=root, env=web_env, start_new_session=True)
    drains = [subprocess.Popen([sys.executable, "-m", "verifiers.benchmarks.write_bench", "drain"], cwd=root,
                               start_new_session=True) for _ in range(drainers)]
    results = []
    run_ids = []
    store = services.write_store()
    try:
        captures = _committed_captures(dsn, transfers)
        _wait_for_port(port)
        base_url = f"http://127.0.0.1:{port}"
        # First requests import the views, the Celery task and introspect the ledger in each worker:
        # many one-capture pairs, two in flight, so every worker serves both endpoints before run 1.
        warm = f"w{tag}"
        asyncio.run(_post_all(base_url, token, _bodies(captures[:16], warm, 1, database_name, batch=1), senders))
        _wait_checked(warm, 16, store)
        run_ids.append(warm)
        for number in range(runs):
            run = f"r{number}{tag}"
            run_ids.append(run)
            bodies = _bodies(captures, run, copies, database_name)
            count = len(captures) * copies
            processes = {"web": child_pids(web.pid), "drain": [process.pid for process in drains]}
            cpu_before = cpu_by_part(processes)
            postgres_before = {pid: process_cpu(pid) for pid in _postgres_backends([settings.DATABASE_URL, dsn])}
            redis_before = _redis_cpu_seconds(store.client)
            client_before = time.process_time()  # this process: the HTTP load generator and the polling
            load = os.getloadavg()[0]
            started = time.monotonic()
            accepted = asyncio.run(_post_all(base_url, token, bodies, senders))
            posted = time.monotonic()
            finished = _wait_checked(run, count, store)
            cpu = {name: seconds - cpu_before[name] for name, seconds in cpu_by_part(processes).items()}
            # Backends that ended during the run are missed: the figure is a lower bound.
            cpu["postgres"] = sum(process_cpu(pid) - postgres_before.get(pid, 0.0)
                                  for pid in _postgres_backends([settings.DATABASE_URL, dsn]))
            cpu["redis"] = _redis_cpu_seconds(store.client) - redis_before
            cpu["client"] = time.process_time() - client_before
            wall = finished - started
            result = {
                "captures": float(count), "accepted": float(accepted), "load_1min": load,
                "end_to_end_captures_per_s": count / wall,
                "ingest_captures_per_s": count / (posted - started),
                "drain_lag_s": finished - posted,
                "web_captures_per_cpu_s": count / max(cpu["web"], 1e-9),
                "drain_captures_per_cpu_s": count / max(cpu["drain"], 1e-9),
                "captures_per_cpu_s": count / max(cpu["web"] + cpu["drain"], 1e-9),
                "postgres_cpu_ms_per_capture": 1000 * cpu["postgres"] / count,
                "redis_cpu_ms_per_capture": 1000 * cpu["redis"] / count,
                "client_cpu_ms_per_capture": 1000 * cpu["client"] / count,
                # The same work every run: this figure says how fast the (shared) host was.
                "total_cpu_ms_per_capture": 1000 * (cpu["web"] + cpu["drain"] + cpu["postgres"] + cpu["redis"]) / count,
                # Two free cores, ingest and drain side by side: the busier side sets the pace.
                # PostgreSQL's and Redis's own CPU is not in it, so this is an upper bound.
                "two_free_cores_captures_per_s": count / max(cpu["web"], cpu["drain"], 1e-9),
            }
            results.append(result)
            print(f"write e2e run {number + 1}: {count:,} captures ({count * 6:,} rows) in {wall:.2f} s = "
                  f"{result['end_to_end_captures_per_s']:,.0f} captures/s end to end (load {load:.1f}); "
                  f"HTTP ingest done after {posted - started:.2f} s, last check {finished - posted:.2f} s later; "
                  f"CPU: web {cpu['web']:.2f} s "
                  f"({result['web_captures_per_cpu_s']:,.0f} captures/CPU-s), drain {cpu['drain']:.2f} s "
                  f"({result['drain_captures_per_cpu_s']:,.0f} captures/CPU-s), PostgreSQL backends "
                  f"{cpu['postgres']:.2f} s, Redis server {cpu['redis']:.2f} s (shared: an upper bound), "
                  f"load generator {cpu['client']:.2f} s; "
                  f"{result['total_cpu_ms_per_capture']:.3f} ms of CPU per capture (all but the load generator)")
    finally:
        for process in [web, *drains]:
            os.killpg(process.pid, signal.SIGTERM)
        for process in [web, *drains]:
            process.wait(30)
        ApiToken.objects.filter(user=user, name=f"write benchmark {tag}").update(revoked=True)
        with connection.cursor() as cursor:
            for run in run_ids:
                cursor.execute("DELETE FROM verifiers_verifiedsample WHERE kind = 'write' AND sample_id LIKE %s",
                               [f"check:{run}-%"])
        target.delete()
        _forget_keys(services.write_store(), run_ids)
        drop_test_ledger(dsn)
    return results


def _forget_keys(store: Any, run_ids: list[str]) -> None:
    """The per-capture keys of the bench's captures (the queues are drained)."""
    for run in run_ids:
        for kind in ("capture", "seen", "committed"):
            keys = list(store.client.scan_iter(match=f"{store.prefix}{kind}:{run}-*", count=1000))
            for start in range(0, len(keys), 500):
                store.client.delete(*keys[start:start + 500])


def main(*, transfers: int = 600, copies: int = 25, seconds: float = 3.0, runs: int = 3) -> None:
    from verifiers.benchmarks import sqlcheck_bench

    conversion = [sqlcheck_bench.run(seconds) for _ in range(runs)]
    end_to_end = run_end_to_end(transfers=transfers, copies=copies, runs=runs)
    for name in ("uncached_statements_per_s", "cached_statements_per_s"):
        print(f"median {name}: {statistics.median(r[name] for r in conversion):,.0f}")
    for name in ("end_to_end_captures_per_s", "ingest_captures_per_s", "drain_lag_s", "web_captures_per_cpu_s",
                 "drain_captures_per_cpu_s", "captures_per_cpu_s", "two_free_cores_captures_per_s",
                 "postgres_cpu_ms_per_capture", "redis_cpu_ms_per_capture", "client_cpu_ms_per_capture",
                 "total_cpu_ms_per_capture", "load_1min"):
        decimals = 3 if "ms_per" in name or name == "drain_lag_s" else 1
        print(f"median {name}: {statistics.median(r[name] for r in end_to_end):,.{decimals}f}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django

    django.setup()
    if sys.argv[1:2] == ["drain"]:
        drain_forever()
    main(transfers=int(sys.argv[1]) if len(sys.argv) > 1 else 600, copies=int(sys.argv[2]) if len(sys.argv) > 2 else 25)
