"""How far behind the write verifier is, read from its capture store (no Django).

Captures waiting for their legacy commit are not behind (the commit has not happened); the work
that waits is committed captures due for their check (`due`) and claimed batches (`processing`).
"""

from __future__ import annotations

import time

from console.progress import VerifierProgress
from verifiers.write.store import WriteCaptureStore


def write_progress(store: WriteCaptureStore, *, live_workers: int | None, stall_after_s: float,
                   now: float | None = None) -> VerifierProgress:
    now = time.time() if now is None else now
    counts = store.counts()
    due_at = store.oldest_due_at()
    oldest_s = max(0.0, now - due_at) if due_at is not None else None
    return VerifierProgress(
        verifier="write", backlog=counts.due + counts.processing, pending=counts.processing,
        oldest_waiting_s=oldest_s, live_workers=live_workers, stall_after_s=stall_after_s,
        unit="captures",
    )
