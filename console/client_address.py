"""The address of the client behind a request, trusting `X-Forwarded-For` only from our proxies.

Pure (no Django). A reverse proxy appends the address it received the request from to
`X-Forwarded-For`; anything to the left of that can be forged by the client. So the client is
the right-most address that is not one of our own proxies, and the header is ignored entirely
when the request did not come from one of them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxySettingError(ValueError):
    """A trusted-proxy entry is not an address or network; the message names it."""


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ProxySettingError(f"TRUSTED_PROXIES: {text!r} is not an IP address or network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 10.0.0.1:443
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(remote_addr: str | None, forwarded_for: str | None,
                   trusted_proxies: tuple[Network, ...]) -> str:
    """The client's address: REMOTE_ADDR unless it is a trusted proxy, then walk the header."""
    peer = _address(remote_addr or "")
    if peer is None:
        return remote_addr or "unknown"
    if not forwarded_for or not any(peer in network for network in trusted_proxies):
        return str(peer)
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            return str(peer)  # a garbled hop: the proxy is the last address we can trust
        if not any(address in network for network in trusted_proxies):
            return str(address)
    return str(peer)
