"""The read side of the customer panel: one customer with everything a CSR looks at, as plain
immutable data that a widget can show without touching the database."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from .calls import Call, CallDirection, CallState
from .customers import (
    ContactKind,
    ContactMethod,
    Customer,
    Location,
    Membership,
    Note,
    TagType,
    customer_tags,
    location_tags,
)
from .intents import CONTACT_FIELDS, CUSTOMER_FIELDS, LOCATION_FIELDS
from .jobs import Appointment, Job, JobStatus
from .journal import OutboxEntry
from .phone import format_phone
from .search_index import address_text
from .setup import ArrivalWindow, BusinessUnit, CompanySetting, JobType, User
from .timeutil import as_utc, zone

# The panel shows the recent history; older jobs and calls are a report's business.
HISTORY_LIMIT = 200


@dataclass(frozen=True, slots=True)
class ContactRecord:
    id: str
    kind: str  # a ContactKind value
    value: str  # E.164 for phones, the address for email
    display: str  # "(214) 555-0134" or the email address
    memo: str
    notifications: bool
    do_not_text: bool
    location_id: str | None

    @property
    def is_phone(self) -> bool:
        return ContactKind(self.kind).is_phone

    def fields(self) -> dict[str, Any]:
        """The editable fields, keyed like the contact intents."""
        return {k: getattr(self, k) for k in CONTACT_FIELDS}


@dataclass(frozen=True, slots=True)
class NoteRecord:
    id: str
    text: str
    author: str
    created_at: datetime
    pinned: bool
    location_id: str | None


@dataclass(frozen=True, slots=True)
class LocationRecord:
    id: str
    name: str
    street: str
    unit: str
    city: str
    state: str
    zip: str
    country: str
    access_notes: str
    latitude: float | None
    longitude: float | None
    active: bool
    contacts: tuple[ContactRecord, ...]
    tags: tuple[str, ...]

    @property
    def address(self) -> str:
        return address_text(self.street, self.unit, self.city, self.state, self.zip)

    def fields(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in LOCATION_FIELDS}


# Which statuses each job action accepts — the same rules the booking intents enforce, so the panel
# only offers what the intent would allow.
JOB_ACTIONS: dict[str, frozenset[str]] = {
    "reschedule": frozenset({JobStatus.SCHEDULED, JobStatus.DISPATCHED, JobStatus.HOLD}),
    "cancel": frozenset({JobStatus.SCHEDULED, JobStatus.DISPATCHED, JobStatus.HOLD}),
    "hold": frozenset({JobStatus.SCHEDULED, JobStatus.DISPATCHED}),
    "release": frozenset({JobStatus.HOLD}),
    # Texts the customer that the technician is on the way (docs/notifications.md).
    "on_the_way": frozenset({JobStatus.SCHEDULED, JobStatus.DISPATCHED}),
}
# A job in one of these statuses can still happen; the others are history.
LIVE_STATUSES = frozenset({JobStatus.SCHEDULED, JobStatus.DISPATCHED, JobStatus.WORKING, JobStatus.HOLD})


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    number: str
    status: str
    job_type: str  # "" when the job type is unknown (online bookings)
    business_unit: str
    summary: str
    first_appointment: datetime | None
    created_at: datetime
    location_id: str
    business_unit_id: str = ""
    job_type_id: str = ""
    status_reason: str = ""  # why it is on hold or canceled
    customer_id: str = ""
    # The first appointment's arrival window, time-zone aware in the company's time zone (None when
    # the job has no appointment), and the window's name from the setup ("" when unknown).
    window_start: datetime | None = None
    window_end: datetime | None = None
    window_name: str = ""
    window_id: str = ""
    saved_locally: bool = False  # booked on this PC, not yet confirmed by the server (still in the outbox)
    # The server kept an offline booking whose window had filled: it must be moved to one of these.
    needs_reschedule: bool = False
    suggested: tuple[str, ...] = ()
    confirmed: bool = False  # the customer confirmed the appointment by text (docs/notifications.md)
    # ServiceChannel refused what this job's work order sent (its words): the CSR must act in the portal.
    action_required: str = ""

    def allows(self, action: str) -> bool:
        """Whether the job's status allows "reschedule", "cancel", "hold" or "release"."""
        return self.status in JOB_ACTIONS.get(action, frozenset())

    def is_upcoming(self, now: datetime) -> bool:
        """Still to happen: a live job whose arrival window has not ended (or that has no appointment)."""
        if self.status not in LIVE_STATUSES:
            return False
        end = self.window_end or self.first_appointment
        return end is None or as_utc(end) >= as_utc(now)

    def when(self) -> datetime | None:
        """The appointment time to sort by (the creation time when there is none)."""
        return self.window_start or self.first_appointment


