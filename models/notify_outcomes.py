"""What the provider's answers mean for the customer's records (docs/notifications.md): a status moves a
message forward only, error 21610 or STOP marks the number Do not text (audited), a landline failure
falls back to email, quiet hours hold a message until morning in the customer's time zone.

Pure database rules in the caller's transaction; the sender and the webhooks share them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .customers import ContactKind, ContactMethod, Location
from .jobs import Job, JobStatus
from .journal import AuditEntry
from .notifications import (
    FINAL_STATUSES,
    LANDLINE_CODES,
    OPTED_OUT,
    PROGRESS,
    URGENT_KINDS,
    Channel,
    NoticeKind,
    NoticeStatus,
    Notification,
)
from .notify_rules import Recipient, customer_zone, queue_message
from .notify_templates import NotifySettings
from .timeutil import as_utc

SYSTEM_ACTOR = "system:notifications"


def quiet_until(settings: NotifySettings, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The end of the quiet hours (UTC) when ``now`` falls inside them in ``tz``, else None."""
    start, end = settings.quiet_start, settings.quiet_end
    if start is None or end is None or start == end:
        return None
    local = as_utc(now).astimezone(tz)
    t = local.time().replace(tzinfo=None)
    inside = (start <= t or t < end) if start > end else (start <= t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=tz).astimezone(as_utc(now).tzinfo)


def message_zone(session: Session, settings: NotifySettings, row: Notification) -> ZoneInfo:
    job = session.get(Job, row.job_id) if row.job_id else None
    location = session.get(Location, job.location_id) if job is not None else None
    return customer_zone(location, settings.time_zone)


@dataclass
class Prefetched:
    """What ``prefetch_for_send`` loaded: the opted-out numbers, and the loaded rows held here so the
    session's identity map (weak references) keeps them while the batch is looked at."""

    opted_out: frozenset[str]
    loaded: list[object]


def prefetch_for_send(session: Session, rows: Sequence[Notification]) -> Prefetched:
    """Load what ``why_not_send`` and ``hold_for_quiet`` read for a batch in four statements (jobs,
    their locations, contact methods, opted-out numbers) instead of a few per message."""
    loaded: list[object] = []
    job_ids = {r.job_id for r in rows if r.job_id}
    if job_ids:
        loaded += session.scalars(select(Job).where(Job.id.in_(job_ids)))
    location_ids = {j.location_id for j in loaded if isinstance(j, Job) and j.location_id}
    if location_ids:
        loaded += session.scalars(select(Location).where(Location.id.in_(location_ids)))
    contact_ids = {r.contact_id for r in rows if r.contact_id}
    if contact_ids:
        loaded += session.scalars(select(ContactMethod).where(ContactMethod.id.in_(contact_ids)))
    numbers = {r.to_address for r in rows if Channel(r.channel) is Channel.SMS}
    opted_out: frozenset[str] = frozenset()
    if numbers:
        opted_out = frozenset(
            session.scalars(
                select(ContactMethod.value).where(
                    ContactMethod.value.in_(numbers), ContactMethod.do_not_text.is_(True)
                )
            )
        )
    return Prefetched(opted_out, loaded)


def why_not_send(
    session: Session, row: Notification, opted_out: Collection[str] | None = None
) -> tuple[NoticeStatus, str] | None:
    """Whether a claimed message must not go out after all (the job was canceled, the contact turned
    notifications off or opted out since it was queued): the status and the reason, or None.
    ``opted_out``: the numbers ``prefetch_for_send`` found opted out (else asked here)."""
    kind = NoticeKind(row.kind)
    if row.job_id and kind in (NoticeKind.CONFIRMATION, NoticeKind.REMINDER, NoticeKind.RESCHEDULE):
        job = session.get(Job, row.job_id)
        if job is not None and JobStatus(job.status) in (JobStatus.CANCELED, JobStatus.COMPLETED):
            return NoticeStatus.CANCELED, "The job was canceled or completed before it was sent."
    if row.contact_id:
        contact = session.get(ContactMethod, row.contact_id)
        if contact is None:
            return NoticeStatus.SUPPRESSED, "The contact method was removed before it was sent."
        if not contact.notifications and kind not in (NoticeKind.REPLY, NoticeKind.HELP):
            return NoticeStatus.SUPPRESSED, "Notifications were turned off for this contact."
    if (
        Channel(row.channel) is Channel.SMS
        and kind is not NoticeKind.HELP
        and (row.to_address in opted_out if opted_out is not None else _opted_out(session, row.to_address))
    ):
        return NoticeStatus.SUPPRESSED, "The customer opted out of texts (Do not text)."
    return None


