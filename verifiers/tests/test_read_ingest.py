"""Pure tests of the read verifier: sample validation, batches, sample files, URLs, sampling, verdicts."""

from __future__ import annotations

from datetime import datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from verifiers.read.compare import compile_rules
from verifiers.read.config import RouteSettings
from verifiers.read.ingest import (
    MAX_SAMPLES_PER_REQUEST,
    BatchError,
    BatchTooLargeError,
    SampleError,
    parse_batch,
    validate_sample,
)
from verifiers.read.pipeline import judge, sampled, within_active_hours
from verifiers.read.replay import Answer, target_url
from verifiers.read.samplefiles import SampleFileError, detect_format, read_sample_file
from verifiers.tests.read_support import make_sample

FIXTURES = Path(__file__).parent / "fixtures"


def test_valid_sample_is_normalised():
    sample = validate_sample(make_sample("a", path="/accounts/1?limit=5"))
    assert sample["request"]["path"] == "/accounts/1"
    assert sample["request"]["query"] == "limit=5"
    assert sample["legacy"]["latency_ms"] == 3.0


@pytest.mark.parametrize("path", ["http://evil.example/x", "//evil.example/x", "accounts/1", "/a/../b", "/a b"])
def test_path_that_could_leave_the_system_is_rejected(path):
    with pytest.raises(SampleError, match="request.path"):
        validate_sample(make_sample("a", path=path))


def test_unknown_field_is_named():
    raw = make_sample("a") | {"colour": "red"}
    with pytest.raises(SampleError, match="colour"):
        validate_sample(raw)


def test_bad_status_is_rejected():
    raw = make_sample("a")
    raw["legacy"]["status"] = 42
    with pytest.raises(SampleError, match="legacy.status"):
        validate_sample(raw)


def test_naive_captured_at_is_rejected():
    raw = make_sample("a", captured_at="2025-05-01T00:00:00")
    with pytest.raises(SampleError, match="time zone"):
        validate_sample(raw)


def test_array_batch_keeps_good_samples_and_names_bad_index():
    body = orjson.dumps([make_sample("a"), {"id": "b"}, make_sample("c")])
    batch = parse_batch(body, "application/json")
    assert [s["id"] for s in batch.samples] == ["a", "c"]
    assert batch.rejected[0].index == 1 and "captured_at" in batch.rejected[0].reason


def test_ndjson_batch_reports_line_numbers():
    body = orjson.dumps(make_sample("a")) + b"\nnot json\n" + orjson.dumps(make_sample("b"))
    batch = parse_batch(body, "application/x-ndjson; charset=utf-8")
    assert batch.index_name == "line"
    assert len(batch.samples) == 2
    assert batch.rejected[0].index == 2


def test_same_id_twice_in_one_body_counts_as_duplicate():
    batch = parse_batch(orjson.dumps([make_sample("a"), make_sample("a")]), "application/json")
    assert len(batch.samples) == 1 and batch.repeated_in_batch == 1


def test_body_that_is_not_json_is_a_batch_error():
    with pytest.raises(BatchError):
        parse_batch(b"{nope", "application/json")


def test_too_many_samples_is_too_large():
    body = orjson.dumps([{}] * (MAX_SAMPLES_PER_REQUEST + 1))
    with pytest.raises(BatchTooLargeError):
        parse_batch(body, "application/json")


def test_jsonl_file_yields_samples_and_errors():
    items = list(read_sample_file(FIXTURES / "read_samples.jsonl"))
    assert [i["id"] for i in items if isinstance(i, dict)] == ["s-1", "s-2", "s-3"]
    assert sum(isinstance(i, SampleFileError) for i in items) == 1


def test_har_file_becomes_samples_with_stable_ids():
    first = list(read_sample_file(FIXTURES / "read_samples.har"))
    second = list(read_sample_file(FIXTURES / "read_samples.har"))
    samples = [validate_sample(i) for i in first if isinstance(i, dict)]
    assert samples[0]["request"]["path"] == "/accounts/7/transactions"
    assert samples[0]["request"]["query"] == "limit=10"
    assert ":authority" not in samples[0]["request"]["headers"]
    assert samples[1]["legacy"]["body"] == '{"error": "not found"}'
    assert [s["id"] for s in samples] == [i["id"] for i in second if isinstance(i, dict)]
    assert isinstance(first[2], SampleFileError)


