"""The real loopback sync server that the sign-in GUI tests share, and signing a console in to it
(the consoles themselves: tests/gui/conftest_sync.py ``desks``; the database: tests/servers.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sync.apply import Applier
from sync.auth import token_secret
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.gui.helpers import until
from tests.servers import PASSWORD, ServerDb, User, server_db
from tests.unit.booking_setup import NOW


@dataclass
class Served:
    """A real loopback sync server for assembled consoles: its address and database."""

    url: str
    sessions: Any
    accounts: Any


@contextlib.contextmanager
def serve_consoles(
    loop: Any, tmp_path: Any, users: Iterable[User], prepare: Callable[[ServerDb], None] | None = None
) -> Iterator[Served]:
    """The tests' setup and ``users`` (password tests/servers.PASSWORD), ``prepare`` run on the database
    before it serves, clocks at the tests' NOW, served on the consoles' qasync ``loop``."""
    with server_db(str(tmp_path / "server.sqlite3"), users) as db:
        if prepare is not None:
            prepare(db)
        srv = SyncServer(
            Applier(db.sessions, clock=lambda: NOW),
            AccountsAuthenticator(db.accounts, token_secret(db.sessions), clock=lambda: NOW),
        )
        endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
        try:
            yield Served(f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}", db.sessions, db.accounts)
        finally:
            endpoint.close()
            loop.run_until_complete(endpoint.wait_closed())
            loop.run_until_complete(srv.aclose())


async def sign_in(console: Any, url: str, user: str) -> None:
    """Sign a console in as ``user`` and wait until its status says online."""
    await console.sync.sign_in_with(url, user, PASSWORD)
    await until(lambda: console.window.sync_status.state == "online")
