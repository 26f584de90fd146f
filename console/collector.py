"""Keeping Python's cyclic garbage collector off the hot paths. No Django here.

**Freezing what a process loaded** (`freeze_loaded_objects`). A gunicorn worker or a read
verifier process loads Django, DRF, sqlglot, psycopg and our modules once and keeps them for its
whole life, yet every full collection walked all of them again: ~80-100 ms each, several a minute
under ingest. After `gc.freeze()` the collector skips them; reference counting still frees what
they drop. Measured (`make bench BENCH=write`, `make bench BENCH="read --seconds 30"`): the web's
CPU per capture fell 6-10% against the unchanged drain's and PostgreSQL's in the same runs; a read
verifier process spent 4.3 of its 13 CPU-seconds in the collector, 1.7 of 10.2 once frozen (and
~0.4 once its batches also pause it, below: 191 µs of verifier CPU a sample against 275 before, at
3,500 samples/s). Only cycles among the frozen objects are never collected; startup's own garbage
is collected first.

**Pausing it around a batch** (`cyclic_gc_paused`). A batch of 500 captures allocates some
100,000 short-lived dicts and lists (parsed captures, rows, verdicts) that reference counting
frees as soon as the batch is done. While they are alive they push the collector into full
collections, each traversing the whole process heap: measured, about 40% of the write drain's
time. The write drain, write ingest and the read verifier pause it per batch. The collector is paused only for the batch and resumes afterwards, so the rare cycle a
batch leaves behind (an exception's traceback) is collected then.

Threads: the pause is counted, so with several batches in threads of one process the
collector resumes when the last of them ends, and only if it was running before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


def freeze_loaded_objects() -> None:
    """Collect startup's garbage, then freeze everything alive (call once the process's code is loaded)."""
    gc.collect()
    gc.freeze()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Automatic cyclic collection off inside the block (reference counting still frees)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
