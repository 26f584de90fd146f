"""What the fault suite starts and breaks: private Redis and PostgreSQL servers, worker processes.

Never the shared services: every server here has its own port and data folder under a temporary
directory and is killed with the test. PostgreSQL refuses to run as root, so as root its
commands run as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis as redis_lib

from verifiers.benchmarks.support import CandidateServer, free_port, wait_until

ROOT = Path(__file__).resolve().parents[3]


def start_slow_candidate(delay_s: float) -> CandidateServer:
    """A started candidate that waits `delay_s` before each answer, so work is in flight at a fault."""
    import asyncio

    server = CandidateServer()
    original = server._handle

    async def delayed(request):  # type: ignore[no-untyped-def]
        await asyncio.sleep(delay_s)
        return await original(request)

    server._handle = delayed  # type: ignore[method-assign]
    return server.start()


class PrivateRedis:
    """A redis-server of our own; `persistent` turns on the append-only file, fsynced per write."""

    def __init__(self, *, persistent: bool) -> None:
        self.persistent = persistent
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="mhc-fault-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis_lib.Redis:
        return redis_lib.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.persistent
                       else ["--appendonly", "no"])
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.folder,
             "--save", "", *persistence], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        wait_until(lambda: _answers(client), 10, f"private Redis on :{self.port}")
        client.close()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def _answers(client: redis_lib.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis_lib.RedisError:
        return False


def postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name} not found under /usr/lib/postgresql/*/bin (install postgresql)")
    return found[-1]


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, own port, trust auth)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = tempfile.mkdtemp(prefix="mhc-fault-pg-")
        self.data = os.path.join(self.folder, "data")
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.folder, "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def initdb(self) -> None:
        self._run(postgres_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(postgres_bin("pg_ctl"), "-D", self.data, "-o", options, "-l",
                  os.path.join(self.folder, "server.log"), "-w", "start")

    def kill(self) -> None:
        """Stop at once, without a checkpoint (as a crash): recovery replays the WAL on start."""
        self._run(postgres_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "stop")

    def copy_database(self, source_url: str, name: str) -> None:
        """Create `name` here with the schema and rows of the database at `source_url`."""
        self._run(postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        dump = subprocess.Popen([postgres_bin("pg_dump"), "--no-owner", "--no-privileges", source_url],
                                stdout=subprocess.PIPE)
        subprocess.run([postgres_bin("psql"), "-q", "-v", "ON_ERROR_STOP=1", self.url(name)], stdin=dump.stdout,
                       check=True, stdout=subprocess.DEVNULL)
        dump.wait(60)

    def stop(self) -> None:
        try:
            self.kill()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)


def worker_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """Environment of a worker process: test settings against the given database and Redis."""
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="console.test_settings", DATABASE_URL=database_url,
               REDIS_URL=redis_url, TEST_REDIS_DB=redis_url.rsplit("/", 1)[1], **extra)
    return env


LOG_FOLDER = Path(tempfile.gettempdir()) / "mhc-fault-logs"


def _log(name: str):
    """Each worker's output goes to a file of its own (named in a failing test's message)."""
    LOG_FOLDER.mkdir(exist_ok=True)
    return open(LOG_FOLDER / f"{name}-{os.getpid()}.log", "w")  # noqa: SIM115 - the child keeps it


def start_read_worker(env: dict[str, str], consumer: str) -> subprocess.Popen:
    with _log(f"verify_reads-{consumer}") as log:
        return subprocess.Popen(
            [sys.executable, "manage.py", "verify_reads", "--consumer", consumer, "--batch-size", "50",
             "--block-ms", "200", "--reclaim-idle-ms", "1000"],
            cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def start_celery_worker(env: dict[str, str], name: str) -> subprocess.Popen:
    with _log(f"celery-{name}") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "console", "worker", "-l", "warning", "--concurrency", "1",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the process and everything it started (workers fork children)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@dataclass
class FaultFigures:
    """What one fault cost: the closing note of issue 13 asks for these, per fault."""

    fault: str
    sent: int
    judged: int
    lost: int
    counted_twice: int
    recovered_s: float
    reported_lost: int | None = None

    def line(self) -> str:
        reported = "" if self.reported_lost is None else f", reported lost {self.reported_lost:,}"
        return (f"FAULT {self.fault}: sent {self.sent:,}, judged {self.judged:,}, lost {self.lost:,}, "
                f"counted twice {self.counted_twice:,}{reported}, recovered in {self.recovered_s:.1f} s")
