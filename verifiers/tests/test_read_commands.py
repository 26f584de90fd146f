"""`manage.py replay FILE` and `manage.py apply_config FILE` run for real (Redis, PostgreSQL)."""

from __future__ import annotations

import io
import json
import re
from datetime import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.core.management import CommandError, call_command

from verifiers.models import Route, System, WriteTableRule
from verifiers.read import stream
from verifiers.read.samplefiles import SampleFileError, read_sample_file

FIXTURES = Path(__file__).resolve().parent / "fixtures"

pytestmark = pytest.mark.django_db


# --- replay -------------------------------------------------------------------------------------


def replay(path: Path, *args: str) -> tuple[str, str]:
    """Run `replay` quietly (no progress bar); (stdout, stderr) of the command."""
    out, err = io.StringIO(), io.StringIO()
    call_command("replay", str(path), *args, verbosity=0, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def queued(redis_client) -> list[tuple[str, dict[str, Any]]]:
    """(sample id field, decoded sample) of every entry in the read stream, oldest first."""
    return [(fields[b"id"].decode(), orjson.loads(fields[b"sample"]))
            for _, fields in redis_client.xrange(stream.STREAM_KEY)]


def totals(stdout: str) -> tuple[int, int, int]:
    match = re.search(r"accepted (\d+), duplicates (\d+), rejected (\d+)", stdout)
    assert match, stdout
    return int(match[1]), int(match[2]), int(match[3])


def test_replaying_jsonl_queues_the_good_samples_under_their_own_ids(redis_client):
    stdout, _ = replay(FIXTURES / "read_samples.jsonl")
    assert totals(stdout) == (2, 0, 2)
    entries = queued(redis_client)
    assert [sample_id for sample_id, _ in entries] == ["s-1", "s-2"]
    assert [sample["id"] for _, sample in entries] == ["s-1", "s-2"]  # the field and the payload agree
    assert entries[0][1]["request"]["path"] == "/accounts/1/balance"
    assert entries[0][1]["legacy"]["body"] == '{"balance":"10.00"}'


def test_replaying_jsonl_names_the_bad_lines_and_why(redis_client):
    _, stderr = replay(FIXTURES / "read_samples.jsonl")
    assert "read_samples.jsonl line 3: not JSON" in stderr
    # line 4 is JSON but its path is a full URL: refused, the replay host comes from a System only
    assert re.search(r"4: request\.path must be a path", stderr), stderr


def test_replaying_the_same_file_again_counts_duplicates_and_queues_nothing(redis_client):
    replay(FIXTURES / "read_samples.jsonl")
    stdout, _ = replay(FIXTURES / "read_samples.jsonl")
    assert totals(stdout) == (0, 2, 2)
    assert redis_client.xlen(stream.STREAM_KEY) == 2


def test_a_malformed_line_amid_good_ones_keeps_the_good_ones(tmp_path, redis_client):
    good = {"id": "g-1", "captured_at": "2025-05-01T00:00:00Z",
            "request": {"method": "GET", "path": "/accounts/9"}, "legacy": {"status": 200, "body": "{}"}}
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join([
        json.dumps(good),
        '{"id": "broken", "captured_at": ',  # cut off mid-object
        json.dumps({**good, "id": "g-2"}),
    ]) + "\n")
    stdout, stderr = replay(capture)
    assert totals(stdout) == (2, 0, 1)
    assert "capture.jsonl line 2: not JSON" in stderr
    assert [sample_id for sample_id, _ in queued(redis_client)] == ["g-1", "g-2"]


