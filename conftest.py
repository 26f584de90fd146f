"""Test fixtures shared by every app: Redis isolation, eager Celery and a real Celery worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis as redis_lib

ROOT = Path(__file__).resolve().parent


def _test_redis_url() -> str:
    from django.conf import settings

    url = settings.REDIS_URL
    # Never flush a Redis database that is not the tests' own (console.test_settings picks it).
    test_db = getattr(settings, "TEST_REDIS_DB", None)  # only console.test_settings defines it
    if not test_db or not url.endswith(f"/{test_db}"):
        pytest.exit(f"REDIS_URL={url} is not a test database; run tests with console.test_settings")
    return url


@pytest.fixture
def redis_client():
    client = redis_lib.Redis.from_url(_test_redis_url())
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis test database."""
    from django.conf import settings

    if not settings.configured:  # pure-logic run (`pytest -p no:django`): no services at all
        yield
        return
    try:
        client = redis_lib.Redis.from_url(_test_redis_url())
        client.flushdb()
        client.close()
    except redis_lib.RedisError:
        pass  # Redis down: the tests that need it fail with their own clear error.
    yield
    # A reconciliation run's snapshot hold polls Redis for its parts' settled marks; the next
    # test's flush would hide them and leave it holding a ledger transaction for 15 minutes.
    from verifiers.reconcile.keeper import release_held_snapshots

    release_held_snapshots()


@pytest.fixture
def eager_celery():
    """Run .delay() inline, so what a call queues is done before the call returns."""
    from console.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def _worker_env(database_name: str | None) -> dict[str, str]:
    from django.conf import settings

    from console.services import url_for_database

    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "console.test_settings"
    env["REDIS_URL"] = settings.REDIS_URL
    env["TEST_REDIS_DB"] = str(getattr(settings, "TEST_REDIS_DB"))  # noqa: B009 - only test settings have it
    if database_name:
        env["DATABASE_URL"] = url_for_database(settings.DATABASE_URL, database_name)
    return env


@pytest.fixture
def celery_worker_process(transactional_db, django_db_blocker):
    """A real `celery worker` process consuming the default queue against the test database.

    Yields a function that starts further workers (for tests that kill one).
    """
    from django.db import connection

    database_name = connection.settings_dict["NAME"]
    started: list[subprocess.Popen] = []

    def start(queues: str = "celery", concurrency: int = 1, name: str = "test") -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "-l", "warning",
             "-Q", queues, "--concurrency", str(concurrency), "-n", f"{name}-{len(started)}@%h",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=_worker_env(database_name), start_new_session=True,
        )
        started.append(proc)
        _wait_for_worker(f"{name}-{len(started) - 1}@")
        return proc

    start()
    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _wait_for_worker(name_prefix: str, seconds: float = 30.0) -> None:
    from console.celery import app

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        if any(name.startswith(name_prefix) for reply in replies for name in reply):
            return
    raise RuntimeError(f"Celery worker {name_prefix}… did not answer within {seconds} s")


@pytest.fixture
def user_with_role(db):
    """Makes a user holding one role of console.roles (None: a logged-in user with no role)."""
    from django.contrib.auth import get_user_model

    from console.roles import ensure_roles

    def make(role: str | None, name: str, *, staff: bool = False):
        user = get_user_model().objects.create_user(name, password="pw-123456789", is_staff=staff)
        if role:
            user.groups.add(ensure_roles()[role])
        return user

    return make
