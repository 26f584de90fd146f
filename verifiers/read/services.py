"""Everything the read verifier writes: one function per use case, keyword-only arguments."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from verifiers.groups.alerts import alert_on_groups
from verifiers.groups.recording import RecordSummary, Verdict, record_verdicts
from verifiers.models import NoiseSuggestion, Route, System
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
                      skipped: Counter | None = None,
                      secondary_unusable: dict[str, tuple[int, str]] | None = None) -> RecordSummary:
    """Record a batch's verdicts, noise observations, skipped and unusable-secondary counts; alert."""
    summary = record_verdicts(verdicts)
    if noise:
        record_noise(noise=noise)
    if skipped or secondary_unusable:
        try:
            pipe = shared_redis().pipeline()
            for subject, count in (skipped or {}).items():
                pipe.hincrby(stream.SKIPPED_KEY, subject, count)
            for subject, (count, reason) in (secondary_unusable or {}).items():
                pipe.hincrby(stream.SECONDARY_UNUSABLE_KEY, subject, count)
                pipe.hset(stream.SECONDARY_UNUSABLE_REASON_KEY, subject, reason)
            pipe.execute()
        except redis.RedisError:
            pass  # a lost counter harms no verdict
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


# --- noise suggestions -----------------------------------------------------------------------


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
