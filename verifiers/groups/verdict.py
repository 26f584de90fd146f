"""The verdict of one sample or row check: pure data, built without Django, recorded by recording.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["GroupMembership", "Verdict"]


@dataclass(slots=True)
class GroupMembership:
    """One group a verdict counts in (read: one per cause of the mismatch)."""

    fingerprint: str
    title: str
    differences: list[dict[str, Any]]  # the differences that define this group


@dataclass(slots=True)
class Verdict:
    """What verifying one sample (read) or one capture's row check (write) concluded."""

    kind: str  # "read" or "write"
    sample_id: str
    subject: str  # "GET /accounts/{id}/balance" or "accounts"
    captured_at: datetime
    verdict: str  # a key of VERDICT_COLUMNS
    fingerprint: str = ""
    title: str = ""
    severity: str = "medium"
    differences: list[dict[str, Any]] = field(default_factory=list)  # [{path, pattern, kind, legacy, candidate}]
    request: dict[str, Any] = field(default_factory=dict)
    legacy: dict[str, Any] = field(default_factory=dict)
    candidate: dict[str, Any] = field(default_factory=dict)
    select_sql: str = ""
    legacy_latency_ms: float | None = None
    candidate_latency_ms: float | None = None
    noise_suppressed: int = 0
    secondary_unusable: str = ""  # read: why the second legacy answer was no noise evidence
    # Several groups (read: one per cause); empty means the one group fingerprint/title/differences.
    groups: list[GroupMembership] = field(default_factory=list)
    # The migration (console.Migration pk) the sample belongs to; None: the console's only one.
    migration_id: int | None = None

    def memberships(self) -> list[GroupMembership]:
        return self.groups or [GroupMembership(self.fingerprint, self.title, self.differences)]
