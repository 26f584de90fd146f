"""Issue 11 item 2: a second legacy answer is noise evidence only where it is comparable."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from console.models import sole_migration_pk
from console.roles import VIEWERS
from verifiers.models import MismatchGroup, OutcomeCount
from verifiers.read import services, stream
from verifiers.read.compare import compile_rules
from verifiers.read.ingest import validate_sample
from verifiers.read.pipeline import RouteSettings, judge
from verifiers.read.replay import Answer
from verifiers.tests.http_answers import AnswerServer, RawAnswer, json_answer
from verifiers.tests.read_support import configure_systems, make_sample, parsed_batch, read_worker

JSON = {"Content-Type": "application/json"}
LEGACY = {"balance": "10.00", "traceId": "a", "items": [{"id": 1, "amount": "1.00"}, {"id": 2, "amount": "2.00"}]}


def _route() -> RouteSettings:
    return RouteSettings(1, "GET", "/accounts/{id}/balance", rules=compile_rules({}), noise_rules=compile_rules({}))


def _answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return Answer(status=status, headers=JSON if headers is None else headers, body=raw, latency_ms=1.0)


def _judge(candidate: Answer, secondary: Answer, legacy: Any = LEGACY):
    raw = make_sample("a", body=None if isinstance(legacy, bytes) else legacy)
    if isinstance(legacy, bytes):  # a non-JSON legacy body, as text
        raw["legacy"]["body"], raw["legacy"]["headers"] = legacy.decode(), {"Content-Type": "text/plain"}
    sample = validate_sample(raw)
    verdict, _ = judge(sample, _route(), candidate, secondary)
    return verdict, sorted((d["path"], d["kind"]) for d in verdict.differences)


CHANGED_BALANCE = {**LEGACY, "balance": "10.01", "traceId": "b"}


@pytest.mark.parametrize("secondary, reason", [
    (_answer(b"<html><body>502 Bad Gateway</body></html>", headers={"Content-Type": "text/html"}), "content type"),
    (_answer(b"<html>maintenance</html>", headers={}), "not parsed the same way"),
    (_answer({}), "empty JSON object"),
    (_answer([]), "JSON array where"),
    (_answer(b""), "empty body"),
    (_answer({"error": "down"}, status=503), "status 503"),
    (Answer(error="legacy2: timed out after 2000 ms"), "timed out"),
])
def test_an_unusable_secondary_hides_nothing_and_says_why(secondary, reason):
    verdict, differences = _judge(_answer(CHANGED_BALANCE), secondary)
    assert verdict.verdict == "mismatch" and ("$.balance", "changed") in differences
    assert reason in verdict.secondary_unusable and verdict.noise_suppressed == 0


def test_a_comparable_secondary_suppresses_the_same_difference_only():
    verdict, differences = _judge(_answer(CHANGED_BALANCE), _answer({**LEGACY, "traceId": "c"}))
    assert differences == [("$.balance", "changed")] and verdict.noise_suppressed == 1
    assert verdict.secondary_unusable == ""


def test_noise_never_covers_the_whole_body():
    verdict, differences = _judge(_answer(b"total: 11", headers={"Content-Type": "text/plain"}),
                                  _answer(b"total: 12", headers={"Content-Type": "text/plain"}),
                                  legacy=b"total: 10")
    assert verdict.verdict == "mismatch" and differences == [("$", "changed")]


def test_noise_on_a_container_does_not_hide_a_difference_inside_it():
    longer = {**LEGACY, "items": [*LEGACY["items"], {"id": 3, "amount": "3.00"}]}
    candidate = {**LEGACY, "items": [{"id": 1, "amount": "1.00"}, {"id": 2, "amount": "2.50"}]}
    verdict, differences = _judge(_answer(candidate), _answer(longer))
    assert differences == [("$.items[1].amount", "changed")]


def test_noise_of_one_kind_does_not_hide_another_kind_at_the_same_path():
    dropped = {key: value for key, value in LEGACY.items() if key != "traceId"}
    verdict, differences = _judge(_answer(dropped), _answer({**LEGACY, "traceId": "c"}))
    assert differences == [("$.traceId", "missing")]


def test_unusable_secondaries_are_counted_per_route_and_shown_on_the_read_page(db, redis_client, client,
                                                                                 user_with_role):
    candidate = AnswerServer({"/accounts/1/balance": json_answer(CHANGED_BALANCE)}).start()
    secondary = AnswerServer({"/accounts/1/balance": RawAnswer(status=200, body=b"<html>oops</html>",
                                                               content_type="text/html")}).start()
    try:
        configure_systems(candidate.url, secondary.url)
        services.ingest_samples(batch=parsed_batch([make_sample("u1", body=LEGACY), make_sample("u2", body=LEGACY)]),
                                client=redis_client)
        read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    finally:
        candidate.stop()
        secondary.stop()
    assert OutcomeCount.objects.get().mismatched == 2
    assert {d["pattern"] for d in MismatchGroup.objects.get().differences} >= {"$.balance"}
    route = stream.route_field(sole_migration_pk(), "GET /accounts/{id}/balance")
    assert int(redis_client.hget(stream.SECONDARY_UNUSABLE_KEY, route)) == 2
    client.force_login(user_with_role(VIEWERS, "viewer"))
    page = client.get("/read/").content.decode()
    assert "not usable as noise evidence" in page and "content type text/html" in page
