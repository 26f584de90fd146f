"""Which address a request comes from, trusting X-Forwarded-For only from our proxies (pure)."""

from __future__ import annotations

import pytest

from console.client_address import ProxySettingError, client_address, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "2001:db8::/32"])


@pytest.mark.parametrize(("remote", "forwarded", "expected"), [
    ("198.51.100.7", None, "198.51.100.7"),
    ("198.51.100.7", "1.2.3.4", "198.51.100.7"),  # not from a proxy: the header is the client's word
    ("10.0.0.5", "203.0.113.9", "203.0.113.9"),
    ("10.0.0.5", "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the left part is the client's own claim
    ("10.0.0.5", "203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two proxies in a row
    ("10.0.0.5", "10.0.0.9", "10.0.0.5"),  # nothing but proxies
    ("10.0.0.5", "garbage", "10.0.0.5"),
    ("2001:db8::1", "[2001:db9::5]:443", "2001:db9::5"),
    ("10.0.0.5", "203.0.113.9:51234", "203.0.113.9"),
    (None, None, "unknown"),
])
def test_client_address(remote, forwarded, expected):
    assert client_address(remote, forwarded, PROXIES) == expected


def test_a_bad_proxy_entry_is_named():
    with pytest.raises(ProxySettingError, match="'proxy.example'"):
        parse_networks(["10.0.0.1", "proxy.example"])
