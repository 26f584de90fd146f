"""Is each verifier keeping up? Pure data and the rule that calls a verifier stalled (no Django).

A verifier is stalled when work waits and nothing takes it: no live worker while samples wait, or
the oldest waiting sample older than the stall limit (workers alive but stuck, or far behind).
The oldest waiting item is the measure because it needs no memory between checks: it grows
exactly while verification makes no progress on the head of the queue.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class VerifierProgress:
    verifier: str  # "read" | "write"
    backlog: int  # items waiting, pending ones included
    pending: int  # delivered to a worker, not yet judged
    oldest_waiting_s: float | None  # age of the oldest waiting item; None when nothing waits
    live_workers: int | None  # None: not asked (the dashboard does not ping Celery workers)
    stall_after_s: float
    unit: str = "samples"
    # Accepted items a broker lost (Redis came back empty) within the last day; they are reported
    # (here, on the dashboard, by an alert) but do not make the verifier unhealthy: it goes on.
    lost: int = 0
    lost_noticed_at: str | None = None  # ISO time

    @property
    def lost_text(self) -> str | None:
        if not self.lost:
            return None
        unit = self.unit[:-1] if self.lost == 1 and self.unit.endswith("s") else self.unit
        return (f"{self.verifier} verifier: {self.lost:,} accepted {unit} lost when Redis came back empty "
                f"(noticed {self.lost_noticed_at})")

    @property
    def waiting(self) -> str:
        """'1 sample', '3,000 samples'."""
        unit = self.unit[:-1] if self.backlog == 1 and self.unit.endswith("s") else self.unit
        return f"{self.backlog:,} {unit}"

    @property
    def problem(self) -> str | None:
        if self.backlog and self.live_workers == 0:
            return f"{self.verifier} verifier: {self.waiting} waiting and no live worker"
        if self.oldest_waiting_s is not None and self.oldest_waiting_s > self.stall_after_s:
            return (f"{self.verifier} verifier: the oldest of {self.waiting} waiting has waited "
                    f"{self.oldest_waiting_s:,.0f} s (limit {self.stall_after_s:,.0f} s)")
        return None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.problem is None, "problem": self.problem, "lost_text": self.lost_text}
