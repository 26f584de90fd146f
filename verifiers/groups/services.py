"""Everything done to mismatch groups after recording: triage and reverification.

Reverification checks stored samples again with the check of the part that recorded them (read
replays the request against the candidate, write reads the row again). The parts register that
check here, by group kind, so this package never imports a part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from verifiers.models import MismatchGroup, MismatchSample


class GroupActionError(Exception):
    """A group action cannot be done; the message says why."""


# --- triage ------------------------------------------------------------------------------------

STATUS_ACTIONS = {
    "acknowledge": MismatchGroup.Status.ACKNOWLEDGED,
    "ignore": MismatchGroup.Status.IGNORED,
    "reopen": MismatchGroup.Status.OPEN,
    "resolve": MismatchGroup.Status.RESOLVED,
}


def change_group_status(*, group_id: int, action: str, user_name: str, note: str = "") -> MismatchGroup:
    """Acknowledge, ignore, reopen or resolve a group (who and when are recorded)."""
    if action not in STATUS_ACTIONS:
        raise GroupActionError(f"unknown action {action!r}; use one of {sorted(STATUS_ACTIONS)}")
    with transaction.atomic():
        group = MismatchGroup.objects.select_for_update().get(pk=group_id)
        group.status = STATUS_ACTIONS[action]
        group.status_changed_at = timezone.now()
        group.status_changed_by = user_name[:150]
        if note:
            group.note = note
        group.save(update_fields=["status", "status_changed_at", "status_changed_by", "note"])
    return group


# --- reverify ----------------------------------------------------------------------------------

# Checks the given samples of one kind again now, records the new outcome on each sample and
# returns sample id -> new outcome ("match", "mismatch", ...).
SampleCheck = Callable[[list[int]], dict[int, str]]


@dataclass(frozen=True, slots=True)
class Reverifier:
    check: SampleCheck
    # Whether samples that all match now resolve their group: true when a match proves the
    # candidate changed (read replays it); a write check re-reads the legacy row, which proves nothing.
    resolves_groups: bool


_reverifiers: dict[str, Reverifier] = {}


def register_reverifier(kind: str, check: SampleCheck, *, resolves_groups: bool) -> None:
    """Called by each part at start-up (``VerifiersConfig.ready``) for the group kind it records."""
    _reverifiers[kind] = Reverifier(check=check, resolves_groups=resolves_groups)


@dataclass(slots=True)
class ReverifySummary:
    samples: int = 0
    matched: int = 0
    resolved_group_ids: list[int] = field(default_factory=list)


def reverify_samples(*, sample_ids: Iterable[int]) -> ReverifySummary:
    """Check stored samples again now, each with its part's check; resolve groups that all match."""
    rows = list(MismatchSample.objects.filter(pk__in=list(sample_ids)).values_list("pk", "group_id", "group__kind"))
    by_kind: dict[str, list[int]] = {}
    for sample_id, _, kind in rows:
        by_kind.setdefault(kind, []).append(sample_id)
    summary = ReverifySummary(samples=len(rows))
    resolvable: set[int] = set()
    for kind, ids in sorted(by_kind.items()):
        reverifier = _reverifiers.get(kind)
        if reverifier is None:
            raise GroupActionError(f"no reverification is registered for {kind} groups")
        outcomes = reverifier.check(ids)
        summary.matched += sum(outcome == "match" for outcome in outcomes.values())
        if reverifier.resolves_groups:
            resolvable.update(group_id for _, group_id, group_kind in rows if group_kind == kind)
    summary.resolved_group_ids = _resolve_matching_groups(sorted(resolvable))
    return summary


def reverify_group(*, group_id: int) -> ReverifySummary:
    sample_ids = list(MismatchSample.objects.filter(group_id=group_id).values_list("pk", flat=True))
    if not sample_ids:
        raise GroupActionError(f"group {group_id} has no stored samples to reverify")
    return reverify_samples(sample_ids=sample_ids)


def _resolve_matching_groups(group_ids: list[int]) -> list[int]:
    resolved = []
    for group_id in group_ids:
        outcomes = set(MismatchSample.objects.filter(group_id=group_id).values_list("reverify_outcome", flat=True))
        if outcomes == {"match"}:
            MismatchGroup.objects.filter(pk=group_id).exclude(status=MismatchGroup.Status.RESOLVED).update(
                status=MismatchGroup.Status.RESOLVED, status_changed_at=timezone.now(),
                status_changed_by="reverify")
            resolved.append(group_id)
    return resolved