def hold_for_quiet(
    session: Session, settings: NotifySettings, row: Notification, now: datetime
) -> datetime | None:
    """When a non-urgent message due inside quiet hours may go (None: send now)."""
    if NoticeKind(row.kind) in URGENT_KINDS:
        return None
    return quiet_until(settings, message_zone(session, settings, row), now)


def _opted_out(session: Session, number: str) -> bool:
    return (
        session.scalar(
            select(ContactMethod.id).where(ContactMethod.value == number, ContactMethod.do_not_text.is_(True))
        )
        is not None
    )


def set_do_not_text(session: Session, number: str, value: bool, why: str, actor: str = SYSTEM_ACTOR) -> int:
    """Every contact method with this number marked (or cleared) Do not text at once, each audited;
    how many changed."""
    changed = 0
    for contact in session.scalars(select(ContactMethod).where(ContactMethod.value == number)):
        if contact.do_not_text == value:
            continue
        contact.do_not_text = value
        changed += 1
        session.add(
            AuditEntry(
                actor=actor,
                entity="contact",
                entity_id=contact.id,
                action="opt_out" if value else "opt_in",
                details={"number": number, "why": why},
            )
        )
    return changed


def email_fallback(session: Session, row: Notification, settings: NotifySettings) -> Notification | None:
    """A text that can never arrive (a landline): the same message by email, when the customer has an
    email with Notifications on (queued once: the key says which text it replaces)."""
    if not row.customer_id:
        return None
    contact = session.scalar(
        select(ContactMethod)
        .where(
            ContactMethod.customer_id == row.customer_id,
            ContactMethod.kind == ContactKind.EMAIL,
            ContactMethod.notifications.is_(True),
        )
        .order_by(ContactMethod.created_at)
        .limit(1)
    )
    if contact is None:
        return None
    from .notify_rules import message_values

    job = session.get(Job, row.job_id) if row.job_id else None
    appt = None
    if job is not None and row.appointment_id:
        from .jobs import Appointment

        appt = session.get(Appointment, row.appointment_id)
    values = message_values(session, settings, job, appt) if job is not None else {}
    return queue_message(
        session,
        settings,
        key=row.key.split("|")[0],  # the event's key: one email per event, however many texts failed
        kind=NoticeKind(row.kind),
        to=Recipient(Channel.EMAIL, contact.id, contact.value),
        values=values,
        body=None if job is not None else row.body,
        due=as_utc(row.due_at),
        customer_id=row.customer_id,
        job_id=row.job_id,
        appointment_id=row.appointment_id,
    )


def apply_status(
    session: Session,
    settings: NotifySettings,
    row: Notification,
    status: NoticeStatus,
    now: datetime,
    error_code: str = "",
    error: str = "",
) -> bool:
    """The provider said ``status``: move the message forward (never back; a final state stays), and
    act on what a failure means. Whether anything changed."""
    current = NoticeStatus(row.status)
    if current in FINAL_STATUSES or PROGRESS.get(status, -1) <= PROGRESS.get(current, -1):
        return False
    row.status = status
    row.status_at = now
    if status is NoticeStatus.SENT or (status is NoticeStatus.DELIVERED and row.sent_at is None):
        row.sent_at = row.sent_at or now
    if error_code or error:
        row.error_code, row.error = error_code[:16], error[:300]
    if status in (NoticeStatus.FAILED, NoticeStatus.UNDELIVERED) and Channel(row.channel) is Channel.SMS:
        if error_code == OPTED_OUT:
            set_do_not_text(session, row.to_address, True, f"error {OPTED_OUT} from the text service")
        elif error_code in LANDLINE_CODES:
            email_fallback(session, row, settings)
    return True
