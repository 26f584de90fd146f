"""Issue 11 item 1: answers are read whole (gzip/deflate/chunked decoded), up to a named limit."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from verifiers.models import MismatchGroup, MismatchSample, OutcomeCount
from verifiers.read import services
from verifiers.read.replay import Answer, SystemClient, SystemTarget
from verifiers.tests.http_answers import AnswerServer, RawAnswer, json_answer
from verifiers.tests.read_support import configure_systems, make_sample, parsed_batch, read_worker


def big_document(items: int = 3000, changed_at: int | None = None) -> dict[str, Any]:
    """About 85 bytes per item: 3000 items is ~255 KB."""
    rows = [{"entryId": index, "amount": f"{index}.25", "memo": f"payment number {index:08d}",
             "currency": "KRW"} for index in range(items)]
    if changed_at is not None:
        rows[changed_at]["amount"] = "0.01"
    return {"items": rows}


@pytest.fixture
def server() -> Iterator[AnswerServer]:
    answers = AnswerServer().start()
    yield answers
    answers.stop()


def _fetch(server: AnswerServer, path: str, limit: int = 5 * 1024 * 1024) -> Answer:
    async def run() -> Answer:
        client = SystemClient(SystemTarget(name="cand", base_url=server.url, max_response_bytes=limit))
        try:
            return await client.fetch({"method": "GET", "path": path})
        finally:
            await client.close()

    return asyncio.run(run())


@pytest.mark.parametrize("options", [{}, {"chunked": True}, {"encoding": "gzip"}, {"encoding": "deflate"},
                                     {"encoding": "gzip", "chunked": True}])
def test_a_250_kb_answer_is_read_whole_and_decoded(server, options):
    document = big_document()
    server.answers["/big"] = json_answer(document, **options)
    answer = _fetch(server, "/big")
    assert not answer.error and len(answer.body) > 250_000
    assert orjson.loads(answer.body) == document


def test_an_answer_past_the_limit_is_an_error_naming_the_limit(server):
    server.answers["/big"] = json_answer(big_document(), chunked=True)
    answer = _fetch(server, "/big", limit=100_000)
    assert answer.body == b"" and "READ_MAX_RESPONSE_BYTES (100000 bytes)" in answer.error


def test_a_gzip_bomb_stops_at_the_limit(server):
    server.answers["/bomb"] = RawAnswer(body=b"0" * 20_000_000, encoding="gzip")
    assert "READ_MAX_RESPONSE_BYTES" in _fetch(server, "/bomb", limit=1_000_000).error


PATH = "/accounts/1/balance"


def _verify(redis_client, legacy_document: Any) -> None:
    sample = make_sample("s-" + str(abs(hash(orjson.dumps(legacy_document))))[:12], PATH, legacy_document)
    services.ingest_samples(batch=parsed_batch([sample]), client=redis_client)
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)


def test_identical_250_kb_answers_match_end_to_end(db, redis_client, server):
    configure_systems(server.url)
    server.answers[PATH] = json_answer(big_document(), encoding="gzip", chunked=True)
    _verify(redis_client, big_document())
    counts = OutcomeCount.objects.get()
    assert (counts.matched, counts.mismatched, counts.errored) == (1, 0, 0)


def test_a_deep_difference_is_reported_even_where_the_secondary_also_differs_after_a_cut(db, redis_client, server):
    """The secondary's identical 250 KB answer is no noise: the deep candidate difference stays."""
    secondary = AnswerServer({PATH: json_answer(big_document(), chunked=True)}).start()
    try:
        configure_systems(server.url, secondary.url)
        server.answers[PATH] = json_answer(big_document(changed_at=2400), chunked=True)
        _verify(redis_client, big_document())
    finally:
        secondary.stop()
    group = MismatchGroup.objects.get()
    assert group.differences == [{"pattern": "$.items[*].amount", "kind": "changed"}]
    assert MismatchSample.objects.get().differences[0]["path"] == "$.items[2400].amount"


def test_a_candidate_answer_past_the_limit_is_an_error_verdict(db, redis_client, server, settings):
    settings.READ_MAX_RESPONSE_BYTES = 100_000
    configure_systems(server.url)
    server.answers[PATH] = json_answer(big_document())
    _verify(redis_client, big_document())
    counts = OutcomeCount.objects.get()
    assert (counts.matched, counts.mismatched, counts.errored) == (0, 0, 1)
    assert "READ_MAX_RESPONSE_BYTES" in MismatchGroup.objects.get().title
