"""What a NUMA sample body may hold, checked against one JSON Schema (pure; no Django).

SAMPLE_BODY_SCHEMA is both the validation of POST /api/v1/numa/samples and its OpenAPI request
schema (numa/api.py passes openapi_schema(SAMPLE_BODY_SCHEMA)), so the two cannot disagree. The few
rules a JSON Schema cannot say (a time not in the future, distinct node ids, a complete kubelet
reading) are checked after it, here too. The extras of the worker's own hourly measurement go
through the same EXTRAS_SCHEMA.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

import jsonschema_rs

from numa.conf import MAX_TOP_PROCESSES
from numa.kubelet import KUBELET_DEFAULTS, MAX_POLICY_LENGTH, POLICY_KEYS
from numa.sources import HostSample, NumaSourceError

# A sample stamped further ahead of the console's clock than this is refused (clock skew).
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_HOSTNAME_LENGTH = 253
# No whitespace, no "/" (the host page's URL), no NUL (PostgreSQL text cannot hold it).
HOSTNAME_PATTERN = r"^[^\s/\x00]{1,253}$"
MAX_EXTRAS = 20
MAX_CGROUPS_PER_SAMPLE = 5000
MAX_REASON_LENGTH = 500
MAX_SOURCE_LENGTH = 2000
# The kubelet reading travels with the extras (agent body "extras"), under this name.
KUBELET_EXTRA_NAME = "kubelet_configz"
# At most this many schema errors are named in one answer.
MAX_NAMED_ERRORS = 3
# ... out of at most this many read (a body of 5,000 bad cgroups need not be read to the end).
MAX_ERRORS_READ = 100


class NumaSampleError(ValueError):
    """A sample (from the API, the agent or a task) is malformed or cannot be stored."""


# --------------------------------------------------------------------------- the schemas

# PostgreSQL stores neither NUL in text nor \u0000 in jsonb: no string or key may hold one.
_NO_NUL = "^[^\\x00]*$"
_KEY = {"type": "string", "maxLength": 200, "pattern": _NO_NUL}


def _text(max_length: int, *, nullable: bool = False, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": ["string", "null"] if nullable else "string",
        "maxLength": max_length,
        "pattern": _NO_NUL,
    }
    if min_length:
        schema["minLength"] = min_length
    return schema


def _map_of(values: dict[str, Any], keys: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "propertyNames": keys or _KEY, "additionalProperties": values}


# Bounds keep every number inside what the kernel can report and the columns can hold.
MAX_CPU_ID = 2**20
_COUNTERS = _map_of({"type": "integer", "minimum": 0})
_IDS = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": MAX_CPU_ID}}
_DISTANCES = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255}}

_NODE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["node_id"],
    "properties": {
        "node_id": {"type": "integer", "minimum": 0, "maximum": 4095},
        "numastat": _COUNTERS,
        "meminfo_kb": _COUNTERS,
        "cpus": _IDS,
        "distance": _DISTANCES,
        "cpu_ticks": _COUNTERS,
    },
}
_PROCESS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["pid", "comm", "cpu_ticks", "last_cpu"],
    "properties": {
        "pid": {"type": "integer", "minimum": 1, "maximum": 2**31},
        "comm": _text(64),
        "cpu_ticks": {"type": "integer", "minimum": 0},
        "last_cpu": {"type": ["integer", "null"], "minimum": -1, "maximum": MAX_CPU_ID},
        # numa_preferred_nid is -1 when the process has no preferred node: signed integers.
        "sched_numa": _map_of({"type": "integer"}),
    },
}
_CGROUP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": _text(1000, min_length=1),
        "memory_stat": _COUNTERS,
        # item -> {node id: bytes}
        "numa_stat_bytes": _map_of(
            _map_of({"type": "integer"}, keys={"type": "string", "pattern": "^[0-9]{1,4}$"})
        ),
        "cpus_effective": {**_IDS, "type": ["array", "null"]},
        "mems_effective": {**_IDS, "type": ["array", "null"]},
    },
}
HOST_SAMPLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "numa.sources.HostSample.to_dict(); wall_time_s at most 5 minutes ahead of "
    "the console's clock, node ids distinct.",
    "additionalProperties": False,
    "required": [
        "monotonic_s",
        "wall_time_s",
        "hostname",
        "boot_id",
        "user_hz",
        "page_size_bytes",
        "numa_balancing",
    ],
    "properties": {
        "monotonic_s": {"type": "number", "minimum": 0, "maximum": 1e12},
        # Up to the year 5138: later times cannot be a datetime (and are refused as future).
        "wall_time_s": {"type": "number", "minimum": 0, "maximum": 1e11},
        "hostname": {"type": "string", "pattern": HOSTNAME_PATTERN},
        "boot_id": _text(100, nullable=True),
        "user_hz": {"type": "integer", "minimum": 1, "maximum": 10**6},
        "page_size_bytes": {"type": "integer", "minimum": 1, "maximum": 2**30},
        "numa_balancing": {"type": ["integer", "null"], "minimum": 0, "maximum": 255},
        "nodes": {"type": "array", "maxItems": 1024, "items": _NODE},
        "vmstat": _COUNTERS,
        "host_cpu_ticks": _COUNTERS,
        "online_cpus": {"type": "integer", "minimum": 0, "maximum": MAX_CPU_ID},
        "processes": {"type": "array", "maxItems": MAX_TOP_PROCESSES, "items": _PROCESS},
        "cgroups": {"type": "array", "maxItems": MAX_CGROUPS_PER_SAMPLE, "items": _CGROUP},
        "unavailable": _map_of(_text(MAX_REASON_LENGTH)),
    },
}
_EXTRA = {
    "type": "object",
    "description": "One eBPF/perf extra; other keys are ignored.",
    "properties": {
        "available": {"type": "boolean"},
        "reason": _text(100_000, nullable=True),
        "tool": _text(100_000, nullable=True),
        "values": _map_of({"type": "number"}),
    },
}
KUBELET_READING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "numa.kubelet.KubeletPolicies.to_dict(); an available reading names every "
    "policy.",
    "required": ["available"],
    "properties": {
        "available": {"type": "boolean"},
        "source": _text(MAX_SOURCE_LENGTH, nullable=True),
        "reason": _text(100_000, nullable=True),
        "policies": {
            **_map_of(
                _text(MAX_POLICY_LENGTH, min_length=1),
                keys={"type": "string", "enum": list(POLICY_KEYS)},
            ),
            "type": ["object", "null"],
        },
        "defaulted": {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": list(KUBELET_DEFAULTS)},
        },
        "details": {**_map_of(_text(100_000)), "type": ["object", "null"]},
    },
}
EXTRAS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "name -> {available, reason, tool, values}; the kubelet reading under "
    f"{KUBELET_EXTRA_NAME!r}.",
    "maxProperties": MAX_EXTRAS,
    "propertyNames": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": _NO_NUL},
    "properties": {KUBELET_EXTRA_NAME: KUBELET_READING_SCHEMA},
    "additionalProperties": _EXTRA,
}
SAMPLE_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sample"],
    "properties": {
        "sample": HOST_SAMPLE_SCHEMA,
        "work_total": {
            "type": ["number", "null"],
            "maximum": 1e300,
            "minimum": -1e300,
            "description": "Cumulative work counter",
        },
        "extras": EXTRAS_SCHEMA,
    },
}

_SAMPLE_BODY = jsonschema_rs.validator_for(SAMPLE_BODY_SCHEMA)
_EXTRAS = jsonschema_rs.validator_for(EXTRAS_SCHEMA)
_KUBELET_READING = jsonschema_rs.validator_for(KUBELET_READING_SCHEMA)


def _where(prefix: str, path: Any) -> str:
    where = prefix
    for part in path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where


def _check(validator: Any, instance: Any, prefix: str) -> None:
    """NumaSampleError naming the first few places where instance breaks the schema, the
    outermost first (an unknown top-level field before what it lacks inside)."""
    errors = sorted(
        itertools.islice(validator.iter_errors(instance), MAX_ERRORS_READ),
        key=lambda error: len(error.instance_path),
    )
    if errors:
        raise NumaSampleError(
            "; ".join(
                f"{_where(prefix, error.instance_path)}: {error.message}"
                for error in errors[:MAX_NAMED_ERRORS]
            )
        )


def openapi_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema in OpenAPI 3.0's dialect: ["x", "null"] types become nullable, and
    propertyNames (not in 3.0) is left out. Only the spelling changes."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        result = {key: convert(value) for key, value in node.items() if key != "propertyNames"}
        kind = node.get("type")
        if isinstance(kind, list) and "null" in kind:
            (result["type"],) = [item for item in kind if item != "null"]
            result["nullable"] = True
        return result

    return convert(copy.deepcopy(schema))


# --------------------------------------------------------------------------- samples


def sample_time(sample: HostSample) -> datetime:
    """The sample's wall time, aware UTC, to the microsecond (the idempotency key)."""
    return datetime.fromtimestamp(round(sample.wall_time_s, 6), tz=dt_timezone.utc)


