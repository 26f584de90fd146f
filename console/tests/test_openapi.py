"""The OpenAPI schema describes every machine endpoint and the token scheme, without warnings."""

import pytest
from drf_spectacular.generators import SchemaGenerator

EXPECTED_PATHS = {
    "/api/v1/read-samples": {"post"},
    "/api/v1/mismatch-groups": {"get"},
    "/api/v1/mismatch-groups/{group_id}": {"get"},
    "/api/v1/mismatch-groups/{group_id}/reverify": {"post"},
    "/api/v1/write-captures": {"post"},
    "/api/v1/write-commits": {"post"},
    "/api/v1/numa/samples": {"post"},
    "/api/v1/numa/pinning-events": {"post"},
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_machine_endpoint_is_described(schema):
    paths = {path: set(ops) for path, ops in schema["paths"].items()}
    for path, methods in EXPECTED_PATHS.items():
        matching = [p for p in paths if p.replace("{id}", "{group_id}") == path]
        assert matching, f"{path} missing from the schema; have {sorted(paths)}"
        assert methods <= paths[matching[0]]


def test_token_scheme_is_declared(schema):
    scheme = schema["components"]["securitySchemes"]["ApiToken"]
    assert scheme == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": "`Token <token>`; issue one with `manage.py create_api_token`.",
    }


def test_the_schema_answers_anonymous_users_the_same_with_or_without_a_wrong_token(client, db):
    plain = client.get("/api/v1/schema")
    wrong = client.get("/api/v1/schema", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert plain.status_code == wrong.status_code == 200
    assert plain.content == wrong.content
