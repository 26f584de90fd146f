"""Fixtures shared by the NUMA tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from numa.tests.helpers import FIXTURES


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


@pytest.fixture
def machine_token(db) -> str:
    """An API token of a user with the machine-client role (what the agent posts with)."""
    from django.contrib.auth.models import User

    from console.models import ApiToken
    from console.roles import MACHINE_CLIENTS, ensure_roles

    user = User.objects.create_user(username="agent-robot")
    user.groups.add(ensure_roles()[MACHINE_CLIENTS])
    return ApiToken.issue(user=user, name="numa agent")[1]


@pytest.fixture
def run_agent(live_server, machine_token) -> Callable[..., None]:
    """Runs numa_agent against the live console: two samples of fixtures/two_node, 50 ms apart;
    keyword arguments add or override the command's options."""
    from django.core.management import call_command

    def run(**options: Any) -> None:
        call_command(
            "numa_agent",
            **{
                "console": live_server.url,
                "token": machine_token,
                "interval": 0.05,
                "count": 2,
                "sys_root": str(FIXTURES / "two_node" / "sys"),
                "proc_root": str(FIXTURES / "two_node" / "proc"),
                **options,
            },
        )

    return run
