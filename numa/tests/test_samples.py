"""What a NUMA sample body may hold (numa/samples.py): pure, no database."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import jsonschema_rs
import pytest

from numa import samples
from numa.placement import compact_sample
from numa.sources import HostSample
from numa.tests.helpers import MALFORMED_BODIES, fake_measurements, fake_statuses, fixture_sample

NOW = datetime.now(timezone.utc)
# Samples are stamped from NOW, not from the clock: a long suite run must not age NOW past the
# five-minute future skew the validator allows.
STAMPED = NOW.timestamp() - 60


def _body(**changes: object) -> dict:
    body = {"sample": json.loads(json.dumps(fixture_sample("one_node", wall_time_s=STAMPED).to_dict()))}
    body.update(changes)
    return body


def test_a_collected_sample_is_a_valid_body() -> None:
    body = _body(work_total=5.0)
    sample, work_total, extras = samples.sample_body(body, now=NOW)
    assert sample == HostSample.from_dict(body["sample"])
    assert work_total == 5.0 and extras is None


@pytest.mark.parametrize(("body", "message"), MALFORMED_BODIES)
def test_malformed_bodies_name_what_is_wrong(body: object, message: str) -> None:
    with pytest.raises(samples.NumaSampleError, match=re.escape(message)):
        samples.sample_body(body, now=NOW)


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("surprise", 1, "'surprise' was unexpected"),
        ("vmstat", {"numa_hit": -5}, r"body.sample.vmstat.numa_hit: -5 is less than the minimum"),
        ("hostname", "a/b", "body.sample.hostname"),
        ("hostname", "a\x00b", "body.sample.hostname"),
        ("boot_id", "x\x00", "body.sample.boot_id"),
        ("unavailable", {"nodes\x00": "why"}, "body.sample.unavailable"),
        ("user_hz", True, "body.sample.user_hz"),
    ],
)
def test_each_field_of_the_sample_is_checked_and_named(where: str, value: object, message: str) -> None:
    body = _body()
    body["sample"][where] = value
    with pytest.raises(samples.NumaSampleError, match=message):
        samples.sample_body(body, now=NOW)


def test_unknown_field_inside_a_node_is_named() -> None:
    body = _body()
    body["sample"]["nodes"][0]["mystery"] = 3
    with pytest.raises(samples.NumaSampleError, match=r"body.sample.nodes\[0\].*mystery"):
        samples.sample_body(body, now=NOW)


def test_work_total_must_be_a_number() -> None:
    with pytest.raises(samples.NumaSampleError, match="work_total"):
        samples.sample_body(_body(work_total="lots"), now=NOW)


def test_sample_from_the_future_is_refused() -> None:
    sample = fixture_sample("one_node", wall_time_s=NOW.timestamp() + 3600)
    with pytest.raises(samples.NumaSampleError, match="future"):
        samples.validate_sample(sample, now=NOW)


def test_hostname_with_a_slash_is_refused_on_typed_samples_too() -> None:
    sample = fixture_sample("one_node", wall_time_s=STAMPED)
    sample.hostname = "a/b"
    with pytest.raises(samples.NumaSampleError, match="hostname"):
        samples.validate_sample(sample, now=NOW)


def test_duplicate_node_ids_are_refused() -> None:
    sample = fixture_sample("two_node", wall_time_s=STAMPED)
    sample.nodes[1].node_id = sample.nodes[0].node_id
    with pytest.raises(samples.NumaSampleError, match="distinct"):
        samples.validate_sample(sample, now=NOW)


def test_compact_counters_round_trip_and_drop_topology() -> None:
    sample = fixture_sample("two_node", wall_time_s=STAMPED)
    compact = compact_sample(sample)
    assert "meminfo_kb" not in compact["nodes"][0]
    restored = HostSample.from_dict(compact)
    assert restored.nodes[1].numastat == sample.nodes[1].numastat


# ------------------------------------------------------------------ one schema, two uses


def test_the_openapi_schema_is_the_validation_schema_in_openapi_spelling() -> None:
    documented = samples.openapi_schema(samples.SAMPLE_BODY_SCHEMA)
    text = json.dumps(documented)
    assert "propertyNames" not in text and '"null"' not in text
    work_total = documented["properties"]["work_total"]
    assert work_total["type"] == "number" and work_total["nullable"] is True
    # Same fields, same requirements: only the spelling of nullable types changed.
    sample = documented["properties"]["sample"]
    assert sample["required"] == samples.HOST_SAMPLE_SCHEMA["required"]
    assert set(sample["properties"]) == set(samples.HOST_SAMPLE_SCHEMA["properties"])


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema_rs.meta.validate(samples.SAMPLE_BODY_SCHEMA)


# ------------------------------------------------------------------ extras and kubelet readings


@pytest.mark.parametrize(
    ("reading", "message"),
    [
        ("static", "is not of type \"object\""),
        ({"available": "yes"}, "available: \"yes\" is not of type \"boolean\""),
        ({"available": True, "policies": {"cpuManagerPolicy": "static"}}, "needs all of"),
        ({"available": False, "policies": {"madeUpPolicy": "x"}}, "policies"),
    ],
)
def test_malformed_kubelet_reading_is_refused_with_what_is_wrong(
    reading: object, message: str
) -> None:
    with pytest.raises(samples.NumaSampleError, match=message):
        samples.split_extras({samples.KUBELET_EXTRA_NAME: reading})


def test_measurements_become_json_with_values_and_reasons() -> None:
    extras = samples.extras_from_measurements(fake_measurements(), fake_statuses())
    assert extras["perf_node_loads"] == {
        "available": True,
        "reason": None,
        "tool": "perf",
        "values": {"node_loads_per_s": 1000.0, "remote_load_share": 0.25},
    }
    assert extras["migrate_misplaced_time"]["reason"] == "not available: bpftrace not on PATH"
    assert json.loads(json.dumps(extras)) == extras
    cleaned, kubelet = samples.split_extras(extras)
    assert cleaned == extras and kubelet is None


@pytest.mark.parametrize(
    ("extras", "message"),
    [
        ({"perf": "yes"}, "extras.perf: \"yes\" is not of type \"object\""),
        ({"perf": {"available": 1}}, "extras.perf.available"),
        ({"perf": {"values": {"x": float("nan")}}}, "extras.perf.values.x"),
        ({"perf": {"reason": "a\x00"}}, "extras.perf.reason"),
        ({f"e{index}": {} for index in range(30)}, "more than 20 properties"),
    ],
)
def test_malformed_extras_are_refused(extras: dict, message: str) -> None:
    with pytest.raises(samples.NumaSampleError, match=message):
        samples.split_extras(extras)


def test_extras_keep_known_keys_and_cut_long_reasons() -> None:
    cleaned, _ = samples.split_extras({"perf": {"reason": "x" * 900, "other": 1}})
    assert cleaned == {"perf": {"reason": "x" * samples.MAX_REASON_LENGTH}}


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("wall_time_s", 1e300),
        ("numa_balancing", 2**80),
        ("user_hz", 1e300),
        ("online_cpus", -1),
    ],
)
def test_numbers_beyond_what_a_kernel_reports_are_refused(where: str, value: object) -> None:
    body = _body()
    body["sample"][where] = value
    with pytest.raises(samples.NumaSampleError, match=f"body.sample.{where}"):
        samples.sample_body(body, now=NOW)


@pytest.mark.parametrize("value", [10**400, float("inf"), "5", True])
def test_work_total_beyond_a_float_is_refused(value: object) -> None:
    with pytest.raises(samples.NumaSampleError, match="work_total"):
        samples.check_work_total(value)
