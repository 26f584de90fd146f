"""The two README commands: `demo` runs the console with its demo world, `test` runs the suite.

Plain Python (no Django import) because it runs before Django can: it finds PostgreSQL and Redis
(the configured URLs; else the default ports; else private instances started from the system's
binaries in .state/ inside the checkout), then runs and supervises the processes. Ctrl-C stops
everything it started.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from console.services import postgres_problem, redis_problem

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/mhc"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PRIVATE_PG_PORT = 54329
PRIVATE_REDIS_PORT = 63799
DEMO_ADMIN = ("admin", "demo-admin-password")
DEMO_OPERATOR = ("operator", "demo-operator-password")


def say(message: str) -> None:
    print(f"[console] {message}", flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def wait_for(check, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up within {seconds:.0f} s")


@dataclass
class Supervisor:
    """Child processes started by this run; all are stopped together."""

    children: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str], **kwargs) -> subprocess.Popen:
        say(f"starting {name}")
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True, **kwargs)
        self.children.append((name, proc))
        return proc

    def stop_all(self) -> None:
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                say(f"stopping {name}")
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for _, proc in self.children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.children.clear()


def _find_pg_bin(name: str) -> str | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else shutil.which(name)


def _as_service_user(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; run it as the 'postgres' system user then.
    if os.geteuid() != 0:
        return argv
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise SystemExit("Running as root and there is no 'postgres' user to run a private PostgreSQL as.") from None
    return ["runuser", "-u", "postgres", "--", *argv]


def start_private_postgres(sup: Supervisor) -> str:
    initdb, postgres = _find_pg_bin("initdb"), _find_pg_bin("postgres")
    if not (initdb and postgres):
        raise SystemExit(
            "Nothing answers on 127.0.0.1:5432 and DATABASE_URL is not set, and PostgreSQL's binaries "
            "are not installed. Install them (Debian: apt-get install postgresql) or set DATABASE_URL."
        )
    data = STATE / "postgres"
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(STATE, "postgres")
            shutil.chown(data, "postgres")
        say(f"initialising a private PostgreSQL in {data}")
        subprocess.run(
            _as_service_user([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True, stdout=subprocess.DEVNULL,
        )
    sup.start(
        "private PostgreSQL",
        _as_service_user([postgres, "-D", str(data), "-p", str(PRIVATE_PG_PORT), "-k", str(data),
                          "-c", "listen_addresses=127.0.0.1"]),
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"postgresql://postgres@127.0.0.1:{PRIVATE_PG_PORT}/mhc"
    wait_for(lambda: postgres_problem(url.rsplit("/", 1)[0] + "/postgres") is None, "private PostgreSQL")
    return url


def start_private_redis(sup: Supervisor) -> str:
    server = shutil.which("redis-server")
    if not server:
        raise SystemExit(
            "Nothing answers on 127.0.0.1:6379 and REDIS_URL is not set, and redis-server is not "
            "installed. Install it (Debian: apt-get install redis-server) or set REDIS_URL."
        )
    (STATE / "redis").mkdir(parents=True, exist_ok=True)
    sup.start(
        "private Redis",
        [server, "--port", str(PRIVATE_REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(STATE / "redis")],
        env=dict(os.environ), stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{PRIVATE_REDIS_PORT}/0"
    wait_for(lambda: redis_problem(url) is None, "private Redis")
    return url


def ensure_database_exists(url: str) -> None:
    """Create the console's database if the server is there but the database is not."""
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    name = name.split("?")[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            say(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def resolve_services(sup: Supervisor, database_name: str | None = None) -> dict[str, str]:
    """The environment for every child: DATABASE_URL and REDIS_URL that answer."""
    env = dict(os.environ)
    # Importing the console package set this for the launcher itself; children choose their own.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    database_url = env.get("DATABASE_URL")
    if database_url:
        base = database_url.rsplit("/", 1)[0] + "/postgres"
        problem = postgres_problem(base)
        if problem:
            raise SystemExit(problem)
    elif port_open(5432):
        database_url = DEFAULT_DATABASE_URL
    else:
        database_url = start_private_postgres(sup)
    if database_name:
        database_url = database_url.rsplit("/", 1)[0] + "/" + database_name
    ensure_database_exists(database_url)

    redis_url = env.get("REDIS_URL")
    if redis_url:
        problem = redis_problem(redis_url)
        if problem:
            raise SystemExit(problem)
    elif port_open(6379):
        redis_url = DEFAULT_REDIS_URL
    else:
        redis_url = start_private_redis(sup)

    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url)
    env.setdefault("DEMO_LEDGER_URL", database_url.rsplit("/", 1)[0] + "/mhc_demo_ledger")
    return env


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], env=env, cwd=ROOT, check=False,
        stdout=subprocess.PIPE if capture else None, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode})")
    return (result.stdout or "").strip()