def upcoming_first(jobs: Iterable[JobRecord], now: datetime) -> list[JobRecord]:
    """Upcoming jobs soonest first (unscheduled ones last among them), then past jobs newest first."""
    upcoming, past = [], []
    for job in jobs:
        (upcoming if job.is_upcoming(now) else past).append(job)
    far = datetime.max.replace(tzinfo=UTC)
    upcoming.sort(key=lambda j: (as_utc(j.when()) if j.when() else far, j.number))
    past.sort(key=lambda j: (as_utc(j.when() or j.created_at), j.number), reverse=True)
    return upcoming + past


@dataclass(frozen=True, slots=True)
class CallRecord:
    id: str
    started_at: datetime
    direction: str
    classification: str  # "" while the call is not classified yet
    duration_seconds: int
    from_number: str  # the customer's number (who called in, or whom a CSR called), formatted
    agent: str  # the CSR's display name, "" when nobody claimed it
    recording_url: str = ""  # the phone system's recording, "" when there is none
    recording_seconds: int = 0
    in_progress: bool = False  # the call has not ended yet (its duration is not known)
    job_number: str = ""  # the job booked on it, if any


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: str
    name: str
    type: str
    street: str
    unit: str
    city: str
    state: str
    zip: str
    country: str
    do_not_service: bool
    do_not_service_reason: str
    do_not_mail: bool
    merged_into_id: str | None
    tags: tuple[str, ...]
    membership: str | None  # the active membership's name, for the badge
    notes: tuple[NoteRecord, ...]
    locations: tuple[LocationRecord, ...]
    contacts: tuple[ContactRecord, ...]
    jobs: tuple[JobRecord, ...]
    calls: tuple[CallRecord, ...]

    @property
    def billing_address(self) -> str:
        return address_text(self.street, self.unit, self.city, self.state, self.zip)

    def fields(self) -> dict[str, Any]:
        """The editable customer fields, keyed like ``update_customer``'s changes."""
        return {k: getattr(self, k) for k in CUSTOMER_FIELDS}

    def location(self, location_id: str) -> LocationRecord | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)

    def contact(self, contact_id: str) -> ContactRecord | None:
        for c in self.all_contacts():
            if c.id == contact_id:
                return c
        return None

    def all_contacts(self) -> list[ContactRecord]:
        return [*self.contacts, *(c for loc in self.locations for c in loc.contacts)]


def _contact(cm: ContactMethod) -> ContactRecord:
    kind = ContactKind(cm.kind)
    return ContactRecord(
        id=cm.id,
        kind=kind.value,
        value=cm.value,
        display=format_phone(cm.value) if kind.is_phone else cm.value,
        memo=cm.memo,
        notifications=bool(cm.notifications),
        do_not_text=bool(cm.do_not_text),
        location_id=cm.location_id,
    )


def _membership(session: Session, customer_id: str, today: date) -> str | None:
    return session.scalar(
        select(Membership.name)
        .where(
            Membership.customer_id == customer_id,
            Membership.status == "Active",
            or_(Membership.ends_on.is_(None), Membership.ends_on >= today),
        )
        .order_by(Membership.created_at)
        .limit(1)
    )


def _locations(
    session: Session, customer_id: str, contacts: dict[str | None, list[ContactRecord]]
) -> tuple[LocationRecord, ...]:
    locs = session.scalars(
        select(Location)
        .where(Location.customer_id == customer_id)
        .order_by(Location.active.desc(), Location.created_at)
    ).all()
    tags: dict[str, list[str]] = defaultdict(list)
    if locs:
        for lid, name in session.execute(
            select(location_tags.c.location_id, TagType.name)
            .join(TagType, TagType.id == location_tags.c.tag_type_id)
            .where(location_tags.c.location_id.in_([loc.id for loc in locs]))
            .order_by(TagType.name)
        ):
            tags[lid].append(name)
    return tuple(
        LocationRecord(
            id=loc.id,
            name=loc.name,
            street=loc.street,
            unit=loc.unit,
            city=loc.city,
            state=loc.state,
            zip=loc.zip,
            country=loc.country,
            access_notes=loc.access_notes,
            latitude=loc.latitude,
            longitude=loc.longitude,
            active=bool(loc.active),
            contacts=tuple(contacts.get(loc.id, ())),
            tags=tuple(tags[loc.id]),
        )
        for loc in locs
    )