def test_a_sample_failing_validation_is_reported_by_position_and_reason(tmp_path, redis_client):
    good = {"id": "g-1", "captured_at": "2025-05-01T00:00:00Z",
            "request": {"method": "GET", "path": "/accounts/9"}, "legacy": {"status": 200}}
    capture = tmp_path / "capture.jsonl"
    capture.write_text("\n".join([json.dumps(good), json.dumps({**good, "id": "bad", "legacy": {"status": 999}}),
                                   json.dumps({**good, "id": "g-2"})]) + "\n")
    stdout, stderr = replay(capture)
    assert totals(stdout) == (2, 0, 1)
    assert stderr.strip() == "capture.jsonl line 2: legacy.status must be an HTTP status code (100-599)"
    assert [sample_id for sample_id, _ in queued(redis_client)] == ["g-1", "g-2"]


def test_a_sample_failing_validation_is_reported_with_its_line_number_after_blank_lines(tmp_path, redis_client):
    good = {"id": "g-1", "captured_at": "2025-05-01T00:00:00Z",
            "request": {"method": "GET", "path": "/accounts/9"}, "legacy": {"status": 200}}
    capture = tmp_path / "capture.jsonl"
    # Line 3 is blank; line 4 has a status that is no HTTP status.
    capture.write_text("\n".join([
        json.dumps(good), json.dumps({**good, "id": "g-2"}), "",
        json.dumps({**good, "id": "bad", "legacy": {"status": 999}}),
    ]) + "\n")
    stdout, stderr = replay(capture)
    assert totals(stdout) == (2, 0, 1)
    assert "capture.jsonl line 4: " in stderr and "legacy.status" in stderr, stderr


def test_replaying_har_queues_each_entry_with_a_stable_id(redis_client):
    stdout, stderr = replay(FIXTURES / "read_samples.har")
    assert totals(stdout) == (2, 0, 1)
    expected_ids = [item["id"] for item in read_sample_file(FIXTURES / "read_samples.har")
                    if not isinstance(item, SampleFileError)]
    entries = queued(redis_client)
    assert [sample_id for sample_id, _ in entries] == expected_ids
    assert all(sample_id.startswith("har-") for sample_id, _ in entries)
    first, second = (sample for _, sample in entries)
    assert (first["request"]["path"], first["request"]["query"]) == ("/accounts/7/transactions", "limit=10")
    assert first["legacy"]["latency_ms"] == 12.5
    assert second["legacy"] == {"status": 404, "headers": {}, "body": '{"error": "not found"}', "latency_ms": 3.0}
    assert "read_samples.har entry 2" in stderr  # the entry without a response


def test_replaying_har_twice_is_deduplicated(redis_client):
    replay(FIXTURES / "read_samples.har")
    stdout, _ = replay(FIXTURES / "read_samples.har")
    assert totals(stdout) == (0, 2, 1)
    assert redis_client.xlen(stream.STREAM_KEY) == 2


def test_replaying_goreplay_joins_requests_with_their_original_responses(redis_client):
    stdout, stderr = replay(FIXTURES / "read_samples.gor")
    assert totals(stdout) == (2, 0, 1)
    samples = [sample for _, sample in queued(redis_client)]
    assert [(s["request"]["path"], s["request"]["query"], s["legacy"]["status"]) for s in samples] == [
        ("/accounts/3/balance", "", 200), ("/accounts/4", "x=1", 200)]  # the `2` record, not the `3` replay
    assert samples[0]["legacy"]["body"] == '{"balance": "1.00"}'
    assert all(s["id"].startswith("gor-") for s in samples)
    assert "request abc3 has no original response" in stderr


def test_replaying_goreplay_twice_is_deduplicated(redis_client):
    replay(FIXTURES / "read_samples.gor")
    stdout, _ = replay(FIXTURES / "read_samples.gor")
    assert totals(stdout) == (0, 2, 1)


def test_format_option_reads_a_file_whatever_its_name(tmp_path, redis_client):
    capture = tmp_path / "traffic.log"
    capture.write_bytes((FIXTURES / "read_samples.gor").read_bytes())
    stdout, _ = replay(capture, "--format", "gor")
    assert totals(stdout) == (2, 0, 1)


