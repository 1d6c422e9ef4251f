"""Server-only tables for accounts: the login throttle and the token-signing secret.

They live in ``models.base.Base.metadata`` so alembic migrates them with everything else; the console
never writes them (an offline console has no logins to throttle).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class LoginThrottle(Base):
    """Recent failed log-ins for one user name (known or not), and the lock they caused.

    One row per name, locked for update while an attempt is counted, so several server instances on
    one PostgreSQL agree on the count; a restart keeps it. A successful log-in deletes the row.
    """

    __tablename__ = "auth_login_throttle"
    # The normalized name as typed (lower-case, at most 60 characters), whether or not it exists:
    # unknown names are throttled the same way so the answers never reveal which accounts exist.
    username: Mapped[str] = mapped_column(String(60), primary_key=True)
    # UTC epoch seconds of the failures inside the sliding window (at most ``lock_after`` of them).
    failures: Mapped[list] = mapped_column(JSON, default=list)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServerSecret(Base):
    """Random keys shared by every server instance on one database (e.g. the token-signing key).

    Kept in the database rather than a file so a token issued by one instance is accepted by the
    others, and a console that reconnects to another instance stays logged in.
    """

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))  # hex
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
