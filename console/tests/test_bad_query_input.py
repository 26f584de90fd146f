"""Bad query input is a 4xx naming what is wrong, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from console.roles import ensure_roles


@pytest.fixture
def admin_client(client, db):
    ensure_roles()
    user = get_user_model().objects.create_superuser("boss", password="boss-password-1")
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", [
    "/api/v1/mismatch-groups?route=%00",
    "/groups/?subject=%00",
    "/numa/hosts/%00/",
    "/read/?hours=%00",
    "/write/?x%00=1",
])
def test_a_nul_character_anywhere_in_path_or_query_is_a_400(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1", "0", "1e300", "%00"])
def test_a_bad_hours_window_on_the_read_page_is_a_400_naming_it(admin_client, value):
    response = admin_client.get(f"/read/?hours={value}")
    assert response.status_code == 400
    if value != "%00":
        assert "hours" in response.content.decode()


def test_a_good_hours_window_on_the_read_page_is_used(admin_client):
    assert admin_client.get("/read/?hours=0.5").status_code == 200
