"""Settings are the only reader of the environment; the readers refuse bad values by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from console.config import (
    ConfigError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_str,
    env_url,
    secret_from_environment,
)

ROOT = Path(__file__).resolve().parents[2]
# The typed readers, and the two settings modules that call them.
READERS = {"console/config.py", "console/settings.py", "console/test_settings.py"}
SKIPPED_DIRS = {".venv", ".state", ".git", "node_modules", "staticfiles", "artifacts"}


def _python_files() -> list[Path]:
    return [
        path for path in ROOT.rglob("*.py")
        if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts)
    ]


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and (
        isinstance(node.value, ast.Name) and node.value.id == "os"
    )


def _allowed_uses(tree: ast.AST) -> set[int]:
    """ids of os.environ nodes used in ways that read no configuration.

    Copying the whole environment for a child process (`dict(os.environ)`, `{**os.environ}`) and
    naming the settings module (`os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)`) are fine.
    """
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            allowed.update(id(arg) for arg in node.args if _is_os_environ(arg))
        elif isinstance(node, ast.Dict):
            allowed.update(id(v) for k, v in zip(node.keys, node.values) if k is None and _is_os_environ(v))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "setdefault" and _is_os_environ(node.func.value)
              and node.args and isinstance(node.args[0], ast.Constant)
              and node.args[0].value == "DJANGO_SETTINGS_MODULE"):
            allowed.add(id(node.func.value))
    return allowed


def environment_reads(source: str) -> list[int]:
    """Line numbers where `source` reads the environment other than in the allowed ways."""
    tree = ast.parse(source)
    allowed = _allowed_uses(tree)
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_os_environ(node) and id(node) not in allowed:
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr in {"getenv", "getenvb", "environb"}:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and any(
            alias.name in {"environ", "getenv", "environb", "getenvb"} for alias in node.names
        ):
            lines.append(node.lineno)
    return sorted(lines)


def test_only_settings_read_the_environment():
    offenders = []
    for path in _python_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative in READERS:
            continue
        offenders += [f"{relative}:{line}" for line in environment_reads(path.read_text())]
    assert not offenders, (
        "read environment variables in console/settings.py (through console/config.py) and use "
        f"django.conf.settings instead: {offenders}"
    )


def test_the_scan_sees_each_way_of_reading():
    source = (
        "import os\nfrom os import environ\n"
        "a = os.environ.get('X')\nb = os.environ['Y']\nc = os.getenv('Z')\n"
        "child = dict(os.environ)\nmerged = {**os.environ, 'A': '1'}\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'console.settings')\n"
        "os.environ.setdefault('OTHER', '1')\n"
    )
    assert environment_reads(source) == [2, 3, 4, 5, 9]


def test_readers_take_defaults_for_unset_and_empty():
    environ = {"EMPTY": "  "}
    assert env_str("MISSING", "d", environ=environ) == "d"
    assert env_str("EMPTY", "d", environ=environ) == "d"
    assert env_optional("EMPTY", environ=environ) is None
    assert env_int("MISSING", 7, environ=environ) == 7
    assert env_float("MISSING", 1.5, environ=environ) == 1.5
    assert env_bool("MISSING", True, environ=environ) is True
    assert env_list("MISSING", ["a"], environ=environ) == ["a"]


def test_readers_parse_good_values():
    environ = {"N": "42", "F": "0.25", "B": "Off", "L": " a, b ,,c ", "U": "mysql://root@h:3306/"}
    assert env_int("N", 0, minimum=1, maximum=50, environ=environ) == 42
    assert env_float("F", 0.0, environ=environ) == 0.25
    assert env_bool("B", True, environ=environ) is False
    assert env_list("L", [], environ=environ) == ["a", "b", "c"]
    assert env_url("U", "", ("mysql",), environ=environ) == "mysql://root@h:3306/"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda e: env_int("RETRIES", 1, environ=e), "RETRIES='abc' is not a whole number"),
        (lambda e: env_int("DAYS", 1, minimum=1, environ={"DAYS": "0"}), "DAYS='0' must be at least 1"),
        (lambda e: env_int("TOP", 1, maximum=50, environ={"TOP": "500"}), "TOP='500' must be at most 50"),
        (lambda e: env_float("RATIO", 1.0, environ=e), "RATIO='abc' is not a number"),
        (lambda e: env_float("RATIO", 1.0, environ={"RATIO": "nan"}), "RATIO='nan' is not a finite number"),
        (lambda e: env_bool("VERBOSE", False, environ=e), "VERBOSE='abc' is not a boolean"),
        (lambda e: env_url("MYSQL_URL", "", ("mysql",), environ={"MYSQL_URL": "http://x"}),
         "MYSQL_URL must be a mysql:// URL, got http://"),
        (lambda e: secret_from_environment("LEDGER_DSN", environ={}), "Environment variable LEDGER_DSN is not set"),
    ],
)
def test_readers_refuse_bad_values_naming_the_variable(call, message):
    with pytest.raises(ConfigError) as caught:
        call({"RETRIES": "abc", "RATIO": "abc", "VERBOSE": "abc"})
    assert message in str(caught.value)


def test_settings_refuse_a_bad_value_in_one_sentence():
    import subprocess
    import sys

    environment = {"PATH": "/usr/bin:/bin", "CONSOLE_ENV": "development", "SAMPLE_RETENTION_DAYS": "0",
                   "DJANGO_SETTINGS_MODULE": "console.settings"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == "SAMPLE_RETENTION_DAYS='0' must be at least 1"


def test_log_level_is_read_in_either_case():
    # The Procfile passes ${LOG_LEVEL:-info} to gunicorn, which takes lower case; Python's logging
    # takes only upper case names: one value must suit both.
    import subprocess
    import sys

    environment = {"PATH": "/usr/bin:/bin", "CONSOLE_ENV": "development", "LOG_LEVEL": "warning",
                   "DJANGO_SETTINGS_MODULE": "console.settings"}
    result = subprocess.run([sys.executable, "-c", "import django, logging; django.setup(); "
                             "print(logging.getLevelName(logging.getLogger().level))"],
                            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "WARNING"
