"""Fixtures shared by the NUMA tests."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def operator_client(db) -> Client:
    """A client logged in as a user with the operator role."""
    from django.contrib.auth.models import User

    from console.roles import OPERATORS, ensure_roles

    user = User.objects.create_user(username="op", password="pw-12345-long")
    user.groups.add(ensure_roles()[OPERATORS])
    client = Client()
    client.force_login(user)
    return client
