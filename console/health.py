"""What /healthz reports: each service with a clear problem sentence when it fails."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

from console.celery import app as celery_app
from console.progress import VerifierProgress
from console.services import redis_problem

WORKER_PING_TIMEOUT_S = 1.0

# Each verifier says how far behind it is; parts register a source here (their AppConfig.ready),
# so the console asks without importing them.
ProgressSource = Callable[..., VerifierProgress]
_PROGRESS_SOURCES: dict[str, ProgressSource] = {}


def register_progress_source(name: str, source: ProgressSource) -> None:
    _PROGRESS_SOURCES[name] = source


def verifier_progress(*, live_celery_workers: int | None) -> list[VerifierProgress]:
    """Every registered verifier's progress (Redis must be up); None: Celery workers not counted."""
    return [source(live_celery_workers=live_celery_workers) for source in _PROGRESS_SOURCES.values()]


def database_problem() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return f"DATABASE_URL: PostgreSQL did not answer: {error}".strip()
    return None


def celery_problem() -> tuple[str | None, list[str]]:
    try:
        replies = celery_app.control.ping(timeout=WORKER_PING_TIMEOUT_S) or []
    except Exception as error:  # noqa: BLE001
        return f"Celery: cannot ask workers through the broker: {error}", []
    workers = sorted(name for reply in replies for name in reply)
    if not workers:
        return "Celery: no worker answered a ping within 1 s", []
    return None, workers


def health_report() -> dict:
    db = database_problem()
    rds = redis_problem(settings.REDIS_URL)
    worker, workers = (None, []) if rds else celery_problem()
    if rds:
        worker = "Celery: not checked, Redis is down"
    checks: dict[str, dict[str, Any]] = {
        "database": {"ok": db is None, "problem": db},
        "redis": {"ok": rds is None, "problem": rds},
        "celery": {"ok": worker is None, "problem": worker, "workers": workers},
    }
    if not rds:
        for progress in verifier_progress(live_celery_workers=len(workers)):
            checks[f"{progress.verifier}_verifier"] = progress.as_dict()
    return {"healthy": all(c["ok"] for c in checks.values()), "checks": checks}
