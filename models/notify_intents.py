"""The CSR's actions on messages, as intents (the console runs them on its cache, the server re-runs and
authorizes them; docs/notifications.md): "on the way", Resend, answer an inbound text, mark it read.

The server queues the messages themselves (models/notify_rules.py, from sync/apply.py), so a console
never sends anything: it asks, and the server decides.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .attribution import ACTOR_ID
from .base import utcnow
from .customers import ContactMethod
from .intent_kit import Applied, get_row, intent, own_id, require_id
from .jobs import Job, JobStatus
from .notifications import Channel, InboundMessage, NoticeKind, NoticeStatus, Notification
from .notify_templates import MAX_SMS
from .validation import ValidationFailed


def _now(session: Session) -> Any:
    return session.info.get("now") or utcnow()


def opted_out(session: Session, number: str) -> bool:
    """Whether any contact method with this number is marked Do not text (a STOP covers them all)."""
    return (
        session.scalar(
            select(ContactMethod.id).where(ContactMethod.value == number, ContactMethod.do_not_text.is_(True))
        )
        is not None
    )


@intent("notify_on_the_way")
def notify_on_the_way(session: Session, args: dict[str, Any]) -> Applied:
    job = get_row(session, Job, require_id(args.get("job_id"), "job_id"), "job")
    if JobStatus(job.status) not in (JobStatus.SCHEDULED, JobStatus.DISPATCHED):
        raise ValidationFailed(
            {"status": f"A {JobStatus(job.status).value.lower()} job has no technician on the way."}
        )
    job.status = JobStatus.DISPATCHED
    return Applied("job", job.id, [], {})


@intent("resend_notification")
def resend_notification(session: Session, args: dict[str, Any]) -> Applied:
    old = get_row(
        session, Notification, require_id(args.get("notification_id"), "notification_id"), "message"
    )
    if Channel(old.channel) is Channel.SMS and opted_out(session, old.to_address):
        raise ValidationFailed({"message": "This number has opted out of texts (STOP); it can't be texted."})
    if NoticeStatus(old.status) in (NoticeStatus.PENDING, NoticeStatus.SENDING):
        raise ValidationFailed({"message": "This message is still waiting to go out."})
    new_id = own_id(args, "id")
    now = _now(session)
    session.add(
        Notification(
            id=new_id,
            key=f"resend:{new_id}",
            kind=NoticeKind(old.kind),
            channel=Channel(old.channel),
            status=NoticeStatus.PENDING,
            customer_id=old.customer_id,
            job_id=old.job_id,
            appointment_id=old.appointment_id,
            contact_id=old.contact_id,
            to_address=old.to_address,
            subject=old.subject,
            body=old.body,
            due_at=now,
            next_attempt_at=now,
            created_by_id=session.info.get(ACTOR_ID),
        )
    )
    return Applied("notification", new_id, [], {})


@intent("reply_to_inbound")
def reply_to_inbound(session: Session, args: dict[str, Any]) -> Applied:
    inbound = get_row(session, InboundMessage, require_id(args.get("inbound_id"), "inbound_id"), "text")
    body = args.get("body")
    if not isinstance(body, str) or not body.strip():
        raise ValidationFailed({"body": "Write the answer first."})
    if len(body) > MAX_SMS:
        raise ValidationFailed({"body": f"The answer is too long (at most {MAX_SMS} characters)."})
    if opted_out(session, inbound.from_number):
        raise ValidationFailed({"body": "This number has opted out of texts (STOP); it can't be texted."})
    new_id = own_id(args, "id")
    now = _now(session)
    session.add(
        Notification(
            id=new_id,
            key=f"reply:{new_id}",
            kind=NoticeKind.REPLY,
            channel=Channel.SMS,
            status=NoticeStatus.PENDING,
            customer_id=inbound.customer_id,
            job_id=inbound.job_id,
            to_address=inbound.from_number,
            body=body.strip(),
            due_at=now,
            next_attempt_at=now,
            created_by_id=session.info.get(ACTOR_ID),
            in_reply_to_id=inbound.id,
        )
    )
    inbound.handled = True
    inbound.handled_by_id = session.info.get(ACTOR_ID)
    return Applied("notification", new_id, [], {})


@intent("mark_inbound_read")
def mark_inbound_read(session: Session, args: dict[str, Any]) -> Applied:
    inbound = get_row(session, InboundMessage, require_id(args.get("inbound_id"), "inbound_id"), "text")
    inbound.handled = True
    inbound.handled_by_id = session.info.get(ACTOR_ID)
    return Applied("inbound", inbound.id, [], {})
