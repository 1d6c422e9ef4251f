"""The local write journal: the outbox of intents waiting for the server, the per-client
sequence, and the audit trail every applied intent leaves."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import ID_LEN, Base, new_id, utcnow

# The largest change a console queues (its JSON arguments, in bytes): a push frame must fit the server's
# 1 MiB limit with its envelope, so a bigger one is refused before it is queued, with a sentence.
MAX_MUTATION_BYTES = 900 * 1024


class ClientState(Base):
    """One row per console install: its id and the next outbox sequence number."""

    __tablename__ = "client_state"
    client_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    next_seq: Mapped[int] = mapped_column(Integer, default=1)
    # Job numbers a CSR can read to the caller even offline: "<prefix>-<n>" (docs/job-numbers.md).
    job_prefix: Mapped[str] = mapped_column(String(8), default="")
    next_job_no: Mapped[int] = mapped_column(Integer, default=1)
    # The server registered ``job_prefix`` to this console (False: minted offline, provisional).
    prefix_confirmed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEntry(Base):
    """An intent applied to the cache and not yet confirmed by the server."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client_state.client_id"))
    seq: Mapped[int] = mapped_column(Integer)
    mutation_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict] = mapped_column(JSON)
    # [[table, primary key], ...] the intent wrote in this cache: if the server refuses it, the console
    # fetches the server's version of exactly these rows (sync/client.py).
    touched: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("client_id", "seq", name="uq_outbox_client_seq"),)


class Draft(Base):
    """A booking in progress (a manual bubble or a call's form), kept across restarts. Local only."""

    __tablename__ = "drafts"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="booking")
    title: Mapped[str] = mapped_column(String(120), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(60), default="")
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    action: Mapped[str] = mapped_column(String(60))
    mutation_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


def oldest_pending(session: Session) -> datetime | None:
    """When the oldest change still waiting for the server was made (UTC), or None."""
    from sqlalchemy import func

    oldest = session.scalar(select(func.min(OutboxEntry.created_at)))
    if oldest is not None and oldest.tzinfo is None:  # SQLite keeps no zone: it is UTC
        oldest = oldest.replace(tzinfo=UTC)
    return oldest


def ensure_client(session: Session) -> ClientState:
    """This console's identity row, minted on first use and kept in the cache."""
    state = session.scalar(select(ClientState).limit(1))
    if state is None:
        state = ClientState(client_id=new_id(), next_seq=1, job_prefix="", next_job_no=1)
        session.add(state)
        session.flush()
    return state


# Letters and digits nobody mishears on the phone: no 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G, U/V.
PREFIX_ALPHABET = "ACDEFHJKMNPQRTWXY3479"
FIRST_JOB_NO = 1001


def next_job_number(session: Session) -> str:
    """ "KQ7-1001": this console's prefix and counter, unique across consoles without a server
    (docs/job-numbers.md). Runs inside the booking's transaction, so a rolled-back booking
    gives its number back."""
    from .jobs import Job

    state = ensure_client(session)
    while not state.job_prefix:
        prefix = "".join(secrets.choice(PREFIX_ALPHABET) for _ in range(3))
        # A prefix already on a job in this cache (another console's, synced here) is taken: an
        # index range on jobs.number answers that without reading the jobs.
        taken = session.scalar(
            select(Job.id).where(Job.number >= f"{prefix}-", Job.number < f"{prefix}.").limit(1)
        )
        if taken is None:
            state.job_prefix = prefix
    number = max(state.next_job_no, FIRST_JOB_NO)
    state.next_job_no = number + 1
    return f"{state.job_prefix}-{number}"
