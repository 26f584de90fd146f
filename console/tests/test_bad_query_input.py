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
