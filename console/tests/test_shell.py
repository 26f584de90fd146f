"""Login, the page shell, /healthz, static plotly.js and API token authentication."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from console.client_address import parse_networks
from console.models import ApiToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return get_user_model().objects.create_user("op", password="op-password-1")


def test_pages_require_login(client):
    for name in ("overview", "read", "write", "reconciliation", "numa"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_login_then_navigation_is_shown(client, operator):
    response = client.post(reverse("login"), {"username": "op", "password": "op-password-1"})
    assert response.status_code == 302
    page = client.get(reverse("overview")).content.decode()
    for label in ("Overview", "Read", "Write", "Reconciliation", "NUMA"):
        assert f">{label}</a>" in page
    assert ">Admin</a>" not in page  # operators are not staff


def test_wrong_password_is_refused(client, operator):
    response = client.post(reverse("login"), {"username": "op", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


@override_settings(LOGIN_RATE_LIMIT=3)
def test_login_is_rate_limited_per_address(client, operator):
    for _ in range(3):
        client.post(reverse("login"), {"username": "op", "password": "nope"})
    response = client.post(reverse("login"), {"username": "op", "password": "op-password-1"})
    assert response.status_code == 429


def test_healthz_is_open_and_reports_each_service(client):
    response = client.get(reverse("healthz"))
    body = response.json()
    assert set(body["checks"]) == {"database", "redis", "celery", "read_verifier", "write_verifier"}
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    # No worker runs in this test: unhealthy, with the reason.
    assert response.status_code == 503
    assert body["checks"]["celery"]["problem"] == "Celery: no worker answered a ping within 1 s"


def test_plotly_js_is_served_from_our_static_files(client, operator):
    from django.contrib.staticfiles import finders

    path = finders.find("vendor/plotly.min.js")
    assert path and path.endswith("plotly.min.js")
    with open(path, "rb") as handle:
        assert b"plotly" in handle.read(2000).lower()


def _api(raw: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return api


def test_api_token_is_stored_hashed_and_authenticates(operator):
    token, raw = ApiToken.issue(user=operator, name="gateway-1")
    assert raw not in (token.digest, token.prefix) and token.prefix == raw[:8]
    response = _api(raw).get(reverse("api-schema"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"revoked": True}, "revoked"),
        ({"expires_at": timezone.now() - timedelta(minutes=1)}, "expired"),
    ],
)
def test_unusable_tokens_are_refused_with_reason(operator, change, reason):
    token, raw = ApiToken.issue(user=operator, name="gateway-1")
    ApiToken.objects.filter(pk=token.pk).update(**change)
    response = _api(raw).get("/api/v1/mismatch-groups")
    assert response.status_code in (401, 403, 404)
    if response.status_code != 404:
        assert reason in response.json()["detail"]


@pytest.mark.django_db
def test_unknown_token_is_refused():
    response = _api("not-a-token").get("/api/v1/mismatch-groups")
    assert response.status_code in (401, 403)
    assert "token" in response.json()["detail"].lower()


@override_settings(LOGIN_RATE_LIMIT=3)
def test_lockout_of_one_user_name_leaves_other_operators_behind_the_same_address(client, operator):
    get_user_model().objects.create_user("op2", password="op2-password-1")
    for _ in range(3):
        client.post(reverse("login"), {"username": "op", "password": "nope"})
    assert client.post(reverse("login"), {"username": "op", "password": "op-password-1"}).status_code == 429
    assert client.post(reverse("login"), {"username": "op2", "password": "op2-password-1"}).status_code == 302


@override_settings(LOGIN_RATE_LIMIT=2, TRUSTED_PROXY_NETWORKS=parse_networks(["10.0.0.0/8"]))
def test_behind_a_trusted_proxy_each_forwarded_client_is_counted_apart(client, operator):
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    for _ in range(2):
        client.post(reverse("login"), {"username": "op", "password": "nope"},
                    HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    attacker = client.post(reverse("login"), {"username": "op", "password": "op-password-1"},
                           HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert attacker.status_code == 429
    colleague = client.post(reverse("login"), {"username": "op", "password": "op-password-1"},
                            HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)
    assert colleague.status_code == 302


@override_settings(LOGIN_RATE_LIMIT=2, TRUSTED_PROXY_NETWORKS=())
def test_forwarded_for_from_an_untrusted_peer_cannot_dodge_the_lockout(client, operator):
    for index in range(2):
        client.post(reverse("login"), {"username": "op", "password": "nope"},
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{index}")
    response = client.post(reverse("login"), {"username": "op", "password": "op-password-1"},
                           HTTP_X_FORWARDED_FOR="198.51.100.99")
    assert response.status_code == 429
