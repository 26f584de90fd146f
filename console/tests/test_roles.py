"""Roles: operators view and triage, admins configure, machine tokens ingest but see no pages."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from console.models import ApiToken, sole_migration_pk
from console.roles import ADMIN_APPS, ADMINS, MACHINE_CLIENTS, OPERATORS, VIEWERS, ensure_roles
from verifiers.models import MismatchGroup, Route

pytestmark = pytest.mark.django_db

PAGES = ["/", "/read/", "/write/", "/reconciliation/", "/numa/", "/groups/"]


def user_in(role: str, name: str, *, staff: bool = False):
    groups = ensure_roles()
    user = get_user_model().objects.create_user(name, password="pw-123456789", is_staff=staff)
    user.groups.add(groups[role])
    return user


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def operator():
    # Staff, so the admin itself is open to them: only the permissions keep them out of configuration.
    return logged_in(user_in(OPERATORS, "operator", staff=True))


@pytest.fixture
def admin():
    return logged_in(user_in(ADMINS, "admin", staff=True))


@pytest.fixture
def machine_token() -> str:
    robot = user_in(MACHINE_CLIENTS, "gateway")
    return ApiToken.issue(user=robot, name="gateway-1")[1]


@pytest.fixture
def group() -> MismatchGroup:
    now = timezone.now()
    return MismatchGroup.objects.create(kind="read", fingerprint="fp", title="GET /a: $.x changed", subject="GET /a",
                                        first_seen=now, last_seen=now, count=1)


def post_json(client: Client, url: str, payload: dict | list, **headers):
    return client.post(url, data=json.dumps(payload), content_type="application/json", **headers)


@pytest.mark.parametrize("url", PAGES)
def test_operator_can_view_every_page(operator, url):
    assert operator.get(url).status_code == 200


def test_operator_can_view_a_group(operator, group):
    assert operator.get(f"/groups/{group.pk}/").status_code == 200


def test_operator_can_acknowledge_a_group(operator, group):
    response = post_json(operator, f"/api/v1/mismatch-groups/{group.pk}/status", {"action": "acknowledge"})
    assert response.status_code == 200
    group.refresh_from_db()
    assert group.status == "acknowledged" and group.status_changed_by == "operator"


def test_operator_can_ignore_a_group(operator, group):
    post_json(operator, f"/api/v1/mismatch-groups/{group.pk}/status", {"action": "ignore"})
    group.refresh_from_db()
    assert group.status == "ignored"


def test_operator_can_queue_a_reverify(operator, group):
    response = operator.post(f"/api/v1/mismatch-groups/{group.pk}/reverify")
    assert response.status_code == 202 and response.json()["task_id"]


def test_operator_cannot_add_a_route_in_the_admin(operator):
    assert operator.get("/admin/verifiers/route/add/").status_code == 403
    response = operator.post("/admin/verifiers/route/add/", {"method": "GET", "template": "/x", "sampling_ratio": 1,
                                                             "severity": "medium", "rules": "{}"})
    assert response.status_code == 403 and not Route.objects.exists()


def test_operator_cannot_manage_alert_recipients(operator):
    assert operator.get("/admin/alerts/alertrecipient/add/").status_code == 403


def test_operator_may_trigger_a_reconciliation_but_not_configure_ledger_sources(operator):
    assert operator.post("/reconciliation/run/", {}).status_code != 403  # the empty form is refused, not the user
    assert operator.get("/admin/verifiers/ledgersource/add/").status_code == 403


def test_operator_sees_no_admin_link_to_change_routes(operator):
    html = operator.get("/admin/").content.decode()
    assert "/admin/verifiers/route/add/" not in html


def test_admin_can_add_a_route_in_the_admin(admin):
    response = admin.post("/admin/verifiers/route/add/", {
        "method": "GET", "template": "/accounts/{id}", "sampling_ratio": "1.0", "severity": "high",
        "rules": "{}", "enabled": "on", "migration": sole_migration_pk(),
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Route.objects.filter(template="/accounts/{id}").exists()


def test_admin_index_is_titled_for_the_console(admin):
    html = admin.get("/admin/").content.decode()
    assert "Migration health console" in html


@pytest.mark.xfail("alerts" not in ADMIN_APPS, strict=True,
                   reason="console/roles.py ADMIN_APPS does not list the 'alerts' app label yet")
def test_admin_can_manage_alert_recipients(admin):
    assert admin.get("/admin/alerts/alertrecipient/add/").status_code == 200


def test_machine_token_can_ingest_samples(machine_token):
    sample = {"id": "s-1", "captured_at": timezone.now().isoformat(),
              "request": {"method": "GET", "path": "/accounts/1/balance"},
              "legacy": {"status": 200, "body": {"balance": "1"}}}
    response = post_json(Client(), "/api/v1/read-samples", [sample], HTTP_AUTHORIZATION=f"Token {machine_token}")
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == 1


def test_machine_token_does_not_open_pages(machine_token):
    response = Client().get("/", HTTP_AUTHORIZATION=f"Token {machine_token}")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_machine_token_cannot_triage(machine_token, group):
    response = post_json(Client(), f"/api/v1/mismatch-groups/{group.pk}/status", {"action": "ignore"},
                         HTTP_AUTHORIZATION=f"Token {machine_token}")
    assert response.status_code == 403
    group.refresh_from_db()
    assert group.status == "open"


def test_anonymous_api_call_is_refused(group):
    response = post_json(Client(), f"/api/v1/mismatch-groups/{group.pk}/status", {"action": "ignore"})
    assert response.status_code in (401, 403)


# --- no role, viewer, ingest-only tokens (issue 13: roles everywhere) ---------------------------

@pytest.fixture
def no_role(user_with_role):
    return logged_in(user_with_role(None, "newcomer"))


@pytest.fixture
def viewer(user_with_role):
    return logged_in(user_with_role(VIEWERS, "viewer"))


@pytest.mark.parametrize("url", PAGES)
def test_a_user_without_role_sees_no_page(no_role, url):
    response = no_role.get(url)
    assert response.status_code == 403
    assert "ask an admin" in response.content.decode()


def test_a_user_without_role_sees_no_group_nor_its_samples(no_role, group):
    assert no_role.get(f"/groups/{group.pk}/").status_code == 403
    assert no_role.get("/api/v1/mismatch-groups").status_code == 403
    assert no_role.get(f"/api/v1/mismatch-groups/{group.pk}").status_code == 403


def test_a_user_without_role_cannot_post_read_samples(no_role):
    response = post_json(no_role, "/api/v1/read-samples", [])
    assert response.status_code == 403


def test_a_user_without_role_can_still_log_out(no_role):
    assert no_role.post("/logout/").status_code == 302


@pytest.mark.parametrize("url", PAGES)
def test_a_viewer_sees_every_page(viewer, url):
    assert viewer.get(url).status_code == 200


def test_a_viewer_reads_groups_but_cannot_triage_nor_ingest(viewer, group):
    assert viewer.get(f"/groups/{group.pk}/").status_code == 200
    assert viewer.get(f"/api/v1/mismatch-groups/{group.pk}").status_code == 200
    assert post_json(viewer, f"/api/v1/mismatch-groups/{group.pk}/status", {"action": "ignore"}).status_code == 403
    assert viewer.post(f"/api/v1/mismatch-groups/{group.pk}/reverify").status_code == 403
    assert post_json(viewer, "/api/v1/read-samples", []).status_code == 403


@pytest.mark.parametrize("url", ["/api/v1/mismatch-groups", "/api/v1/mismatch-groups/{pk}"])
def test_an_ingest_token_reads_no_stored_sample(machine_token, group, url):
    response = Client().get(url.format(pk=group.pk), HTTP_AUTHORIZATION=f"Token {machine_token}")
    assert response.status_code == 403


@pytest.mark.parametrize("url", ["/api/v1/read-samples", "/api/v1/write-captures", "/api/v1/write-commits",
                                 "/api/v1/numa/samples", "/api/v1/numa/pinning-events"])
def test_every_ingest_endpoint_applies_the_same_rule(user_with_role, url):
    """A viewer's token is refused on each ingest endpoint, before its body is even read."""
    viewer_token = ApiToken.issue(user=user_with_role(VIEWERS, "viewer-script"), name="v")[1]
    response = post_json(Client(), url, [], HTTP_AUTHORIZATION=f"Token {viewer_token}")
    assert response.status_code == 403, (url, response.content)
    assert "ingest permission" in response.json()["detail"]


