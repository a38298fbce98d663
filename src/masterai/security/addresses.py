"""Who is calling from where: the client address an HTTP face records in the audit."""

from __future__ import annotations

import ipaddress


def forwarded_client(peer: str, forwarded_for: str, trusted_proxies: list[str]) -> str:
    """The caller's address for the audit.

    The TCP ``peer``, or when the peer is a trusted proxy the nearest untrusted hop of
    ``X-Forwarded-For`` (``forwarded_for``).

    Args:
        peer: the TCP peer address.
        forwarded_for: the ``X-Forwarded-For`` header (empty when absent).
        trusted_proxies: addresses or CIDR blocks whose ``X-Forwarded-For`` is believed.
    """
    if not trusted_proxies:
        return peer
    trusted = [ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies]

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not is_trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    # The nearest untrusted hop, walking back from our own proxy.
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop[:64]
    return peer
