"""Celery tasks of the read verifier: thin, take primary keys, safe to run twice.

The per-sample path is NOT here: samples go through the Redis Stream and `manage.py
verify_reads` workers. Celery runs their supervision (reverification is verifiers.groups.tasks).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from verifiers.read import alerts as read_alerts
from verifiers.read import services, stream

logger = logging.getLogger(__name__)


@shared_task(name="verifiers.read.check_workers")
def check_workers() -> dict[str, Any]:
    """Supervision: live verifier workers, backlog and pending; warns when samples wait unserved."""
    client = services.shared_redis()
    workers = services.worker_heartbeats(client=client)
    backlog = stream.backlog(client)
    pending = stream.pending_count(client)
    removed = services.forget_dead_consumers(client=client)
    if backlog and not workers:
        logger.warning("%d read samples queued and no verify_reads worker alive", backlog)
    return {"workers": len(workers), "backlog": backlog, "pending": pending, "forgotten_consumers": removed}


@shared_task(name="verifiers.read.check_mismatch_rates")
def check_mismatch_rates() -> int:
    """Alert on routes over their mismatch-rate threshold in the last 5 minutes; returns how many."""
    return len(read_alerts.check_mismatch_rates())
