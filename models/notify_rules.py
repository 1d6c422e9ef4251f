"""Which messages a job event queues, to whom, when, and with what text (docs/notifications.md).

Runs on the server inside the transaction that applies the booking, reschedule or cancel
(sync/apply.py), so the message is queued if and only if the change is committed. Each message's key
is (appointment, kind, version) plus the channel and address: the version of an appointment is its
arrival window's start, so a replay queues nothing new, a reschedule queues a new reminder, and the
reminder of the old time is canceled in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .customers import ContactKind, ContactMethod, Customer, Location
from .jobs import Appointment, Job
from .notifications import Channel, NoticeKind, NoticeStatus, Notification
from .notify_templates import NotifySettings, load_settings, render
from .timeutil import as_utc, local_to_utc, zone

# Quiet hours and the customer's zone are decided again when the message is sent (the sender);
# this module only says when a message falls due.


def customer_zone(location: Location | None, company_zone: str) -> ZoneInfo:
    """The customer's local time zone: the location's ZIP's, else the company's."""
    return zip_zone(location.zip if location is not None else "", company_zone)


def zip_zone(zip_code: str, fallback: str) -> ZoneInfo:
    """The time zone of a ZIP code (the offline ``zipcodes`` data), else ``fallback``'s."""
    if zip_code:
        import zipcodes

        try:
            found = zipcodes.matching(zip_code[:5])
        except (TypeError, ValueError):
            found = []
        if found and found[0].get("timezone"):
            return zone(found[0]["timezone"])
    return zone(fallback)


def _clock(moment: datetime, tz: ZoneInfo) -> str:
    local = as_utc(moment).astimezone(tz)
    text = local.strftime("%I:%M %p").lstrip("0")
    return text.replace(":00 ", " ")


