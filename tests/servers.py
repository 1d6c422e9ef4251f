"""What the real-server tests share (no Qt here): a server database with the tests' setup and users, a
pair of console caches beside it, and the SQLite/PostgreSQL store with one user per role. The GUI side —
a real loopback server for assembled consoles and signing them in — is tests/gui/conftest_sync.py
``serve_consoles`` / ``sign_in``, built on :func:`server_db`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import sessionmaker

from models.db import open_cache, open_server_db
from sync.auth import Accounts
from tests.unit.booking_setup import build_setup

PASSWORD = "correct horse battery"
ROLES = ("csr", "supervisor", "manager", "admin")
User = tuple[str, str, str]  # username, display name, role


@dataclass
class ServerDb:
    """The server's database: its engine, sessions and accounts."""

    engine: Any
    sessions: sessionmaker
    accounts: Accounts
    users: dict[str, Any] = field(default_factory=dict)  # username → the added user row


@contextlib.contextmanager
def server_db(url: str, users: Iterable[User], *, setup: bool = True) -> Iterator[ServerDb]:
    """A server database at ``url`` (a SQLite path or a database URL) with the tests' setup
    (tests/unit/booking_setup.py) and ``users``, all with :data:`PASSWORD`; disposed afterwards."""
    engine = open_server_db(url)
    try:
        sessions = sessionmaker(engine, expire_on_commit=False)
        if setup:
            with sessions.begin() as s:
                build_setup(s)
        accounts = Accounts(sessions)
        db = ServerDb(engine, sessions, accounts)
        for username, name, role in users:
            db.users[username] = accounts.add_user(username, name, role, PASSWORD)
        yield db
    finally:
        engine.dispose()


@contextlib.contextmanager
def two_console_world(tmp_path: Any, users: Iterable[User]) -> Iterator[tuple[sessionmaker, Accounts, dict]]:
    """The server's database and two console caches ("a", "b") for tests/integration's Desk pairs."""
    with server_db(str(tmp_path / "server.sqlite3"), users) as db:
        caches = {name: open_cache(tmp_path / f"console-{name}.sqlite3") for name in ("a", "b")}
        try:
            yield db.sessions, db.accounts, caches
        finally:
            for c in caches.values():
                c.close()


@contextlib.contextmanager
def role_store(request: Any, tmp_path: Any) -> Iterator[tuple[sessionmaker, Accounts]]:
    """For a test parametrized over ``sqlite`` / ``postgresql``: the store with one user per role
    (``csr1``, ``supervisor1``, ``manager1``, ``admin1``) and no setup."""
    from bench.sync_bench import temporary_postgres

    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            url = stack.enter_context(temporary_postgres(request.getfixturevalue("postgres_url")))
        else:
            url = str(tmp_path / "server.sqlite3")
        users = [(f"{role}1", role.title(), role) for role in ROLES]
        db = stack.enter_context(server_db(url, users, setup=False))
        yield db.sessions, db.accounts
