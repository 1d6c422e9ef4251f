"""ServiceChannel work orders as the server stores them (docs/servicechannel.md).

``work_orders`` travels to consoles (the Bookings inbox shows it); the deliveries the webhook receiver
stored (``sc_deliveries``, for deduplication) and the outbound queue (``sc_outbound``: accept, decline,
status, note, check-in/out, each sent exactly once) stay on the server.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, IdMixin, StampMixin, utcnow

BIG = BigInteger().with_variant(Integer, "sqlite")


class WorkOrderState(enum.StrEnum):
    """Where the work order stands in the inbox (the platform's own status is ``platform_status``)."""

    NEW = "New"
    ACCEPTED = "Accepted"
    DECLINED = "Declined"
    CLOSED = "Closed"  # completed or cancelled on the platform without us


class WorkOrder(IdMixin, StampMixin, Base):
    """One work order, as last heard from the platform (webhook or poll), and what we did with it."""

    __tablename__ = "work_orders"
    sc_id: Mapped[int] = mapped_column(BIG, unique=True)  # the platform's Id (tracking number)
    number: Mapped[str] = mapped_column(String(40), default="")
    purchase_number: Mapped[str] = mapped_column(String(60), default="")
    subscriber_id: Mapped[int] = mapped_column(BIG, default=0, index=True)
    subscriber_name: Mapped[str] = mapped_column(String(120), default="")
    store_id: Mapped[int] = mapped_column(BIG, default=0)  # the platform's Location Id
    store_name: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[dict] = mapped_column(JSON, default=dict)  # street, unit, city, state, zip, country
    store_phone: Mapped[str] = mapped_column(String(30), default="")
    time_zone: Mapped[str] = mapped_column(String(60), default="")
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"), default=None)
    trade: Mapped[str] = mapped_column(String(60), default="")
    category: Mapped[str] = mapped_column(String(60), default="")
    job_type_id: Mapped[str | None] = mapped_column(ForeignKey("job_types.id"), default=None)
    priority: Mapped[str] = mapped_column(String(60), default="")
    response_hours: Mapped[float | None] = mapped_column(Float, default=None)
    nte: Mapped[float | None] = mapped_column(Float, default=None)
    currency: Mapped[str] = mapped_column(String(3), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    caller: Mapped[str] = mapped_column(String(120), default="")
    call_date: Mapped[datetime | None] = mapped_column(default=None)
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)  # call date + the priority's response time
    platform_status: Mapped[str] = mapped_column(String(40), default="")
    platform_extended: Mapped[str] = mapped_column(String(60), default="")
    platform_updated_at: Mapped[datetime | None] = mapped_column(default=None)  # orders out-of-order events
    problems: Mapped[list] = mapped_column(JSON, default=list)  # what is missing or odd, in words
    state: Mapped[str] = mapped_column(String(12), default=WorkOrderState.NEW.value)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None, index=True)
    accepted_by_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    decline_reason_id: Mapped[int | None] = mapped_column(Integer, default=None)
    decline_note: Mapped[str] = mapped_column(Text, default="")
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    checked_out_at: Mapped[datetime | None] = mapped_column(default=None)
    note_seq: Mapped[int] = mapped_column(Integer, default=0)  # notes the desk wrote to the client so far
    last_note: Mapped[str] = mapped_column(Text, default="")  # the latest (each goes out once)
    action_required: Mapped[str] = mapped_column(Text, default="")  # the platform's refusal, shown on the job
    received_at: Mapped[datetime] = mapped_column(default=utcnow)  # first heard of

    __table_args__ = (Index("ix_work_orders_state_due_at", "state", "due_at"),)


class ScDelivery(Base):
    """A webhook delivery stored: its key is the SHA-256 of the signed body, so a redelivery (the platform
    retries up to 3 times; a replay) is recognised and stored once."""

    __tablename__ = "sc_deliveries"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(60), default="")
    sc_id: Mapped[int] = mapped_column(BIG, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboundState(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (or retried after next_at)
    SENDING = "sending"  # an instance holds it until lease_until
    SENT = "sent"
    REFUSED = "refused"  # the platform said no (shown on the job as Action required)


class ScOutbound(Base):
    """One thing to tell the platform. (work order, action, version) is unique: the same job change
    enqueued twice (a replayed push, two instances) is one row, sent once."""

    __tablename__ = "sc_outbound"
    id: Mapped[int] = mapped_column(BIG, primary_key=True, autoincrement=True)
    sc_id: Mapped[int] = mapped_column(BIG)
    action: Mapped[str] = mapped_column(String(20))  # accept / decline / status / note / check_in / check_out
    version: Mapped[int] = mapped_column(Integer, default=1)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default=OutboundState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str] = mapped_column(String(40), default="")
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        UniqueConstraint("sc_id", "action", "version", name="uq_sc_outbound_key"),
        Index("ix_sc_outbound_state_next_at", "state", "next_at"),
    )
