"""Tables of the sync protocol.

Server side: the receipt of every applied mutation (exactly-once replay), the change log consoles pull
from, and the consoles known to the server. Console side: the pull cursor.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import ID_LEN, Base, utcnow

# What consoles may read: an allow-list, so a table added later stays on the server until someone
# decides it travels (tests/unit/test_allowlist.py makes every table of the schema pick a set). Only these
# tables enter the change log, answer ``fetch`` and ``snapshot``, and are written from a pull.
# Setup travels too (the server owns it); users travel (jobs and calls name them) without their
# password hash.
CONSOLE_TABLES = frozenset(
    {
        # customers and their records
        "customers",
        "locations",
        "contact_methods",
        "customer_tags",
        "location_tags",
        "memberships",
        "notes",
        "conflicts",
        "customer_merges",
        "availability_entries",  # time off, holidays, capacity adjustments (issue 19)
        # jobs, calls and leads
        "jobs",
        "job_tags",
        "appointments",
        "appointment_technicians",
        "calls",
        "leads",
        "online_bookings",
        "callbacks",  # the callback queue (docs/phone.md)
        # customer notifications: every message and the customers' texts (docs/notifications.md)
        "notifications",
        "inbound_messages",
        "work_orders",
        # the company setup
        "users",
        "business_unit_groups",
        "business_units",
        "job_types",
        "job_type_business_units",
        "arrival_windows",
        "arrival_window_business_units",
        "business_hours",
        "booking_preferences",
        "call_reasons",
        "campaign_categories",
        "campaigns",
        "capacity_settings",
        "company_settings",
        "services",
        "tag_types",
        "technicians",
        "tracking_numbers",
    }
)
# Each side's own bookkeeping: never travels either way.
LOCAL_TABLES = frozenset(
    {
        "outbox",
        "client_state",
        "drafts",
        "sync_state",
        "receipts",
        "change_log",
        "server_clients",
        "audit",
        "alembic_version",
        "acked_edits",
        "sync_problems",
    }
)
# The server's secrets and throttle; the phone system's raw callbacks (consoles get the reduced ``calls``
# rows); the agents' states (supervisors get them on the floor feed); which console holds which
# job-number prefix (the server's register, docs/job-numbers.md).
SERVER_ONLY_TABLES = frozenset(
    {
        "server_secrets",
        "auth_login_throttle",
        "call_events",
        "agent_states",
        "job_prefixes",
        "sc_deliveries",  # ServiceChannel: webhook deliveries stored (deduplication)
        "sc_outbound",  # ServiceChannel: what is sent back to the platform, exactly once
        "phone_seats",  # SIP seats: sent to their own user at sign-in, never synced (docs/phone.md)
    }
    # the Web Scheduler's window holds and per-day lock rows (models/web_booking.py), and its per-address
    # POST counts (models/web_address_limit.py)
    | {"web_holds", "web_day_locks", "web_address_hits"}
)
REDACTED_COLUMNS = {"users": frozenset({"password_hash"})}
NOT_SYNCED = LOCAL_TABLES | SERVER_ONLY_TABLES  # never in CONSOLE_TABLES (kept for its readers)


class ReceiptRow(Base):
    """(client_id, seq) → what applying that mutation answered; a replay returns it unchanged."""

    __tablename__ = "receipts"
    client_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    mutation_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    status: Mapped[str] = mapped_column(String(10))  # applied / rejected
    response: Mapped[dict] = mapped_column(JSON, default=dict)  # errors, result
    server_version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    applied_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeRow(Base):
    """One committed change; ``version`` is the global, monotonic cursor consoles pull by."""

    __tablename__ = "change_log"
    version: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    op: Mapped[str] = mapped_column(String(8))  # upsert / delete
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
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)  # the outbox sequence it had
    server_version: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    args: Mapped[dict] = mapped_column(JSON, default=dict)


class SyncProblem(Base):
    """Console side: a change the server refused, or kept and flagged (a full window, a job renumbered),
    stored in the same transaction that removes its outbox row. It stays until the CSR acknowledges it
    (Sync problems window), so a crash, a drop or a sign-out can never make it vanish unseen.

    ``restore``: the rows ([[table, key], ...]) whose server copy must replace what the refused change
    did in this cache; emptied (in the transaction that applies them) once they are restored."""

    __tablename__ = "sync_problems"
    mutation_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # rejected / flagged / renumbered
    name: Mapped[str] = mapped_column(String(60))  # the intent
    args: Mapped[dict] = mapped_column(JSON, default=dict)
    receipt: Mapped[dict] = mapped_column(JSON, default=dict)
    restore: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)


class JobPrefix(Base):
    """Server side: the job-number prefix each console mints with (docs/job-numbers.md). A prefix
    belongs to one console for good, so two consoles can never mint the same job number."""

    __tablename__ = "job_prefixes"
    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(ID_LEN), unique=True)
    user_id: Mapped[str] = mapped_column(String(ID_LEN), default="")
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