def test_small_batches_queue_the_same_samples(redis_client):
    stdout, _ = replay(FIXTURES / "read_samples.jsonl", "--batch", "1")
    assert totals(stdout) == (2, 0, 2)
    assert [sample_id for sample_id, _ in queued(redis_client)] == ["s-1", "s-2"]


def test_a_missing_file_is_a_clear_command_error(tmp_path, redis_client):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(CommandError, match=r"nope\.jsonl is not a readable file"):
        replay(missing)
    assert redis_client.xlen(stream.STREAM_KEY) == 0


def test_a_har_that_is_not_json_queues_nothing_and_says_so(tmp_path, redis_client):
    broken = tmp_path / "broken.har"
    broken.write_text("{ not json")
    stdout, stderr = replay(broken)
    assert totals(stdout) == (0, 0, 1)
    assert "broken.har: not a HAR 1.2 file" in stderr
    assert redis_client.xlen(stream.STREAM_KEY) == 0


# --- apply_config --------------------------------------------------------------------------------


GOOD_CONFIG: dict[str, Any] = {
    "systems": [
        {"name": "candidate", "role": "candidate", "base_url": "http://127.0.0.1:8102", "timeout_ms": 2000,
         "max_concurrency": 64, "headers_to_add": {"X-Shadow": "1"}},
        {"name": "legacy again", "role": "legacy_secondary", "base_url": "http://127.0.0.1:8101"},
    ],
    "routes": [
        {"method": "get", "template": "/accounts/{id}/balance", "sampling_ratio": 0.5, "active_from": "08:00",
         "active_until": "20:00", "severity": "high", "mismatch_rate_alert": 0.05,
         "rules": {"ignore_paths": ["$.traceId", "headers.x-trace-id"], "tolerance": "0.01",
                   "array_keys": {"$.items": "entryId"}, "ordered_arrays": ["$.items"], "compare_status": True,
                   "headers": ["content-type"]}},
        {"method": "GET", "template": "/accounts/{id}"},
    ],
    "write_tables": [
        {"table": "entries", "key_columns": ["transfer_id", "account_id"],
         "excluded_columns": ["id", "business_time", "created_at"]},
    ],
}


def load(tmp_path: Path, document: Any) -> str:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(document) if not isinstance(document, str) else document)
    out = io.StringIO()
    call_command("apply_config", str(config), stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, list[tuple]]:
    """Every configured row, to compare before and after a load."""
    return {
        "systems": list(System.objects.order_by("name").values_list(
            "pk", "name", "role", "base_url", "timeout_ms", "max_concurrency", "headers_to_add", "enabled")),
        "routes": list(Route.objects.order_by("template").values_list(
            "pk", "method", "template", "sampling_ratio", "active_from", "active_until", "severity", "rules",
            "mismatch_rate_alert")),
        "write_tables": list(WriteTableRule.objects.order_by("table").values_list(
            "pk", "table", "key_columns", "excluded_columns")),
    }


def test_a_good_config_creates_systems_routes_with_rules_and_write_tables(tmp_path):
    output = load(tmp_path, GOOD_CONFIG)
    assert output.strip().splitlines()[-1] == "5 create"
    candidate = System.objects.get(name="candidate")
    assert (candidate.role, candidate.base_url, candidate.headers_to_add) == (
        "candidate", "http://127.0.0.1:8102", {"X-Shadow": "1"})
    assert System.objects.get(name="legacy again").role == "legacy_secondary"
    balance = Route.objects.get(template="/accounts/{id}/balance")
    assert balance.method == "GET"  # upper-cased
    assert (balance.active_from, balance.active_until) == (time(8, 0), time(20, 0))
    assert (balance.sampling_ratio, balance.severity, balance.mismatch_rate_alert) == (0.5, "high", 0.05)
    assert balance.rules["array_keys"] == {"$.items": "entryId"} and balance.rules["tolerance"] == "0.01"
    assert Route.objects.get(template="/accounts/{id}").rules == {}
    assert WriteTableRule.objects.get(table="entries").key_columns == ["transfer_id", "account_id"]


