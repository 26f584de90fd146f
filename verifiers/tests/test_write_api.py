"""The capture/commit API (auth, validation, size limit, idempotency) and the Write page."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.test import APIClient

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS, OPERATORS, ensure_roles
from verifiers.groups.recording import Verdict, record_verdicts
from verifiers.models import MismatchGroup, VerifiedDatabase
from verifiers.write import services, verdicts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_write_targets")]
CAPTURES = "/api/v1/write-captures"
COMMITS = "/api/v1/write-commits"


@pytest.fixture
def machine(ledger_dsn) -> APIClient:
    VerifiedDatabase.objects.create(name="ledger", dsn=ledger_dsn, capture_ttl_s=60)
    groups = ensure_roles()
    user = get_user_model().objects.create(username="candidate-ledger")
    user.groups.add(groups[MACHINE_CLIENTS])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(user=user, name='t')[1]}")
    return client


def post(client: APIClient, path: str, body) -> object:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json")


def capture(capture_id: str = "cap-1", **fields) -> dict:
    body = {"id": capture_id, "dialect": "postgres",
            "statements": [{"sql": "UPDATE accounts SET memo = %s WHERE id = %s", "params": ["hello", 1]}],
            "after_images": []}
    body.update(fields)
    return body


def test_capture_is_accepted_and_converted(machine):
    answer = post(machine, CAPTURES, capture())
    assert answer.status_code == 202
    assert answer.json()["row_checks"] == 1 and answer.json()["status"] == "stored", answer.json()


def test_same_capture_id_again_is_a_duplicate(machine):
    post(machine, CAPTURES, capture())
    answer = post(machine, CAPTURES, capture())
    assert (answer.status_code, answer.json()["status"]) == (200, "duplicate")


def test_commit_is_accepted_and_scheduled(machine):
    post(machine, CAPTURES, capture())
    answer = post(machine, COMMITS, {"id": "cap-1"})
    assert (answer.status_code, answer.json()["status"]) == (202, "scheduled")


def test_unverifiable_statement_is_answered_with_its_reason(machine):
    answer = post(machine, CAPTURES, capture(statements=[{"sql": "DROP TABLE accounts"}]))
    assert answer.status_code == 202
    assert answer.json()["unverifiable"][0]["reason"] == "DDL statement DROP TABLE is not a write we can verify"


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "not valid JSON"),
    (b"7", "must be a JSON object"),
    ({"dialect": "postgres", "statements": [{"sql": "x"}]}, "missing field 'id'"),
    (capture(extra=1), "unknown field(s) extra"),
    (capture(id="bad id with spaces"), "'id' must be"),
    (capture(statements=[]), "non-empty list"),
    (capture(statements=[{"sql": ""}]), "statements[0].sql"),
    (capture(statements=[{"sql": "x", "params": "1"}]), "statements[0].params"),
    (capture(statements=[{"sql": "x", "bind": []}]), "statements[0]: unknown field(s) bind"),
    (capture(after_images=[{"table": "t", "key": 1, "row": {}}]), "after_images[0].key"),
    (capture(dialect=7), "'dialect' must be"),
])
def test_malformed_capture_gets_a_clear_400(machine, body, message):
    answer = post(machine, CAPTURES, body)
    assert answer.status_code == 400
    assert message in answer.json()["error"]


def test_oversized_body_is_refused_with_413(machine):
    big = capture(statements=[{"sql": "UPDATE t SET a = 1 WHERE id = 1", "params": ["x" * (3 * 1024 * 1024)]}])
    answer = post(machine, CAPTURES, big)
    assert answer.status_code == 413
    assert "limit" in answer.json()["error"]


def test_too_many_statements_is_refused_with_413(machine):
    many = capture(statements=[{"sql": "DELETE FROM t WHERE id = 1"}] * (services.MAX_STATEMENTS + 1))
    assert post(machine, CAPTURES, many).status_code == 413


def test_malformed_commit_gets_a_clear_400(machine):
    answer = post(machine, COMMITS, {"id": "c", "when": 1})
    assert answer.status_code == 400 and "unknown field(s) when" in answer.json()["error"]


def test_api_needs_a_token():
    assert post(APIClient(), CAPTURES, capture()).status_code in (401, 403)


def test_operator_token_may_not_post_captures():
    ensure_roles()
    user = get_user_model().objects.create(username="op")
    user.groups.add(*[g for name, g in ensure_roles().items() if name == OPERATORS])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(user=user, name='t')[1]}")
    assert post(client, CAPTURES, capture()).status_code == 403


def test_no_verified_database_answers_503(machine):
    VerifiedDatabase.objects.update(enabled=False)
    answer = post(machine, CAPTURES, capture())
    assert answer.status_code == 503 and "no enabled verified database" in answer.json()["error"]


def test_openapi_schema_lists_the_write_endpoints(admin_client):
    schema = admin_client.get("/api/v1/schema?format=json").content.decode()
    assert CAPTURES in schema and COMMITS in schema


def test_write_page_shows_groups_reasons_and_chart(admin_client):
    from django.utils import timezone

    now = timezone.now()
    record_verdicts([
        Verdict(kind="write", sample_id="a#0.0", subject="transfers", captured_at=now, verdict="mismatch",
                fingerprint="f1", title="INSERT transfers: fee changed",
                differences=[{"path": "$.fee", "pattern": "$.fee", "kind": "changed"}]),
        Verdict(kind="write", sample_id="a#1", subject="accounts", captured_at=now, verdict="unverifiable",
                fingerprint="f2", title="Unverifiable on accounts: 2 statements in one string"),
        Verdict(kind="write", sample_id="a#1.0", subject="accounts", captured_at=now, verdict="match"),
        Verdict(kind="write", sample_id="z#commit", subject=verdicts.NO_CAPTURE_SUBJECT, captured_at=now,
                verdict="orphaned", fingerprint="f3", title="Commit without a capture"),
    ])
    page = admin_client.get(reverse("write"))
    html = page.content.decode()
    assert page.status_code == 200
    group = MismatchGroup.objects.get(fingerprint="f1")
    assert f"/groups/{group.pk}/" in html
    assert "fee changed" in html and "2 statements in one string" in html
    assert 'data-figure="{&quot;data&quot;:[{' in html  # a chart with at least one series
    assert "50.00%" in html  # 1 match of 2 judged rows
    partial = admin_client.get(reverse("write") + "?partial=panels").content.decode()
    assert "<html" not in partial and "fee changed" in partial



def test_unreachable_capture_store_answers_503(machine, monkeypatch):
    import redis

    def down(*args, **kwargs):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(services.WriteCaptureStore, "add_captures", down)
    answer = post(machine, CAPTURES, capture())
    assert answer.status_code == 503 and "capture store" in answer.json()["error"]


def test_write_tables_config_section_upserts_rules(tmp_path):
    from django.core.management import call_command

    from verifiers.models import WriteTableRule

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"write_tables": [
        {"table": "entries", "key_columns": ["transfer_id", "account_id"], "excluded_columns": ["id"]}]}))
    call_command("apply_config", str(config))
    assert WriteTableRule.objects.get(table="entries").key_columns == ["transfer_id", "account_id"]


def test_write_tables_config_names_a_bad_entry(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"write_tables": [{"table": "entries", "key_columns": "id"}]}))
    with pytest.raises(CommandError, match=r"write_tables\[0\].*key_columns"):
        call_command("apply_config", str(config))


def test_demo_setup_is_idempotent(settings):
    import io
    import types as _types

    from console.demo.setup.write import DEMO_DATABASE_NAME, FX_DATABASE_NAME, setup_demo
    from verifiers.models import WriteTableRule

    settings.DEMO_LEDGER_URL = "postgresql://postgres@127.0.0.1:5432/some_ledger"
    settings.DEMO_FX_LEDGER_URL = "mysql://root@127.0.0.1:3306/some_fx_ledger"
    command = _types.SimpleNamespace(stdout=io.StringIO())
    setup_demo(command)
    setup_demo(command)
    database = VerifiedDatabase.objects.get(name=DEMO_DATABASE_NAME)
    assert database.dsn.endswith("/some_ledger") and database.enabled
    fx = VerifiedDatabase.objects.get(name=FX_DATABASE_NAME)
    assert fx.dsn == "mysql://root@127.0.0.1:3306/some_fx_ledger" and fx.enabled
    assert VerifiedDatabase.objects.order_by("pk").first() == database  # captures naming none go here
    assert WriteTableRule.objects.get(table="entries").key_columns == ["transfer_id", "account_id"]
    assert WriteTableRule.objects.get(table="deposit_entries").key_columns == ["request_id"]
    assert WriteTableRule.objects.count() == 6


def test_decimal_literal_is_accepted_not_a_500(machine):
    answer = post(machine, CAPTURES, capture(statements=[
        {"sql": "UPDATE accounts SET balance = 10.50 WHERE id = 1", "params": None}]))
    assert answer.status_code == 202 and answer.json()["row_checks"] == 1


def test_unknown_database_is_a_400_naming_the_known_ones(machine):
    answer = post(machine, CAPTURES, capture(database="nope"))
    assert answer.status_code == 400 and "known: 'ledger'" in answer.json()["error"]


def test_a_batch_of_captures_is_answered_item_by_item(machine):
    body = [capture("b-1"), capture("bad id"), capture("b-1"), capture("b-2")]
    answer = post(machine, CAPTURES, body)
    assert answer.status_code == 202, answer.json()
    result = answer.json()
    assert (result["accepted"], result["duplicates"]) == (2, 1)
    assert result["rejected"][0]["index"] == 1 and "'id' must be" in result["rejected"][0]["reason"]
    assert [item["status"] for item in result["results"]] == ["stored", "duplicate", "stored"]


def test_ndjson_commits_are_answered_line_by_line(machine):
    post(machine, CAPTURES, [capture("n-1"), capture("n-2")])
    body = b'{"id": "n-1"}\n{"id": "n-2"}\nnot json\n'
    answer = machine.post(COMMITS, data=body, content_type="application/x-ndjson")
    assert answer.status_code == 202
    result = answer.json()
    assert [item["status"] for item in result["results"]] == ["scheduled", "scheduled"]
    assert result["rejected"][0]["line"] == 3
