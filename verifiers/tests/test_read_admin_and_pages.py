"""Admin actions (reverify, re-run, run now) and the read/group pages, as admins and operators see them."""

from __future__ import annotations

import html as html_lib
import json
import re
from datetime import timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from console.roles import OPERATORS
from verifiers.benchmarks.support import wait_until
from verifiers.models import (
    MismatchGroup,
    MismatchSample,
    NoiseSuggestion,
    ReconciliationRun,
    Route,
    System,
)
from verifiers.read import services
from verifiers.tests.outcome_support import add_outcome_counts
from verifiers.tests.read_support import configure_systems, make_sample, parsed_batch, read_worker

BALANCE = "/accounts/2/balance"
SUBJECT = "GET /accounts/{id}/balance"


def stored_mismatch(redis_client, candidate_server, sample_id: str = "r1") -> MismatchGroup:
    """A group with one stored sample, made by the real pipeline: legacy 2.00, candidate 2.01."""
    configure_systems(candidate_server.url)
    candidate_server.answers[BALANCE] = (200, {"balance": "2.01", "currency": "USD"})
    sample = make_sample(sample_id, BALANCE, {"balance": "2.00", "currency": "USD"})
    services.ingest_samples(batch=parsed_batch([sample]), client=redis_client)
    read_worker(redis_client).run(max_idle_batches=2, install_signals=False)
    return MismatchGroup.objects.get()


def admin_action(client: Client, model: str, action: str, obj: Any) -> Any:
    """The response to the admin action `action` on one object of `model`'s change list, followed."""
    return client.post(f"/admin/verifiers/{model}/", {"action": action, "_selected_action": [obj.pk]}, follow=True)


def reconcile_action(client: Client, model: str, action: str, obj: Any, capture_on_commit: Any) -> tuple[Any, Any]:
    """`admin_action` of a reconciliation, its coordinator queued on commit to a mock: (response, the mock)."""
    with mock.patch("verifiers.reconcile.tasks.coordinate.delay") as delay, capture_on_commit(execute=True):
        response = admin_action(client, model, action, obj)
    return response, delay


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- admin actions through a real Celery worker --------------------------------------------------


@pytest.mark.timeout(120)
def test_group_reverify_action_queues_the_samples_and_a_worker_resolves_the_group(
        celery_worker_process, admin_client, redis_client, candidate):
    group = stored_mismatch(redis_client, candidate)
    candidate.answers[BALANCE] = (200, {"balance": "2.00", "currency": "USD"})  # the candidate got fixed
    response = admin_action(admin_client, "mismatchgroup", "reverify", group)
    assert response.status_code == 200
    assert messages_of(response) == ["Reverification of 1 sample(s) queued."]
    sample = group.samples.get()
    # The worker records the sample's outcome, then resolves the group: wait for the last step.
    wait_until(lambda: MismatchGroup.objects.get(pk=group.pk).status == "resolved", 30, "the group's resolution")
    group.refresh_from_db()
    assert group.status_changed_by == "reverify"
    assert MismatchSample.objects.get(pk=sample.pk).reverify_outcome == "match"


@pytest.mark.timeout(120)
def test_sample_reverify_action_records_a_still_differing_answer(
        celery_worker_process, admin_client, redis_client, candidate):
    group = stored_mismatch(redis_client, candidate)
    candidate.answers[BALANCE] = (200, {"balance": "2.02", "currency": "USD"})  # still wrong
    sample = group.samples.get()
    response = admin_action(admin_client, "mismatchsample", "reverify", sample)
    assert messages_of(response) == ["Reverification of 1 sample(s) queued."]
    wait_until(lambda: MismatchSample.objects.get(pk=sample.pk).reverified_at is not None, 30, "the sample's reverification")
    sample.refresh_from_db()
    assert sample.reverify_outcome == "mismatch"
    assert [d["path"] for d in sample.reverify_differences] == ["$.balance"]
    group.refresh_from_db()
    assert group.status == "open"


@pytest.mark.django_db
def test_reverify_action_is_not_offered_without_the_permission(client, redis_client, candidate):
    stored_mismatch(redis_client, candidate)
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_mismatchgroup"))
    client.force_login(viewer)
    page = client.get("/admin/verifiers/mismatchgroup/").content.decode()
    assert "GET /accounts/{id}/balance" in page  # the group is listed...
    assert 'value="reverify"' not in page  # ...but the action is not offered


