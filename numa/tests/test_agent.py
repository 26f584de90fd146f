"""manage.py numa_agent posting to a live console."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from numa.models import Host, RawSample


@pytest.mark.django_db(transaction=True)
def test_agent_posts_samples_that_get_rates(run_agent) -> None:
    run_agent()
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
