"""The endpoint's view of accounts (sync/server.py's Authenticator): log-in with throttling, token
checks on the handshake, and which message types each role may send."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from models.base import utcnow
from models.setup import Role

from .auth import DEFAULT_TOKEN_TTL, Accounts, AuthError, issue_token
from .protocol import ProtocolError

# Pushing and pulling is every signed-in user's work; supervisor feeds come with their issue.
ROLE_MESSAGES: dict[str, frozenset[str]] = {
    role.value: frozenset({"push", "pull", "ping"}) for role in Role
}
MAX_LOGIN_WAIT = 60.0


def _user(u: Any) -> dict[str, Any]:
    role = u.role.value if hasattr(u.role, "value") else str(u.role)
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": role}


class AccountsAuthenticator:
    def __init__(self, accounts: Accounts, secret: bytes, *, ttl: timedelta = DEFAULT_TOKEN_TTL,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.accounts = accounts
        self.secret = secret
        self.ttl = ttl
        self.clock = clock

    async def login(self, username: str, password: str) -> tuple[str, str, dict[str, Any]]:
        now = self.clock()
        try:
            # argon2 and the database: off the event loop.
            user = await asyncio.to_thread(self.accounts.login, username, password, now)
        except AuthError as exc:
            # The throttle's delay is served here, so a client that retries after the answer
            # never meets retry_later (docs/drafts/accounts.md).
            await asyncio.sleep(min(exc.retry_after, MAX_LOGIN_WAIT))
            raise ProtocolError(exc.code, exc.message, details={"retry_after": exc.retry_after}) from exc
        token = issue_token(user, self.secret, self.ttl, now)
        return token, (now + self.ttl).isoformat(), _user(user)

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            user, _claims = await asyncio.to_thread(self.accounts.authenticate, token, self.secret, self.clock())
        except AuthError as exc:
            raise ProtocolError(exc.code, exc.message) from exc
        return _user(user)

    def allowed(self, user: dict[str, Any], message_type: str) -> bool:
        return message_type in ROLE_MESSAGES.get(str(user.get("role")), frozenset())
