"""Everything the read verifier writes: one function per use case, keyword-only arguments."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from verifiers.groups.recording import RecordSummary, Verdict, alert_on_groups, record_verdicts
from verifiers.models import MismatchGroup, MismatchSample, NoiseSuggestion, Route, System
from verifiers.read import stream
from verifiers.read.ingest import ParsedBatch, encode_sample

logger = logging.getLogger(__name__)


class ReadVerifierError(Exception):
    """A read verifier action cannot be done; the message says why."""


def redis_client() -> redis.Redis:
    # Short timeouts: ingest must answer 503 quickly when Redis is gone, not hang.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


_shared_client: redis.Redis | None = None


def shared_redis() -> redis.Redis:
    """One connection pool per process for the request path."""
    global _shared_client
    if _shared_client is None:
        _shared_client = redis_client()
    return _shared_client


# --- ingest ------------------------------------------------------------------------------------


@dataclass(slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]] = field(default_factory=list)


def ingest_samples(*, batch: ParsedBatch, client: redis.Redis | None = None,
                   max_backlog: int | None = None) -> IngestResult:
    """Queue a validated batch atomically; raises stream.StreamFullError or redis.RedisError."""
    client = client or shared_redis()
    appended = stream.append_samples(
        client, [(sample["id"], encode_sample(sample)) for sample in batch.samples],
        max_backlog=max_backlog or stream.DEFAULT_MAX_BACKLOG)
    rejected = [{batch.index_name: r.index, "reason": r.reason} for r in batch.rejected]
    return IngestResult(accepted=appended.accepted,
                        duplicates=appended.duplicates + batch.repeated_in_batch, rejected=rejected)


# --- recording ---------------------------------------------------------------------------------


def record_read_batch(*, verdicts: list[Verdict], noise: Counter | None = None,
                      skipped: Counter | None = None) -> RecordSummary:
    """Record a batch's verdicts, its noise observations, skipped counts; then alert on new groups."""
    summary = record_verdicts(verdicts)
    if noise:
        record_noise(noise=noise)
    if skipped:
        try:
            pipe = shared_redis().pipeline()
            for subject, count in skipped.items():
                pipe.hincrby(stream.SKIPPED_KEY, subject, count)
            pipe.execute()
        except redis.RedisError:
            pass  # a lost skip counter harms nothing
    alert_on_groups(summary)
    return summary


