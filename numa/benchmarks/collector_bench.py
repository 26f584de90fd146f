"""CPU cost of collect_host_sample() on this machine.

Target (design.md section 9): the collector costs < 1% of one core at a 10 s
interval, i.e. < 100 ms of CPU per sample. Measures process CPU time
(time.process_time), so waiting on nothing and other processes do not count.

    python -m numa.benchmarks.collector_bench [samples]
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

from numa.sources import collect_host_sample

INTERVAL_S = 10.0
ROUNDS = 3


def _cpu_ms_per_sample(samples: int, **kwargs: Any) -> float:
    start = time.process_time()
    for _ in range(samples):
        collect_host_sample(**kwargs)
    return (time.process_time() - start) * 1000.0 / samples


def run(samples: int = 200) -> dict[str, dict[str, float]]:
    """Median over ROUNDS of CPU ms per sample, per configuration; prints a table."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    configurations: dict[str, dict[str, Any]] = {
        "nodes+vmstat+stat": {},
        "+ top 10 processes": {"top_processes": 10},
    }
    collect_host_sample()  # warm imports and the page cache
    results: dict[str, dict[str, float]] = {}
    for name, kwargs in configurations.items():
        rounds = [_cpu_ms_per_sample(samples, **kwargs) for _ in range(ROUNDS)]
        median_ms = statistics.median(rounds)
        results[name] = {
            "cpu_ms_per_sample_median": median_ms,
            "cpu_ms_per_sample_min": min(rounds),
            "cpu_ms_per_sample_max": max(rounds),
            # ms of CPU per INTERVAL_S of wall time, as % of one core
            "percent_of_one_core_at_10s": median_ms / (INTERVAL_S * 1000.0) * 100.0,
        }
    print(f"collect_host_sample(): {samples} samples x {ROUNDS} rounds, CPU time (process_time)")
    for name, figures in results.items():
        print(
            f"  {name:<20} {figures['cpu_ms_per_sample_median']:7.3f} ms/sample "
            f"(min {figures['cpu_ms_per_sample_min']:.3f}, "
            f"max {figures['cpu_ms_per_sample_max']:.3f})"
            f"  = {figures['percent_of_one_core_at_10s']:.4f}% of one core at a 10 s interval"
        )
    return results


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