def test_the_admin_changes_a_group_status_through_the_triage_service(operator, group):
    response = operator.post("/admin/verifiers/mismatchgroup/", {
        "action": "acknowledge", "_selected_action": [group.pk]})
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.status == "acknowledged"
    assert group.status_changed_by == "operator" and group.status_changed_at is not None


def test_the_admin_form_cannot_set_a_status_directly(admin, group):
    html = admin.get(f"/admin/verifiers/mismatchgroup/{group.pk}/change/").content.decode()
    assert 'name="status"' not in html


def test_an_issued_token_never_starts_like_a_command_line_option(monkeypatch):
    # `numa_agent --token <raw>`: a raw token starting with "-" would be read as another option.
    drawn = iter(["-starts-with-a-dash", "plain-token-value"])
    monkeypatch.setattr("console.models.secrets.token_urlsafe", lambda _: next(drawn))
    user = get_user_model().objects.create_user(username="robot-with-dash")
    token, raw = ApiToken.issue(user=user, name="agent")
    assert raw == "plain-token-value" and token.prefix == raw[:len(token.prefix)]


# --- the ingest grant read with the token (one query instead of three per ingest request) -------

def _holder(how: str):
    """A user holding (or not) the ingest permission in one of the ways Django knows."""
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(f"holder-{how}")
    ingest = Permission.objects.get(content_type__app_label="console", codename="ingest")
    if how == "group":
        user.groups.add(ensure_roles()[MACHINE_CLIENTS])
    elif how == "direct":
        user.user_permissions.add(ingest)
    elif how == "superuser":
        user.is_superuser = True
        user.save()
    elif how == "inactive-group":
        user.groups.add(ensure_roles()[MACHINE_CLIENTS])
        user.is_active = False
        user.save()
    elif how == "viewer":
        user.groups.add(ensure_roles()[VIEWERS])
    elif how == "migration-admin":  # a MigrationRole grants no ingest, even an admin's
        from console.models import Migration, MigrationRole

        sole_migration_pk()  # the console's only migration, created on first use
        MigrationRole.objects.create(user=user, migration=Migration.objects.get(), role="admin")
    return user