def record_noise(*, noise: Counter) -> None:
    """(route id, subject, pattern, already ignored) -> count: upsert NoiseSuggestion rows."""
    now = timezone.now()
    rows = sorted(noise.items(), key=lambda item: (item[0][1], item[0][2]))
    with connection.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO verifiers_noisesuggestion (route_id, subject, pattern, count, first_seen, last_seen, status)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (subject, pattern) DO UPDATE SET
                count = verifiers_noisesuggestion.count + EXCLUDED.count, last_seen = EXCLUDED.last_seen
            """,
            [(route_id, subject[:300], pattern[:300], count, now, now,
              NoiseSuggestion.Status.ACCEPTED if covered else NoiseSuggestion.Status.SUGGESTED)
             for (route_id, subject, pattern, covered), count in rows],
        )


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
        raise ReadVerifierError(f"unknown action {action!r}; use one of {sorted(STATUS_ACTIONS)}")
    with transaction.atomic():
        group = MismatchGroup.objects.select_for_update().get(pk=group_id)
        group.status = STATUS_ACTIONS[action]
        group.status_changed_at = timezone.now()
        group.status_changed_by = user_name[:150]
        if note:
            group.note = note
        group.save(update_fields=["status", "status_changed_at", "status_changed_by", "note"])
    return group


def accept_noise_suggestion(*, suggestion_id: int) -> Route:
    """Turn a noise suggestion into an ignore rule of its route (created if missing)."""
    with transaction.atomic():
        suggestion = NoiseSuggestion.objects.select_for_update().get(pk=suggestion_id)
        route = suggestion.route
        if route is None:
            method, _, template = suggestion.subject.partition(" ")
            route, _ = Route.objects.get_or_create(method=method, template=template)
        route = Route.objects.select_for_update().get(pk=route.pk)
        rules = dict(route.rules or {})
        ignore = list(rules.get("ignore_paths", []))
        if suggestion.pattern not in ignore:
            ignore.append(suggestion.pattern)
        rules["ignore_paths"] = ignore
        route.rules = rules
        route.save(update_fields=["rules"])
        suggestion.status = NoiseSuggestion.Status.ACCEPTED
        suggestion.route = route
        suggestion.save(update_fields=["status", "route"])
    return route


def dismiss_noise_suggestion(*, suggestion_id: int) -> None:
    NoiseSuggestion.objects.filter(pk=suggestion_id).update(status=NoiseSuggestion.Status.DISMISSED)


# --- reverify ----------------------------------------------------------------------------------


@dataclass(slots=True)
class ReverifySummary:
    samples: int = 0
    matched: int = 0
    resolved_group_ids: list[int] = field(default_factory=list)


def reverify_samples(*, sample_ids: list[int]) -> ReverifySummary:
    """Replay stored samples against the candidate now; resolve groups whose samples all match.

    Write samples are handed to the write verifier's reverify (one entry point for both kinds).
    """
    samples = list(MismatchSample.objects.select_related("group").filter(pk__in=sample_ids))
    write_ids = [s.pk for s in samples if s.group.kind == "write"]
    read_samples = [s for s in samples if s.group.kind == "read"]
    summary = ReverifySummary(samples=len(samples))
    if write_ids:
        from verifiers.write.services import reverify_write_samples  # type: ignore[attr-defined]

        reverify_write_samples(write_ids)
    if read_samples:
        summary.matched = _reverify_read(read_samples)
    group_ids = sorted({s.group_id for s in read_samples})
    summary.resolved_group_ids = _resolve_matching_groups(group_ids)
    return summary


def reverify_group(*, group_id: int) -> ReverifySummary:
    sample_ids = list(MismatchSample.objects.filter(group_id=group_id).values_list("pk", flat=True))
    if not sample_ids:
        raise ReadVerifierError(f"group {group_id} has no stored samples to reverify")
    return reverify_samples(sample_ids=sample_ids)


def _reverify_read(samples: list[MismatchSample]) -> int:
    from verifiers.read.pipeline import judge
    from verifiers.read.replay import SystemClient
    from verifiers.read.selectors import verifier_config

    config = verifier_config()
    if config.candidate is None:
        raise ReadVerifierError("no enabled candidate System is configured")

    async def replay_all():
        client = SystemClient(config.candidate)
        try:
            return await asyncio.gather(*(client.fetch(s.request) for s in samples))
        finally:
            await client.close()

    answers = asyncio.run(replay_all())
    now = timezone.now()
    matched = 0
    for sample, answer in zip(samples, answers):
        route = config.route_for(sample.request.get("method", "GET"), sample.request.get("path", "/"))
        stored = {"id": sample.sample_id, "captured_at": sample.captured_at.isoformat(),
                  "request": sample.request, "legacy": sample.legacy}
        verdict, _ = judge(stored, route, answer, None)
        sample.reverified_at = now
        sample.reverify_outcome = verdict.verdict
        sample.reverify_differences = verdict.differences
        matched += verdict.verdict == "match"
    MismatchSample.objects.bulk_update(samples, ["reverified_at", "reverify_outcome", "reverify_differences"])
    return matched


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


# --- workers -----------------------------------------------------------------------------------


def worker_heartbeats(*, client: redis.Redis | None = None) -> list[dict[str, Any]]:
    """Live verifier workers (their heartbeat keys expire 30 s after the last batch loop)."""
    import orjson

    client = client or shared_redis()
    keys = list(client.scan_iter(match=stream.HEARTBEAT_PREFIX + "*", count=100))
    values = client.mget(keys) if keys else []
    return [orjson.loads(value) for value in values if value]


def forget_dead_consumers(*, client: redis.Redis | None = None) -> list[str]:
    """Remove consumers with no heartbeat and nothing pending from the group (tidy XINFO)."""
    client = client or shared_redis()
    alive = {beat["consumer"] for beat in worker_heartbeats(client=client)}
    removed = []
    try:
        consumers = client.xinfo_consumers(stream.STREAM_KEY, stream.CONSUMER_GROUP)
    except redis.ResponseError:
        return removed
    for consumer in consumers:
        name = consumer["name"].decode() if isinstance(consumer["name"], bytes) else consumer["name"]
        if name not in alive and int(consumer["pending"]) == 0:
            client.xgroup_delconsumer(stream.STREAM_KEY, stream.CONSUMER_GROUP, name)
            removed.append(name)
    return removed


def enabled_candidate_exists() -> bool:
    return System.objects.filter(role=System.Role.CANDIDATE, enabled=True).exists()
