"""The verifiers' progress as /healthz and the dashboard read it (registered in VerifiersConfig.ready)."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from console.progress import VerifierProgress
from verifiers.read.progress import read_progress
from verifiers.read.services import recent_loss, shared_redis
from verifiers.write.progress import write_progress
from verifiers.write.services import write_store


def read_verifier_progress(*, live_celery_workers: int | None) -> VerifierProgress:
    del live_celery_workers  # read samples are judged by verify_reads processes, not Celery
    progress = read_progress(shared_redis(), stall_after_s=settings.VERIFIER_STALL_SECONDS)
    loss = recent_loss()
    if loss is None or loss.ended_at is None:
        return progress
    return replace(progress, lost=int(loss.lost or 0), lost_noticed_at=loss.ended_at.isoformat(timespec="seconds"))


def write_verifier_progress(*, live_celery_workers: int | None) -> VerifierProgress:
    return write_progress(write_store(), live_workers=live_celery_workers,
                          stall_after_s=settings.VERIFIER_STALL_SECONDS)
