"""Ingest rate limits: per client and endpoint, 429 with Retry-After past the limit."""

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from rest_framework.test import APIClient

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS, ensure_roles
from console.throttling import parse_rate

pytestmark = pytest.mark.django_db


def _client(name: str) -> APIClient:
    groups = ensure_roles()
    user = get_user_model().objects.create_user(name)
    user.groups.add(groups[MACHINE_CLIENTS])
    _, raw = ApiToken.issue(user=user, name=name)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return api


@override_settings(INGEST_RATE_LIMITS={"read_samples": "3/min"})
def test_a_client_past_its_limit_gets_429_with_retry_after_and_others_are_unaffected():
    gateway, other = _client("gateway-1"), _client("gateway-2")
    answers = [gateway.post("/api/v1/read-samples", data=b"[]", content_type="application/json").status_code
               for _ in range(4)]
    assert answers[:3] != [429] * 3 and answers[3] == 429
    refused = gateway.post("/api/v1/read-samples", data=b"[]", content_type="application/json")
    assert 0 < int(refused["Retry-After"]) <= 61
    assert other.post("/api/v1/read-samples", data=b"[]", content_type="application/json").status_code != 429


def test_rates_are_parsed_or_refused_clearly():
    assert parse_rate("600/min") == (600, 60) and parse_rate("5/s") == (5, 1)
    with pytest.raises(ValueError, match="rate limit '600 per minute' is not like '600/min'"):
        parse_rate("600 per minute")