def test_loading_the_same_config_twice_changes_nothing(tmp_path):
    load(tmp_path, GOOD_CONFIG)
    before = snapshot()
    assert load(tmp_path, GOOD_CONFIG).strip() == "5 unchanged"
    assert snapshot() == before


def test_a_later_load_updates_the_existing_rows_in_place(tmp_path):
    load(tmp_path, GOOD_CONFIG)
    candidate_pk = System.objects.get(name="candidate").pk
    changed = json.loads(json.dumps(GOOD_CONFIG))
    changed["systems"][0]["timeout_ms"] = 500
    changed["routes"][0]["rules"] = {"ignore_paths": ["$.servedAt"]}
    load(tmp_path, changed)
    assert System.objects.count() == 2 and Route.objects.count() == 2
    assert System.objects.get(pk=candidate_pk).timeout_ms == 500
    assert Route.objects.get(template="/accounts/{id}/balance").rules == {"ignore_paths": ["$.servedAt"]}


def _with(section: str, index: int, **changes: Any) -> dict[str, Any]:
    document = json.loads(json.dumps(GOOD_CONFIG))
    document[section][index].update(changes)
    return document


def test_an_unknown_field_names_the_entry_and_writes_nothing(tmp_path):
    document = _with("write_tables", 0, colour="blue")  # the last section: everything before it was valid
    with pytest.raises(CommandError, match=r"write_tables\[0\]: unknown field\(s\) \['colour'\]"):
        load(tmp_path, document)
    assert not System.objects.exists() and not Route.objects.exists() and not WriteTableRule.objects.exists()


def test_an_unknown_system_field_names_the_system_entry(tmp_path):
    with pytest.raises(CommandError, match=r"systems\[1\]: unknown field\(s\) \['password'\]"):
        load(tmp_path, _with("systems", 1, password="x"))
    assert not System.objects.exists()


def test_a_bad_rule_names_the_route_and_writes_nothing(tmp_path):
    document = _with("routes", 1, rules={"ordered_arrays": ["$.items"]})  # ordered without a key
    with pytest.raises(CommandError, match=r"routes\[1\] \(GET /accounts/\{id\}\): rules: .*ordered_arrays"):
        load(tmp_path, document)
    assert not System.objects.exists() and not Route.objects.exists()


def test_an_unknown_rule_key_names_the_route(tmp_path):
    with pytest.raises(CommandError, match=r"routes\[0\] \(GET /accounts/\{id\}/balance\): rules: unknown rule key"):
        load(tmp_path, _with("routes", 0, rules={"ignore": ["$.x"]}))


def test_a_bad_url_names_the_system_and_the_field(tmp_path):
    with pytest.raises(CommandError, match=r"systems\[1\] \(legacy again\): base_url"):
        load(tmp_path, _with("systems", 1, base_url="127.0.0.1:8101"))
    assert not System.objects.exists()


def test_a_failed_load_leaves_the_existing_configuration_as_it_was(tmp_path):
    load(tmp_path, GOOD_CONFIG)
    before = snapshot()
    document = _with("systems", 0, timeout_ms=1)  # a valid change, applied first...
    document["routes"][1]["sampling_ratio"] = 2.0  # ...then a bad entry
    with pytest.raises(CommandError, match=r"routes\[1\] \(GET /accounts/\{id\}\): sampling_ratio"):
        load(tmp_path, document)
    assert snapshot() == before


def test_a_file_that_is_not_json_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="is not JSON"):
        load(tmp_path, "{systems: []")


def test_an_unknown_section_is_named(tmp_path):
    with pytest.raises(CommandError, match=r"unknown section\(s\) \['hosts'\]"):
        load(tmp_path, {**GOOD_CONFIG, "hosts": []})
    assert not System.objects.exists()


def test_a_missing_config_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("apply_config", str(tmp_path / "absent.json"))
