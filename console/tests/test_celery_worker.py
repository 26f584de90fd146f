"""A real Celery worker process runs a task sent through Redis."""

import pytest

from console.tasks import ping

pytestmark = pytest.mark.integration


def test_real_worker_runs_a_task_through_redis(celery_worker_process, client):
    result = ping.delay()
    assert result.get(timeout=30) == {"pong": True, "host": pytest.importorskip("socket").gethostname()}


def test_healthz_is_healthy_with_a_live_worker(celery_worker_process, client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["celery"]["workers"]
