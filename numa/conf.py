"""NUMA collection and retention knobs: Django settings of these names (console/settings.py reads
them from environment variables of the same names), checked here where they are used.

Whole numbers (numa_setting):
NUMA_COLLECT_INTERVAL_SECONDS   how often beat asks each host to collect (default 10)
NUMA_SILENT_AFTER_INTERVALS     intervals without a sample before a host is silent (default 3)
NUMA_RAW_RETENTION_HOURS        raw 10-second samples kept (default 48)
NUMA_MINUTE_RETENTION_DAYS      per-minute roll-ups kept (default 14)
NUMA_HOUR_RETENTION_DAYS        per-hour roll-ups kept (default 400: a year of weekly comparisons)
NUMA_EXTRAS_SECONDS             length of the hourly eBPF/perf measurement (default 2)

Counts that may be 0 (numa_count_setting):
NUMA_TOP_PROCESSES              top processes by CPU read with their NUMA fields (default 5; 0: off)

Text (numa_text_setting; empty means unset):
NUMA_CGROUP_ROOT                cgroup v2 tree read per container; unset: /sys/fs/cgroup when
                                that is a cgroup v2 mount, else off; "off" turns it off
NUMA_KUBELET_CONFIGZ_URL        kubelet configz (https://127.0.0.1:10250/configz) or a JSON file
NUMA_KUBELET_TOKEN_FILE         file holding the bearer token for that URL (optional)
NUMA_KUBELET_CA_FILE            CA bundle that signed the kubelet's serving certificate (optional)
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

DEFAULTS: dict[str, int] = {
    "NUMA_COLLECT_INTERVAL_SECONDS": 10,
    "NUMA_SILENT_AFTER_INTERVALS": 3,
    "NUMA_RAW_RETENTION_HOURS": 48,
    "NUMA_MINUTE_RETENTION_DAYS": 14,
    "NUMA_HOUR_RETENTION_DAYS": 400,
    "NUMA_EXTRAS_SECONDS": 2,
}
COUNT_DEFAULTS: dict[str, int] = {"NUMA_TOP_PROCESSES": 5}
TEXT_SETTINGS: tuple[str, ...] = (
    "NUMA_CGROUP_ROOT",
    "NUMA_KUBELET_CONFIGZ_URL",
    "NUMA_KUBELET_TOKEN_FILE",
    "NUMA_KUBELET_CA_FILE",
)
DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup"
# Upper bound for NUMA_TOP_PROCESSES: each one costs a /proc/PID/sched read every sample.
MAX_TOP_PROCESSES = 50
CGROUP_OFF_WORDS = frozenset({"off", "none", "no", "false", "0"})


class NumaConfigError(ValueError):
    """A NUMA_* setting is unknown or its value is not usable."""


def _raw_value(name: str) -> object:
    """The Django setting of that name, or None when unset or empty (the default applies)."""
    from django.conf import settings

    value = getattr(settings, name, None)
    return None if value in (None, "") else value


def _whole_number(name: str, value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise NumaConfigError(f"{name}={value!r} is not a whole number") from None


def _known_raw_value(name: str, known: Collection[str], kind: str) -> object:
    """_raw_value() of a knob this module declares as `kind`; a misspelt name fails loudly."""
    if name not in known:
        raise NumaConfigError(f"unknown NUMA {kind} {name!r}")
    return _raw_value(name)


def _whole_setting(name: str, defaults: Mapping[str, int], kind: str) -> int:
    value = _known_raw_value(name, defaults, kind)
    return _whole_number(name, defaults[name] if value is None else value)


def numa_setting(name: str) -> int:
    """The value of one positive NUMA_* knob: Django setting, else environment, else the default."""
    number = _whole_setting(name, DEFAULTS, "setting")
    if number <= 0:
        raise NumaConfigError(f"{name}={number} must be positive")
    return number


def numa_count_setting(name: str) -> int:
    """A NUMA_* count that may be 0 (turns the feature off), bounded above."""
    number = _whole_setting(name, COUNT_DEFAULTS, "count setting")
    if not 0 <= number <= MAX_TOP_PROCESSES:
        raise NumaConfigError(f"{name}={number} must be between 0 and {MAX_TOP_PROCESSES}")
    return number


def numa_text_setting(name: str) -> str:
    """A textual NUMA_* knob, stripped; "" when unset."""
    value = _known_raw_value(name, TEXT_SETTINGS, "text setting")
    return "" if value is None else str(value).strip()


def is_cgroup_v2_root(path: str) -> bool:
    """True when `path` is a cgroup v2 directory (it has cgroup.controllers; the v1 tmpfs that
    holds one directory per controller at /sys/fs/cgroup has not)."""
    return os.path.isfile(os.path.join(path, "cgroup.controllers"))


def cgroup_root() -> str | None:
    """The cgroup v2 root to read per container, or None (off).

    Unset: /sys/fs/cgroup when it is a cgroup v2 mount (a v1 or hybrid host reads nothing);
    "off" (or none/no/false/0): None; anything else: that path, as given (the collector reports
    a path that is not a directory as not available rather than failing the sample).
    """
    configured = numa_text_setting("NUMA_CGROUP_ROOT")
    if not configured:
        return DEFAULT_CGROUP_ROOT if is_cgroup_v2_root(DEFAULT_CGROUP_ROOT) else None
    if configured.lower() in CGROUP_OFF_WORDS:
        return None
    return configured
