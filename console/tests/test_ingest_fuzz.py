"""Fuzz every ingest body: whatever bytes a client sends, the answer is a 2xx or 4xx, never a 5xx.

Schemathesis (test_api_fuzz.py) sends bodies shaped by the schema; this sends what a broken
gateway or agent might: random bytes, any JSON value, arrays of almost-samples, NDJSON with
broken lines, NUL characters and numbers beyond 64 bits.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS

pytestmark = pytest.mark.django_db

INGEST_ENDPOINTS = ["/api/v1/read-samples", "/api/v1/write-captures", "/api/v1/write-commits",
                    "/api/v1/numa/samples", "/api/v1/numa/pinning-events"]
CONTENT_TYPES = ["application/json", "application/x-ndjson", "text/plain", "application/octet-stream"]

text = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | text
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=20)
# Objects that look like what each endpoint takes, with any value in any field.
almost_samples = st.fixed_dictionaries({}, optional={
    "id": json_values, "captured_at": json_values | st.just("2026-12-01T00:00:00Z"), "request": json_values,
    "legacy": json_values, "dialect": st.sampled_from(["postgres", "mysql", "oracle", "db2"]) | json_values,
    "statements": json_values, "after_images": json_values, "sample": json_values, "host": json_values,
    "changed_at": json_values, "kind": json_values, "database": json_values})


def _bodies():
    as_json = (json_values | st.lists(almost_samples, max_size=3) | almost_samples).map(
        lambda value: json.dumps(value, allow_nan=True).encode())
    ndjson = st.lists(almost_samples.map(json.dumps) | text, max_size=4).map(lambda lines: "\n".join(lines).encode())
    return as_json | ndjson | st.binary(max_size=200)


@pytest.fixture
def machine_client(user_with_role) -> Client:
    token = ApiToken.issue(user=user_with_role(MACHINE_CLIENTS, "fuzzing-gateway"), name="fuzz")[1]
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


@pytest.mark.parametrize("url", INGEST_ENDPOINTS)
def test_no_body_makes_an_ingest_endpoint_answer_5xx(machine_client, url):
    answers: set[int] = set()

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=_bodies(), content_type=st.sampled_from(CONTENT_TYPES))
    def post(body: bytes, content_type: str) -> None:
        response = machine_client.generic("POST", url, data=body, content_type=content_type)
        answers.add(response.status_code)
        assert response.status_code < 500, (url, content_type, body[:300], response.content[:300])

    post()
    assert answers & {400, 413, 415}, f"{url} never refused a bad body: {sorted(answers)}"
