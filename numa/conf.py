"""NUMA collection and retention knobs: defaults in code, each overridable by an environment
variable of the same name (or a Django setting of that name, which wins, for tests).

NUMA_COLLECT_INTERVAL_SECONDS   how often beat asks each host to collect (default 10)
NUMA_SILENT_AFTER_INTERVALS     intervals without a sample before a host is silent (default 3)
NUMA_RAW_RETENTION_HOURS        raw 10-second samples kept (default 48)
NUMA_MINUTE_RETENTION_DAYS      per-minute roll-ups kept (default 14)
NUMA_HOUR_RETENTION_DAYS        per-hour roll-ups kept (default 400: a year of weekly comparisons)
"""

from __future__ import annotations

import os

DEFAULTS: dict[str, int] = {
    "NUMA_COLLECT_INTERVAL_SECONDS": 10,
    "NUMA_SILENT_AFTER_INTERVALS": 3,
    "NUMA_RAW_RETENTION_HOURS": 48,
    "NUMA_MINUTE_RETENTION_DAYS": 14,
    "NUMA_HOUR_RETENTION_DAYS": 400,
}


class NumaConfigError(ValueError):
    """A NUMA_* setting is not a positive whole number."""


def numa_setting(name: str) -> int:
    """The value of one NUMA_* knob: Django setting, else environment, else the default."""
    if name not in DEFAULTS:
        raise NumaConfigError(f"unknown NUMA setting {name!r}")
    value: object = None
    try:
        from django.conf import settings

        if settings.configured:
            value = getattr(settings, name, None)
    except ImportError:  # used from the Django-free schedule module
        value = None
    if value is None:
        value = os.environ.get(name) or DEFAULTS[name]
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise NumaConfigError(f"{name}={value!r} is not a whole number") from None
    if number <= 0:
        raise NumaConfigError(f"{name}={number} must be positive")
    return number
