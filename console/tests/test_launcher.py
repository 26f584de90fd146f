"""The launcher's fallback: private PostgreSQL, Redis and MariaDB from the system's binaries, in a
state folder of their own, stopped with everything else; or one sentence saying what to install.
And its supervision: a crashed child is restarted with back-off, and the launcher says so."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from console import launcher
from console.services import mysql_problem, postgres_problem, redis_problem
from console.supervision import ProcessDefinition, RestartPolicy
from verifiers.benchmarks.support import free_port, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def private_state(monkeypatch):
    # In /tmp rather than pytest's tmp_path: PostgreSQL runs as the 'postgres' user when we are
    # root, and pytest's folders are private to their owner.
    state = Path(tempfile.mkdtemp(prefix="mhc-launcher-test-"))
    monkeypatch.setattr(launcher, "STATE", state)
    yield state
    shutil.rmtree(state, ignore_errors=True)


@contextmanager
def private_server(
    monkeypatch: pytest.MonkeyPatch, port_setting: str, start: Callable[[launcher.Supervisor], str]
) -> Iterator[tuple[str, int]]:
    """`start` run on a free port (the launcher's `port_setting`): its URL and port for the block,
    then the supervisor stops everything."""
    port = free_port()
    monkeypatch.setattr(launcher, port_setting, port)
    supervisor = launcher.Supervisor()
    try:
        yield start(supervisor), port
    finally:
        supervisor.stop_all()


@pytest.mark.skipif(not launcher._find_pg_bin("initdb"), reason="PostgreSQL server binaries not installed")
def test_private_postgres_starts_in_the_state_folder_and_stops_with_the_rest(private_state, monkeypatch):
    with private_server(monkeypatch, "PRIVATE_PG_PORT", launcher.start_private_postgres) as (url, port):
        assert url == f"postgresql://postgres@127.0.0.1:{port}/mhc"
        assert (private_state / "postgres" / "PG_VERSION").exists()
        launcher.ensure_database_exists(url)
        assert postgres_problem(url) is None
    assert postgres_problem(url, timeout_s=1) is not None


@pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server not installed")
def test_private_redis_starts_and_stops_with_the_rest(private_state, monkeypatch):
    with private_server(monkeypatch, "PRIVATE_REDIS_PORT", launcher.start_private_redis) as (url, _):
        assert redis_problem(url) is None
    assert redis_problem(url, timeout_s=0.5) is not None


def test_missing_postgres_binaries_say_what_to_install(private_state, monkeypatch):
    monkeypatch.setattr(launcher, "_find_pg_bin", lambda name: None)
    with pytest.raises(SystemExit, match=r"Install them \(Debian: apt-get install postgresql\) or set DATABASE_URL"):
        launcher.start_private_postgres(launcher.Supervisor())


def test_a_configured_database_url_that_does_not_answer_is_one_sentence(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/mhc")
    with pytest.raises(SystemExit, match=r"^DATABASE_URL: cannot use PostgreSQL at 127\.0\.0\.1:1"):
        launcher.resolve_services(launcher.Supervisor())


# ------------------------------------------------------------------ supervision


def test_a_killed_child_is_restarted_with_back_off_and_the_launcher_says_so(capsys):
    supervisor = launcher.Supervisor(policy=RestartPolicy(initial_delay_s=0.2, max_delay_s=0.4))
    launcher.start_procfile(supervisor, {"PATH": "/usr/bin:/bin"},
                            [ProcessDefinition("sleeper", "sleep 600")])
    try:
        child = supervisor.children[0]
        for expected_delay in ("0.2", "0.4"):
            first_pid = child.proc.pid
            os.kill(first_pid, signal.SIGKILL)
            wait_until(lambda pid=first_pid: supervisor.check() == [] and child.proc.pid != pid
                       and child.proc.poll() is None, 20, "the sleeper's restart", poll_s=0.05)
            assert f"restarting sleeper after exit code -9 in {expected_delay} s" in capsys.readouterr().out
    finally:
        supervisor.stop_all()


def test_a_child_that_may_not_restart_stops_the_run():
    supervisor = launcher.Supervisor()
    supervisor.start("one-shot", ["sh", "-c", "exit 3"], {"PATH": "/usr/bin:/bin"})
    try:
        wait_until(lambda: supervisor.children[0].proc.poll() is not None, 20, "the one-shot's exit", poll_s=0.05)
        assert supervisor.check() == ["one-shot exited with 3"]
        assert launcher.supervise_until_stopped(supervisor, lambda: False) == 1
    finally:
        supervisor.stop_all()


def test_procfile_lines_run_in_a_shell_with_the_venv_python_first():
    env = launcher.with_venv_on_path({"PATH": "/usr/bin:/bin"})
    result = subprocess.run(launcher.procfile_argv(ProcessDefinition("x", "python -c 'import sys; print(sys.prefix)'")),
                            env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == sys.prefix


# ------------------------------------------------------------------ MySQL/MariaDB


def test_a_configured_mysql_url_that_does_not_answer_is_one_sentence():
    with pytest.raises(SystemExit, match=r"^MYSQL_URL: cannot reach MySQL/MariaDB at 127\.0\.0\.1:1: "):
        launcher.resolve_mysql(launcher.Supervisor(), {"MYSQL_URL": "mysql://root@127.0.0.1:1/"})


def test_mysql_url_answering_is_used_as_it_is():
    url = "mysql://root@127.0.0.1:3306/"
    assert launcher.resolve_mysql(launcher.Supervisor(), {"MYSQL_URL": url}) == url


def test_missing_mariadb_binaries_say_what_to_install(private_state, monkeypatch):
    monkeypatch.setattr(launcher, "_find_mariadb_bin", lambda *names: None)
    with pytest.raises(SystemExit, match=r"install it \(Debian: apt-get install mariadb-server\) or set MYSQL_URL\.$"):
        launcher.start_private_mariadb(launcher.Supervisor())


@pytest.mark.skipif(not launcher._find_mariadb_bin("mariadbd", "mysqld"), reason="MariaDB server not installed")
def test_private_mariadb_starts_in_the_state_folder_and_stops_with_the_rest(private_state, monkeypatch):
    private_state.chmod(0o755)  # mariadbd runs as 'mysql' when we are root; mkdtemp's folder is private
    with private_server(monkeypatch, "PRIVATE_MYSQL_PORT", launcher.start_private_mariadb) as (url, port):
        assert url == f"mysql://root@127.0.0.1:{port}/"
        assert (private_state / "mariadb" / "mysql").is_dir()
        client = launcher._find_mariadb_bin("mariadb", "mysql")
        # root logs in over TCP without a password, as on the shared server
        answer = subprocess.run([client, "--no-defaults", "-h127.0.0.1", f"-P{port}", "-uroot", "-N", "-e",
                                 "SELECT 1"], capture_output=True, text=True, timeout=30)
        assert answer.stdout.strip() == "1", answer.stderr
    assert mysql_problem(url, timeout_s=1) is not None


def test_children_stop_in_reverse_start_order_each_before_the_one_it_may_need(tmp_path):
    # The demo world, started last, flushes its last samples to the web server when told to stop:
    # the web server (started before it) may only be told once the demo world has exited.
    log = tmp_path / "stopped"
    supervisor = launcher.Supervisor()
    env = {"PATH": "/usr/bin:/bin"}
    supervisor.start("server", ["sh", "-c", f'trap "echo server >> {log}; exit 0" TERM; '
                                            "while true; do sleep 0.05; done"], env)
    supervisor.start("client", ["sh", "-c", f'trap "sleep 0.3; echo client >> {log}; exit 0" TERM; '
                                            "while true; do sleep 0.05; done"], env)
    time.sleep(0.3)  # both shells have set their traps
    supervisor.stop_all()
    assert log.read_text().split() == ["client", "server"]
