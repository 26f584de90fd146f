"""Issue 15 item 5: a console from before migrations existed keeps every row, all under "default"."""

from __future__ import annotations

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from console.alerts.models import AlertRecipient, AlertRule, SentAlert
from console.models import ApiToken, Migration
from verifiers.models import FiveMinuteOutcomeCount, MismatchSample, NoiseSuggestion, ReconciliationRun
from verifiers.tests.reconcile_ledgers import MAPPING

BEFORE = [("console", "0002_console_access"), ("verifiers", "0006_read_groups_per_cause"),
          ("alerts", "0004_samples_lost_kind")]
# The verifiers' models with a migration column of their own, named as the rows below name them.
OWNED = ["System", "Route", "VerifiedDatabase", "WriteTableRule", "LedgerSource", "MismatchGroup", "OutcomeCount",
         "VerifiedSample", "NoiseSuggestion"]


def _rows_of_an_existing_console(apps) -> None:
    """One row in every table a migration now owns, as the previous schema stored them."""
    def model(label: str):
        app, name = label.split(".")
        return apps.get_model(app, name)

    now = timezone.now()
    model("verifiers.System").objects.create(name="candidate", base_url="http://cand", role="candidate")
    route = model("verifiers.Route").objects.create(method="GET", template="/accounts/{id}")
    model("verifiers.VerifiedDatabase").objects.create(name="ledger", dsn="postgresql://x/ledger")
    model("verifiers.WriteTableRule").objects.create(table="transfers")
    source = model("verifiers.LedgerSource").objects.create(name="books", dsn="postgresql://x/books", **MAPPING)
    model("verifiers.ReconciliationRun").objects.create(source=source, cutoff=now, status="matched")
    group = model("verifiers.MismatchGroup").objects.create(
        kind="read", fingerprint="fp", title="t", subject="GET /accounts/{id}", first_seen=now, last_seen=now)
    model("verifiers.MismatchSample").objects.create(group=group, sample_id="s1", captured_at=now, outcome="mismatch")
    model("verifiers.OutcomeCount").objects.create(kind="read", subject="GET /accounts/{id}", minute=now, matched=3)
    model("verifiers.VerifiedSample").objects.create(kind="read", sample_id="s1", verified_at=now)
    model("verifiers.NoiseSuggestion").objects.create(route=route, subject="GET /accounts/{id}", pattern="$.traceId",
                                                      first_seen=now, last_seen=now)
    model("alerts.AlertRule").objects.create(kind="new_group", enabled=False)
    model("alerts.AlertRecipient").objects.create(email="oncall@example.bank", kinds=["new_group"])
    model("alerts.SentAlert").objects.create(kind="new_group", key="group:1", subject="s", sent_at=now)
    user = model("auth.User").objects.create(username="gateway")
    model("console.ApiToken").objects.create(user=user, name="gateway", prefix="abcd", digest="d" * 64)


@pytest.mark.django_db(transaction=True)
def test_an_existing_console_becomes_migration_default_with_nothing_lost():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    _rows_of_an_existing_console(executor.loader.project_state(BEFORE).apps)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    default = Migration.objects.get()
    assert default.slug == "default"
    for name in OWNED:
        owned = django_apps.get_model("verifiers", name)
        assert list(owned.objects.values_list("migration_id", flat=True)) == [default.pk], name
    # Rows that belong through another row, or stay for every migration, are all still there.
    assert ReconciliationRun.objects.get().source.migration == default
    assert MismatchSample.objects.get().group.migration == default
    assert NoiseSuggestion.objects.get().route.migration == default
    assert list(AlertRule.objects.values_list("kind", "enabled", "migration")) == [("new_group", False, None)]
    assert list(AlertRecipient.objects.values_list("email", "migration")) == [("oncall@example.bank", None)]
    assert list(SentAlert.objects.values_list("key", "migration")) == [("group:1", None)]
    assert list(ApiToken.objects.values_list("name", "migration")) == [("gateway", None)]
    assert User.objects.filter(username="gateway").exists()
    # The counts already kept per minute are summed into the five-minute roll-up the charts read.
    assert list(FiveMinuteOutcomeCount.objects.values_list("migration", "subject", "matched")) == [
        (default.pk, "GET /accounts/{id}", 3)]
