"""A wrong DATABASE_URL or an unreachable Redis is one clear sentence, not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

from console.services import postgres_problem, redis_problem

ROOT = Path(__file__).resolve().parents[2]


def test_unreachable_postgres_names_setting_and_address():
    problem = postgres_problem("postgresql://postgres@127.0.0.1:1/mhc", timeout_s=1)
    assert problem.startswith("DATABASE_URL: cannot use PostgreSQL at 127.0.0.1:1, database mhc")


def test_missing_database_names_it():
    problem = postgres_problem("postgresql://postgres@127.0.0.1:5432/no_such_db_mhc")
    assert "127.0.0.1:5432, database no_such_db_mhc" in problem
    assert "does not exist" in problem


def test_reachable_postgres_is_no_problem():
    assert postgres_problem("postgresql://postgres@127.0.0.1:5432/postgres") is None


def test_unreachable_redis_names_setting_and_address():
    problem = redis_problem("redis://127.0.0.1:1/0", timeout_s=0.5)
    assert problem.startswith("REDIS_URL: cannot reach Redis at 127.0.0.1:1")


def test_reachable_redis_is_no_problem():
    assert redis_problem("redis://127.0.0.1:6379/15") is None


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "console.settings", "CONSOLE_ENV": "development", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def test_manage_py_with_wrong_database_url_prints_one_sentence():
    result = _manage("migrate", "--check", DATABASE_URL="postgresql://postgres@127.0.0.1:1/mhc")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("DATABASE_URL: cannot use PostgreSQL at 127.0.0.1:1")


def test_non_postgres_database_url_is_refused_clearly():
    result = _manage("check", DATABASE_URL="mysql://root@127.0.0.1/x")
    assert result.returncode != 0
    assert "DATABASE_URL must be a postgresql:// URL" in result.stderr


def test_production_settings_pass_check_deploy():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        CONSOLE_ENV="production", SECRET_KEY="x" * 20 + "Yz-9_" * 10, ALLOWED_HOSTS="console.example.bank",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", CONSOLE_ENV="production", SECRET_KEY="", ALLOWED_HOSTS="console.example.bank")
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr
