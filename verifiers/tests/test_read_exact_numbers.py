"""Issue 11 item 3: integers of any size and decimals keep every digit on every ingest path."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from django.core.management import call_command

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS
from verifiers.models import MismatchGroup, OutcomeCount
from verifiers.read import exactjson, stream
from verifiers.read.ingest import parse_batch
from verifiers.tests.http_answers import AnswerServer, RawAnswer
from verifiers.tests.read_support import configure_systems, make_sample, read_worker

PATH = "/accounts/1/balance"
# 2**64 + 1 and 2**64 + 2 are one float apart from nothing: as doubles they are equal.
LEGACY_TEXT = b'{"id":18446744073709551617,"balance":0.10000000000000000001,"fee":1.50,"tiny":1e400}'
SAME_TEXT = b'{"id": 18446744073709551617, "balance": 0.10000000000000000001, "fee": 1.50, "tiny": 1e400}'
OTHER_ID = b'{"id":18446744073709551618,"balance":0.10000000000000000001,"fee":1.50,"tiny":1e400}'
OTHER_BALANCE = b'{"id":18446744073709551617,"balance":0.10000000000000000002,"fee":1.50,"tiny":1e400}'


def embedded_sample(sample_id: str) -> bytes:
    """A sample whose legacy body is a JSON value (not a string), as raw JSON text."""
    text = orjson.dumps(make_sample(sample_id, PATH))
    return text.replace(b'"body":"{\\"ok\\":true}"', b'"body":' + LEGACY_TEXT)


def test_exactjson_keeps_every_digit_both_ways():
    document = exactjson.loads(LEGACY_TEXT)
    assert document["id"] == 2**64 + 1 and document["balance"] == Decimal("0.10000000000000000001")
    assert exactjson.dumps(document) == b'{"id":18446744073709551617,"balance":0.10000000000000000001,' \
                                        b'"fee":1.50,"tiny":1E+400}'
    assert exactjson.loads(b'{"a":[1.25,"x.10"]}') == {"a": [1.25, "x.10"]}  # the fast path where exact


@pytest.mark.parametrize("content_type, body", [
    ("application/json", lambda sample: b"[" + sample + b"]"),
    ("application/x-ndjson", lambda sample: sample + b"\n"),
])
def test_an_embedded_legacy_body_keeps_every_digit_on_http_ingest(content_type, body):
    batch = parse_batch(body(embedded_sample("e1")), content_type)
    assert exactjson.loads(batch.samples[0]["legacy"]["body"]) == exactjson.loads(LEGACY_TEXT)


def test_an_embedded_legacy_body_keeps_every_digit_from_a_replay_file(tmp_path):
    from verifiers.read.ingest import validate_sample
    from verifiers.read.samplefiles import read_sample_file

    path = tmp_path / "samples.jsonl"
    path.write_bytes(embedded_sample("f1") + b"\n")
    [record] = list(read_sample_file(path))
    assert exactjson.loads(validate_sample(record)["legacy"]["body"]) == exactjson.loads(LEGACY_TEXT)


@pytest.fixture
def server() -> Iterator[AnswerServer]:
    answers = AnswerServer().start()
    yield answers
    answers.stop()


def _verdicts() -> dict[str, Any]:
    counts = OutcomeCount.objects.get()
    return {"matched": counts.matched, "mismatched": counts.mismatched,
            "groups": sorted(d["pattern"] for g in MismatchGroup.objects.all() for d in g.differences)}


@pytest.mark.parametrize("candidate, expected", [
    (SAME_TEXT, {"matched": 1, "mismatched": 0, "groups": []}),
    (OTHER_ID, {"matched": 0, "mismatched": 1, "groups": ["$.id"]}),
    (OTHER_BALANCE, {"matched": 0, "mismatched": 1, "groups": ["$.balance"]}),
])
def test_http_ingest_to_verdict_end_to_end(db, client, user_with_role, redis_client, server, candidate, expected):
    configure_systems(server.url, server.url + "/legacy")  # the secondary answers as the legacy did
    server.answers[PATH] = RawAnswer(body=candidate)
    server.answers["/legacy" + PATH] = RawAnswer(body=LEGACY_TEXT)
    _, raw = ApiToken.issue(user=user_with_role(MACHINE_CLIENTS, "gateway"), name="t")
    response = client.post("/api/v1/read-samples", data=b"[" + embedded_sample("h1") + b"]",
                           content_type="application/json", HTTP_AUTHORIZATION=f"Token {raw}")
    assert response.status_code == 202, response.content
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    assert _verdicts() == expected


def test_a_gateway_xadding_an_embedded_body_keeps_every_digit(db, redis_client, server):
    configure_systems(server.url)
    server.answers[PATH] = RawAnswer(body=SAME_TEXT)
    stream.ensure_group(redis_client)  # the stream, its group and epoch, as a running worker leaves them
    stream.append_samples(redis_client, [("x1", embedded_sample("x1"))])
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    assert _verdicts() == {"matched": 1, "mismatched": 0, "groups": []}


def test_a_replay_file_with_big_numbers_matches_end_to_end(db, redis_client, server, tmp_path):
    configure_systems(server.url)
    server.answers[PATH] = RawAnswer(body=SAME_TEXT)
    path = tmp_path / "samples.jsonl"
    path.write_bytes(embedded_sample("r1") + b"\n")
    call_command("replay", str(path))
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    assert _verdicts() == {"matched": 1, "mismatched": 0, "groups": []}
