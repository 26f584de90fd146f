"""What the parts hand to the alerting: alert events as pure data (no Django, no part's models).

Each part (the verifiers' groups, read and reconciliation parts, NUMA) builds its events from what it
has in memory and passes them to `console.alerts.publish` after its transaction commits; the alerts
package never reads a part's models back. `key` is what the throttle groups events by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urlencode


class AlertPolicyError(ValueError):
    """A policy value is out of range, or a stored event is malformed; the message names it."""


class AlertKind(StrEnum):
    NEW_GROUP = "new_group"  # a mismatch group created, or reopened after it was resolved
    MISMATCH_RATE = "mismatch_rate"
    RECONCILIATION = "reconciliation"  # a run with differences, or a failed run
    COLLECTOR_SILENT = "collector_silent"
    VERIFIER_STALLED = "verifier_stalled"  # work waits and verification makes no progress
    SAMPLES_LOST = "samples_lost"  # accepted read samples lost with a Redis that came back empty
    GROUP_ACTIVITY = "group_activity"  # more occurrences of an alerted group: digest only

    @property
    def label(self) -> str:
        return ALERT_KIND_LABELS[self]


ALERT_KIND_LABELS: dict[AlertKind, str] = {
    AlertKind.NEW_GROUP: "New mismatch group",
    AlertKind.MISMATCH_RATE: "Mismatch rate over threshold",
    AlertKind.RECONCILIATION: "Reconciliation with differences or failed",
    AlertKind.COLLECTOR_SILENT: "NUMA collector silent",
    AlertKind.VERIFIER_STALLED: "Verifier stalled",
    AlertKind.SAMPLES_LOST: "Read samples lost (Redis came back empty)",
    AlertKind.GROUP_ACTIVITY: "More occurrences of an alerted group",
}
# Which subscription (and rule) a kind is delivered under (group activity goes to new-group subscribers).
SUBSCRIPTION_OF: dict[AlertKind, AlertKind] = {
    AlertKind.NEW_GROUP: AlertKind.NEW_GROUP,
    AlertKind.GROUP_ACTIVITY: AlertKind.NEW_GROUP,
    AlertKind.MISMATCH_RATE: AlertKind.MISMATCH_RATE,
    AlertKind.RECONCILIATION: AlertKind.RECONCILIATION,
    AlertKind.COLLECTOR_SILENT: AlertKind.COLLECTOR_SILENT,
    AlertKind.VERIFIER_STALLED: AlertKind.VERIFIER_STALLED,
    AlertKind.SAMPLES_LOST: AlertKind.SAMPLES_LOST,
}
SUBSCRIBABLE_KINDS: tuple[AlertKind, ...] = (
    AlertKind.NEW_GROUP, AlertKind.MISMATCH_RATE, AlertKind.RECONCILIATION, AlertKind.COLLECTOR_SILENT,
    AlertKind.VERIFIER_STALLED, AlertKind.SAMPLES_LOST,
)

# Characters a path keeps as they are: its separators, and '%' of what reverse() already encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def with_query(path: str, params: Mapping[str, Any] | None = None) -> str:
    """`path` with `params` as a URL-encoded query: a route like 'GET /a?b' stays one parameter."""
    path = quote(path, safe=_PATH_SAFE)
    query = urlencode({name: str(value) for name, value in (params or {}).items()})
    return f"{path}?{query}" if query else path


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One thing worth telling someone about, as the part that saw it describes it.

    `key` groups events for the throttle ("group:12", "rate:3", "reconciliation:source:1",
    "collector:7", "stalled:read"); `subject` names what it is about in the part's own terms
    (a route, a ledger, a host), independent of database ids; `url_path` and `url_query` make the
    link (encoded by `link`); `baseline` is a number the throttle keeps with the key (a group's
    count when alerted) so later activity can be measured against it.
    """

    kind: AlertKind
    key: str
    occurred_at: datetime
    title: str
    url_path: str
    facts: dict[str, Any] = field(default_factory=dict)  # shown in the e-mail (masked before sending)
    occurrences: int = 1  # a group activity event stands for this many new mismatches
    subject: str = ""
    severity: str = ""
    url_query: dict[str, str] = field(default_factory=dict)
    baseline: int | None = None
    # The migration it is about (slug, and name as e-mails show it); None: programme-wide (NUMA, stalls).
    migration: str | None = None
    migration_name: str = ""

    @property
    def link(self) -> str:
        """The page path with its query, URL-encoded (append to the console's base URL)."""
        return with_query(self.url_path, self.url_query)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value, "key": self.key, "occurred_at": self.occurred_at.isoformat(),
            "title": self.title, "url_path": self.url_path, "facts": self.facts, "occurrences": self.occurrences,
            "subject": self.subject, "severity": self.severity, "url_query": self.url_query,
            "baseline": self.baseline, "migration": self.migration, "migration_name": self.migration_name,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertEvent:
        try:
            return cls(
                kind=AlertKind(data["kind"]), key=data["key"],
                occurred_at=datetime.fromisoformat(data["occurred_at"]), title=data["title"],
                url_path=data["url_path"], facts=dict(data.get("facts") or {}),
                occurrences=int(data.get("occurrences", 1)), subject=str(data.get("subject") or ""),
                severity=str(data.get("severity") or ""),
                url_query={str(k): str(v) for k, v in (data.get("url_query") or {}).items()},
                baseline=None if data.get("baseline") is None else int(data["baseline"]),
                migration=None if data.get("migration") is None else str(data["migration"]),
                migration_name=str(data.get("migration_name") or ""),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise AlertPolicyError(f"stored alert event is malformed ({error!r}): {data!r}") from None
