"""The read verifier's tests: samples as the legacy gateway posts them, a configured candidate, a worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from verifiers.read.ingest import ParsedBatch, parse_batch

if TYPE_CHECKING:  # Django-free at import: pure tests (pytest -p no:django) use make_sample
    import redis

    from verifiers.read.pipeline import ReadVerifierWorker


def make_sample(sample_id: str, path: str = "/accounts/1/balance", body: Any = None, status: int = 200,
                captured_at: str = "2025-05-01T00:00:00+00:00") -> dict[str, Any]:
    return {
        "id": sample_id, "captured_at": captured_at,
        "request": {"method": "GET", "path": path, "query": "", "headers": {"Accept": "application/json"},
                    "body": ""},
        "legacy": {"status": status, "headers": {"Content-Type": "application/json"},
                   "body": orjson.dumps(body if body is not None else {"ok": True}).decode(), "latency_ms": 3.0},
    }


def parsed_batch(samples: list[dict[str, Any]]) -> ParsedBatch:
    return parse_batch(orjson.dumps(samples), "application/json")


def configure_systems(candidate_url: str, secondary_url: str | None = None) -> None:
    """A candidate (and a second legacy endpoint if given) and the balance route."""
    from verifiers.models import Route, System

    System.objects.create(name="cand", base_url=candidate_url, role=System.Role.CANDIDATE, timeout_ms=2000)
    if secondary_url:
        System.objects.create(name="legacy2", base_url=secondary_url, role=System.Role.LEGACY_SECONDARY)
    Route.objects.create(method="GET", template="/accounts/{id}/balance", severity="high",
                         rules={"ignore_paths": ["$.traceId"]})


def read_worker(redis_client: redis.Redis) -> ReadVerifierWorker:
    from verifiers.read.pipeline import ReadVerifierWorker

    return ReadVerifierWorker(redis_client, consumer="test", block_ms=100, reclaim_idle_ms=60_000)
