"""Reverification of read samples: replay stored requests against the candidate now and judge again.

Apart from ``services`` so the worker pipeline, which records through ``services``, and this,
which judges through the pipeline, do not import each other.
"""

from __future__ import annotations

import asyncio

from django.utils import timezone

from verifiers.models import MismatchSample
from verifiers.read.config import VerifierConfig
from verifiers.read.pipeline import judge
from verifiers.read.replay import SystemClient
from verifiers.read.selectors import verifier_configs
from verifiers.read.services import ReadVerifierError


def reverify_read_samples(sample_ids: list[int]) -> dict[int, str]:
    """Replay stored read samples against the candidate now; sample id -> new outcome.

    The mismatch groups' reverification calls this for read groups (registered in apps.py).
    """
    samples = list(MismatchSample.objects.filter(pk__in=sample_ids, group__kind="read").select_related("group"))
    if not samples:
        return {}
    # Each sample against its own group's migration: its candidate, its routes' rules.
    by_migration: dict[int | None, list[MismatchSample]] = {}
    for sample in samples:
        by_migration.setdefault(sample.group.migration_id, []).append(sample)
    configs = verifier_configs(migration_ids=[pk for pk in by_migration if pk is not None])
    now = timezone.now()
    for config in configs.by_slug.values():
        _reverify(by_migration[config.migration_id], config, now)
    MismatchSample.objects.bulk_update(samples, ["reverified_at", "reverify_outcome", "reverify_differences"])
    return {sample.pk: sample.reverify_outcome for sample in samples}


def _reverify(samples: list[MismatchSample], config: VerifierConfig, now) -> None:
    if config.candidate is None:
        raise ReadVerifierError(f"no enabled candidate System is configured for migration {config.migration_name}")
    candidate = config.candidate

    async def replay_all():
        client = SystemClient(candidate)
        try:
            return await asyncio.gather(*(client.fetch(s.request) for s in samples))
        finally:
            await client.close()

    answers = asyncio.run(replay_all())
    for sample, answer in zip(samples, answers):
        route = config.route_for(sample.request.get("method", "GET"), sample.request.get("path", "/"))
        stored = {"id": sample.sample_id, "captured_at": sample.captured_at.isoformat(),
                  "request": sample.request, "legacy": sample.legacy}
        verdict, _ = judge(stored, route, answer, None)
        sample.reverified_at = now
        sample.reverify_outcome = verdict.verdict
        if verdict.verdict == "mismatch" and sample.group.fingerprint not in {
                membership.fingerprint for membership in verdict.memberships()}:
            sample.reverify_outcome = "match"  # this group's cause is gone; others have their own groups
        sample.reverify_differences = verdict.differences
