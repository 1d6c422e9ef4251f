"""Customer notifications: the server's outbox of texts and emails, and the texts customers send back
(docs/notifications.md).

One ``notifications`` row is one message to one address. Its ``key`` is the idempotency key —
(appointment, kind, version) plus the channel and address — unique in the table, so a replayed intent,
a second server instance or a retried transaction can never queue the same message twice. The sender
(sync/notify_sender.py) claims rows, sends them and records what the provider said; consoles read both
tables through the change log (the customer's Messages tab, the ``messagesInbox``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import ID_LEN, Base, IdMixin, StampMixin, utcnow
from .customers import _enum


class NoticeKind(enum.StrEnum):
    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    ON_THE_WAY = "on_the_way"
    REPLY = "reply"  # a CSR's answer to an inbound text
    HELP = "help"  # the answer to HELP
    ONLINE_BOOKING = "online_booking"  # "we received your request" to a Web Scheduler requester


# Sent even inside quiet hours: the customer asked for them, or the technician is on the way now.
URGENT_KINDS = frozenset({NoticeKind.ON_THE_WAY, NoticeKind.REPLY, NoticeKind.HELP})


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"


class NoticeStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its time (or its next attempt)
    SENDING = "sending"  # claimed by a sender
    QUEUED = "queued"  # the provider took it (Twilio's first status; SMTP: accepted)
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"  # the appointment moved or the job was canceled before it went out
    SUPPRESSED = "suppressed"  # the contact turned notifications off or opted out before it went out


# Provider statuses after which nothing changes the row (a late "sent" never undoes "delivered").
FINAL_STATUSES = frozenset(
    {
        NoticeStatus.DELIVERED,
        NoticeStatus.UNDELIVERED,
        NoticeStatus.FAILED,
        NoticeStatus.CANCELED,
        NoticeStatus.SUPPRESSED,
    }
)
# Order of the provider's progress: a callback may only move a message forward.
PROGRESS = {
    NoticeStatus.SENDING: 0,
    NoticeStatus.QUEUED: 1,
    NoticeStatus.SENT: 2,
    NoticeStatus.DELIVERED: 3,
    NoticeStatus.UNDELIVERED: 3,
    NoticeStatus.FAILED: 3,
}


# Twilio's error codes that change the customer's record: 21610 (the number replied STOP: it is marked
# Do not text), 21614 / 30006 (not a mobile number, a landline: the message goes by email instead).
OPTED_OUT = "21610"
LANDLINE_CODES = frozenset({"21614", "30006"})


class InboundKind(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    CONFIRM = "confirm"
    MESSAGE = "message"  # anything else: a CSR reads it in the inbox


class Notification(IdMixin, StampMixin, Base):
    """One outgoing message to one address."""

    __tablename__ = "notifications"
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[NoticeKind] = mapped_column(_enum(NoticeKind, "notice_kind"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "notice_channel"))
    status: Mapped[NoticeStatus] = mapped_column(
        _enum(NoticeStatus, "notice_status"), default=NoticeStatus.PENDING
    )
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None, index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None, index=True)
    appointment_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    contact_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    to_address: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    provider_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    error_code: Mapped[str] = mapped_column(String(16), default="")
    error: Mapped[str] = mapped_column(String(300), default="")
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    status_at: Mapped[datetime | None] = mapped_column(default=None)
    created_by_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
    in_reply_to_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)

    # The sender's claim query: due rows in due order, an index scan however long the history.
    __table_args__ = (Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),)


class InboundMessage(IdMixin, StampMixin, Base):
    """A text a customer sent to one of the company's numbers (stored once per MessageSid)."""

    __tablename__ = "inbound_messages"
    provider_id: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str] = mapped_column(String(40))
    to_number: Mapped[str] = mapped_column(String(40), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[InboundKind] = mapped_column(_enum(InboundKind, "inbound_kind"))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None, index=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), default=None)
    # Whether a CSR has read (or answered) it: the console's unread count is the rows still False.
    handled: Mapped[bool] = mapped_column(Boolean, default=False)
    handled_by_id: Mapped[str | None] = mapped_column(String(ID_LEN), default=None)
