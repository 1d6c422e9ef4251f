"""How many websocket connections one remote address may hold on `csr-server` (sync/server.py).

A flood of connections from one address — a broken script, a scan — must not exhaust the server's
sockets or crowd out the consoles. Loopback addresses are not limited: the demo, the benchmarks and a
TLS-terminating proxy on the same host all connect from there (limit such a proxy in the proxy).
"""

from __future__ import annotations

import ipaddress
from typing import Any

DEFAULT_MAX_PER_ADDRESS = 200  # above any one office's consoles behind one NAT address


def peer_address(remote_address: Any) -> str:
    """The host part of a socket's peer address ("?" when unknown, e.g. a UNIX socket)."""
    if isinstance(remote_address, tuple | list) and remote_address:
        return str(remote_address[0])
    return "?"


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return address == "localhost"


class AddressLimit:
    """Counts open connections per address; ``limit`` 0 means no limit."""

    def __init__(self, limit: int = DEFAULT_MAX_PER_ADDRESS, *, exempt_loopback: bool = True) -> None:
        if limit < 0:
            raise ValueError("the per-address connection limit can't be negative")
        self.limit = limit
        self.exempt_loopback = exempt_loopback
        self.open: dict[str, int] = {}

    def acquire(self, address: str) -> bool:
        """Count one more connection from ``address``; False (and nothing counted) when it is full."""
        if not self.limit or (self.exempt_loopback and is_loopback(address)):
            return True
        if self.open.get(address, 0) >= self.limit:
            return False
        self.open[address] = self.open.get(address, 0) + 1
        return True

    def release(self, address: str) -> None:
        """The connection counted by ``acquire`` closed."""
        count = self.open.get(address, 0) - 1
        if count > 0:
            self.open[address] = count
        else:
            self.open.pop(address, None)
