"""Everything the read verifier writes: one function per use case, keyword-only arguments."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, F, When
from django.utils import timezone

from console.models import sole_migration_pk
from verifiers.groups.alerts import alert_on_groups
from verifiers.groups.recording import RecordSummary, Verdict, record_verdicts
from verifiers.models import NoiseSuggestion, ReadStreamEpoch, Route, System
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
                   max_backlog: int | None = None, migration: str | None = None) -> IngestResult:
    """Queue a validated batch atomically; raises stream.StreamFullError or redis.RedisError.

    `migration` (a slug) travels with each sample to the worker; sample ids are deduplicated per migration.
    """
    client = client or shared_redis()
    if migration is None:
        pairs = [(sample["id"], encode_sample(sample)) for sample in batch.samples]
    else:
        pairs = [(f"{migration}/{sample['id']}", encode_sample({**sample, "migration": migration}))
                 for sample in batch.samples]
    bound = max_backlog or stream.DEFAULT_MAX_BACKLOG
    try:
        appended = stream.append_samples(client, pairs, max_backlog=bound)
    except stream.NoEpochError:  # Redis came back empty: start a new epoch (and report the old one)
        note_epoch(epoch=stream.ensure_group(client))
        appended = stream.append_samples(client, pairs, max_backlog=bound)
    if appended.accepted:
        count_in_epoch(epoch=appended.epoch, accepted=appended.accepted)
    rejected = [{batch.index_name: r.index, "reason": r.reason} for r in batch.rejected]
    return IngestResult(accepted=appended.accepted,
                        duplicates=appended.duplicates + batch.repeated_in_batch, rejected=rejected)


# --- recording ---------------------------------------------------------------------------------


def record_read_batch(*, verdicts: list[Verdict], noise: Counter | None = None,
                      skipped: Counter | None = None,
                      secondary_unusable: dict[tuple[int | None, str], tuple[int, str]] | None = None,
                      epoch: str | None = None,
                      finished: int = 0) -> RecordSummary:
    """Record a batch's verdicts, noise observations, skipped and unusable-secondary counts; alert.

    `finished` entries of stream `epoch` are counted done in the same transaction as the verdicts.
    """
    with transaction.atomic():
        summary = record_verdicts(verdicts)
        if epoch and finished:
            count_in_epoch(epoch=epoch, finished=finished)
    if noise:
        record_noise(noise=noise)
    if skipped or secondary_unusable:
        try:
            pipe = shared_redis().pipeline()
            for (migration_id, subject), count in (skipped or {}).items():
                pipe.hincrby(stream.SKIPPED_KEY, stream.route_field(migration_id, subject), count)
            for (migration_id, subject), (count, reason) in (secondary_unusable or {}).items():
                route = stream.route_field(migration_id, subject)
                pipe.hincrby(stream.SECONDARY_UNUSABLE_KEY, route, count)
                pipe.hset(stream.SECONDARY_UNUSABLE_REASON_KEY, route, reason)
            pipe.execute()
        except redis.RedisError:
            pass  # a lost counter harms no verdict
    alert_on_groups(summary)
    return summary


def record_noise(*, noise: Counter) -> None:
    """(route id, subject, pattern, already ignored[, migration id]) -> count: upsert NoiseSuggestion rows.

    Noise on a route is its route's migration's; on an unconfigured route, the sample's migration
    (the key's fifth item), else the console's only one.
    """
    now = timezone.now()
    rows = sorted(noise.items(), key=lambda item: (item[0][1], item[0][2]))
    unnamed = any(key[0] is None and (len(key) < 5 or key[4] is None) for key in noise)
    sole_migration = sole_migration_pk() if unnamed else None
    with connection.cursor() as cursor:
        cursor.executemany(
            """
            INSERT INTO verifiers_noisesuggestion
                (route_id, migration_id, subject, pattern, count, first_seen, last_seen, status)
            VALUES (%s, COALESCE((SELECT migration_id FROM verifiers_route WHERE id = %s), %s), %s, %s, %s, %s, %s, %s)
            ON CONFLICT (migration_id, subject, pattern) DO UPDATE SET
                count = verifiers_noisesuggestion.count + EXCLUDED.count, last_seen = EXCLUDED.last_seen
            """,
            [(key[0], key[0], key[4] if len(key) > 4 and key[4] is not None else sole_migration,
              key[1][:300], key[2][:300], count, now, now,
              NoiseSuggestion.Status.ACCEPTED if key[3] else NoiseSuggestion.Status.SUGGESTED)
             for key, count in rows],
        )


# --- stream epochs ---------------------------------------------------------------------------

_known_epoch: str | None = None


def note_epoch(*, epoch: str) -> list[ReadStreamEpoch]:
    """Make `epoch` the current one; close the epochs before it and return those that lost samples.

    Cheap when nothing changed (a per-process memo). Closing is done under row locks, so of several
    processes noticing the same new epoch, exactly one closes (and alerts on) each old epoch.
    """
    global _known_epoch
    if not epoch or epoch == _known_epoch:
        return []
    now = timezone.now()
    closed: list[ReadStreamEpoch] = []
    with transaction.atomic():
        ReadStreamEpoch.objects.get_or_create(epoch=epoch)
        for old in ReadStreamEpoch.objects.select_for_update().filter(ended_at__isnull=True).exclude(epoch=epoch):
            old.ended_at = now
            old.lost = max(0, old.accepted - old.finished)
            old.save(update_fields=["ended_at", "lost"])
            closed.append(old)
    _known_epoch = epoch
    lost = [old for old in closed if old.lost]
    for old in lost:
        logger.error("read sample stream epoch %s ended with %d accepted samples never judged "
                     "(Redis came back empty)", old.epoch, old.lost)
        _alert_samples_lost(old)
    return lost


def count_in_epoch(*, epoch: str, accepted: int = 0, finished: int = 0) -> None:
    """Add to an epoch's counts (creating its row if this process has not seen it yet)."""
    note_epoch(epoch=epoch)
    counts: dict[str, Any] = {"accepted": F("accepted") + accepted, "finished": F("finished") + finished}
    if finished:  # a batch judged after its epoch was closed (in flight when Redis went) was not lost
        counts["lost"] = Case(When(ended_at__isnull=False, lost__gte=finished, then=F("lost") - finished),
                              default=F("lost"), output_field=BigIntegerField())
    if not ReadStreamEpoch.objects.filter(epoch=epoch).update(**counts):
        # The row is gone under our memo (a restored database, a test rollback): register it again.
        reset_epoch_memo()
        note_epoch(epoch=epoch)
        ReadStreamEpoch.objects.filter(epoch=epoch).update(**counts)


def _alert_samples_lost(epoch: ReadStreamEpoch) -> None:
    """The one place the read verifier raises the lost-samples alert (publish never raises)."""
    from django.urls import reverse

    from console import alerts

    lost = epoch.lost or 0
    alerts.publish([alerts.AlertEvent(
        kind=alerts.AlertKind.SAMPLES_LOST, key="samples-lost:read", occurred_at=epoch.ended_at or timezone.now(),
        subject="read verifier", severity="high", url_path=reverse("overview"),
        title=f"{lost:,} accepted read samples were lost: Redis came back empty",
        facts={"Lost (accepted, never judged)": f"{lost:,}", "Accepted": f"{epoch.accepted:,}",
               "Judged or skipped": f"{epoch.finished:,}", "Stream since": alerts.local_time(epoch.started_at),
               "Noticed at": alerts.local_time(epoch.ended_at),
               "What to do": "Ask the gateways to resend the samples of that period; verification goes on."},
    )])


def recent_loss(*, hours: int = 24) -> ReadStreamEpoch | None:
    """The latest epoch that ended with lost samples within `hours`, for health and the dashboard."""
    since = timezone.now() - timedelta(hours=hours)
    return ReadStreamEpoch.objects.filter(lost__gt=0, ended_at__gte=since).order_by("-ended_at").first()


def reset_epoch_memo() -> None:
    """Forget the current epoch (tests that flush Redis between cases)."""
    global _known_epoch
    _known_epoch = None


# --- noise suggestions -----------------------------------------------------------------------


def accept_noise_suggestion(*, suggestion_id: int) -> Route:
    """Turn a noise suggestion into an ignore rule of its route (created if missing)."""
    with transaction.atomic():
        suggestion = NoiseSuggestion.objects.select_for_update().get(pk=suggestion_id)
        route = suggestion.route
        if route is None:
            method, _, template = suggestion.subject.partition(" ")
            route, _ = Route.objects.get_or_create(migration=suggestion.migration, method=method,
                                                   template=template)
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
    removed: list[str] = []
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