def test_goreplay_joins_request_and_original_response_by_id():
    items = list(read_sample_file(FIXTURES / "read_samples.gor"))
    samples = [validate_sample(i) for i in items if isinstance(i, dict)]
    assert [s["request"]["path"] for s in samples] == ["/accounts/3/balance", "/accounts/4"]
    assert samples[1]["legacy"]["status"] == 200  # the `2` record, not the replayed `3`
    assert samples[0]["legacy"]["latency_ms"] == 4.0
    assert any(isinstance(i, SampleFileError) and "abc3" in str(i) for i in items)


def test_format_is_detected_from_content(tmp_path):
    copy = tmp_path / "capture.txt"
    copy.write_bytes((FIXTURES / "read_samples.gor").read_bytes())
    assert detect_format(copy) == "gor"


def test_target_url_keeps_the_system_host():
    url = target_url("http://127.0.0.1:8102/base", "/@evil.example/x", "a=1")
    assert url.host == "127.0.0.1" and url.path == "/base/@evil.example/x" and url.query_string == "a=1"


def test_sampling_is_deterministic_per_id():
    decisions = [sampled(f"id-{n}", 0.3) for n in range(2000)]
    assert decisions == [sampled(f"id-{n}", 0.3) for n in range(2000)]
    assert 450 < sum(decisions) < 750


def test_active_hours_wrap_over_midnight():
    seoul = ZoneInfo("Asia/Seoul")
    late = datetime(2025, 5, 1, 14, 30, tzinfo=timezone.utc)  # 23:30 in Seoul
    noon = datetime(2025, 5, 1, 3, 0, tzinfo=timezone.utc)  # 12:00 in Seoul
    assert within_active_hours(late, time(22), time(6), seoul)
    assert not within_active_hours(noon, time(22), time(6), seoul)
    assert within_active_hours(noon, None, None, seoul)


def _route(rules=None) -> RouteSettings:
    compiled = compile_rules(rules or {})
    return RouteSettings(1, "GET", "/accounts/{id}/balance", rules=compiled, noise_rules=compile_rules({}))


def _answer(body, status=200) -> Answer:
    return Answer(status=status, headers={}, body=orjson.dumps(body), latency_ms=1.0)


def test_equal_answers_match():
    verdict, noise = judge(validate_sample(make_sample("a", body={"b": "1.00"})), _route(), _answer({"b": "1.00"}), None)
    assert verdict.verdict == "match" and noise == []


def test_changed_value_is_a_mismatch_with_fingerprint():
    sample = validate_sample(make_sample("a", body={"b": "1.00"}))
    verdict, _ = judge(sample, _route(), _answer({"b": "1.01"}), None)
    other, _ = judge(validate_sample(make_sample("z", path="/accounts/9/balance", body={"b": "7"})),
                     _route(), _answer({"b": "8"}), None)
    assert verdict.verdict == "mismatch"
    assert verdict.differences[0]["path"] == "$.b" and verdict.differences[0]["kind"] == "changed"
    assert verdict.fingerprint == other.fingerprint
    assert verdict.subject == "GET /accounts/{id}/balance"


def test_noise_from_second_legacy_call_is_suppressed_and_reported():
    sample = validate_sample(make_sample("a", body={"b": "1", "trace": "x"}))
    verdict, noise = judge(sample, _route(), _answer({"b": "1", "trace": "y"}), _answer({"b": "1", "trace": "z"}))
    assert verdict.verdict == "match" and verdict.noise_suppressed == 1
    assert noise == ["$.trace"]


def test_candidate_error_is_an_error_verdict():
    verdict, _ = judge(validate_sample(make_sample("a")), _route(), Answer(error="cand: timed out after 5 ms"), None)
    assert verdict.verdict == "error" and verdict.fingerprint
