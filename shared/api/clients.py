"""Tell which client sent a request: the socket's peer, or what a trusted proxy says it is.

Behind the load balancer every request comes from the proxy, so the peer address alone would put
every client in one bucket of the login limits. X-Forwarded-For is believed only when the peer is
one of LAB_TRUSTED_PROXIES (addresses or networks, e.g. `127.0.0.1` embedded, `172.16.0.0/12` in
Docker): then the client is the right-most address in it that is not itself a trusted proxy.
Anything a client wrote further left is ignored, so it cannot choose its own address. With no
trusted proxy configured the header is ignored (all clients behind a proxy share one bucket:
stricter, never looser).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]):
    return tuple(ipaddress.ip_network(t, strict=False) for t in trusted)


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def client_address(req, trusted: tuple[str, ...] = ()) -> str:
    """Return the address the login limits count this request against."""
    peer = req.remote_addr or ""
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in (req.get_header("X-Forwarded-For") or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage where an address should be: fall back to the proxy's
    return peer
