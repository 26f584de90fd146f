"""Two migrations in one console: ingest files each request under one, and each is judged, counted,
grouped and alerted with its own routes, candidate, databases, rules and recipients (issue 15)."""

from __future__ import annotations

import io
import json

import orjson
import pytest
from django.core import mail
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from console.alerts import publish
from console.alerts.models import AlertRecipient, AlertRule, SentAlert
from console.models import ApiToken, Migration
from console.roles import MACHINE_CLIENTS, VIEWERS
from console.tests.alerts_support import mismatch_verdicts
from verifiers.benchmarks.support import CandidateServer
from verifiers.groups import alerts as group_alerts
from verifiers.groups.recording import record_verdicts
from verifiers.models import (
    MismatchGroup,
    NoiseSuggestion,
    OutcomeCount,
    Route,
    System,
    VerifiedDatabase,
    VerifiedSample,
    WriteTableRule,
)
from verifiers.read import services as read_services
from verifiers.read import stream
from verifiers.tests.read_support import make_sample, parsed_batch, read_worker
from verifiers.write import services as write_services
from verifiers.write.targets import forget_targets

READS = "/api/v1/read-samples"
CAPTURES = "/api/v1/write-captures"
COMMITS = "/api/v1/write-commits"
BALANCE = "GET /accounts/{id}/balance"


@pytest.fixture
def two_migrations(db) -> tuple[Migration, Migration]:
    return (Migration.objects.create(slug="won", name="Won deposits"),
            Migration.objects.create(slug="fx", name="FX deposits"))


@pytest.fixture
def machine(two_migrations, user_with_role):
    """A client whose token may ingest into any migration, and a maker of limited ones."""
    user = user_with_role(MACHINE_CLIENTS, "gateway")

    def client_for(migration: Migration | None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(user=user, name='t', migration=migration)[1]}")
        return client

    return client_for


def post(client: APIClient, path: str, body, query: str = ""):
    return client.post(path + query, data=orjson.dumps(body), content_type="application/json")


# --- ingest names the migration ---------------------------------------------------------------------


def test_read_ingest_with_several_migrations_must_name_one(machine, redis_client):
    client = machine(None)
    unnamed = post(client, READS, [make_sample("a")])
    assert unnamed.status_code == 400 and unnamed.json()["detail"] == "name the migration (?migration=<slug>): fx, won"
    unknown = post(client, READS, [make_sample("a")], "?migration=gl")
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "unknown migration 'gl'; known migrations: fx, won"
    assert redis_client.xlen(stream.STREAM_KEY) == 0
    assert post(client, READS, [make_sample("a")], "?migration=won").status_code == 202
    # The same sample id in another migration is another sample, not a duplicate.
    assert post(client, READS, [make_sample("a")], "?migration=fx").json()["accepted"] == 1


def test_a_token_limited_to_one_migration_cannot_ingest_into_another(machine, two_migrations, redis_client):
    won, _ = two_migrations
    limited = machine(won)
    refused = post(limited, READS, [make_sample("a")], "?migration=fx")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "this API token is limited to migration 'won'; it cannot ingest into 'fx'"
    for path, body in ((CAPTURES, {"id": "c1"}), (COMMITS, {"id": "c1"})):
        answer = post(limited, path, body, "?migration=fx")
        assert answer.status_code == 403 and "limited to migration 'won'" in answer.json()["error"]
    assert redis_client.xlen(stream.STREAM_KEY) == 0
    # Unnamed, the token's own migration is meant.
    assert post(limited, READS, [make_sample("a")]).status_code == 202
    entry = redis_client.xrange(stream.STREAM_KEY)[0][1]
    assert orjson.loads(entry[b"sample"])["migration"] == "won"


def test_replay_and_token_commands_name_the_migration(two_migrations, redis_client, tmp_path, user_with_role):
    from django.core.management import CommandError, call_command

    path = tmp_path / "samples.jsonl"
    path.write_bytes(orjson.dumps(make_sample("r1")) + b"\n")
    with pytest.raises(CommandError, match=r"name the migration \(--migration SLUG\): fx, won"):
        call_command("replay", str(path), verbosity=0)
    call_command("replay", str(path), "--migration", "fx", verbosity=0)
    entry = redis_client.xrange(stream.STREAM_KEY)[0][1]
    assert orjson.loads(entry[b"sample"])["migration"] == "fx"

    user_with_role(MACHINE_CLIENTS, "gateway")
    with pytest.raises(CommandError, match="--migration 'gl': no such migration; known: fx, won"):
        call_command("create_api_token", "--user", "gateway", "--name", "g", "--migration", "gl")
    call_command("create_api_token", "--user", "gateway", "--name", "g", "--migration", "won", stdout=io.StringIO())
    assert ApiToken.objects.get(name="g").migration.slug == "won"


# --- read: the same route template in both ----------------------------------------------------------


