"""What the reconciliation engines of both kinds share: errors, limits, wait results, the
coordinator's snapshot handle and cut-off balances (``engine`` re-exports all of it).

Kept apart so ``engine`` (PostgreSQL) and ``engine_mysql`` need not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from verifiers.reconcile.balances import KeyRange, ProblemsError


class ReconcileEngineError(Exception):
    """Base for failures talking to the ledger during a reconciliation."""


class LedgerUnreachable(ReconcileEngineError):
    """The ledger database cannot be connected to (one sentence naming host:port)."""


class MappingInvalid(ProblemsError, ReconcileEngineError):
    """The mapping does not fit the ledger's tables; ``problems`` has one message each."""

    introduction = "ledger mapping does not fit the database: "


class SnapshotUnavailable(ReconcileEngineError):
    """A worker could not import the exported snapshot (the coordinator ended too early)."""


@dataclass(frozen=True)
class OpenTransaction:
    """A ledger transaction that began before the cut-off and is still open."""

    pid: int
    age: timedelta
    application_name: str
    state: str
    query: str

    def describe(self) -> str:
        return (
            f"pid {self.pid} (open {self.age.total_seconds():.1f} s, "
            f"application {self.application_name!r}, {self.state}: {self.query[:80]!r})"
        )


class SnapshotWaitTimeout(ReconcileEngineError):
    """Transactions that began before the cut-off did not end in time; ``blockers`` names them."""

    def __init__(self, cutoff: datetime, timeout_s: float, blockers: list[OpenTransaction]) -> None:
        self.cutoff = cutoff
        self.timeout_s = timeout_s
        self.blockers = blockers
        super().__init__(
            f"{len(blockers)} transaction(s) that began before the cut-off {cutoff.isoformat()} "
            f"were still open after {timeout_s:g} s: "
            + "; ".join(b.describe() for b in blockers)
        )


@dataclass(frozen=True)
class SessionLimits:
    """Timeouts set on every ledger connection (seconds)."""

    connect_timeout_s: int = 5
    statement_timeout_s: float = 600.0
    # ACCESS SHARE only waits for ACCESS EXCLUSIVE (DDL, VACUUM FULL); fail fast rather than
    # queue, since writers would then queue behind us behind the DDL.
    lock_timeout_s: float = 2.0
    # Bounds how long an abandoned coordinator can hold its snapshot (and the ledger's xmin).
    idle_in_transaction_timeout_s: float = 900.0


DEFAULT_LIMITS = SessionLimits()


@dataclass(frozen=True)
class WaitResult:
    """How long the wait for pre-cut-off transactions took."""

    waited_s: float
    polls: int


@dataclass
class SnapshotHandle:
    """The coordinator's open snapshot: keep it open until every worker imported it."""

    connection: Any  # psycopg (exported snapshot) or PyMySQL (the coordinator's own)
    snapshot_id: str
    snapshot_time: datetime
    key_ranges: list[KeyRange]
    closed: bool = field(default=False)

    def close(self) -> None:
        """End the coordinator transaction (idempotent); imported snapshots stay valid."""
        if self.closed:
            return
        self.closed = True
        try:
            if isinstance(self.connection, psycopg.Connection):
                if not self.connection.closed:
                    self.connection.execute("COMMIT")
            elif self.connection.open:
                self.connection.commit()
        finally:
            self.connection.close()

    def __enter__(self) -> SnapshotHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def to_dict(self) -> dict[str, Any]:
        """What workers need (Celery payload): the snapshot id and the ranges."""
        return {
            "snapshot_id": self.snapshot_id,
            "snapshot_time": self.snapshot_time.isoformat(),
            "key_ranges": [r.to_dict() for r in self.key_ranges],
        }


@dataclass(frozen=True)
class CutoffBalance:
    """One account as seen in the snapshot: balance now, at the cut-off, and its journal."""

    currency: str
    balance_now: Decimal
    balance_at_cutoff: Decimal
    journal: Decimal