def run_demo(args: argparse.Namespace) -> int:
    sup = Supervisor()
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        env = resolve_services(sup)
        env.setdefault("CONSOLE_ENV", "development")
        env["CONSOLE_BASE_URL"] = f"http://127.0.0.1:{args.port}"
        if not env.get("EMAIL_HOST") and not env.get("EMAIL_BACKEND"):
            # Demo alerts go to files rather than flooding this terminal.
            env["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
        manage(env, "migrate", "--noinput", "-v", "0")
        token = manage(env, "setup_demo", "--admin", ":".join(DEMO_ADMIN),
                       "--operator", ":".join(DEMO_OPERATOR), capture=True).splitlines()[-1]
        sup.start("web", [PYTHON, "-m", "gunicorn", "console.wsgi", "-b", f"127.0.0.1:{args.port}",
                          "--workers", "2", "--threads", "4", "--access-logfile", "-",
                          "--log-level", "warning"], env, stdout=subprocess.DEVNULL)
        sup.start("celery worker", [PYTHON, "-m", "celery", "-A", "console", "worker", "-l", "warning",
                                    "--concurrency", "2", "-n", "console@%h", "-Q",
                                    f"celery,numa.{socket.gethostname()}"], env)
        sup.start("celery beat", [PYTHON, "-m", "celery", "-A", "console", "beat", "-l", "warning",
                                  "--schedule", str(STATE / "celerybeat-schedule")], env)
        sup.start("read verifier", [PYTHON, "manage.py", "verify_reads", "--processes", "1"], env)
        sup.start("demo world", [PYTHON, "-m", "console.demo", "run", "--rate", str(args.rate),
                                 "--console-url", f"http://127.0.0.1:{args.port}", "--token", token], env)
        wait_for(lambda: port_open(args.port), "the web server")
        say(f"console: http://127.0.0.1:{args.port}/   log in as {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}"
            f"   (operator: {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]})")
        say("legacy ledger: http://127.0.0.1:8101   candidate ledger: http://127.0.0.1:8102")
        if env.get("EMAIL_BACKEND", "").endswith("filebased.EmailBackend"):
            say(f"alert e-mails are written to {env.get('EMAIL_FILE_PATH', STATE / 'mail')}/ (set EMAIL_HOST to send them)")
        say("Ctrl-C stops everything")
        while not stopping:
            for name, proc in sup.children:
                if proc.poll() is not None:
                    say(f"{name} exited with {proc.returncode}; stopping the rest")
                    stopping = True
                    break
            time.sleep(0.5)
        return 0
    finally:
        sup.stop_all()


def run_tests(args: argparse.Namespace) -> int:
    sup = Supervisor()
    try:
        env = resolve_services(sup)
        # console.test_settings moves Redis to database 15, flushed per test.
        return subprocess.call([PYTHON, "-m", "pytest", *args.pytest_args], env=env, cwd=ROOT)
    finally:
        sup.stop_all()


def run_benchmark(benchmark_args: list[str]) -> int:
    """`manage.py benchmark ...` against a database and Redis database of its own, never the demo's."""
    sup = Supervisor()
    try:
        env = resolve_services(sup, database_name="mhc_bench")
        env["REDIS_URL"] = env["REDIS_URL"].rsplit("/", 1)[0] + "/6"
        env.setdefault("CONSOLE_ENV", "development")
        env["DEBUG"] = "false"  # DEBUG keeps every query in memory and slows the hot path
        manage(env, "migrate", "--noinput", "-v", "0")
        return subprocess.call([PYTHON, "manage.py", "benchmark", *benchmark_args], env=env, cwd=ROOT)
    finally:
        sup.stop_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.launcher", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the console with its demo world")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--rate", type=float, default=20.0, help="demo traffic, requests per second")
    test = sub.add_parser("test", help="run the test suite")
    test.add_argument("pytest_args", nargs="*", help="passed to pytest as they are")
    bench = sub.add_parser("bench", help="run `manage.py benchmark` on a database of its own")
    bench.add_argument("benchmark_args", nargs="*", help="e.g. read --seconds 60")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["test"]:  # everything after `test` belongs to pytest, options included
        return run_tests(argparse.Namespace(pytest_args=argv[1:]))
    if argv[:1] == ["bench"]:
        return run_benchmark(argv[1:])
    args = parser.parse_args(argv)
    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
