"""The Bookings inbox as plain data: requests of every kind (Web Scheduler, ServiceChannel work orders, …)
as ``InboxItem`` rows, Qt-free, read the same way in a console's cache and on the server.

Each kind is one provider ``(session, now) -> list[InboxItem]`` in :data:`PROVIDERS`; ``inbox_items``
concatenates them, most urgent first. A new kind plugs in with :func:`register_provider`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .jobs import OnlineBooking
from .setup import JobType, User
from .timeutil import as_utc
from .web_booking import CustomerMatch, RequestStatus

# open: waiting for a CSR (a work order past its response time is "Overdue"; one the platform refused
# something on is "Action required")
OPEN_STATUSES = (RequestStatus.NEW.value, "Overdue", "Action required")
RECENT_LIMIT = 200  # the inbox shows the open requests (all) and this many settled ones at most


@dataclass
class InboxItem:
    kind: str  # 'web' | 'servicechannel' | …
    item_id: str
    source: str  # "Web Scheduler", a ServiceChannel subscriber…
    received_at: datetime
    service: str
    window_start: datetime | None
    window_end: datetime | None
    contact_name: str
    contact_phone: str
    contact_email: str
    address: str
    customer_match: str  # 'existing' | 'new' | 'do_not_service'
    status: str  # New / Booked / Accepted / Dismissed (a kind may add its own)
    claimed_by: str = ""  # the name of the CSR working it, "" when nobody is
    due_at: datetime | None = None  # for urgency (a work order's deadline); None: no deadline
    problems: list[str] = field(default_factory=list)  # what is missing before it can be booked
    customer_id: str | None = None
    claimed_by_id: str | None = None
    claimed_at: datetime | None = None
    job_type_id: str | None = None
    business_unit_id: str | None = None
    campaign: str = ""  # the campaign to book it under (a web request's UTM campaign, else the source's)
    summary: str = ""
    window_day: str = ""  # YYYY-MM-DD of the requested window, in the company's zone
    arrival_window_id: str | None = None
    detail: dict = field(default_factory=dict)  # the kind's own extras (the address parts, consent…)

    @property
    def id(self) -> str:
        """Unique across kinds (lists key their rows by it)."""
        return f"{self.kind}:{self.item_id}"

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    def age_text(self, now: datetime) -> str:
        seconds = max(0, int((as_utc(now) - as_utc(self.received_at)).total_seconds()))
        if seconds < 60:
            return "just now"
        if seconds < 3600:
            return f"{seconds // 60} min"
        if seconds < 86400:
            return f"{seconds // 3600} h {seconds % 3600 // 60} min"
        return f"{seconds // 86400} d"

    @property
    def match_text(self) -> str:
        return {
            CustomerMatch.EXISTING.value: "Existing customer",
            CustomerMatch.NEW.value: "New",
            CustomerMatch.DO_NOT_SERVICE.value: "Do Not Service",
        }.get(self.customer_match, self.customer_match)


Provider = Callable[[Session, datetime], list[InboxItem]]
PROVIDERS: dict[str, Provider] = {}


def register_provider(kind: str, provider: Provider) -> None:
    """Feed the inbox with another kind of request (one provider per kind)."""
    PROVIDERS[kind] = provider


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        return None


_WEB_COLUMNS = (
    OnlineBooking.id,
    OnlineBooking.source,
    OnlineBooking.created_at,
    OnlineBooking.job_type_id,
    OnlineBooking.business_unit_id,
    OnlineBooking.requested_window,
    OnlineBooking.name,
    OnlineBooking.phone,
    OnlineBooking.email,
    OnlineBooking.address,
    OnlineBooking.customer_match,
    OnlineBooking.status,
    OnlineBooking.claimed_by_id,
    OnlineBooking.claimed_at,
    OnlineBooking.customer_id,
    OnlineBooking.utm_campaign,
    OnlineBooking.summary,
    OnlineBooking.sms_consent,
    OnlineBooking.job_id,
    OnlineBooking.lead_id,
)


def web_requests(session: Session, now: datetime) -> list[InboxItem]:
    """The Web Scheduler's requests: every open one, and the latest settled ones (plain rows, not ORM
    objects)."""
    rows = list(
        session.execute(
            select(*_WEB_COLUMNS)
            .where(OnlineBooking.status.in_(OPEN_STATUSES))
            .order_by(OnlineBooking.created_at)
        )
    )
    rows += session.execute(
        select(*_WEB_COLUMNS)
        .where(OnlineBooking.status.not_in(OPEN_STATUSES))
        .order_by(OnlineBooking.created_at.desc())
        .limit(RECENT_LIMIT)
    )
    return _web_items(session, rows)


def web_requests_by_id(session: Session, ids: Iterable[str]) -> list[InboxItem]:
    """Only these requests (the rows a pull or a write changed): a primary-key read, whatever the inbox's
    length. An id with no row is simply not in the answer."""
    wanted = sorted(set(ids))
    rows = []
    for start in range(0, len(wanted), 500):  # SQLite's bound-parameter limit
        rows += session.execute(
            select(*_WEB_COLUMNS).where(OnlineBooking.id.in_(wanted[start : start + 500]))
        )
    return _web_items(session, rows)


def _web_items(session: Session, rows: list) -> list[InboxItem]:
    if not rows:
        return []
    job_type_ids = {r.job_type_id for r in rows if r.job_type_id}
    job_types = (
        dict(session.execute(select(JobType.id, JobType.name).where(JobType.id.in_(job_type_ids))).all())
        if job_type_ids
        else {}
    )
    claimants = {r.claimed_by_id for r in rows if r.claimed_by_id}
    users = (
        {
            u.id: u.display_name or u.username
            for u in session.scalars(select(User).where(User.id.in_(claimants)))
        }
        if claimants
        else {}
    )
    dns = CustomerMatch.DO_NOT_SERVICE.value
    out = []
    for r in rows:
        a = r.address or {}
        w = r.requested_window or {}
        problems = []
        if r.customer_match == dns:
            problems.append("Do Not Service customer: don't book")
        if not r.job_type_id or r.job_type_id not in job_types:
            problems.append("Pick a job type")
        street = ", ".join(p for p in (a.get("street", ""), a.get("unit", "")) if p)
        out.append(
            InboxItem(
                kind="web",
                item_id=r.id,
                source=r.source,
                received_at=as_utc(r.created_at),
                service=job_types.get(r.job_type_id or "", "Unknown"),
                window_start=_dt(w.get("start")),
                window_end=_dt(w.get("end")),
                contact_name=r.name,
                contact_phone=r.phone,
                contact_email=r.email,
                address=" ".join(
                    p for p in (f"{street},", a.get("city", ""), a.get("state", ""), a.get("zip", "")) if p
                ),
                customer_match=r.customer_match,
                status=r.status,
                claimed_by=users.get(r.claimed_by_id, "") if r.claimed_by_id else "",
                due_at=None,
                problems=problems,
                customer_id=r.customer_id,
                claimed_by_id=r.claimed_by_id,
                claimed_at=as_utc(r.claimed_at) if r.claimed_at else None,
                job_type_id=r.job_type_id,
                business_unit_id=r.business_unit_id,
                campaign=r.utm_campaign,
                summary=r.summary,
                window_day=str(w.get("day", "")),
                arrival_window_id=w.get("arrival_window_id"),
                detail={
                    "address": dict(a),
                    "sms_consent": r.sms_consent,
                    "job_id": r.job_id,
                    "lead_id": r.lead_id,
                },
            )
        )
    return out


def urgency(item: InboxItem) -> tuple[bool, datetime, datetime]:
    """Sort key: items with a due time first, soonest first; then by when they came in."""
    far = datetime.max.replace(tzinfo=UTC)
    return (item.due_at is None, as_utc(item.due_at) if item.due_at else far, as_utc(item.received_at))


register_provider("web", web_requests)


def _known_kinds() -> None:
    """The kinds this code base has beside the web's (imported here: they import this module)."""
    from .work_order_inbox import work_order_inbox_items  # ServiceChannel (docs/servicechannel.md)

    PROVIDERS.setdefault("servicechannel", work_order_inbox_items)


