"""manage.py numa_agent posting to a live console."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from console.models import ApiToken
from console.roles import MACHINE_CLIENTS, ensure_roles
from numa.models import Host, RawSample
from numa.tests.helpers import FIXTURES


def _machine_token() -> str:
    user = get_user_model().objects.create_user(username="agent-robot")
    user.groups.add(ensure_roles()[MACHINE_CLIENTS])
    return ApiToken.issue(user=user, name="numa agent")[1]


@pytest.mark.django_db(transaction=True)
def test_agent_posts_samples_that_get_rates(live_server) -> None:
    root = FIXTURES / "two_node"
    call_command(
        "numa_agent",
        console=live_server.url,
        token=_machine_token(),
        interval=0.05,
        count=2,
        sys_root=str(root / "sys"),
        proc_root=str(root / "proc"),
    )
    host = Host.objects.get(hostname="two-node-host")
    assert host.delivery == Host.Delivery.AGENT
    assert RawSample.objects.filter(host=host).count() == 2
    assert host.extras  # probed once at start


@pytest.mark.django_db(transaction=True)
def test_agent_stops_on_a_refused_token(live_server) -> None:
    with pytest.raises(CommandError, match="401"):
        call_command("numa_agent", console=live_server.url, token="wrong", interval=0.05, count=1)


def test_agent_refuses_a_non_http_console() -> None:
    with pytest.raises(CommandError, match="http"):
        call_command("numa_agent", console="ftp://x", token="t", count=1)
