"""Throughput of the comparison engine on ~1 KB account/transaction-history documents.

Run: ``python -m verifiers.benchmarks.compare_bench [seconds]``. Prints pairs per second for
equal documents (differing only in ignored noise), different documents (three changed values),
equal documents including orjson parsing of both bodies (compare_responses on raw bytes), and
masked documents per second. Single process and CPU time, so the figures are per core and not
skewed by other processes sharing the machine.
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from console.masking import mask_document
from verifiers.read.compare import CompiledRules, compare_documents, compare_responses, compile_rules

BENCH_RULES: dict[str, Any] = {
    "ignore_paths": ["$.traceId", "$.servedAt", "$.items[*].servedAt"],
    "decimal_equivalence": True,
}


def account_history(trace_id: str, served_at: str) -> dict[str, Any]:
    """A transaction-history answer as a core-banking API would give it (about 1 KB)."""
    return {
        "traceId": trace_id,
        "servedAt": served_at,
        "account": {
            "accountId": "acc-000123",
            "currency": "KRW",
            "balance": "1523000.00",
            "available": "1500000.00",
            "status": "ACTIVE",
            "overdraft": False,
        },
        "items": [
            {
                "txId": f"TX20240501{index:06d}",
                "bookedAt": f"2024-05-01T09:{index:02d}:00+09:00",
                "amount": f"{(index + 1) * 12500}.00",
                "direction": "DEBIT" if index % 2 else "CREDIT",
                "servedAt": served_at,
            }
            for index in range(8)
        ],
        "page": {"size": 8, "next": "cursor-9", "hasMore": True},
    }


def _rate(work: Callable[[], object], seconds: float) -> float:
    """Pairs per second for `work`, timed in batches to keep the clock out of the loop."""
    batch = 1000
    done = 0
    started = time.process_time()  # CPU time: other processes on the 2 cores do not skew it
    deadline = started + seconds
    while True:
        for _ in range(batch):
            work()
        done += batch
        now = time.process_time()
        if now >= deadline:
            return done / (now - started)


def run(seconds: float = 3.0) -> dict[str, float]:
    """Measure and print pairs/s: equal (noise only), different, equal including parsing."""
    rules: CompiledRules = compile_rules(BENCH_RULES)
    legacy = account_history("trace-a", "2024-05-01T10:00:00.001+09:00")
    noise_only = account_history("trace-b", "2024-05-01T10:00:00.002+09:00")
    different = copy.deepcopy(noise_only)
    different["account"]["balance"] = "1523100.00"
    different["items"][3]["amount"] = "50000.01"
    different["items"][6]["direction"] = "REVERSAL"
    legacy_body, noise_body = orjson.dumps(legacy), orjson.dumps(noise_only)
    assert compare_documents(legacy, noise_only, rules) == []
    assert len(compare_documents(legacy, different, rules)) == 3
    assert compare_responses(200, {}, legacy_body, 200, {}, noise_body, rules) == []
    per_part = seconds / 4
    figures = {
        "document_bytes": float(len(legacy_body)),
        "equal_pairs_per_s": _rate(lambda: compare_documents(legacy, noise_only, rules), per_part),
        "different_pairs_per_s": _rate(
            lambda: compare_documents(legacy, different, rules), per_part),
        "equal_with_parse_pairs_per_s": _rate(
            lambda: compare_responses(200, {}, legacy_body, 200, {}, noise_body, rules), per_part),
        # Masking runs per stored sample only; quoted to show it is cheap next to comparing.
        "mask_documents_per_s": _rate(lambda: mask_document(legacy), per_part),
    }
    for name, value in figures.items():
        print(f"{name:>30}: {value:,.0f}")
    return figures


if __name__ == "__main__":
    run(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)
