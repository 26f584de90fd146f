"""Typed readers of environment variables: the one place the console reads its environment.

Only console/settings.py (and console/test_settings.py) call them, so every variable is declared,
typed and defaulted in settings, and code reads `django.conf.settings`. The one exception is
secret_from_environment(): a DSN secret is named by an environment variable in the admin
(`dsn_env_var`), so its name is only known at run time. A bad value is refused with a message that
names the variable. Plain Python: no Django import, so the launcher can use it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TypeVar

_Number = TypeVar("_Number", int, float)


class ConfigError(ValueError):
    """An environment variable is missing or its value is not usable (the message names it)."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(name)
    return None if value is None or value.strip() == "" else value.strip()


def env_str(name: str, default: str, *, environ: Mapping[str, str] | None = None) -> str:
    """The variable's text, or `default` when unset or empty."""
    value = _raw(name, environ)
    return default if value is None else value


def env_optional(name: str, *, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's text, or None when unset or empty."""
    return _raw(name, environ)


def _parsed(
    name: str, environ: Mapping[str, str] | None, parse: Callable[[str], _Number], what: str,
) -> tuple[str, _Number] | None:
    """The variable's text and its value by `parse`, or None when unset or empty."""
    value = _raw(name, environ)
    if value is None:
        return None
    try:
        return value, parse(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not {what}") from None


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """A whole number within [minimum, maximum] (each bound optional)."""
    parsed = _parsed(name, environ, int, "a whole number")
    if parsed is None:
        return default
    value, number = parsed
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={value!r} must be at least {minimum}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"{name}={value!r} must be at most {maximum}")
    return number


def env_float(
    name: str, default: float, *, minimum: float | None = None, environ: Mapping[str, str] | None = None,
) -> float:
    """A finite number, at least `minimum` when given."""
    parsed = _parsed(name, environ, float, "a number")
    if parsed is None:
        return default
    value, number = parsed
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name}={value!r} is not a finite number")
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name}={value!r} must be at least {minimum:g}")
    return number


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool, *, environ: Mapping[str, str] | None = None) -> bool:
    """true/false (also 1/0, yes/no, on/off), any case."""
    value = _raw(name, environ)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean (use true or false)")


def env_list(name: str, default: list[str], *, environ: Mapping[str, str] | None = None) -> list[str]:
    """A comma-separated list, items stripped, empty items dropped."""
    value = _raw(name, environ)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(
    name: str, default: str, schemes: tuple[str, ...], *, environ: Mapping[str, str] | None = None,
) -> str:
    """A URL whose scheme is one of `schemes` (e.g. ("postgresql", "postgres"))."""
    value = env_str(name, default, environ=environ)
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in schemes:  # the first scheme is the usual spelling; the others are aliases
        raise ConfigError(f"{name} must be a {schemes[0]}:// URL, got {scheme + '://' if scheme else repr(value)}")
    return value


def secret_from_environment(name: str, *, environ: Mapping[str, str] | None = None) -> str:
    """The secret (a DSN with its password) held by the environment variable `name`.

    Secrets are named in the admin, never stored, so they are read when used rather than at start.
    """
    value = _raw(name, environ)
    if value is None:
        raise ConfigError(f"Environment variable {name} is not set.")
    return value