@pytest.mark.parametrize("how, may_ingest", [("group", True), ("direct", True), ("superuser", True),
                                             ("viewer", False), ("migration-admin", False), ("none", False)])
def test_the_token_grant_says_what_every_backend_says(how, may_ingest):
    from console.access import can_ingest
    from console.api_auth import user_for_token

    holder = _holder(how)
    user, token = user_for_token(ApiToken.issue(user=holder, name="t")[1])
    fresh = get_user_model().objects.get(pk=holder.pk)  # no cached permissions: every backend asked
    assert fresh.has_perm("console.ingest") is may_ingest
    assert can_ingest(user, token) is may_ingest
    assert can_ingest(fresh) is may_ingest


def test_an_inactive_user_token_is_refused_even_with_the_grant():
    from rest_framework.exceptions import AuthenticationFailed

    from console.access import can_ingest
    from console.api_auth import user_for_token

    holder = _holder("inactive-group")
    raw = ApiToken.issue(user=holder, name="t")[1]
    with pytest.raises(AuthenticationFailed, match="inactive"):
        user_for_token(raw)
    token = ApiToken.objects.get(user=holder)
    token.grants_ingest = True  # even a token that says so: an inactive user ingests nothing
    assert can_ingest(holder, token) is False


def test_a_machine_token_ingests_with_one_query_for_token_and_permission(machine_token):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    Client().post("/api/v1/write-commits", data="[]", content_type="application/json",
                  HTTP_AUTHORIZATION=f"Token {machine_token}")  # last_used_at written once a minute
    with CaptureQueriesContext(connection) as queries:
        response = Client().post("/api/v1/write-commits", data="[]", content_type="application/json",
                                 HTTP_AUTHORIZATION=f"Token {machine_token}")
    assert response.status_code == 202, response.content
    auth = [q["sql"] for q in queries.captured_queries if "auth_permission" in q["sql"] or "apitoken" in q["sql"]]
    assert len(auth) == 1, auth