def test_same_route_in_two_migrations_is_judged_by_its_own_rules_and_candidate(two_migrations, redis_client):
    won, fx = two_migrations
    servers = {"won": CandidateServer().start(), "fx": CandidateServer().start()}
    try:
        for migration in two_migrations:
            System.objects.create(migration=migration, name="candidate", base_url=servers[migration.slug].url,
                                  role=System.Role.CANDIDATE)
        # Won ignores the trace id and calls a mismatch high; FX compares it and calls it low.
        Route.objects.create(migration=won, method="GET", template="/accounts/{id}/balance", severity="high",
                             rules={"ignore_paths": ["$.traceId"]})
        Route.objects.create(migration=fx, method="GET", template="/accounts/{id}/balance", severity="low")
        servers["won"].answers["/accounts/1/balance"] = (200, {"balance": "1.00", "traceId": "won"})
        servers["fx"].answers["/accounts/1/balance"] = (200, {"balance": "1.00", "traceId": "fx"})
        sample = make_sample("s1", "/accounts/1/balance", {"balance": "1.00", "traceId": "legacy"})
        for migration in two_migrations:
            read_services.ingest_samples(batch=parsed_batch([sample]), client=redis_client,
                                         migration=migration.slug)
        assert read_worker(redis_client).run(max_idle_batches=2, install_signals=False) == 2

        assert [len(server.requests) for server in servers.values()] == [1, 1]  # each its own candidate
        counts = {row["migration__slug"]: (row["matched"], row["mismatched"]) for row in
                  OutcomeCount.objects.filter(subject=BALANCE).values("migration__slug")
                  .annotate(matched=Sum("matched"), mismatched=Sum("mismatched"))}
        assert counts == {"won": (1, 0), "fx": (0, 1)}
        group = MismatchGroup.objects.get()
        assert (group.migration, group.severity) == (fx, "low")
        assert sorted(VerifiedSample.objects.values_list("migration__slug", "sample_id")) == [
            ("fx", "s1"), ("won", "s1")]
    finally:
        for server in servers.values():
            server.stop()


def test_noise_is_suggested_per_migration_also_on_an_unconfigured_route(two_migrations, redis_client):
    won, fx = two_migrations
    body = {"balance": "1", "stamp": 3}
    servers = [CandidateServer({"/accounts/1/balance": (200, body)}).start(),
               CandidateServer({"/accounts/1/balance": (200, {"balance": "1", "stamp": 2})}).start()]
    try:
        for migration in two_migrations:
            System.objects.create(migration=migration, name="candidate", base_url=servers[0].url,
                                  role=System.Role.CANDIDATE)
            System.objects.create(migration=migration, name="legacy again", base_url=servers[1].url,
                                  role=System.Role.LEGACY_SECONDARY)
        Route.objects.create(migration=won, method="GET", template="/accounts/{id}/balance")  # fx has none
        sample = make_sample("n1", "/accounts/1/balance", {"balance": "1", "stamp": 1})
        for migration in two_migrations:
            read_services.ingest_samples(batch=parsed_batch([sample]), client=redis_client, migration=migration.slug)
        read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    finally:
        for server in servers:
            server.stop()
    suggestions = {s.migration.slug: s for s in NoiseSuggestion.objects.all()}
    assert set(suggestions) == {"won", "fx"} and all(s.pattern == "$.stamp" for s in suggestions.values())
    assert suggestions["won"].route.migration == won and suggestions["fx"].route is None
    route = read_services.accept_noise_suggestion(suggestion_id=suggestions["fx"].pk)
    assert route.migration == fx and route.rules["ignore_paths"] == ["$.stamp"]
    assert Route.objects.get(migration=won).rules == {}  # won's route with the same template is untouched


def test_a_migration_without_candidate_waits_without_holding_up_the_other(two_migrations, redis_client):
    from verifiers.read.pipeline import ReadVerifierWorker

    won, fx = two_migrations
    server = CandidateServer().start()
    try:
        System.objects.create(migration=won, name="candidate", base_url=server.url, role=System.Role.CANDIDATE)
        for migration in two_migrations:
            read_services.ingest_samples(batch=parsed_batch([make_sample("w1")]), client=redis_client,
                                         migration=migration.slug)
        assert read_worker(redis_client).run(max_idle_batches=2, install_signals=False) == 1
        assert list(VerifiedSample.objects.values_list("migration__slug", flat=True)) == ["won"]
        assert redis_client.xpending(stream.STREAM_KEY, stream.CONSUMER_GROUP)["pending"] == 1  # fx's waits

        System.objects.create(migration=fx, name="candidate", base_url=server.url, role=System.Role.CANDIDATE)
        worker = ReadVerifierWorker(redis_client, consumer="later", block_ms=100, reclaim_idle_ms=1)
        assert worker.run(max_idle_batches=2, install_signals=False) == 1
    finally:
        server.stop()
    assert sorted(VerifiedSample.objects.values_list("migration__slug", flat=True)) == ["fx", "won"]
    assert redis_client.xpending(stream.STREAM_KEY, stream.CONSUMER_GROUP)["pending"] == 0


