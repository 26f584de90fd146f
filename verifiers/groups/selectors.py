"""Reads of mismatch groups for the group pages, the API and the verifier pages."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, QuerySet

from verifiers.models import MismatchGroup, MismatchSample


def mismatch_groups(*, kind: str | None = None, status: str | None = None, subject: str | None = None,
                    migration_ids: Sequence[int] | None = None) -> QuerySet[MismatchGroup]:
    """Groups, newest activity first, filtered as the list page and API ask (None: no filter)."""
    groups = MismatchGroup.objects.all()
    if migration_ids is not None:
        groups = groups.filter(migration_id__in=migration_ids)
    if kind:
        groups = groups.filter(kind=kind)
    if status:
        groups = groups.filter(status=status)
    if subject:
        groups = groups.filter(subject__icontains=subject)
    return groups.order_by("-last_seen")


def group_with_samples(group_id: int) -> MismatchGroup:
    return MismatchGroup.objects.prefetch_related("samples").get(pk=group_id)


def occurs_together_with(group: MismatchGroup) -> QuerySet[MismatchGroup]:
    """Other groups whose stored samples include samples of this group (a sample with two causes
    is stored in both groups), with `shared` = how many; most shared first."""
    sample_ids = MismatchSample.objects.filter(group=group).values("sample_id")
    return (MismatchGroup.objects.filter(kind=group.kind, samples__sample_id__in=sample_ids)
            .exclude(pk=group.pk).annotate(shared=Count("samples")).order_by("-shared", "title"))