@pytest.mark.django_db
def test_operator_may_use_the_reverify_action(redis_client, candidate, operator_client):
    group = stored_mismatch(redis_client, candidate)
    with mock.patch("verifiers.groups.tasks.reverify_samples.delay") as delay:
        response = admin_action(operator_client, "mismatchgroup", "reverify", group)
    assert messages_of(response) == ["Reverification of 1 sample(s) queued."]
    delay.assert_called_once_with([group.samples.get().pk])


# --- reconciliation admin actions -----------------------------------------------------------------


@pytest.mark.django_db
def test_rerun_action_starts_a_new_run_and_queues_its_coordinator(
        admin_client, finished_run, django_capture_on_commit_callbacks):
    response, delay = reconcile_action(
        admin_client, "reconciliationrun", "rerun", finished_run, django_capture_on_commit_callbacks)
    new_run = ReconciliationRun.objects.exclude(pk=finished_run.pk).get()
    assert messages_of(response) == [f"Run {new_run.pk} started (re-run of {finished_run.pk})."]
    assert (new_run.cutoff, new_run.status, new_run.triggered_by) == (finished_run.cutoff, "running", "admin")
    delay.assert_called_once_with(new_run.pk)
    finished_run.refresh_from_db()
    assert finished_run.status == "discrepancies"  # the old run stays as it was


@pytest.mark.django_db
def test_run_now_action_starts_a_run_for_the_latest_cutoff(
        admin_client, source, django_capture_on_commit_callbacks):
    response, delay = reconcile_action(
        admin_client, "ledgersource", "run_now", source, django_capture_on_commit_callbacks)
    run = ReconciliationRun.objects.get()
    assert run.source == source and run.cutoff <= timezone.now()
    [message] = messages_of(response)
    assert message.startswith(f"books: run {run.pk} started for cut-off ")
    assert f"{run.cutoff.astimezone(ZoneInfo(source.time_zone)):%Y-%m-%d %H:%M}" in message
    delay.assert_called_once_with(run.pk)


@pytest.mark.django_db
def test_operator_may_run_a_reconciliation_from_the_admin(source, django_capture_on_commit_callbacks, operator_client):
    response, _ = reconcile_action(operator_client, "ledgersource", "run_now", source, django_capture_on_commit_callbacks)
    assert ReconciliationRun.objects.get().triggered_by == "operator"
    assert "started for cut-off" in messages_of(response)[0]


# --- the read page ------------------------------------------------------------------------------


def _figures(page: str) -> list[dict]:
    return [json.loads(html_lib.unescape(raw)) for raw in re.findall(r'data-figure="([^"]*)"', page)]


def _group(title: str, *, kind: str = "read", status: str = "open", subject: str = SUBJECT) -> MismatchGroup:
    now = timezone.now()
    return MismatchGroup.objects.create(kind=kind, fingerprint=title, title=title, subject=subject, status=status,
                                        first_seen=now - timedelta(minutes=5), last_seen=now, count=1234)


@pytest.fixture
def read_world(db) -> dict[str, object]:
    """A route's per-minute counts, groups of both kinds and three noise suggestions."""
    minute = (timezone.now() - timedelta(minutes=10)).replace(second=0, microsecond=0)
    add_outcome_counts(kind="read", subject=SUBJECT, minute=minute, matched=12340, mismatched=5)
    add_outcome_counts(kind="write", subject="UPDATE transfers", minute=minute, matched=7)
    route = Route.objects.create(method="GET", template="/accounts/{id}/balance")
    first_seen = minute - timedelta(minutes=5)
    for pattern, count in (("$.servedAt", 700), ("$.rare", 3), ("$.racy", 100)):
        NoiseSuggestion.objects.create(route=route, subject=SUBJECT, pattern=pattern, count=count,
                                       first_seen=first_seen, last_seen=minute)
    return {"read": _group("GET balance: $.balance changed"), "write": _group("UPDATE transfers: fee", kind="write",
                                                                             subject="UPDATE transfers")}


def test_read_page_draws_the_match_rate_of_each_route(admin_client, read_world):
    page = admin_client.get("/read/").content.decode()
    [figure] = _figures(page)
    [trace] = figure["data"]
    assert trace["name"] == SUBJECT
    assert trace["y"] == [pytest.approx(12340 / 12345 * 100, abs=0.001)]
    assert trace["customdata"] == [[12340, 5, 0]]
    assert "vendor/plotly.min.js" in page


def test_read_page_totals_use_thousands_separators(admin_client, read_world):
    page = admin_client.get("/read/").content.decode()
    assert "12,340" in page


