"""Console-wide Celery tasks."""

import socket

from celery import shared_task


@shared_task(name="console.ping")
def ping() -> dict:
    """Proves a worker is alive and consuming (used by tests and by operators)."""
    return {"pong": True, "host": socket.gethostname()}
