"""Benchmark of write-verifier SQL conversion: uncached sqlglot path vs the template cache.

The mix is modelled on a ledger transfer (debit/credit UPDATEs, entry and transfer INSERTs,
a multi-row INSERT, a MySQL upsert, an Oracle ``:1`` UPDATE and a DELETE), with literals
that vary per capture so the cache has to normalise them away.

Run: ``python -m verifiers.benchmarks.sqlcheck_bench [seconds]``.  Prints figures, asserts none.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from verifiers.write.sqlcheck import TableMeta, TemplateCache, bind, convert_statement

SCHEMA = {
    "accounts": TableMeta(("id",), version_column="version"),
    "entries": TableMeta(("id",), excluded_columns=frozenset({"created_at"})),
    "ledger.transfers": TableMeta(("id",)),
    "daily_limits": TableMeta(("account_id", "day")),
    "holds": TableMeta(("id",)),
}

Capture = tuple[str, str, Any, list[dict[str, Any]]]


def _mix(rng: random.Random) -> list[Capture]:
    """One transfer's worth of captured statements (fresh values every call)."""
    source, target = rng.randrange(1, 10**6), rng.randrange(1, 10**6)
    amount = f"{rng.randrange(1, 10**7)}.{rng.randrange(100):02d}"
    entry = rng.randrange(10**9)
    transfer = rng.randrange(10**9)
    day = f"2024-05-{rng.randrange(1, 29):02d}"
    account_image = [
        {"table": "accounts", "key": {"id": source}, "row": {"balance": "5.00", "version": 3}},
        {"table": "accounts", "key": {"id": target}, "row": {"balance": "9.00", "version": 8}},
    ]
    return [
        (
            "postgres",
            "UPDATE accounts SET balance = balance - %s, version = version + 1, updated_at = now() "
            "WHERE id = %s",
            [amount, source],
            account_image,
        ),
        (
            "postgres",
            "UPDATE accounts SET balance = balance + %s, version = version + 1, updated_at = now() "
            "WHERE id = %s",
            [amount, target],
            account_image,
        ),
        (
            "postgres",
            "INSERT INTO entries (id, transfer_id, account_id, amount, kind, created_at) "
            "VALUES (%s, %s, %s, %s, 'DEBIT', now())",
            [entry, transfer, source, amount],
            [],
        ),
        (
            "postgres",
            "INSERT INTO ledger.transfers (id, source_id, target_id, amount, status, memo) "
            "VALUES (%(id)s, %(src)s, %(dst)s, %(amount)s, 'POSTED', %(memo)s)",
            {"id": transfer, "src": source, "dst": target, "amount": amount, "memo": "rent"},
            [],
        ),
        (
            "postgres",
            "INSERT INTO entries (id, transfer_id, account_id, amount, kind) VALUES "
            f"({entry + 1}, {transfer}, {source}, -{amount}, 'FEE'), "
            f"({entry + 2}, {transfer}, 1, {amount}, 'FEE_INCOME')",
            None,
            [],
        ),
        (
            "mysql",
            "INSERT INTO daily_limits (account_id, day, used) VALUES (?, ?, ?) "
            "ON DUPLICATE KEY UPDATE used = used + VALUES(used)",
            [source, day, amount],
            [{"table": "daily_limits", "key": {"account_id": source, "day": day}, "row": {"used": amount}}],
        ),
        (
            "oracle",
            "UPDATE accounts SET status = :1, version = version + 1 WHERE id = :2",
            ["ACTIVE", target],
            account_image,
        ),
        ("postgres", f"DELETE FROM holds WHERE id = {rng.randrange(10**9)}", None, []),
    ]


def _rate(work: Callable[[list[Capture]], int], seconds: float, rng: random.Random) -> tuple[float, float]:
    """(statements per wall second, statements per CPU second of this process).

    The CPU figure is steadier when other processes compete for the 2 cores.
    """
    batches = [_mix(rng) for _ in range(200)]
    done = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    deadline = started + seconds
    index = 0
    while True:
        done += work(batches[index % len(batches)])
        index += 1
        now = time.perf_counter()
        if now >= deadline:
            cpu = max(time.process_time() - cpu_started, 1e-9)
            return done / (now - started), done / cpu


def run(seconds: float = 3.0) -> dict[str, float]:
    """Measure uncached and cached statements/s; print and return them."""
    rng = random.Random(42)

    def uncached(batch: list[Capture]) -> int:
        for dialect, sql, params, images in batch:
            bind(convert_statement(sql, dialect, SCHEMA), params, images)
        return len(batch)

    cache = TemplateCache(SCHEMA)

    def cached(batch: list[Capture]) -> int:
        for dialect, sql, params, images in batch:
            cache.check_rows(sql, dialect, params, images)
        return len(batch)

    cached(_mix(rng))  # warm: one conversion per template, as in production
    uncached_wall, uncached_cpu = _rate(uncached, seconds / 3, rng)
    cached_wall, cached_cpu = _rate(cached, seconds, rng)
    results = {
        "uncached_statements_per_s": uncached_wall,
        "cached_statements_per_s": cached_wall,
        "uncached_statements_per_cpu_s": uncached_cpu,
        "cached_statements_per_cpu_s": cached_cpu,
        "templates": float(len(cache)),
    }
    print(
        f"sqlcheck: uncached {uncached_wall:,.0f} statements/s ({uncached_cpu:,.0f}/CPU-s), "
        f"cached {cached_wall:,.0f} statements/s ({cached_cpu:,.0f}/CPU-s), {len(cache)} templates"
    )
    return results


def main(argv: list[str]) -> None:
    seconds = float(argv[1]) if len(argv) > 1 else 3.0
    runs = [run(seconds) for _ in range(3)]
    for name in (
        "uncached_statements_per_s",
        "cached_statements_per_s",
        "uncached_statements_per_cpu_s",
        "cached_statements_per_cpu_s",
    ):
        print(f"median {name}: {statistics.median(r[name] for r in runs):,.0f}")


if __name__ == "__main__":
    main(sys.argv)