def test_read_page_lists_read_groups_only(admin_client, read_world):
    page = admin_client.get("/read/").content.decode()
    assert f'href="/groups/{read_world["read"].pk}/"' in page and "GET balance: $.balance changed" in page
    assert "UPDATE transfers: fee" not in page
    assert "1,234" in page


def test_read_page_offers_only_frequent_noise_as_ignore_rules(admin_client, read_world):
    page = admin_client.get("/read/").content.decode()
    assert "<code>$.servedAt</code>" in page
    assert "$.rare" not in page  # seen too few times
    assert "$.racy" not in page  # under 5 % of the route's compared samples: a race, not noise
    assert "Accept as ignore rule" in page  # admins may change rules


def test_operator_sees_noise_suggestions_without_the_accept_button(read_world, client, user_with_role):
    client.force_login(user_with_role(OPERATORS, "operator"))
    operator = client
    page = operator.get("/read/").content.decode()
    assert "<code>$.servedAt</code>" in page and "Accept as ignore rule" not in page


def test_admin_accepts_a_noise_suggestion_from_the_admin(admin_client, read_world):
    suggestion = NoiseSuggestion.objects.get(pattern="$.servedAt")
    response = admin_action(admin_client, "noisesuggestion", "accept", suggestion)
    assert messages_of(response) == ["1 ignore rule(s) added."]
    assert Route.objects.get().rules == {"ignore_paths": ["$.servedAt"]}


def test_staff_operator_may_not_accept_noise_in_the_admin_either(read_world, client, user_with_role):
    # Accepting changes the route's rules, which the read page leaves to admins: so does the admin.
    client.force_login(user_with_role(OPERATORS, "operator", staff=True))
    assert client.get("/admin/verifiers/noisesuggestion/").status_code == 200  # they may look
    admin_action(client, "noisesuggestion", "accept", NoiseSuggestion.objects.get(pattern="$.servedAt"))
    assert Route.objects.get().rules == {}


def test_read_page_without_counts_says_so_instead_of_an_empty_chart(admin_client):
    page = admin_client.get("/read/").content.decode()
    assert "data-figure" not in page and "No verified samples in the last hours." in page
    assert "No mismatch groups." in page and "No noise suggestions." in page


# --- the group list and the group page -------------------------------------------------------------


@pytest.fixture
def groups(db) -> dict[str, MismatchGroup]:
    return {
        "read_open": _group("read open group"),
        "read_ignored": _group("read ignored group", status="ignored"),
        "write_open": _group("write open group", kind="write", subject="UPDATE transfers"),
        "write_ack": _group("write acknowledged group", kind="write", status="acknowledged",
                            subject="UPDATE transfers"),
    }


def _titles(page: str) -> set[str]:
    return set(re.findall(r'<a href="/groups/\d+/">([^<]+)</a>', page))


