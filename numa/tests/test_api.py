"""POST /api/v1/numa/samples and /api/v1/numa/pinning-events: auth, validation, idempotency."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS, OPERATORS, ensure_roles
from numa.models import Host, PinningEvent, RawSample
from numa.tests.helpers import MALFORMED_BODIES, advanced, fixture_sample

pytestmark = pytest.mark.django_db
SAMPLES = "/api/v1/numa/samples"
EVENTS = "/api/v1/numa/pinning-events"


def _token(group: str = MACHINE_CLIENTS) -> str:
    groups = ensure_roles()
    user = get_user_model().objects.create_user(username=f"u-{group}")
    user.groups.add(groups[group])
    _, raw = ApiToken.issue(user=user, name="agent")
    return raw


def _post(path: str, body, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    data = body if isinstance(body, str) else json.dumps(body)
    response = Client().post(path, data=data, content_type="application/json", headers=headers)
    return response.status_code, response.json()


def test_agent_sample_is_stored_and_registers_the_host() -> None:
    status, answer = _post(SAMPLES, {"sample": fixture_sample("two_node").to_dict()}, _token())
    assert status == 201 and answer["created"] is True and answer["host"] == "two-node-host"
    assert Host.objects.get().delivery == Host.Delivery.AGENT


def test_posting_the_same_sample_twice_is_idempotent() -> None:
    token = _token()
    body = {"sample": fixture_sample("two_node").to_dict()}
    _post(SAMPLES, body, token)
    status, answer = _post(SAMPLES, body, token)
    assert status == 200 and answer["created"] is False
    assert RawSample.objects.count() == 1


def test_second_sample_gets_rates_through_the_api() -> None:
    token = _token()
    first = fixture_sample("two_node")
    _post(SAMPLES, {"sample": first.to_dict(), "work_total": 10}, token)
    _post(SAMPLES, {"sample": advanced(first, 10).to_dict(), "work_total": 110}, token)
    latest = RawSample.objects.latest("sampled_at")
    assert latest.remote_share == pytest.approx(0.1) and latest.work_per_s == pytest.approx(10)


def test_extras_posted_by_the_agent_are_kept() -> None:
    extras = {"perf_node_loads": {"available": False, "reason": "perf not on PATH", "tool": None}}
    _post(SAMPLES, {"sample": fixture_sample("one_node").to_dict(), "extras": extras}, _token())
    assert Host.objects.get().extras == extras


def test_without_a_token_the_api_refuses() -> None:
    status, _ = _post(SAMPLES, {"sample": fixture_sample("one_node").to_dict()}, None)
    assert status in (401, 403)
    assert not Host.objects.exists()


def test_unknown_token_is_refused() -> None:
    status, answer = _post(SAMPLES, {"sample": {}}, "not-a-token")
    assert status == 401 and "Unknown API token" in answer["detail"]


def test_operator_token_may_not_post_samples() -> None:
    status, _ = _post(SAMPLES, {"sample": fixture_sample("one_node").to_dict()}, _token(OPERATORS))
    assert status == 403


def test_bad_json_is_a_clear_400() -> None:
    status, answer = _post(SAMPLES, "{not json", _token())
    assert status == 400
    assert "JSON" in json.dumps(answer)


@pytest.mark.parametrize(("body", "message"), MALFORMED_BODIES)
def test_malformed_bodies_name_what_is_wrong(body, message: str) -> None:
    status, answer = _post(SAMPLES, body, _token())
    assert status == 400 and message in answer["error"]


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("body.sample.hostname", lambda body: body["sample"].update(hostname="h\u0000")),
        ("body.extras.perf.reason", lambda body: body.update(extras={"perf": {"reason": "\u0000"}})),
        ("body.sample.unavailable", lambda body: body["sample"].update(unavailable={"\u0000": "x"})),
    ],
)
def test_a_nul_character_anywhere_in_a_sample_is_a_400_naming_where(where: str, change) -> None:
    body = {"sample": fixture_sample("one_node").to_dict()}
    change(body)
    status, answer = _post(SAMPLES, body, _token())
    assert status == 400 and where in answer["error"]
    assert not RawSample.objects.exists()


def test_a_nul_character_in_a_pinning_event_is_a_400() -> None:
    status, answer = _post(
        EVENTS,
        {"hostname": "h\u0000", "changed_at": "2026-11-30T01:00:00+00:00", "kind": "manual", "note": "n"},
        _token(),
    )
    assert status == 400 and "hostname" in json.dumps(answer)


def test_unknown_field_inside_the_sample_is_refused() -> None:
    sample = fixture_sample("one_node").to_dict()
    sample["nodes"][0]["mystery"] = 3
    status, answer = _post(SAMPLES, {"sample": sample}, _token())
    assert status == 400 and "mystery" in answer["error"]
    assert not RawSample.objects.exists()


def test_pinning_event_posted_by_a_machine_client() -> None:
    token = _token()
    _post(SAMPLES, {"sample": fixture_sample("one_node").to_dict()}, token)
    body = {
        "hostname": "one-node-host",
        "changed_at": "2025-03-10T09:00:00+09:00",
        "kind": "memory_manager",
        "note": "rollout 42",
    }
    status, answer = _post(EVENTS, body, token)
    again, _ = _post(EVENTS, body, token)
    event = PinningEvent.objects.get()
    assert status == 201 and again == 200 and answer["id"] == event.pk
    assert (
        event.who == "u-Machine clients"
        and event.changed_at.isoformat() == "2025-03-10T00:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "hostname": "ghost",
                "changed_at": "2025-03-10T09:00:00Z",
                "kind": "manual",
                "note": "x",
            },
            "unknown host",
        ),
        (
            {"hostname": "one-node-host", "changed_at": "2025-03-10T09:00:00Z", "kind": "whim"},
            "kind",
        ),
        ({"hostname": "one-node-host", "changed_at": "yesterday", "kind": "manual"}, "changed_at"),
        (
            {
                "hostname": "one-node-host",
                "changed_at": "2025-03-10T09:00:00Z",
                "kind": "manual",
                "note": "x",
                "extra": 1,
            },
            "unknown fields",
        ),
    ],
)
def test_bad_pinning_events_are_refused(body, message: str) -> None:
    token = _token()
    _post(SAMPLES, {"sample": fixture_sample("one_node").to_dict()}, token)
    status, answer = _post(EVENTS, body, token)
    assert status == 400 and message in json.dumps(answer)
    assert not PinningEvent.objects.exists()


def test_the_schema_documents_both_endpoints() -> None:
    response = Client().get("/api/v1/schema", HTTP_ACCEPT="application/json")
    text = response.content.decode()
    assert response.status_code == 200
    assert SAMPLES in text and EVENTS in text
