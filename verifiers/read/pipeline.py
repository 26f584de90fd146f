"""The read verifier worker loop (`manage.py verify_reads`): stream -> replay -> compare -> record.

One process = one consumer of the stream's consumer group. Per batch (up to 500 entries):
XREADGROUP, replay every sample concurrently against the candidate (and the second legacy
endpoint when one is configured), compare with the route's compiled rules, record all verdicts
in one transaction (recording.record_verdicts: redelivered samples count once), then XACK+XDEL.
A batch is acked only after its verdicts are committed, so a worker killed at any point leaves
its entries pending; XAUTOCLAIM hands them to a live worker after `reclaim_idle_ms`.

Skipped samples (route off, outside active hours, not sampled) are acked without a verdict and
counted in the Redis hash `mhc:read-skipped` (subject -> count); they are not in OutcomeCount.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import socket
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as clock_time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis

from console.collector import cyclic_gc_paused
from verifiers.groups.fingerprint import describe_fingerprint, read_cause_fingerprint, read_causes
from verifiers.groups.recording import GroupMembership, Verdict
from verifiers.read import exactjson, stream
from verifiers.read.compare import (
    Difference,
    DiffKind,
    compare_responses,
    noise_paths,
    secondary_unusable_reason,
    suppress,
    suppress_noise,
)
from verifiers.read.config import ProgrammeReadConfig, RouteSettings, VerifierConfig
from verifiers.read.replay import Answer, SystemClient, SystemTarget

logger = logging.getLogger(__name__)

MAX_SHOWN_VALUE_CHARS = 2000


@dataclass(slots=True)
class BatchOutcome:
    verdicts: list[Verdict] = field(default_factory=list)
    noise: Counter = field(default_factory=Counter)  # (route_id, subject, pattern, covered, migration id) -> n
    skipped: Counter = field(default_factory=Counter)  # (migration id, subject) -> n
    # (migration id, subject) -> (second legacy answers not usable as noise evidence, the last reason)
    secondary_unusable: dict[tuple[int | None, str], tuple[int, str]] = field(default_factory=dict)
    malformed: int = 0
    lags_ms: list[float] = field(default_factory=list)
    # Entries of a migration without an enabled candidate: left pending (XAUTOCLAIM retries them
    # every reclaim interval), so one unconfigured migration never holds up the others.
    held: set[str] = field(default_factory=set)


def sampled(sample_id: str, ratio: float) -> bool:
    """Deterministic per id, so a redelivered sample gets the same decision."""
    if ratio >= 1.0:
        return True
    if ratio <= 0.0:
        return False
    return zlib.crc32(sample_id.encode()) / 2**32 < ratio


def within_active_hours(moment: datetime, start: clock_time | None, end: clock_time | None,
                        time_zone: ZoneInfo) -> bool:
    """Active between start and end in the console's time zone; an overnight window wraps."""
    if start is None and end is None:
        return True
    local = moment.astimezone(time_zone).time()
    start = start or clock_time(0, 0)
    end = end or clock_time(23, 59, 59, 999999)
    if start <= end:
        return start <= local < end or (end == clock_time(23, 59, 59, 999999) and local >= start)
    return local >= start or local < end


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str) and len(value) > MAX_SHOWN_VALUE_CHARS:
        return value[:MAX_SHOWN_VALUE_CHARS] + "…"
    if isinstance(value, (dict, list)):
        text = exactjson.dumps(value)
        if len(text) > MAX_SHOWN_VALUE_CHARS:
            return text[:MAX_SHOWN_VALUE_CHARS].decode("utf-8", "ignore") + "…"
        return _decimals_as_text(exactjson.loads(text))
    return value