def validate_sample(sample: HostSample, *, now: datetime) -> None:
    """The rules a schema cannot say, and the identity every stored sample needs: raise
    NumaSampleError when a sample cannot be a real collection of a host.

    The worker's own typed samples get only these (checking 300 cgroups again would cost ~10 ms
    per sample); posted ones pass SAMPLE_BODY_SCHEMA first.
    """
    hostname = sample.hostname
    if not isinstance(hostname, str) or not re.fullmatch(HOSTNAME_PATTERN, hostname):
        raise NumaSampleError(
            f"hostname must be 1 to {MAX_HOSTNAME_LENGTH} characters without whitespace or '/', "
            f"got {hostname!r}"
        )
    for name in ("wall_time_s", "monotonic_s"):
        value = getattr(sample, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise NumaSampleError(f"{name} must be a non-negative number, got {value!r}")
    try:
        at = sample_time(sample)
    except (OverflowError, ValueError, OSError):
        raise NumaSampleError(f"wall_time_s {sample.wall_time_s} is not a time") from None
    if at > now + MAX_FUTURE_SKEW:
        raise NumaSampleError(
            f"wall_time_s {sample.wall_time_s} is more than 5 minutes in the future"
        )
    node_ids = [node.node_id for node in sample.nodes]
    if len(set(node_ids)) != len(node_ids):
        raise NumaSampleError(f"node ids must be distinct, got {node_ids}")


def check_work_total(work_total: Any) -> None:
    if work_total is None:
        return
    try:
        finite = (
            isinstance(work_total, (int, float))
            and not isinstance(work_total, bool)
            and math.isfinite(float(work_total))
        )
    except (TypeError, ValueError, OverflowError):
        finite = False
    if not finite:
        raise NumaSampleError(f"work_total must be a finite number, got {str(work_total)[:40]}")


def sample_body(body: Any, *, now: datetime) -> tuple[HostSample, float | None, Any]:
    """(sample, work_total, extras or None) from an untrusted POST body, every rule checked."""
    if not isinstance(body, dict):
        raise NumaSampleError("body must be a JSON object")
    _check(_SAMPLE_BODY, body, "body")
    try:
        sample = HostSample.from_dict(body["sample"])
    except NumaSourceError as error:
        raise NumaSampleError(str(error)) from None
    validate_sample(sample, now=now)
    return sample, body.get("work_total"), body.get("extras")


# --------------------------------------------------------------------------- extras


def _clean_extra(entry: dict[str, Any]) -> dict[str, Any]:
    """One extra as stored: its known keys only, texts cut to their limits."""
    cleaned: dict[str, Any] = {}
    if "available" in entry:
        cleaned["available"] = entry["available"]
    for key, limit in (("reason", MAX_REASON_LENGTH), ("tool", 64)):
        if key in entry:
            cleaned[key] = entry[key][:limit] if entry[key] else entry[key]
    if "values" in entry:
        cleaned["values"] = dict(entry["values"])
    return cleaned


def clean_kubelet_reading(reading: Any) -> dict[str, Any]:
    """A kubelet reading (numa.kubelet.KubeletPolicies.to_dict(), maybe from the API), checked."""
    where = f"extras.{KUBELET_EXTRA_NAME}"
    _check(_KUBELET_READING, reading, where)
    policies = reading.get("policies") or {}
    if reading["available"] and set(policies) != set(POLICY_KEYS):
        raise NumaSampleError(
            f"{where}: an available reading needs all of {', '.join(POLICY_KEYS)}"
        )
    reason = reading.get("reason")
    details = reading.get("details") or {}
    return {
        "available": reading["available"],
        "source": reading.get("source") or "",
        "policies": dict(policies),
        "defaulted": list(reading.get("defaulted") or []),
        "details": {key: value[:MAX_POLICY_LENGTH] for key, value in list(details.items())[:10]},
        "reason": reason[:MAX_REASON_LENGTH] if reason else None,
    }


def split_extras(extras: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(eBPF/perf extras, kubelet reading or None) from an extras object, both checked."""
    _check(_EXTRAS, extras, "extras")
    kubelet_reading: dict[str, Any] | None = None
    cleaned: dict[str, Any] = {}
    for name, entry in extras.items():
        if name == KUBELET_EXTRA_NAME:
            kubelet_reading = clean_kubelet_reading(entry)
        else:
            cleaned[name] = _clean_extra(entry)
    return cleaned, kubelet_reading


def extras_from_measurements(
    measurements: dict[str, Any], statuses: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """numa.extras.measure_extras() (+ probe_extras() for the tool) as JSON:
    name -> {available, reason, tool, values}."""
    statuses = statuses or {}
    result: dict[str, dict[str, Any]] = {}
    for name, measurement in measurements.items():
        status = statuses.get(name)
        result[name] = {
            "available": bool(measurement.available),
            "reason": measurement.reason,
            "tool": getattr(status, "tool", None) if measurement.available else None,
            "values": {key: float(value) for key, value in measurement.values.items()},
        }
    return result


def extras_as_dict(statuses: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """numa.extras.probe_extras() result as JSON: name -> {available, reason, tool}."""
    return {
        name: {
            key: value
            for key, value in asdict(status).items()
            if key in ("available", "reason", "tool")
        }
        for name, status in statuses.items()
    }
