"""What the console shows of customer notifications, read from its cache (docs/notifications.md): the
customer's Messages tab, the CSRs' inbox of unread texts, and a template preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .customers import Customer
from .jobs import Appointment, Job
from .notifications import Channel, InboundKind, InboundMessage, NoticeKind, NoticeStatus, Notification
from .notify_rules import message_values
from .notify_templates import TEMPLATE_KINDS, load_settings, render
from .timeutil import as_utc

KIND_LABEL = {
    NoticeKind.CONFIRMATION: "Confirmation",
    NoticeKind.REMINDER: "Reminder",
    NoticeKind.RESCHEDULE: "Rescheduled",
    NoticeKind.CANCEL: "Canceled",
    NoticeKind.ON_THE_WAY: "On the way",
    NoticeKind.REPLY: "Reply",
    NoticeKind.HELP: "Help",
    NoticeKind.ONLINE_BOOKING: "Online request received",
}
STATE_LABEL = {
    NoticeStatus.PENDING: "Waiting to send",
    NoticeStatus.SENDING: "Sending",
    NoticeStatus.QUEUED: "Sent to the carrier",
    NoticeStatus.SENT: "Sent",
    NoticeStatus.DELIVERED: "Delivered",
    NoticeStatus.UNDELIVERED: "Not delivered",
    NoticeStatus.FAILED: "Failed",
    NoticeStatus.CANCELED: "Not sent (appointment changed)",
    NoticeStatus.SUPPRESSED: "Not sent",
}
INBOUND_LABEL = {
    InboundKind.OPT_OUT: "Opted out (STOP)",
    InboundKind.OPT_IN: "Opted back in",
    InboundKind.HELP: "Asked for help",
    InboundKind.CONFIRM: "Confirmed the appointment",
    InboundKind.MESSAGE: "Text from the customer",
}
RESENDABLE = frozenset(
    {
        NoticeStatus.FAILED,
        NoticeStatus.UNDELIVERED,
        NoticeStatus.SENT,
        NoticeStatus.DELIVERED,
        NoticeStatus.QUEUED,
    }
)


@dataclass(frozen=True)
class MessageRow:
    id: str
    at: datetime
    inbound: bool
    what: str  # "Confirmation", "Text from the customer", …
    channel: str  # "Text" / "Email"
    address: str
    text: str
    state: str
    why: str  # why it failed or wasn't sent ("" when fine)
    can_resend: bool
    unread: bool = False


@dataclass(frozen=True)
class InboxRow:
    id: str
    at: datetime
    from_number: str
    customer_id: str
    customer: str
    text: str


def customer_messages(session: Session, customer_id: str, limit: int = 200) -> list[MessageRow]:
    """Every message to and from the customer, newest first."""
    rows: list[MessageRow] = []
    for n in session.scalars(
        select(Notification)
        .where(Notification.customer_id == customer_id)
        .order_by(Notification.created_at.desc())
        .limit(limit)
    ):
        status = NoticeStatus(n.status)
        why = n.error if (status not in (NoticeStatus.SENT, NoticeStatus.DELIVERED) or n.error_code) else ""
        if why and n.error_code and n.error_code not in why:
            why = f"{why} (error {n.error_code})"
        rows.append(
            MessageRow(
                id=n.id,
                at=as_utc(n.sent_at or n.due_at or n.created_at),
                inbound=False,
                what=KIND_LABEL.get(NoticeKind(n.kind), str(n.kind)),
                channel="Text" if Channel(n.channel) is Channel.SMS else "Email",
                address=n.to_address,
                text=n.body,
                state=STATE_LABEL[status],
                why=why,
                can_resend=status in RESENDABLE,
            )
        )
    for m in session.scalars(
        select(InboundMessage)
        .where(InboundMessage.customer_id == customer_id)
        .order_by(InboundMessage.created_at.desc())
        .limit(limit)
    ):
        rows.append(
            MessageRow(
                id=m.id,
                at=as_utc(m.created_at),
                inbound=True,
                what=INBOUND_LABEL[InboundKind(m.kind)],
                channel="Text",
                address=m.from_number,
                text=m.body,
                state="Read" if m.handled else "Unread",
                why="",
                can_resend=False,
                unread=not m.handled,
            )
        )
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows


def unread_texts(session: Session, limit: int = 200) -> list[InboxRow]:
    """Customers' texts no CSR has read yet, oldest first (the ``messagesInbox``)."""
    query = (
        select(InboundMessage, Customer.name)
        .outerjoin(Customer, Customer.id == InboundMessage.customer_id)
        .where(InboundMessage.handled.is_(False))
        .order_by(InboundMessage.created_at)
        .limit(limit)
    )
    return [
        InboxRow(
            m.id, as_utc(m.created_at), m.from_number, m.customer_id or "", name or "Unknown number", m.body
        )
        for m, name in session.execute(query)
    ]


def unread_count(session: Session) -> int:
    return session.scalar(select(func.count()).where(InboundMessage.handled.is_(False))) or 0


def preview(session: Session, customer_id: str) -> list[tuple[str, str]]:
    """Each message kind's text as this customer would get it, for their next job (a sample when
    they have none): (label, text)."""
    settings = load_settings(session)
    job = session.scalar(
        select(Job).where(Job.customer_id == customer_id).order_by(Job.created_at.desc()).limit(1)
    )
    if job is not None:
        appt = session.scalar(select(Appointment).where(Appointment.job_id == job.id).limit(1))
        values = message_values(session, settings, job, appt)
    else:
        customer = session.get(Customer, customer_id)
        values = {
            "customer": customer.name if customer else "Maria Garcia",
            "window": "Tue Dec 1 between 8 AM and 12 PM",
            "date": "Tue Dec 1",
            "job_number": "12345",
            "company": settings.company,
            "company_phone": settings.company_phone,
        }
    out = []
    for kind in TEMPLATE_KINDS:
        text = render(settings.template(kind, "sms"), values)
        out.append((KIND_LABEL[kind], text))
    if not settings.enabled:
        out.insert(
            0, ("Note", "Notifications are off for this company (no notifications section in the setup).")
        )
    return out


def confirmed_jobs(session: Session, job_ids: list[str]) -> set[str]:
    """The jobs among ``job_ids`` whose appointment the customer confirmed by text."""
    if not job_ids:
        return set()
    return set(
        session.scalars(
            select(Appointment.job_id).where(
                Appointment.job_id.in_(job_ids), Appointment.confirmed_at.is_not(None)
            )
        )
    )