def inbox_items(session: Session, now: datetime | None = None) -> list[InboxItem]:
    """Every kind's items: open ones first (a deadline first, then the oldest), then settled, newest first."""
    now = now or datetime.now(UTC)
    _known_kinds()
    return _ordered([item for provider in PROVIDERS.values() for item in provider(session, now)])


def _ordered(items: Iterable[InboxItem]) -> list[InboxItem]:
    items = list(items)
    far = datetime.max.replace(tzinfo=UTC)
    open_items = sorted(
        (i for i in items if i.open), key=lambda i: (as_utc(i.due_at) if i.due_at else far, i.received_at)
    )
    settled = sorted((i for i in items if not i.open), key=lambda i: i.received_at, reverse=True)
    return open_items + settled


def merge_items(
    current: Iterable[InboxItem], fresh: Iterable[InboxItem], asked: Iterable[str]
) -> list[InboxItem]:
    """The inbox after re-reading some rows: ``fresh`` replaces (or adds) the items of the same id, an
    ``asked`` id (``kind:item_id``) with no fresh item leaves, and the list keeps :func:`inbox_items`'
    order and its cap on settled web requests."""
    by_id = {item.id: item for item in current}
    for item_id in asked:
        by_id.pop(item_id, None)
    for item in fresh:
        by_id[item.id] = item
    ordered = _ordered(by_id.values())
    settled_web = 0
    out = []
    for item in ordered:
        if not item.open and item.kind == "web":
            settled_web += 1
            if settled_web > RECENT_LIMIT:
                continue
        out.append(item)
    return out
