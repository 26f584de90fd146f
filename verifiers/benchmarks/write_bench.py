"""Benchmark of the write verifier: conversion with/without the template cache, and captures/s end to end.

    python manage.py benchmark write [--transfers 600] [--copies 5] [--seconds 3]
    python -m verifiers.benchmarks.write_bench          (same, with console.settings)

1. Conversion: ``verifiers.benchmarks.sqlcheck_bench`` (a ledger-transfer statement mix), uncached
   sqlglot path vs the TemplateCache, statements/s.
2. End to end against the local PostgreSQL: a throwaway demo ledger (dropped afterwards) gets
   ``--transfers`` real committed transfers (the demo's own code); their captures (6 statements,
   6 after-images each) are ingested ``--copies`` times under fresh ids in NDJSON batches of
   REQUEST_BATCH through ``services.ingest_captures`` (validate + convert + one Redis round trip
   per batch), committed in batches the same way, and drained through the
   checker (one batched read-only SELECT per table and template, compare, record). The console
   database writes are rolled back at the end; Redis keys live under a private prefix and are
   deleted. Besides the three headline figures it prints the commit notes and the drain alone,
   so the time of each phase is visible.
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


def _items(parsed: Any) -> list[Any]:
    return [raw for _, raw in parsed.items]


def run_end_to_end(*, transfers: int = 600, copies: int = 5) -> dict[str, float]:
    """Captures/s for ingest, for commit+check+record, and overall; prints and returns them."""
    import orjson
    from django.db import transaction

    from console.demo.setup.write import DEMO_TABLE_RULES
    from verifiers.benchmarks.support import create_test_ledger, drop_test_ledger
    from verifiers.models import VerifiedDatabase, WriteTableRule
    from verifiers.write import services
    from verifiers.write.store import WriteCaptureStore
    from verifiers.write.targets import forget_targets
    from verifiers.write.validation import parse_body

    dsn = create_test_ledger(accounts=2000)
    prefix = f"mhc:bench-write:{uuid.uuid4().hex[:8]}:"
    store = WriteCaptureStore(services.write_store().client, prefix=prefix)
    try:
        captures = _committed_captures(dsn, transfers)
        items = [orjson.dumps({**capture, "id": f"b{copy}-{capture['id']}", "database": "write benchmark"})
                 for copy in range(copies) for capture in captures]
        # The bodies as a candidate sends them: NDJSON batches of REQUEST_BATCH captures / commit notes.
        bodies = [b"\n".join(items[start:start + REQUEST_BATCH]) for start in range(0, len(items), REQUEST_BATCH)]
        commit_bodies = [b"\n".join(orjson.dumps({"id": orjson.loads(item)["id"]})
                                    for item in items[start:start + REQUEST_BATCH])
                         for start in range(0, len(items), REQUEST_BATCH)]
        with transaction.atomic():
            for table, fields in DEMO_TABLE_RULES.items():
                WriteTableRule.objects.update_or_create(table=table, defaults={**fields, "rules": {}})
            VerifiedDatabase.objects.create(name="write benchmark", dsn=dsn, commit_delay_ms=0, capture_ttl_s=600)
            forget_targets()
            started, started_cpu = time.perf_counter(), time.process_time()
            for body in bodies:  # what POST /api/v1/write-captures does with an NDJSON body
                services.ingest_captures(_items(parse_body(body, NDJSON)), store=store)
            ingested = time.perf_counter()
            for body in commit_bodies:
                services.register_commits(_items(parse_body(body, NDJSON)), store=store, queue_drain=False)
            committed = time.perf_counter()
            summary = services.drain(budget_s=3600, store=store)
            finished, finished_cpu = time.perf_counter(), time.process_time()
            transaction.set_rollback(True)
    finally:
        forget_targets()
        keys = list(store.client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            store.client.delete(*keys[start:start + 500])
        drop_test_ledger(dsn)
    count = len(items)
    results = {
        "captures": float(count),
        "ingest_captures_per_s": count / (ingested - started),
        "check_captures_per_s": count / (finished - ingested),
        "end_to_end_captures_per_s": count / (finished - started),
        # This process's CPU only (PostgreSQL and Redis work in their own processes): the figure
        # the wall clock would give on an idle machine is between the two.
        "end_to_end_captures_per_cpu_s": count / (finished_cpu - started_cpu),
        "commit_notes_per_s": count / (committed - ingested),
        "drain_captures_per_s": count / (finished - committed),
        "rows_per_s": sum(summary.verdicts.values()) / (finished - ingested),
        "matched_share": summary.verdicts.get("match", 0) / max(1, sum(summary.verdicts.values())),
    }
    print(f"write e2e: {count:,} captures ({count * 6:,} rows): ingest {results['ingest_captures_per_s']:,.0f}/s, "
          f"commit+check+record {results['check_captures_per_s']:,.0f}/s "
          f"({results['rows_per_s']:,.0f} rows/s), overall {results['end_to_end_captures_per_s']:,.0f} captures/s "
          f"({results['end_to_end_captures_per_cpu_s']:,.0f} per CPU-second of this process); "
          f"verdicts {dict(summary.verdicts)}; phases: commit notes {results['commit_notes_per_s']:,.0f}/s, "
          f"drain (check+record) {results['drain_captures_per_s']:,.0f} captures/s")
    return results


def main(*, transfers: int = 600, copies: int = 5, seconds: float = 3.0, runs: int = 3) -> None:
    from verifiers.benchmarks import sqlcheck_bench

    conversion = [sqlcheck_bench.run(seconds) for _ in range(runs)]
    end_to_end = [run_end_to_end(transfers=transfers, copies=copies) for _ in range(runs)]
    for name in ("uncached_statements_per_s", "cached_statements_per_s"):
        print(f"median {name}: {statistics.median(r[name] for r in conversion):,.0f}")
    for name in ("ingest_captures_per_s", "check_captures_per_s", "end_to_end_captures_per_s",
                 "end_to_end_captures_per_cpu_s", "rows_per_s",
                 "commit_notes_per_s", "drain_captures_per_s"):
        print(f"median {name}: {statistics.median(r[name] for r in end_to_end):,.0f}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    import django

    django.setup()
    main(transfers=int(sys.argv[1]) if len(sys.argv) > 1 else 600, copies=int(sys.argv[2]) if len(sys.argv) > 2 else 5)
