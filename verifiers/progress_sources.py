"""The verifiers' progress as /healthz and the dashboard read it (registered in VerifiersConfig.ready)."""

from __future__ import annotations

from django.conf import settings

from console.progress import VerifierProgress
from verifiers.read.progress import read_progress
from verifiers.read.services import shared_redis
from verifiers.write.progress import write_progress
from verifiers.write.services import write_store


def read_verifier_progress(*, live_celery_workers: int | None) -> VerifierProgress:
    del live_celery_workers  # read samples are judged by verify_reads processes, not Celery
    return read_progress(shared_redis(), stall_after_s=settings.VERIFIER_STALL_SECONDS)


def write_verifier_progress(*, live_celery_workers: int | None) -> VerifierProgress:
    return write_progress(write_store(), live_workers=live_celery_workers,
                          stall_after_s=settings.VERIFIER_STALL_SECONDS)
