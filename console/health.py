"""What /healthz reports: each service with a clear problem sentence when it fails."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from console.celery import app as celery_app
from console.services import redis_problem

WORKER_PING_TIMEOUT_S = 1.0


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
    checks = {
        "database": {"ok": db is None, "problem": db},
        "redis": {"ok": rds is None, "problem": rds},
        "celery": {"ok": worker is None, "problem": worker, "workers": workers},
    }
    return {"healthy": all(c["ok"] for c in checks.values()), "checks": checks}