def window_text(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """ "Tue Dec 8 between 8 AM and 12 PM", in the customer's zone."""
    day = as_utc(start).astimezone(tz)
    return f"{day:%a %b} {day.day} between {_clock(start, tz)} and {_clock(end, tz)}"


def reminder_due(settings: NotifySettings, window_start: datetime, tz: ZoneInfo) -> datetime | None:
    """When the reminder of an appointment falls due (UTC), or None when the company sends none."""
    start = as_utc(window_start)
    if settings.reminder_day_before_at is not None:
        day_before = start.astimezone(tz).date() - timedelta(days=1)
        return local_to_utc(day_before, settings.reminder_day_before_at, tz)
    if settings.reminder_hours_before:
        return start - timedelta(hours=settings.reminder_hours_before)
    return None


@dataclass(frozen=True)
class Recipient:
    channel: Channel
    contact_id: str
    address: str


def recipients(session: Session, customer_id: str, location_id: str | None) -> list[Recipient]:
    """Where a message goes: the customer's (and the job location's) contact methods with Notifications
    on — a text to each phone not marked Do not text, or, when there is none, an email to each email
    address (one message per address; one channel, so nobody gets the same news twice). A text that
    turns out to reach a landline is sent by email instead (models/notify_outcomes.py)."""
    query = select(ContactMethod).where(
        ContactMethod.customer_id == customer_id, ContactMethod.notifications.is_(True)
    )
    seen: set[tuple[Channel, str]] = set()
    out: list[Recipient] = []
    for cm in session.scalars(query.order_by(ContactMethod.created_at)):
        if cm.location_id is not None and cm.location_id != location_id:
            continue
        kind = ContactKind(cm.kind)
        if kind is ContactKind.EMAIL:
            channel = Channel.EMAIL
        elif kind in (ContactKind.MOBILE, ContactKind.PHONE) and not cm.do_not_text:
            channel = Channel.SMS
        else:
            continue
        if (channel, cm.value) in seen:
            continue
        seen.add((channel, cm.value))
        out.append(Recipient(channel, cm.id, cm.value))
    texts = [r for r in out if r.channel is Channel.SMS]
    return texts or out


def message_values(
    session: Session, settings: NotifySettings, job: Job, appointment: Appointment | None
) -> dict[str, str]:
    customer = session.get(Customer, job.customer_id)
    location = session.get(Location, job.location_id)
    tz = customer_zone(location, settings.time_zone)
    values = {
        "customer": customer.name if customer else "",
        "job_number": job.number,
        "company": settings.company,
        "company_phone": settings.company_phone,
        "window": "",
        "date": "",
    }
    if appointment is not None:
        values["window"] = window_text(appointment.arrival_window_start, appointment.arrival_window_end, tz)
        day = as_utc(appointment.arrival_window_start).astimezone(tz)
        values["date"] = f"{day:%a %b} {day.day}"
    return values


def queue_message(
    session: Session,
    settings: NotifySettings,
    *,
    key: str,
    kind: NoticeKind,
    to: Recipient,
    values: dict[str, str],
    due: datetime,
    customer_id: str | None,
    job_id: str | None = None,
    appointment_id: str | None = None,
    body: str | None = None,
    created_by_id: str | None = None,
    in_reply_to_id: str | None = None,
) -> Notification | None:
    """Queue one message unless its key is already queued (then None: the idempotent replay)."""
    full_key = f"{key}|{to.channel.value}:{to.address}"
    if session.scalar(select(Notification.id).where(Notification.key == full_key)) is not None:
        return None
    if to.channel is Channel.SMS:
        text, subject = body if body is not None else render(settings.template(kind, "sms"), values), ""
    else:
        text = body if body is not None else render(settings.template(kind, "email"), values)
        subject = render(settings.template(kind, "email_subject"), values) or settings.company
    row = Notification(
        key=full_key,
        kind=kind,
        channel=to.channel,
        status=NoticeStatus.PENDING,
        customer_id=customer_id,
        job_id=job_id,
        appointment_id=appointment_id,
        contact_id=to.contact_id or None,
        to_address=to.address,
        subject=subject[:200],
        body=text,
        due_at=due,
        next_attempt_at=due,
        created_by_id=created_by_id,
        in_reply_to_id=in_reply_to_id,
    )
    session.add(row)
    return row


def _queue_for_job(
    session: Session,
    settings: NotifySettings,
    job: Job,
    appointment: Appointment | None,
    kind: NoticeKind,
    version: str,
    due: datetime,
) -> list[Notification]:
    values = message_values(session, settings, job, appointment)
    subject_id = appointment.id if appointment is not None else job.id
    out = []
    for to in recipients(session, job.customer_id, job.location_id):
        row = queue_message(
            session,
            settings,
            key=f"{subject_id}:{kind.value}:{version}",
            kind=kind,
            to=to,
            values=values,
            due=due,
            customer_id=job.customer_id,
            job_id=job.id,
            appointment_id=appointment.id if appointment is not None else None,
        )
        if row is not None:
            out.append(row)
    return out


def _version(appointment: Appointment) -> str:
    return as_utc(appointment.arrival_window_start).strftime("%Y%m%dT%H%M")


def cancel_pending(session: Session, job_id: str, kinds: tuple[NoticeKind, ...]) -> None:
    """Messages of ``kinds`` for ``job_id`` that haven't gone out: canceled (never sent late)."""
    session.execute(
        update(Notification)
        .where(
            Notification.job_id == job_id,
            Notification.kind.in_(kinds),
            Notification.status == NoticeStatus.PENDING,
        )
        .values(status=NoticeStatus.CANCELED, error="The appointment changed before it was sent.")
        .execution_options(synchronize_session="fetch")
    )


def reminder_excluded(session: Session, settings: NotifySettings, job: Job) -> bool:
    """Whether the company sends no reminders for this job's business unit or job type (setup file)."""
    from .setup import BusinessUnit, JobType

    if settings.reminder_exclude_business_units and job.business_unit_id:
        unit = session.get(BusinessUnit, job.business_unit_id)
        if unit is not None and unit.name.casefold() in settings.reminder_exclude_business_units:
            return True
    if settings.reminder_exclude_job_types and job.job_type_id:
        job_type = session.get(JobType, job.job_type_id)
        if job_type is not None and job_type.name.casefold() in settings.reminder_exclude_job_types:
            return True
    return False


def last_minute(settings: NotifySettings, appt: Appointment, now: datetime) -> bool:
    """Whether the window starts so soon after the booking that a confirmation would be redundant
    (``skip_confirmation_within_minutes``; the CSR has just told the customer on the phone)."""
    minutes = settings.skip_confirmation_within_minutes
    return bool(minutes) and as_utc(appt.arrival_window_start) - as_utc(now) <= timedelta(minutes=minutes)


def _reminder(
    session: Session,
    settings: NotifySettings,
    job: Job,
    appt: Appointment,
    now: datetime,
    version: str | None = None,
) -> None:
    if reminder_excluded(session, settings, job):
        return
    location = session.get(Location, job.location_id)
    due = reminder_due(settings, appt.arrival_window_start, customer_zone(location, settings.time_zone))
    # Booked after the reminder's time (a same-day job): no reminder, as the anchors do.
    if due is not None and due > now:
        _queue_for_job(session, settings, job, appt, NoticeKind.REMINDER, version or _version(appt), due)


def _reminder_after_release(
    session: Session, settings: NotifySettings, job: Job, appt: Appointment, now: datetime, stamp: str
) -> None:
    """A hold canceled the pending reminder, and the canceled row keeps its key: the release queues the
    reminder again under a key of its own (the release's mutation id: a replayed release queues nothing
    more) — unless a reminder for this window is still pending or has already gone out."""
    base = f"{appt.id}:{NoticeKind.REMINDER.value}:{_version(appt)}"
    live = session.scalar(
        select(Notification.id)
        .where(
            Notification.job_id == job.id,
            Notification.kind == NoticeKind.REMINDER,
            Notification.key.startswith(base, autoescape=True),
            Notification.status != NoticeStatus.CANCELED,
        )
        .limit(1)
    )
    if live is None:
        _reminder(session, settings, job, appt, now, version=f"{_version(appt)}:release:{stamp}")


def on_job_event(
    session: Session, name: str, args: dict[str, Any], job_id: str, now: datetime, mutation_id: str = ""
) -> None:
    """Queue what the applied intent ``name`` calls for (nothing when notifications are off);
    ``mutation_id`` versions an "on the way" (each press is its own message, a replay is not)."""
    if name not in _EVENTS:
        return
    settings = load_settings(session)
    if not settings.enabled:
        return
    job = session.get(Job, job_id)
    if job is None:
        return
    session.flush()
    appt = session.scalar(
        select(Appointment).where(Appointment.job_id == job.id).order_by(Appointment.start).limit(1)
    )
    if name == "book_job" and appt is not None:
        # First scheduling only: the key has no version, a reschedule never repeats it.
        if not last_minute(settings, appt, now):
            _queue_for_job(session, settings, job, appt, NoticeKind.CONFIRMATION, "1", now)
        _reminder(session, settings, job, appt, now)
    elif name == "reschedule_job" and appt is not None:
        cancel_pending(session, job.id, (NoticeKind.REMINDER, NoticeKind.CONFIRMATION))
        _queue_for_job(session, settings, job, appt, NoticeKind.RESCHEDULE, _version(appt), now)
        _reminder(session, settings, job, appt, now)
    elif name == "cancel_job":
        cancel_pending(session, job.id, (NoticeKind.REMINDER, NoticeKind.CONFIRMATION, NoticeKind.RESCHEDULE))
        _queue_for_job(session, settings, job, appt, NoticeKind.CANCEL, "1", now)
    elif name == "hold_job":
        cancel_pending(session, job.id, (NoticeKind.REMINDER,))
    elif name == "release_hold" and appt is not None:
        _reminder_after_release(
            session, settings, job, appt, now, mutation_id or now.strftime("%Y%m%dT%H%M%S")
        )
    elif name == "notify_on_the_way":
        stamp = mutation_id or now.strftime("%Y%m%dT%H%M%S")
        _queue_for_job(session, settings, job, appt, NoticeKind.ON_THE_WAY, stamp, now)


_EVENTS = frozenset(
    {"book_job", "reschedule_job", "cancel_job", "hold_job", "release_hold", "notify_on_the_way"}
)
