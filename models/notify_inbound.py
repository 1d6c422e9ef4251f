"""What customers text back, and the provider's status callbacks, applied to the store
(docs/notifications.md). Called by the messaging webhooks inside one transaction each.

Keywords are the whole message, any case, surrounding spaces ignored (Twilio's rule: "Stop please" is
not an opt-out): STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT mark every contact method with that
number Do not text at once (audited); START, UNSTOP clear it; HELP is answered; C or CONFIRM confirms
the customer's next appointment. Anything else waits in the CSRs' inbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .customers import ContactMethod
from .jobs import Appointment, Job, JobStatus
from .notifications import Channel, InboundKind, InboundMessage, NoticeKind, NoticeStatus, Notification
from .notify_outcomes import apply_status, set_do_not_text
from .notify_rules import Recipient, queue_message
from .notify_templates import NotifySettings, render

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP"})
CONFIRM_WORDS = frozenset({"C", "CONFIRM", "CONFIRMED"})
# Twilio's callback statuses → ours ("sending" and "accepted" are steps we don't show).
PROVIDER_STATUS = {
    "queued": NoticeStatus.QUEUED,
    "sent": NoticeStatus.SENT,
    "delivered": NoticeStatus.DELIVERED,
    "undelivered": NoticeStatus.UNDELIVERED,
    "failed": NoticeStatus.FAILED,
    "read": NoticeStatus.DELIVERED,
}


def classify(body: str) -> InboundKind:
    word = body.strip().upper()
    if word in OPT_OUT_WORDS:
        return InboundKind.OPT_OUT
    if word in OPT_IN_WORDS:
        return InboundKind.OPT_IN
    if word in HELP_WORDS:
        return InboundKind.HELP
    if word in CONFIRM_WORDS:
        return InboundKind.CONFIRM
    return InboundKind.MESSAGE


def _customer_of(session: Session, number: str) -> str | None:
    return session.scalar(
        select(ContactMethod.customer_id)
        .where(ContactMethod.value == number)
        .order_by(ContactMethod.created_at)
        .limit(1)
    )


def next_appointment(session: Session, customer_id: str, now: datetime) -> Appointment | None:
    """The customer's next appointment that hasn't ended, on a job still on the schedule."""
    return session.scalar(
        select(Appointment)
        .join(Job, Job.id == Appointment.job_id)
        .where(
            Job.customer_id == customer_id,
            Job.status.in_([JobStatus.SCHEDULED, JobStatus.DISPATCHED]),
            Appointment.arrival_window_end >= now,
        )
        .order_by(Appointment.arrival_window_start)
        .limit(1)
    )


def receive_text(
    session: Session,
    settings: NotifySettings,
    *,
    sid: str,
    from_number: str,
    to_number: str,
    body: str,
    now: datetime,
) -> InboundMessage | None:
    """Store a customer's text once (None: this MessageSid was stored before) and act on it."""
    if session.scalar(select(InboundMessage.id).where(InboundMessage.provider_id == sid)) is not None:
        return None
    kind = classify(body)
    customer_id = _customer_of(session, from_number)
    message = InboundMessage(
        provider_id=sid,
        from_number=from_number,
        to_number=to_number,
        body=body[:1600],
        kind=kind,
        customer_id=customer_id,
        handled=kind is not InboundKind.MESSAGE,
    )
    session.add(message)
    session.flush()
    if kind is InboundKind.OPT_OUT:
        set_do_not_text(session, from_number, True, f"the customer texted {body.strip().upper()}")
    elif kind is InboundKind.OPT_IN:
        set_do_not_text(session, from_number, False, f"the customer texted {body.strip().upper()}")
    elif kind is InboundKind.HELP:
        values = {"company": settings.company, "company_phone": settings.company_phone}
        queue_message(
            session,
            settings,
            key=f"help:{message.id}",
            kind=NoticeKind.HELP,
            to=Recipient(Channel.SMS, "", from_number),
            values=values,
            body=render(settings.template(NoticeKind.HELP, "sms"), values),
            due=now,
            customer_id=customer_id,
            in_reply_to_id=message.id,
        )
    elif kind is InboundKind.CONFIRM:
        appointment = next_appointment(session, customer_id, now) if customer_id else None
        if appointment is None:
            # Nothing to confirm: a person should look at it.
            message.kind, message.handled = InboundKind.MESSAGE, False
        else:
            appointment.confirmed_at = appointment.confirmed_at or now
            message.job_id = appointment.job_id
    return message


def record_status(
    session: Session,
    settings: NotifySettings,
    *,
    ref: str,
    sid: str,
    status: str,
    error_code: str,
    error: str,
    now: datetime,
) -> Notification | None:
    """A status callback: find the message (by our id in the callback URL, else the sid) and move it
    forward; None when it is not ours or nothing changed."""
    row = session.get(Notification, ref) if ref else None
    if row is None and sid:
        row = session.scalar(select(Notification).where(Notification.provider_id == sid).limit(1))
    ours = PROVIDER_STATUS.get(status)
    if row is None or ours is None:
        return None
    if row.provider_id and sid and row.provider_id != sid:
        return None  # a callback of another send of the same message
    row.provider_id = row.provider_id or sid
    return row if apply_status(session, settings, row, ours, now, error_code, error) else None