def _jobs(session: Session, customer_id: str, limit: int) -> tuple[JobRecord, ...]:
    return _job_records(session, Job.customer_id == customer_id, limit)


def _job_records(session: Session, where: Any, limit: int) -> tuple[JobRecord, ...]:
    first_start = (
        select(func.min(Appointment.start))
        .where(Appointment.job_id == Job.id)
        .correlate(Job)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            Job.id,
            Job.number,
            Job.status,
            JobType.name,
            BusinessUnit.name,
            Job.summary,
            first_start,
            Job.created_at,
            Job.location_id,
            Job.business_unit_id,
            Job.job_type_id,
            Job.status_reason,
            Job.customer_id,
            Job.needs_reschedule,
            Job.suggested_windows,
        )
        .outerjoin(JobType, JobType.id == Job.job_type_id)
        .outerjoin(BusinessUnit, BusinessUnit.id == Job.business_unit_id)
        .where(where)
        .order_by(Job.created_at.desc())
        .limit(limit)
    ).all()
    windows = _first_windows(session, [row[0] for row in rows])
    pending = _unconfirmed_bookings(session, [row[0] for row in rows])
    refused = _action_required(session, [row[0] for row in rows])
    return tuple(
        JobRecord(
            id=jid,
            number=number,
            status=status.value,
            job_type=jt or "",
            business_unit=bu or "",
            summary=summary or "",
            first_appointment=_as_datetime(start),
            created_at=created,
            location_id=lid,
            business_unit_id=bu_id or "",
            job_type_id=jt_id or "",
            status_reason=reason or "",
            customer_id=cid,
            saved_locally=jid in pending,
            needs_reschedule=bool(flag),
            suggested=tuple(str(w.get("label", "")) for w in suggested or () if isinstance(w, dict)),
            action_required=refused.get(jid, ""),
            **windows.get(jid, {}),
        )
        for jid, number, status, jt, bu, summary, start, created, lid, bu_id, jt_id, reason, cid, flag, suggested in rows
    )


def _action_required(session: Session, job_ids: list[str]) -> dict[str, str]:
    """ServiceChannel's refusals on these jobs' work orders (models/work_orders.py)."""
    from .work_orders import WorkOrder

    if not job_ids:
        return {}
    rows = session.execute(
        select(WorkOrder.job_id, WorkOrder.action_required).where(
            WorkOrder.job_id.in_(job_ids), WorkOrder.action_required != ""
        )
    )
    return {job_id: text for job_id, text in rows}


def _unconfirmed_bookings(session: Session, job_ids: list[str]) -> set[str]:
    """Which of these jobs still wait in the outbox as book_job (not yet confirmed by the server)."""
    if not job_ids:
        return set()
    if session.get_bind().dialect.name != "sqlite":
        return set()  # only a console's cache has an outbox
    # json_extract in SQLite's C code: no Python parsing of every queued change on each open.
    job_id = func.json_extract(OutboxEntry.args, "$.job.id")
    return set(session.scalars(select(job_id).where(OutboxEntry.name == "book_job", job_id.in_(job_ids))))