def _decimals_as_text(value: Any) -> Any:
    """Stored differences are JSON for PostgreSQL: a Decimal is shown as its exact text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _decimals_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals_as_text(item) for item in value]
    return value


def difference_records(differences: list[Difference]) -> list[dict[str, Any]]:
    return [{"path": d.path, "pattern": d.pattern(), "kind": d.kind.value,
             "legacy": _shown(d.legacy), "candidate": _shown(d.candidate)} for d in differences]


def error_fingerprint(method: str, template: str, error: str) -> str:
    reason = "timeout" if "timed out" in error else error.split(":", 2)[1].strip() if ":" in error else error
    text = "\x1f".join(["read-error", method, template, reason[:60]])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def judge(sample: dict[str, Any], route: RouteSettings, candidate: Answer,
          secondary: Answer | None) -> tuple[Verdict, list[str]]:
    """The verdict for one replayed sample and the noise patterns found (pure apart from config)."""
    request, legacy = sample["request"], sample["legacy"]
    method, template = route.method, route.template
    captured_at = datetime.fromisoformat(sample["captured_at"])
    base = dict(kind="read", sample_id=sample["id"], subject=route.subject, captured_at=captured_at,
                migration_id=route.migration_id,
                severity=route.severity, request=request, legacy=legacy,
                candidate=candidate.as_record(), legacy_latency_ms=legacy.get("latency_ms"),
                candidate_latency_ms=None if candidate.error else candidate.latency_ms)
    if candidate.error:
        reason = candidate.error
        return Verdict(verdict="error", fingerprint=error_fingerprint(method, template, reason),
                       title=f"{route.subject}: candidate error ({reason[:120]})",
                       differences=[{"path": "$", "pattern": "$", "kind": "error", "legacy": None,
                                     "candidate": reason}], **base), []
    differences = compare_responses(legacy["status"], legacy.get("headers"), legacy.get("body"),
                                    candidate.status, candidate.headers, candidate.body, route.rules)
    noise: list[str] = []
    suppressed = 0
    unusable = ""
    if secondary is not None:
        unusable = secondary.error or secondary_unusable_reason(
            legacy["status"], legacy.get("headers"), legacy.get("body"),
            secondary.status, secondary.headers, secondary.body)
        if not unusable:
            legacy_diffs = compare_responses(legacy["status"], legacy.get("headers"), legacy.get("body"),
                                             secondary.status, secondary.headers, secondary.body, route.noise_rules)
            noise = noise_paths(legacy_diffs)
            if legacy_diffs and differences:
                kept = suppress_noise(differences, legacy_diffs)
                suppressed = len(differences) - len(kept)
                differences = kept
    base["secondary_unusable"] = unusable[:200]
    if not differences:
        return Verdict(verdict="match", noise_suppressed=suppressed, **base), noise
    records = difference_records(differences)
    # One group per cause: two independent differences count in their two groups, never in a third.
    groups = [GroupMembership(read_cause_fingerprint(template, method, cause.anchor, cause.kind),
                              describe_fingerprint(method, template, cause.differences),
                              [records[index] for index in cause.indexes])
              for cause in read_causes(differences)]
    return Verdict(verdict="mismatch", fingerprint=groups[0].fingerprint,
                   title=describe_fingerprint(method, template, differences),
                   differences=records, groups=groups, noise_suppressed=suppressed, **base), noise


class ReadVerifierWorker:
    """One consumer of the read sample stream. Call run(); stop() from a signal handler."""

    def __init__(self, client: redis.Redis, *, consumer: str | None = None, batch_size: int = 500,
                 block_ms: int = 1000, reclaim_idle_ms: int = 30_000, config_refresh_s: float = 10.0,
                 record_lag: bool = False) -> None:
        self.client = client
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.reclaim_idle_ms = reclaim_idle_ms
        self.config_refresh_s = config_refresh_s
        self.record_lag = record_lag
        self.stopping = False
        self.processed = 0
        self._config: ProgrammeReadConfig | None = None
        self._config_loaded_at = 0.0
        self._next_reclaim_at = 0.0
        # Per (migration, system name): two migrations may each have a system called "candidate".
        self._clients: dict[tuple[int | None, str], SystemClient] = {}
        # The stream incarnation this worker reads (stream.EPOCH_KEY); None: (re)create it first.
        self.epoch: str | None = None
        self._loop = asyncio.new_event_loop()

    # --- configuration -------------------------------------------------------------------------

    def config(self) -> ProgrammeReadConfig:
        if self._config is None or time.monotonic() - self._config_loaded_at > self.config_refresh_s:
            from verifiers.read.selectors import verifier_configs

            self._config = verifier_configs()
            self._config_loaded_at = time.monotonic()
        return self._config

    def _client_for(self, migration_id: int | None, target: SystemTarget) -> SystemClient:
        current = self._clients.get((migration_id, target.name))
        if current is None or current.target != target:
            if current is not None:
                self._loop.run_until_complete(current.close())
            current = self._clients[(migration_id, target.name)] = SystemClient(target)
        return current

    # --- the loop ------------------------------------------------------------------------------

    def stop(self, *_: Any) -> None:
        self.stopping = True

    def heartbeat(self) -> str:
        """Say this worker lives; returns the stream's current epoch ("" when Redis has none)."""
        state = {"consumer": self.consumer, "pid": os.getpid(), "host": socket.gethostname(),
                 "at": time.time(), "processed": self.processed}
        pipe = self.client.pipeline(transaction=False)
        pipe.set(stream.HEARTBEAT_PREFIX + self.consumer, orjson.dumps(state), ex=30)
        pipe.get(stream.EPOCH_KEY)
        _, epoch = pipe.execute()
        return epoch.decode() if epoch else ""

    def next_entries(self) -> list[stream.StreamEntry]:
        now = time.monotonic()
        if now >= self._next_reclaim_at:
            self._next_reclaim_at = now + min(5.0, self.reclaim_idle_ms / 2000)
            claimed = stream.reclaim_stale(self.client, self.consumer, min_idle_ms=self.reclaim_idle_ms,
                                           count=self.batch_size)
            if claimed:
                logger.info("reclaimed %d pending entries of dead consumers", len(claimed))
                return claimed
        return stream.read_batch(self.client, self.consumer, count=self.batch_size, block_ms=self.block_ms)

    def run(self, *, max_idle_batches: int | None = None, install_signals: bool = True) -> int:
        """Process batches until stopped; returns samples processed."""
        if install_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        idle = 0
        retry_own = True  # first, whatever this consumer name had pending (a restart)
        while not self.stopping:
            try:
                if self.heartbeat() != self.epoch:  # first loop, or Redis lost the stream
                    self.recreate_stream()
                entries = (stream.own_pending(self.client, self.consumer, count=self.batch_size)
                           if retry_own else [])
                retry_own = bool(entries)
                if not entries:
                    entries = self.next_entries()
                if not entries:
                    idle += 1
                    if max_idle_batches is not None and idle >= max_idle_batches:
                        break
                    continue
                idle = 0
                with cyclic_gc_paused():  # a batch's short-lived objects, freed by reference counting
                    outcome = self.process(entries)
                if outcome.held:
                    retry_own = False  # held entries wait for the reclaim, not a tight retry loop
            except redis.RedisError as error:
                retry_own = True
                if isinstance(error, redis.ResponseError) and stream.is_missing_group(error):
                    logger.warning("read sample stream or its group is gone (%s; Redis came back empty?): "
                                   "recreating it", error)
                    self.epoch = None
                    continue
                logger.warning("Redis unavailable (%s); retrying in 2 s", error)
                time.sleep(2)
            except Exception:
                # Database down or a bug: the batch stays pending and is retried, never lost.
                logger.exception("batch failed; it stays pending and is retried")
                from django.db import close_old_connections

                close_old_connections()  # a connection broken by a database restart is reopened
                time.sleep(2)
                retry_own = True
        for client in self._clients.values():
            self._loop.run_until_complete(client.close())
        self._loop.close()
        return self.processed

    def recreate_stream(self) -> None:
        """Stream, group and epoch exist again; a new epoch closes the old one and reports its loss."""
        from verifiers.read.services import note_epoch

        epoch = stream.ensure_group(self.client)
        note_epoch(epoch=epoch)
        self.epoch = epoch  # only once the database knows it, so a failure here is retried

    def process(self, entries: list[stream.StreamEntry]) -> BatchOutcome:
        outcome = self.verify(entries)
        from verifiers.read.services import record_read_batch

        done = [entry for entry in entries if entry.entry_id not in outcome.held]
        record_read_batch(verdicts=outcome.verdicts, noise=outcome.noise, skipped=outcome.skipped,
                          secondary_unusable=outcome.secondary_unusable, epoch=self.epoch,
                          finished=len(done))
        if done:
            stream.ack(self.client, [entry.entry_id for entry in done])
        done_ms = time.time() * 1000
        outcome.lags_ms = [done_ms - entry.ingested_at_ms for entry in done]
        if self.record_lag and outcome.lags_ms:
            self.client.rpush("mhc:read-lag", *(round(lag, 1) for lag in outcome.lags_ms))
        self.processed += len(done)
        return outcome

    def verify(self, entries: list[stream.StreamEntry]) -> BatchOutcome:
        """Replay and judge a batch (no database writes)."""
        programme = self.config()
        outcome = BatchOutcome()
        work: list[tuple[dict[str, Any], RouteSettings, VerifierConfig]] = []
        waiting: set[str] = set()  # migrations without an enabled candidate
        for entry in entries:
            try:
                # Exact values (a gateway may XADD an embedded JSON body); our ingest wrote bodies as text.
                sample = exactjson.loads(entry.payload, keep_number_text=False)
                from verifiers.read.ingest import validate_sample  # gateways XADD unvalidated samples

                # The migration ingest filed it under (a slug); judged only by that migration's routes.
                slug = sample.pop("migration", None) if isinstance(sample, dict) else None
                config = programme.for_sample(slug if isinstance(slug, str) else None)
                sample = validate_sample(sample)
            except (ValueError, TypeError) as error:
                outcome.malformed += 1
                logger.warning("dropping malformed stream entry %s: %s", entry.entry_id, error)
                continue
            route = config.route_for(sample["request"]["method"], sample["request"]["path"])
            captured_at = datetime.fromisoformat(sample["captured_at"])
            if (not route.enabled or not sampled(sample["id"], route.sampling_ratio)
                    or not within_active_hours(captured_at, route.active_from, route.active_until,
                                               config.time_zone)):
                outcome.skipped[(config.migration_id, route.subject)] += 1
                continue
            if config.candidate is None:
                outcome.held.add(entry.entry_id)
                waiting.add(config.migration_name or "(none yet)")
                continue
            work.append((sample, route, config))
        if waiting:
            logger.warning("no enabled candidate System is configured for migration(s) %s; their samples stay "
                           "queued", ", ".join(sorted(waiting)))
        if not work:
            return outcome
        answers = self._loop.run_until_complete(self._replay_all(work))
        for (sample, route, config), (candidate, secondary) in zip(work, answers):
            verdict, noise = judge(sample, route, candidate, secondary)
            outcome.verdicts.append(verdict)
            if verdict.secondary_unusable:
                key = (config.migration_id, route.subject)
                seen, _ = outcome.secondary_unusable.get(key, (0, ""))
                outcome.secondary_unusable[key] = (seen + 1, verdict.secondary_unusable)
            if noise:
                covered = set(noise) - {d.path for d in suppress(
                    [Difference(p, DiffKind.CHANGED) for p in noise], route.ignore_paths)} if route.ignore_paths else set()
                for pattern in noise:
                    outcome.noise[(route.route_id, route.subject, pattern, pattern in covered,
                                   route.migration_id)] += 1
        return outcome

    async def _replay_all(self, work: list[tuple[dict[str, Any], RouteSettings, VerifierConfig]]
                          ) -> list[tuple[Answer, Answer | None]]:
        """Each sample against its own migration's candidate (and second legacy system, if any)."""

        async def both(sample: dict[str, Any], config: VerifierConfig) -> tuple[Answer, Answer | None]:
            assert config.candidate is not None  # the caller held samples of migrations without one
            candidate = self._client_for(config.migration_id, config.candidate)
            if config.secondary is None:
                return await candidate.fetch(sample["request"]), None
            secondary = self._client_for(config.migration_id, config.secondary)
            first, second = await asyncio.gather(candidate.fetch(sample["request"]),
                                                 secondary.fetch(sample["request"]))
            return first, second

        return await asyncio.gather(*(both(sample, config) for sample, _, config in work))