def _current_nav(page: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', page)


def test_group_list_without_filters_lists_every_group(admin_client, groups):
    page = admin_client.get("/groups/").content.decode()
    assert _titles(page) == {g.title for g in groups.values()}
    assert _current_nav(page) == []  # both verifiers' groups: neither Read nor Write is the current page
    assert _current_nav(admin_client.get("/groups/?kind=write").content.decode()) == ["Write"]


@pytest.mark.parametrize("query, expected", [
    ("kind=read", {"read open group", "read ignored group"}),
    ("kind=write", {"write open group", "write acknowledged group"}),
    ("status=open", {"read open group", "write open group"}),
    ("kind=read&status=ignored", {"read ignored group"}),
    ("kind=write&status=acknowledged", {"write acknowledged group"}),
    ("kind=write&status=resolved", set()),
    ("subject=update", {"write open group", "write acknowledged group"}),
])
def test_group_list_filters_by_kind_status_and_subject(admin_client, groups, query, expected):
    assert _titles(admin_client.get(f"/groups/?{query}").content.decode()) == expected


def test_group_list_keeps_the_chosen_filters_selected(admin_client, groups):
    page = admin_client.get("/groups/?kind=write&status=acknowledged").content.decode()
    assert '<option value="write" selected>' in page and '<option value="acknowledged" selected>' in page


@pytest.mark.django_db
def test_group_page_highlights_exactly_the_differing_lines(admin_client, redis_client, candidate):
    group = stored_mismatch(redis_client, candidate)
    page = admin_client.get(f"/groups/{group.pk}/").content.decode()
    highlighted = [html_lib.unescape(text) for text in re.findall(r'<span class="hl">([^<]*)</span>', page)]
    assert highlighted == ['  "balance": "2.00",', '  "balance": "2.01",']  # legacy left, candidate right
    assert '"currency": "USD"' in html_lib.unescape(page)  # the equal member is shown, not highlighted
    assert "Sample r1" in page and "<code>$.balance</code>" in page


@pytest.mark.django_db
def test_unknown_group_page_is_404(admin_client):
    assert admin_client.get("/groups/999999/").status_code == 404


# --- triage from the page, by role ------------------------------------------------------------------


@pytest.fixture
def operator_client(client, user_with_role):
    # Staff, so the admin itself is open to them: only the permissions keep them out of configuration.
    client.force_login(user_with_role(OPERATORS, "operator", staff=True))
    return client


@pytest.mark.parametrize("action, status", [("acknowledge", "acknowledged"), ("ignore", "ignored")])
def test_operator_triages_a_group_from_its_page(operator_client, groups, action, status):
    group = groups["read_open"]
    response = operator_client.post(f"/groups/{group.pk}/status", {"action": action})
    assert response.status_code == 302 and response["Location"] == f"/groups/{group.pk}/"
    group.refresh_from_db()
    assert (group.status, group.status_changed_by) == (status, "operator")
    assert group.status_changed_at is not None
    page = operator_client.get(f"/groups/{group.pk}/").content.decode()
    assert f"{status} by operator" in page


def test_operator_may_reopen_an_ignored_group(operator_client, groups):
    group = groups["read_ignored"]
    operator_client.post(f"/groups/{group.pk}/status", {"action": "reopen"})
    group.refresh_from_db()
    assert group.status == "open"


def test_an_unknown_triage_action_changes_nothing_and_says_so(operator_client, groups):
    group = groups["read_open"]
    response = operator_client.post(f"/groups/{group.pk}/status", {"action": "resolve"}, follow=True)
    assert messages_of(response) == ["Unknown action 'resolve'."]
    group.refresh_from_db()
    assert group.status == "open" and group.status_changed_by == ""


def test_operator_page_offers_the_triage_buttons(operator_client, groups):
    page = operator_client.get(f"/groups/{groups['read_open'].pk}/").content.decode()
    assert 'value="acknowledge"' in page and 'value="ignore"' in page and "Reverify all samples" in page


def test_operator_cannot_change_a_system_or_route_in_the_admin(operator_client):
    system = System.objects.create(name="cand", base_url="http://127.0.0.1:8102")
    route = Route.objects.create(method="GET", template="/accounts/{id}")
    refused = operator_client.post(f"/admin/verifiers/system/{system.pk}/change/", {
        "name": "cand", "role": "candidate", "base_url": "http://evil.example", "timeout_ms": 1,
        "max_concurrency": 1, "headers_to_add": "{}", "enabled": "on"})
    assert refused.status_code == 403
    assert operator_client.post(f"/admin/verifiers/route/{route.pk}/change/", {
        "method": "GET", "template": "/x", "sampling_ratio": "0", "severity": "low", "rules": "{}"}).status_code == 403
    assert operator_client.post(f"/admin/verifiers/system/{system.pk}/delete/", {"post": "yes"}).status_code == 403
    system.refresh_from_db()
    route.refresh_from_db()
    assert (system.base_url, route.template, route.sampling_ratio) == ("http://127.0.0.1:8102", "/accounts/{id}", 1.0)


@pytest.mark.parametrize("model", ["system", "route"])
def test_operator_sees_system_and_route_change_pages_read_only(operator_client, model):
    obj, field = ((System.objects.create(name="cand", base_url="http://127.0.0.1:8102"), "base_url")
                  if model == "system" else (Route.objects.create(method="GET", template="/accounts/{id}"), "template"))
    response = operator_client.get(f"/admin/verifiers/{model}/{obj.pk}/change/")
    page = response.content.decode()
    # Operators hold the view permission (they see everything), not the change one: nothing to edit or save.
    assert response.status_code == 200
    assert 'class="readonly"' in page and f'name="{field}"' not in page and 'name="_save"' not in page


def test_user_without_triage_permission_gets_403_and_changes_nothing(groups):
    viewer = User.objects.create_user("viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_mismatchgroup"))
    client = Client()
    client.force_login(viewer)
    group = groups["read_open"]
    assert client.post(f"/groups/{group.pk}/status", {"action": "ignore"}).status_code == 403
    group.refresh_from_db()
    assert group.status == "open"
    page = client.get(f"/groups/{group.pk}/").content.decode()
    assert 'value="ignore"' not in page  # no button either
