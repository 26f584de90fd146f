"""The two README commands: `demo` runs the console with its demo world, `test` runs the suite;
`supervise` runs the Procfile's processes (the same definitions `demo` runs).

Plain Python (no Django import) because it runs before Django can: it finds PostgreSQL, Redis and
MySQL/MariaDB (the configured URLs; else the default ports; else private instances started from
the system's binaries in .state/ inside the checkout), then runs and supervises the processes: a
child that crashes is restarted with back-off (console/supervision.py). Ctrl-C stops everything
it started.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from console.config import env_optional
from console.services import mysql_problem, postgres_problem, redis_problem
from console.supervision import (
    ProcessDefinition,
    RestartPolicy,
    next_restart_delay,
    read_procfile,
    restart_message,
)

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".state"
PYTHON = sys.executable
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/mhc"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
PRIVATE_PG_PORT = 54329
PRIVATE_REDIS_PORT = 63799
DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/"
PRIVATE_MYSQL_PORT = 33069
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
class Child:
    """One child process and what it takes to start it again."""

    name: str
    argv: list[str]
    env: dict[str, str]
    options: dict
    restart: bool
    proc: subprocess.Popen
    started_at: float
    delay_s: float | None = None  # back-off used before the current run (None: first run)
    restart_at: float | None = None  # set while it waits to be restarted


@dataclass
class Supervisor:
    """Child processes started by this run; crashed ones are restarted, all are stopped together."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    children: list[Child] = field(default_factory=list)

    def _spawn(self, child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=child.env, cwd=ROOT, start_new_session=True, **child.options)
        child.started_at = time.monotonic()
        child.restart_at = None

    def start(self, name: str, argv: list[str], env: dict[str, str], *, restart: bool = False,
              **options) -> subprocess.Popen:
        say(f"starting {name}")
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True, **options)
        self.children.append(Child(name, argv, env, options, restart, proc, time.monotonic()))
        return proc

    def check(self) -> list[str]:
        """Restart what is due and schedule crashed children; the names of those that died for good."""
        dead = []
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._spawn(child)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            if not child.restart:
                dead.append(f"{child.name} exited with {code}")
                continue
            try:  # what the dead child left in its group (gunicorn's workers) would hold its port
                os.killpg(child.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            child.delay_s = next_restart_delay(child.delay_s, now - child.started_at, self.policy)
            child.restart_at = now + child.delay_s
            say(restart_message(child.name, code, child.delay_s))
        return dead

    def stop_all(self, *, seconds: float = 15.0, seconds_each: float = 5.0) -> None:
        """Stop the children in reverse start order, each exited before the next is told.

        A child may need those started before it while it stops: the demo world flushes its last
        samples to the web server, the web server its last writes to a private PostgreSQL. One that
        does not exit within ``seconds_each`` holds the rest no longer; what is left at the end of
        ``seconds`` is killed.
        """
        deadline = time.monotonic() + seconds
        for child in reversed(self.children):
            if child.restart_at is None and child.proc.poll() is None:
                say(f"stopping {child.name}")
                try:
                    os.killpg(child.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    child.proc.wait(max(0.1, min(seconds_each, deadline - time.monotonic())))
                except subprocess.TimeoutExpired:
                    pass
        for child in self.children:
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.proc.pid, signal.SIGKILL)
        self.children.clear()


def procfile_argv(definition: ProcessDefinition) -> list[str]:
    # A shell, as honcho runs Procfile lines ($(hostname), ${PORT:-8000}); exec so signals and
    # exit codes are the process's own.
    return ["/bin/sh", "-c", f"exec {definition.command}"]


def with_venv_on_path(env: dict[str, str]) -> dict[str, str]:
    """`python` in Procfile lines is this interpreter (the venv's), as if the venv were activated."""
    return {**env, "PATH": os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", os.defpath)])}


def start_procfile(sup: Supervisor, env: dict[str, str], definitions: list[ProcessDefinition]) -> None:
    child_env = with_venv_on_path(env)
    for definition in definitions:
        sup.start(definition.name, procfile_argv(definition), child_env, restart=True)


def supervise_until_stopped(sup: Supervisor, stopping) -> int:
    """Keep the children running until `stopping()` (Ctrl-C/SIGTERM) or one that may not restart dies."""
    while not stopping():
        dead = sup.check()
        if dead:
            say(f"{'; '.join(dead)}; stopping the rest")
            return 1
        time.sleep(0.2)
    return 0


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


def _find_mariadb_bin(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
        if found:
            return found
    return None


def start_private_mariadb(sup: Supervisor) -> str:
    """A MariaDB of our own in .state/mariadb on PRIVATE_MYSQL_PORT, root without password on 127.0.0.1."""
    server = _find_mariadb_bin("mariadbd", "mysqld")
    install = _find_mariadb_bin("mariadb-install-db", "mysql_install_db")
    client = _find_mariadb_bin("mariadb", "mysql")
    if not (server and install and client):
        raise SystemExit(
            "Nothing answers on 127.0.0.1:3306 and MYSQL_URL is not set, and MariaDB's server is not "
            "installed: install it (Debian: apt-get install mariadb-server) or set MYSQL_URL."
        )
    data = STATE / "mariadb"
    socket_path = data / "mariadb.sock"
    # mariadbd refuses to run as root; it switches to the 'mysql' system user itself then.
    run_as = ["--user=mysql"] if os.geteuid() == 0 else []
    if not (data / "mysql").is_dir():
        data.mkdir(parents=True, exist_ok=True)
        if run_as:
            shutil.chown(data, "mysql")
        say(f"initialising a private MariaDB in {data}")
        installed = subprocess.run(
            [install, f"--datadir={data}", "--auth-root-authentication-method=normal", "--skip-test-db",
             *run_as], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        if installed.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            last = installed.stdout.strip().splitlines()[-1:] or ["no output"]
            raise SystemExit(f"Could not initialise a private MariaDB in {data} ({install} said: {last[0]}); "
                             "set MYSQL_URL to a MySQL/MariaDB server instead.")
    sup.start(
        "private MariaDB",
        [server, "--no-defaults", f"--datadir={data}", f"--port={PRIVATE_MYSQL_PORT}", "--bind-address=127.0.0.1",
         f"--socket={socket_path}", f"--pid-file={data / 'mariadb.pid'}", "--skip-name-resolve",
         "--innodb-buffer-pool-size=64M", *run_as],
        env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"mysql://root@127.0.0.1:{PRIVATE_MYSQL_PORT}/"
    wait_for(lambda: mysql_problem(url) is None and socket_path.exists(), "private MariaDB", seconds=60)
    # The installer made root@localhost (the socket); the console connects over TCP to 127.0.0.1.
    subprocess.run(
        [client, "--no-defaults", f"--socket={socket_path}", "-uroot", "-e",
         "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';"
         " GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"],
        check=True, stdout=subprocess.DEVNULL,
    )
    return url


def _service_url(
    env: dict[str, str], variable: str, problem: Callable[[str], str | None], default_url: str,
    default_answers: Callable[[], bool], start_private: Callable[[], str],
) -> str:
    """The variable's URL if set (it must answer), else the default URL when something answers
    there, else the URL of a private server started now."""
    configured = env_optional(variable, environ=env)
    if configured:
        found = problem(configured)
        if found:
            raise SystemExit(found)
        return configured
    if default_answers():
        return default_url
    return start_private()


def resolve_mysql(sup: Supervisor, env: dict[str, str]) -> str:
    """MYSQL_URL if set (it must answer), else what answers on 3306, else a private MariaDB."""
    return _service_url(
        env, "MYSQL_URL", mysql_problem, DEFAULT_MYSQL_URL,
        lambda: port_open(3306) and mysql_problem(DEFAULT_MYSQL_URL) is None, lambda: start_private_mariadb(sup),
    )


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
    # The server is checked through its always-present `postgres` database: ours may not exist yet.
    database_url = _service_url(
        env, "DATABASE_URL", lambda url: postgres_problem(url.rsplit("/", 1)[0] + "/postgres"),
        DEFAULT_DATABASE_URL, lambda: port_open(5432), lambda: start_private_postgres(sup),
    )
    if database_name:
        database_url = database_url.rsplit("/", 1)[0] + "/" + database_name
    ensure_database_exists(database_url)

    redis_url = _service_url(
        env, "REDIS_URL", redis_problem, DEFAULT_REDIS_URL, lambda: port_open(6379), lambda: start_private_redis(sup),
    )

    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, MYSQL_URL=resolve_mysql(sup, env))
    if not env_optional("DEMO_LEDGER_URL", environ=env):
        env["DEMO_LEDGER_URL"] = database_url.rsplit("/", 1)[0] + "/mhc_demo_ledger"
    if not env_optional("DEMO_FX_LEDGER_URL", environ=env):
        env["DEMO_FX_LEDGER_URL"] = env["MYSQL_URL"].rstrip("/") + "/fx_deposits"
    return env


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], env=env, cwd=ROOT, check=False,
        stdout=subprocess.PIPE if capture else None, text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed (exit {result.returncode})")
    return (result.stdout or "").strip()


def _stop_on_signals() -> list[bool]:
    """A flag set by Ctrl-C or SIGTERM."""
    stopping = [False]

    def on_signal(signum, frame):
        stopping[0] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stopping


def _run_until_stopped(start: Callable[[Supervisor], None]) -> int:
    """Start what `start` starts under one supervisor, keep it running (restarting what crashes)
    until Ctrl-C or SIGTERM, then stop it all."""
    sup = Supervisor()
    stopping = _stop_on_signals()
    try:
        start(sup)
        say("Ctrl-C stops everything")
        return supervise_until_stopped(sup, lambda: stopping[0])
    finally:
        sup.stop_all()


def run_demo(args: argparse.Namespace) -> int:
    def start(sup: Supervisor) -> None:
        env = resolve_services(sup)
        env.setdefault("CONSOLE_ENV", "development")
        env["CONSOLE_BASE_URL"] = f"http://127.0.0.1:{args.port}"
        env["PORT"] = str(args.port)
        env.setdefault("LOG_LEVEL", "WARNING")  # the terminal shows what goes wrong, not every request
        if not env_optional("EMAIL_HOST", environ=env) and not env_optional("EMAIL_BACKEND", environ=env):
            # Demo alerts go to files rather than flooding this terminal.
            env["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
        manage(env, "migrate", "--noinput", "-v", "0")
        token = manage(env, "setup_demo", "--admin", ":".join(DEMO_ADMIN),
                       "--operator", ":".join(DEMO_OPERATOR), capture=True).splitlines()[-1]
        start_procfile(sup, env, read_procfile())
        sup.start("demo world", [PYTHON, "-m", "console.demo", "run", "--rate", str(args.rate),
                                 "--ledger-url", env["DEMO_LEDGER_URL"], "--fx-ledger-url", env["DEMO_FX_LEDGER_URL"],
                                 "--console-url", f"http://127.0.0.1:{args.port}", "--token", token],
                  env, restart=True)
        wait_for(lambda: port_open(args.port), "the web server")
        say(f"console: http://127.0.0.1:{args.port}/   log in as {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}"
            f"   (operator: {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]})")
        say("legacy ledger: http://127.0.0.1:8101   candidate ledger: http://127.0.0.1:8102")
        if env.get("EMAIL_BACKEND", "").endswith("filebased.EmailBackend"):
            say(f"alert e-mails are written to {env.get('EMAIL_FILE_PATH', STATE / 'mail')}/ (set EMAIL_HOST to send them)")

    return _run_until_stopped(start)


def run_supervise(args: argparse.Namespace) -> int:
    """The Procfile's processes (or the named ones), migrated first, restarted when they crash."""
    definitions = read_procfile(Path(args.procfile))
    unknown = set(args.names) - {d.name for d in definitions}
    if unknown:
        raise SystemExit(f"{args.procfile} defines no process named {', '.join(sorted(unknown))}")

    def start(sup: Supervisor) -> None:
        env = resolve_services(sup)
        manage(env, "migrate", "--noinput", "-v", "0")
        start_procfile(sup, env, [d for d in definitions if not args.names or d.name in args.names])

    return _run_until_stopped(start)


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
    supervise = sub.add_parser("supervise", help="run the Procfile's processes, restarting crashed ones")
    supervise.add_argument("names", nargs="*", help="only these Procfile processes (default: all)")
    supervise.add_argument("--procfile", default=str(ROOT / "Procfile"))
    bench = sub.add_parser("bench", help="run `manage.py benchmark` on a database of its own")
    bench.add_argument("benchmark_args", nargs="*", help="e.g. read --seconds 60")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["test"]:  # everything after `test` belongs to pytest, options included
        return run_tests(argparse.Namespace(pytest_args=argv[1:]))
    if argv[:1] == ["bench"]:
        return run_benchmark(argv[1:])
    args = parser.parse_args(argv)
    return run_supervise(args) if args.command == "supervise" else run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
