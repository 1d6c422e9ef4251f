"""Tables of the sync protocol.

Server side: the receipt of every applied mutation (exactly-once replay), the change log consoles pull
from, and the consoles known to the server. Console side: the pull cursor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import ID_LEN, Base, utcnow

# Tables that never travel between server and consoles: each side's own bookkeeping, and the
# server's secrets. Users travel (jobs and calls name them) without their password hash.
LOCAL_TABLES = frozenset({"outbox", "client_state", "drafts", "sync_state", "receipts", "change_log",
                          "server_clients", "audit", "alembic_version", "acked_edits"})
# The phone system's raw callbacks stay on the server (consoles get the reduced ``calls`` rows), and so do
# the agents' states (supervisors get them on the floor feed).
SERVER_ONLY_TABLES = frozenset({"server_secrets", "auth_login_throttle", "call_events", "agent_states"})
REDACTED_COLUMNS = {"users": frozenset({"password_hash"})}
NOT_SYNCED = LOCAL_TABLES | SERVER_ONLY_TABLES


class ReceiptRow(Base):
    """(client_id, seq) → what applying that mutation answered; a replay returns it unchanged."""

    __tablename__ = "receipts"
    client_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    mutation_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    status: Mapped[str] = mapped_column(String(10))               # applied / rejected
    response: Mapped[dict] = mapped_column(JSON, default=dict)    # errors, result
    server_version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeRow(Base):
    """One committed change; ``version`` is the global, monotonic cursor consoles pull by."""

    __tablename__ = "change_log"
    version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                         autoincrement=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    op: Mapped[str] = mapped_column(String(8))                    # upsert / delete
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    committed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ServerClient(Base):
    """A console the server knows: whose it is and the last sequence number applied."""

    __tablename__ = "server_clients"
    client_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(ID_LEN), default="")
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)


class SyncState(Base):
    """Console side: how far this cache has pulled the server's change log."""

    __tablename__ = "sync_state"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)


class AckedEdit(Base):
    """Console side: a record edit the server confirmed whose change this cache has not pulled yet.
    Until the pull passes ``server_version``, an older pulled copy of the row gets the edit again (as
    a pending one does) — otherwise the CSR would see the old value for a moment after the receipt,
    and an edit made then would carry it as its base (a false conflict on the server)."""

    __tablename__ = "acked_edits"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)          # the outbox sequence it had
    server_version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict] = mapped_column(JSON, default=dict)