def _first_windows(session: Session, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each job's first appointment's arrival window, in the company's time zone."""
    if not job_ids:
        return {}
    company = session.get(CompanySetting, "company")
    tz = zone(str((company.value or {}).get("time_zone") or "") if company is not None else None)
    out: dict[str, dict[str, Any]] = {}
    for jid, w_start, w_end, wid, name, confirmed_at in session.execute(
        select(
            Appointment.job_id,
            Appointment.arrival_window_start,
            Appointment.arrival_window_end,
            Appointment.arrival_window_id,
            ArrivalWindow.name,
            Appointment.confirmed_at,
        )
        .outerjoin(ArrivalWindow, ArrivalWindow.id == Appointment.arrival_window_id)
        .where(Appointment.job_id.in_(job_ids))
        .order_by(Appointment.job_id, Appointment.start)
    ):
        if jid not in out:  # ordered by start: the first row of a job is its first appointment
            out[jid] = {
                "window_start": as_utc(w_start).astimezone(tz),
                "window_end": as_utc(w_end).astimezone(tz),
                "window_name": name or "",
                "window_id": wid or "",
                "confirmed": confirmed_at is not None,
            }
    return out


def load_job_record(session: Session, job_id: str) -> JobRecord | None:
    """One job as the customer panel shows it, read fresh (None when it isn't in the cache)."""
    found = _job_records(session, Job.id == job_id, 1)
    return found[0] if found else None


def _as_datetime(value: Any) -> datetime | None:
    # A scalar subquery's aggregate may come back from SQLite as text.
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _calls(session: Session, customer_id: str, limit: int) -> tuple[CallRecord, ...]:
    rows = session.execute(
        select(
            Call.id,
            Call.started_at,
            Call.direction,
            Call.classification,
            Call.duration_seconds,
            # The customer's side of the call: who called in, or whom a CSR called.
            case((Call.direction == CallDirection.OUTBOUND, Call.to_number), else_=Call.from_number),
            User.display_name,
            Call.recording_url,
            Call.recording_seconds,
            Call.state,
            Job.number,
        )
        .outerjoin(User, User.id == Call.agent_id)
        .outerjoin(Job, Job.id == Call.job_id)
        .where(Call.customer_id == customer_id)
        .order_by(Call.started_at.desc())
        .limit(limit)
    )
    return tuple(
        CallRecord(
            id=cid,
            started_at=started,
            direction=str(direction.value),
            classification=classification.value if classification else "",
            duration_seconds=duration or 0,
            from_number=format_phone(number) if number else "",
            agent=agent or "",
            recording_url=recording or "",
            recording_seconds=seconds or 0,
            in_progress=CallState(state) is not CallState.ENDED,
            job_number=job_number or "",
        )
        for cid, started, direction, classification, duration, number, agent, recording, seconds, state, job_number in rows
    )


def load_customer_record(
    session: Session, customer_id: str, *, history_limit: int = HISTORY_LIMIT, today: date | None = None
) -> CustomerRecord | None:
    """Everything the customer panel shows, or None when the customer isn't in the cache."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return None
    contacts: dict[str | None, list[ContactRecord]] = defaultdict(list)
    for cm in session.scalars(
        select(ContactMethod)
        .where(ContactMethod.customer_id == customer_id)
        .order_by(ContactMethod.created_at, ContactMethod.id)
    ):
        contacts[cm.location_id].append(_contact(cm))
    tags = session.scalars(
        select(TagType.name)
        .join(customer_tags, customer_tags.c.tag_type_id == TagType.id)
        .where(customer_tags.c.customer_id == customer_id)
        .order_by(TagType.name)
    ).all()
    notes = session.scalars(
        select(Note)
        .where(Note.customer_id == customer_id)
        .order_by(Note.pinned.desc(), Note.created_at.desc())
    ).all()
    return CustomerRecord(
        id=customer.id,
        name=customer.name,
        type=str(customer.type.value),
        street=customer.street,
        unit=customer.unit,
        city=customer.city,
        state=customer.state,
        zip=customer.zip,
        country=customer.country,
        do_not_service=bool(customer.do_not_service),
        do_not_service_reason=customer.do_not_service_reason,
        do_not_mail=bool(customer.do_not_mail),
        merged_into_id=customer.merged_into_id,
        tags=tuple(tags),
        membership=_membership(session, customer_id, today or date.today()),
        notes=tuple(
            NoteRecord(
                id=n.id,
                text=n.text,
                author=n.author,
                created_at=n.created_at,
                pinned=bool(n.pinned),
                location_id=n.location_id,
            )
            for n in notes
        ),
        locations=_locations(session, customer_id, contacts),
        contacts=tuple(contacts.get(None, ())),
        jobs=_jobs(session, customer_id, history_limit),
        calls=_calls(session, customer_id, history_limit),
    )


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields whose value differs — the shape the update intents take."""
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}
