"""Pausing Python's cyclic garbage collector around a batch of write checks.

No Django here. A batch of 500 captures allocates some 100,000 short-lived dicts and lists
(parsed captures, rows, verdicts) that reference counting frees as soon as the batch is done.
While they are alive they push the collector into full collections, each traversing the
whole process heap (Django, sqlglot, psycopg): measured, about 40% of the drain time. The
collector is paused only for the batch and resumes afterwards, so the rare cycle a batch
leaves behind (an exception's traceback) is collected then.

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
