"""Roles per migration: an operator, viewer or admin of migration A acts on A only; B's groups,
samples, runs and configuration do not exist for them (404) or are refused (403). The global groups
keep meaning every migration."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from console.access import administrable_migrations, operable_migrations, viewable_migrations
from console.models import ApiToken, Migration, MigrationRole
from console.roles import OPERATORS, VIEWERS, ensure_roles
from verifiers.models import LedgerSource, MismatchGroup, MismatchSample, ReconciliationRun, Route

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict:
    """Two migrations, each with a group holding one stored sample, a route and a finished run."""
    ensure_roles()
    world: dict = {}
    now = timezone.now()
    for key in ("a", "b"):
        migration = Migration.objects.create(slug=f"mig-{key}", name=f"Migration {key.upper()}")
        group = MismatchGroup.objects.create(
            migration=migration, kind="read", fingerprint="fp", title=f"GET /same: $.x changed in {key}",
            subject="GET /same", first_seen=now, last_seen=now, count=1)
        sample = MismatchSample.objects.create(
            group=group, sample_id=f"sample-{key}", captured_at=now, outcome="mismatch",
            request={"method": "GET", "path": "/same"}, legacy={"status": 200, "body": {"x": f"secret-{key}"}},
            candidate={"status": 200, "body": {"x": 2}}, differences=[{"path": "$.x", "kind": "changed"}])
        route = Route.objects.create(migration=migration, method="GET", template="/same")
        source = LedgerSource.objects.create(
            migration=migration, name="ledger", dsn="postgresql://nowhere/ledger", accounts_table="accounts",
            account_key="id", balance_column="balance", currency_code="USD", entries_table="entries",
            entry_account_column="account_id", entry_amount_column="amount", entry_time_column="at")
        run = ReconciliationRun.objects.create(source=source, cutoff=now, status="balanced")
        world[key] = {"migration": migration, "group": group, "sample": sample, "route": route, "run": run}
    return world


def user_with(name: str, *, role: str | None = None, migration: Migration | None = None, group: str | None = None,
              staff: bool = False):
    user = get_user_model().objects.create_user(name, password="pw-123456789", is_staff=staff)
    if role:
        MigrationRole.objects.create(user=user, migration=migration, role=role)
    if group:
        user.groups.add(ensure_roles()[group])
    return user


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def token_of(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {ApiToken.issue(user=user, name='reader')[1]}"}


def test_the_three_seams_answer_per_role(world):
    a, b = world["a"]["migration"], world["b"]["migration"]
    operator_a = user_with("op-a", role="operator", migration=a)
    operator_a_viewer_b = user_with("op-a-view-b", role="operator", migration=a)
    MigrationRole.objects.create(user=operator_a_viewer_b, migration=b, role="viewer")
    admin_everywhere = user_with("admin-all", role="admin", migration=None)

    assert list(viewable_migrations(operator_a)) == [a]
    assert list(operable_migrations(operator_a)) == [a]
    assert list(administrable_migrations(operator_a)) == []
    assert set(viewable_migrations(operator_a_viewer_b)) == {a, b}
    assert list(operable_migrations(operator_a_viewer_b)) == [a]
    assert set(administrable_migrations(admin_everywhere)) == {a, b}
    assert set(viewable_migrations(user_with("global-viewer", group=VIEWERS))) == {a, b}
    assert list(operable_migrations(user_with("global-viewer-2", group=VIEWERS))) == []
    assert list(viewable_migrations(user_with("nobody"))) == []


def test_an_operator_of_a_triages_and_reverifies_a_but_not_b(world):
    client = client_of(user_with("op-a", role="operator", migration=world["a"]["migration"]))
    group_a, group_b = world["a"]["group"], world["b"]["group"]

    assert client.post(f"/groups/{group_a.pk}/status", {"action": "acknowledge"}).status_code == 302
    assert client.post(f"/groups/{group_b.pk}/status", {"action": "acknowledge"}).status_code == 404
    with mock.patch("verifiers.groups.tasks.reverify_group.delay") as delay:
        assert client.post(f"/groups/{group_a.pk}/reverify").status_code == 302
        assert client.post(f"/groups/{group_b.pk}/reverify").status_code == 404
    delay.assert_called_once_with(group_a.pk)
    group_a.refresh_from_db()
    group_b.refresh_from_db()
    assert (group_a.status, group_b.status) == ("acknowledged", "open")


def test_an_operator_of_a_who_views_b_is_refused_b_actions_with_403(world):
    user = user_with("op-a", role="operator", migration=world["a"]["migration"])
    MigrationRole.objects.create(user=user, migration=world["b"]["migration"], role="viewer")
    client, group_b = client_of(user), world["b"]["group"]

    assert client.get(f"/groups/{group_b.pk}/").status_code == 200
    assert client.post(f"/groups/{group_b.pk}/status", {"action": "ignore"}).status_code == 403
    assert client.post(f"/groups/{group_b.pk}/reverify").status_code == 403
    headers = token_of(user)
    api = f"/api/v1/mismatch-groups/{group_b.pk}"
    assert Client().post(f"{api}/status", data=json.dumps({"action": "ignore"}), content_type="application/json",
                         **headers).status_code == 403
    assert Client().post(f"{api}/reverify", **headers).status_code == 403
    group_b.refresh_from_db()
    assert group_b.status == "open"


def test_an_operator_of_a_sees_none_of_bs_samples_in_pages_or_api(world):
    user = user_with("op-a", role="operator", migration=world["a"]["migration"])
    client, headers = client_of(user), token_of(user)
    group_a, group_b = world["a"]["group"], world["b"]["group"]

    assert "secret-a" in client.get(f"/groups/{group_a.pk}/").content.decode()
    assert client.get(f"/groups/{group_b.pk}/").status_code == 404
    detail = Client().get(f"/api/v1/mismatch-groups/{group_a.pk}", **headers).json()
    assert [s["sample_id"] for s in detail["samples"]] == ["sample-a"]
    assert Client().get(f"/api/v1/mismatch-groups/{group_b.pk}", **headers).status_code == 404
    with mock.patch("verifiers.groups.tasks.reverify_group.delay"):
        assert Client().post(f"/api/v1/mismatch-groups/{group_b.pk}/reverify", **headers).status_code == 404
    listed = Client().get("/api/v1/mismatch-groups", **headers).json()["results"]
    assert [g["id"] for g in listed] == [group_a.pk]


def test_a_viewer_of_a_lists_only_as_groups(world):
    client = client_of(user_with("viewer-a", role="viewer", migration=world["a"]["migration"]))
    page = client.get("/groups/").content.decode()
    assert "changed in a" in page and "changed in b" not in page
    assert client.post(f"/groups/{world['a']['group'].pk}/status", {"action": "ignore"}).status_code == 403


@pytest.mark.parametrize("make_user", [
    lambda: user_with("global-op", group=OPERATORS),
    lambda: user_with("op-everywhere", role="operator", migration=None),
], ids=["operators-group", "operator-of-every-migration"])
def test_a_global_operator_sees_and_triages_both(world, make_user):
    client = client_of(make_user())
    page = client.get("/groups/").content.decode()
    assert "changed in a" in page and "changed in b" in page
    for key in ("a", "b"):
        assert client.post(f"/groups/{world[key]['group'].pk}/status", {"action": "ignore"}).status_code == 302
    assert set(MismatchGroup.objects.values_list("status", flat=True)) == {"ignored"}


def test_an_operator_of_a_cannot_rerun_or_read_bs_reconciliation(world, django_capture_on_commit_callbacks):
    client = client_of(user_with("op-a", role="operator", migration=world["a"]["migration"]))
    run_b = world["b"]["run"]
    assert client.get(f"/reconciliation/runs/{run_b.pk}/").status_code == 404
    assert client.get(f"/reconciliation/runs/{run_b.pk}/differences.csv").status_code == 404
    assert client.post(f"/reconciliation/runs/{run_b.pk}/rerun/").status_code == 404
    assert ReconciliationRun.objects.count() == 2  # no new run
    assert client.get(f"/reconciliation/runs/{world['a']['run'].pk}/").status_code == 200


def _route_form(route: Route, migration: Migration) -> dict:
    return {"migration": migration.pk, "method": route.method, "template": route.template, "enabled": "on",
            "sampling_ratio": "0.5", "active_from": "", "active_until": "", "rules": "{}", "severity": "high",
            "mismatch_rate_alert": ""}


def test_an_admin_of_a_sees_and_changes_only_as_routes(world):
    client = client_of(user_with("admin-a", role="admin", migration=world["a"]["migration"], staff=True))
    route_a, route_b = world["a"]["route"], world["b"]["route"]
    a, b = world["a"]["migration"], world["b"]["migration"]

    assert "/admin/verifiers/route/" in client.get("/admin/").content.decode()
    listing = client.get("/admin/verifiers/route/")
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [route_a]
    assert client.get(f"/admin/verifiers/route/{route_b.pk}/change/").status_code == 302  # "does not exist"
    form = client.get(f"/admin/verifiers/route/{route_a.pk}/change/").context["adminform"].form
    assert list(form.fields["migration"].queryset) == [a]

    # Filing A's route under B is refused; A's route may be changed within A.
    refused = client.post(f"/admin/verifiers/route/{route_a.pk}/change/", _route_form(route_a, b))
    assert refused.status_code == 200 and "migration" in refused.context["adminform"].form.errors
    assert client.post("/admin/verifiers/route/add/", {**_route_form(route_a, b), "template": "/new"}).status_code == 200
    assert not Route.objects.filter(template="/new").exists()
    assert client.post(f"/admin/verifiers/route/{route_a.pk}/change/", _route_form(route_a, a)).status_code == 302
    route_a.refresh_from_db()
    assert (route_a.migration, route_a.sampling_ratio) == (a, 0.5)
    # Their migration's own configuration only: no NUMA hosts, tokens, users or migrations.
    assert client.get("/admin/console/migration/").status_code == 403
    assert client.get("/admin/console/apitoken/").status_code == 403


def test_an_admin_of_a_sees_only_as_alert_rules_not_the_programme_wide_ones(world):
    from console.alerts.models import AlertKind, AlertRule

    a = world["a"]["migration"]
    AlertRule.objects.all().delete()
    AlertRule.objects.create(migration=None, kind=AlertKind.MISMATCH_RATE, threshold=0.1, window_minutes=5)
    own = AlertRule.objects.create(migration=a, kind=AlertKind.MISMATCH_RATE, threshold=0.2, window_minutes=5)
    AlertRule.objects.create(migration=world["b"]["migration"], kind=AlertKind.MISMATCH_RATE, threshold=0.3,
                             window_minutes=5)
    client = client_of(user_with("admin-a", role="admin", migration=a, staff=True))
    listing = client.get("/admin/alerts/alertrule/")
    assert list(listing.context["cl"].queryset) == [own]
    form = client.get("/admin/alerts/alertrule/add/").context["adminform"].form
    assert form.fields["migration"].required and list(form.fields["migration"].queryset) == [a]


def test_a_migration_role_is_unique_per_user_and_migration_including_every_migration(world):
    from django.db import IntegrityError, transaction

    user = user_with("someone", role="viewer", migration=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        MigrationRole.objects.create(user=user, migration=None, role="admin")
    MigrationRole.objects.create(user=user, migration=world["a"]["migration"], role="admin")


def test_admin_actions_triage_only_the_groups_of_migrations_the_operator_operates(world):
    user = user_with("op-a", role="operator", migration=world["a"]["migration"], staff=True)
    MigrationRole.objects.create(user=user, migration=world["b"]["migration"], role="viewer")
    group_a, group_b = world["a"]["group"], world["b"]["group"]
    response = client_of(user).post("/admin/verifiers/mismatchgroup/",
                                    {"action": "ignore", "_selected_action": [group_a.pk, group_b.pk]}, follow=True)
    assert response.status_code == 200
    assert dict(MismatchGroup.objects.values_list("pk", "status")) == {group_a.pk: "ignored", group_b.pk: "open"}


def test_granting_a_migration_admin_role_in_the_admin_opens_the_admin_site_to_the_user(world, admin_client):
    a = world["a"]["migration"]
    newcomer = user_with("admin-to-be")
    reader = user_with("reader")
    for user, role in ((newcomer, "admin"), (reader, "viewer")):
        answer = admin_client.post("/admin/console/migrationrole/add/",
                                   {"user": user.pk, "migration": a.pk, "role": role})
        assert answer.status_code == 302, answer.content.decode()[:500]
    newcomer.refresh_from_db()
    reader.refresh_from_db()
    assert newcomer.is_staff and not reader.is_staff  # a viewer has no business in the admin
    assert "/admin/verifiers/route/" in client_of(newcomer).get("/admin/").content.decode()
