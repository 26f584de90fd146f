"""The launcher's fallback: private PostgreSQL and Redis from the system's binaries, in a state
folder of their own, stopped with everything else; or one sentence saying what to install."""

import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from console import launcher
from console.services import postgres_problem, redis_problem

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def private_state(monkeypatch):
    # In /tmp rather than pytest's tmp_path: PostgreSQL runs as the 'postgres' user when we are
    # root, and pytest's folders are private to their owner.
    state = Path(tempfile.mkdtemp(prefix="mhc-launcher-test-"))
    monkeypatch.setattr(launcher, "STATE", state)
    yield state
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.skipif(not launcher._find_pg_bin("initdb"), reason="PostgreSQL server binaries not installed")
def test_private_postgres_starts_in_the_state_folder_and_stops_with_the_rest(private_state, monkeypatch):
    port = _free_port()
    monkeypatch.setattr(launcher, "PRIVATE_PG_PORT", port)
    supervisor = launcher.Supervisor()
    try:
        url = launcher.start_private_postgres(supervisor)
        assert url == f"postgresql://postgres@127.0.0.1:{port}/mhc"
        assert (private_state / "postgres" / "PG_VERSION").exists()
        launcher.ensure_database_exists(url)
        assert postgres_problem(url) is None
    finally:
        supervisor.stop_all()
    assert postgres_problem(url, timeout_s=1) is not None


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed")
def test_private_redis_starts_and_stops_with_the_rest(private_state, monkeypatch):
    port = _free_port()
    monkeypatch.setattr(launcher, "PRIVATE_REDIS_PORT", port)
    supervisor = launcher.Supervisor()
    try:
        url = launcher.start_private_redis(supervisor)
        assert redis_problem(url) is None
    finally:
        supervisor.stop_all()
    assert redis_problem(url, timeout_s=0.5) is not None


def test_missing_postgres_binaries_say_what_to_install(private_state, monkeypatch):
    monkeypatch.setattr(launcher, "_find_pg_bin", lambda name: None)
    with pytest.raises(SystemExit, match=r"Install them \(Debian: apt-get install postgresql\) or set DATABASE_URL"):
        launcher.start_private_postgres(launcher.Supervisor())


def test_a_configured_database_url_that_does_not_answer_is_one_sentence(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/mhc")
    with pytest.raises(SystemExit, match=r"^DATABASE_URL: cannot use PostgreSQL at 127\.0\.0\.1:1"):
        launcher.resolve_services(launcher.Supervisor())