def test_a_stream_entry_naming_no_migration_is_dropped_when_there_are_several(two_migrations, redis_client):
    stream.ensure_group(redis_client)
    redis_client.xadd(stream.STREAM_KEY, {"id": "g1", "sample": orjson.dumps(make_sample("g1"))})
    worker = read_worker(redis_client)
    outcome = worker.verify(stream.read_batch(redis_client, "test", count=10, block_ms=100))
    assert outcome.malformed == 1 and not outcome.verdicts


# --- write: a database called "ledger" in both ----------------------------------------------------------


@pytest.fixture
def ledgers(two_migrations, ledger_dsn):
    forget_targets()
    databases = {m.slug: VerifiedDatabase.objects.create(migration=m, name="ledger", dsn=ledger_dsn, capture_ttl_s=60)
                 for m in two_migrations}
    yield databases
    forget_targets()


def capture(capture_id: str, **fields) -> dict:
    return {"id": capture_id, "dialect": "postgres",
            "statements": [{"sql": "UPDATE accounts SET memo = %s WHERE id = %s", "params": ["hello", 1]}],
            "after_images": [], **fields}


def test_write_captures_naming_ledger_go_to_their_own_migrations_database(machine, ledgers, redis_client):
    # Won's rules for its accounts table ignore the memo; FX's table of the same name has none.
    WriteTableRule.objects.create(migration=ledgers["won"].migration, table="accounts",
                                  rules={"ignore_paths": ["$.memo"]})
    client = machine(None)
    for slug in ("won", "fx"):
        answer = post(client, CAPTURES, capture(f"{slug}-1", database="ledger"), f"?migration={slug}")
        assert answer.status_code == 202, answer.json()
        assert post(client, COMMITS, {"id": f"{slug}-1"}, f"?migration={slug}").status_code == 202
    stored = write_services.write_store().load(["won-1", "fx-1"])
    for slug in ("won", "fx"):
        data = json.loads(stored[f"{slug}-1"].data)
        assert (data["database_id"], data["migration_id"]) == (ledgers[slug].pk, ledgers[slug].migration_id)
    unknown = post(client, CAPTURES, capture("fx-2", database="books"), "?migration=fx")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "unknown verified database 'books' of migration 'fx'; known: 'ledger'"

    summary = write_services.process_due_work(now=10**10)  # every commit delay has passed
    assert summary.claimed == 2
    groups = {group.migration.slug: group.count for group in MismatchGroup.objects.filter(kind="write")}
    assert groups == {"fx": 1}  # won's memo is ignored by won's own table rules only
    counts = dict(OutcomeCount.objects.filter(kind="write").values_list("migration__slug", "matched"))
    assert counts == {"won": 1, "fx": 0}


def test_a_commit_without_capture_is_reported_in_the_migration_that_sent_it(machine, ledgers):
    assert post(machine(None), COMMITS, {"id": "lone"}, "?migration=fx").status_code == 202
    write_services.process_due_work(now=10**10)
    group = MismatchGroup.objects.get(kind="write")
    assert group.migration.slug == "fx" and group.outcome == "orphaned"


# --- alerts name the migration and reach its recipients -------------------------------------------------


@pytest.mark.usefixtures("eager_celery")
def test_alerts_go_to_each_migrations_recipients_and_name_it(two_migrations):
    won, fx = two_migrations
    AlertRecipient.objects.create(email="won@bank", kinds=["new_group"], migration=won)
    AlertRecipient.objects.create(email="fx@bank", kinds=["new_group"], migration=fx)
    AlertRecipient.objects.create(email="programme@bank", kinds=["new_group"])
    AlertRule.objects.create(kind="new_group", migration=won, enabled=False)  # won's own rule: off
    verdicts = mismatch_verdicts(2, timezone.now())
    verdicts[0].migration_id, verdicts[1].migration_id = won.pk, fx.pk
    group_ids = record_verdicts(verdicts).new_group_ids
    publish(group_alerts.group_events(group_ids))

    assert sorted(tuple(message.to) for message in mail.outbox) == [("fx@bank",), ("programme@bank",)]
    assert all(message.subject.startswith("[MHC] [FX deposits] New mismatch group") for message in mail.outbox)
    assert "Migration: FX deposits" in " ".join(mail.outbox[0].body.split())
    sent = SentAlert.objects.get()
    assert sent.migration == fx and sorted(sent.recipients) == ["fx@bank", "programme@bank"]


def test_unusable_second_legacy_answers_are_counted_per_migration(two_migrations, redis_client, client,
                                                                  user_with_role):
    won, fx = two_migrations
    read_services.record_read_batch(verdicts=[], secondary_unusable={
        (won.pk, BALANCE): (2, "content type text/html"), (fx.pk, BALANCE): (1, "status 503")})
    read_services.record_read_batch(verdicts=[], secondary_unusable={(fx.pk, BALANCE): (4, "status 502")})
    client.force_login(user_with_role(VIEWERS, "viewer"))
    fx_page = client.get("/read/?migration=fx").content.decode()
    assert "status 502" in fx_page and "content type text/html" not in fx_page
    assert "<td>5</td>" in fx_page.replace('<td class="num">', "<td>")
    both = client.get("/read/").content.decode()
    assert "<td>Won deposits</td><td>GET /accounts/{id}/balance</td>" in both
