"""The read side of the leads list: leads as plain immutable rows (due follow-ups first) and the
setup choices the lead dialog offers. Qt-free, like the rest of ``models``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from .customers import ContactKind, ContactMethod, Customer
from .jobs import Job, Lead, LeadStatus
from .phone import digits_only, format_phone, looks_like_phone
from .setup import BusinessUnit, CallReason, Campaign, JobType, job_type_business_units

DEFAULT_LIMIT = 500
# Fewer digits than this match almost every number: such a query searches names and summaries only.
_MIN_PHONE_DIGITS = 3


@dataclass(frozen=True, slots=True)
class LeadRow:
    id: str
    status: str  # a LeadStatus value
    name: str  # the customer's current name, or the name typed on the lead
    phone: str  # as a CSR reads it; the customer's first phone when the lead has none
    phone_e164: str  # the same number in E.164 ("" when there is none)
    customer_id: str | None
    customer_name: str  # "" for a lead without a customer record
    location_id: str | None
    summary: str
    follow_up_on: date | None
    days_until: int | None  # follow-up date minus today; negative when overdue
    due: bool  # an open lead whose follow-up date is today or earlier
    overdue: bool  # an open lead whose follow-up date has passed
    call_reason_id: str | None
    call_reason: str
    campaign_id: str | None
    campaign: str
    business_unit_id: str | None
    business_unit: str
    job_type_id: str | None
    job_type: str
    created_at: datetime
    converted_job_number: str  # "" unless converted
    status_reason: str  # why it was dismissed

    @property
    def is_open(self) -> bool:
        return self.status == LeadStatus.OPEN.value

    @property
    def overdue_days(self) -> int:
        return -self.days_until if self.overdue and self.days_until is not None else 0


@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class CallReasonChoice:
    id: str
    name: str
    is_lead: bool


@dataclass(frozen=True, slots=True)
class JobTypeChoice:
    id: str
    name: str
    business_unit_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class LeadChoices:
    """Active setup rows for the lead dialog's combo boxes, each list sorted for reading."""

    call_reasons: tuple[CallReasonChoice, ...]  # lead reasons first, then the others
    campaigns: tuple[Choice, ...]
    business_units: tuple[Choice, ...]
    job_types: tuple[JobTypeChoice, ...]


def sort_key(row: LeadRow) -> tuple[Any, ...]:
    """The list's order in Python, identical to ``list_leads``' ORDER BY (the widget places an
    updated row with it): open leads with a follow-up by date (so due ones come first, oldest
    first), then open leads without a date, then closed leads — those two newest first."""
    dated = row.is_open and row.follow_up_on is not None
    group = 0 if dated else 1 if row.is_open else 2
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return group, row.follow_up_on if dated else date.min, -created.timestamp(), row.id


def _customer_phone() -> Any:
    # A customer's own numbers before its locations', oldest first: the number the CSR most likely
    # has on file as "the" phone. ix_contact_methods_customer_id makes this a short index range.
    return (
        select(ContactMethod.value)
        .where(ContactMethod.customer_id == Lead.customer_id, ContactMethod.kind != ContactKind.EMAIL)
        .order_by(ContactMethod.location_id.is_not(None), ContactMethod.created_at, ContactMethod.id)
        .limit(1)
        .correlate(Lead)
        .scalar_subquery()
    )


def _query() -> tuple[Select[Any], Any, Any]:
    """(the select, the shown-name expression, the shown-phone expression)."""
    name = func.coalesce(Customer.name, Lead.name)
    phone = func.coalesce(func.nullif(Lead.phone, ""), _customer_phone(), "")
    stmt = (
        select(
            Lead.id,
            Lead.status,
            name,
            phone,
            Lead.customer_id,
            Customer.name,
            Lead.location_id,
            Lead.summary,
            Lead.follow_up_on,
            Lead.call_reason_id,
            CallReason.name,
            Lead.campaign_id,
            Campaign.name,
            Lead.business_unit_id,
            BusinessUnit.name,
            Lead.job_type_id,
            JobType.name,
            Lead.created_at,
            Job.number,
            Lead.status_reason,
        )
        .outerjoin(Customer, Customer.id == Lead.customer_id)
        .outerjoin(CallReason, CallReason.id == Lead.call_reason_id)
        .outerjoin(Campaign, Campaign.id == Lead.campaign_id)
        .outerjoin(BusinessUnit, BusinessUnit.id == Lead.business_unit_id)
        .outerjoin(JobType, JobType.id == Lead.job_type_id)
        .outerjoin(Job, Job.id == Lead.converted_job_id)
    )
    return stmt, name, phone


def _row(values: Any, today: date) -> LeadRow:
    (
        lead_id,
        status,
        name,
        phone,
        customer_id,
        customer_name,
        location_id,
        summary,
        follow_up_on,
        call_reason_id,
        call_reason,
        campaign_id,
        campaign,
        business_unit_id,
        business_unit,
        job_type_id,
        job_type,
        created_at,
        job_number,
        status_reason,
    ) = values
    status = LeadStatus(status).value
    days_until = (follow_up_on - today).days if follow_up_on is not None else None
    is_open = status == LeadStatus.OPEN.value
    return LeadRow(
        id=lead_id,
        status=status,
        name=name or "",
        phone=format_phone(phone) if phone else "",
        phone_e164=phone or "",
        customer_id=customer_id,
        customer_name=customer_name or "",
        location_id=location_id,
        summary=summary or "",
        follow_up_on=follow_up_on,
        days_until=days_until,
        due=is_open and days_until is not None and days_until <= 0,
        overdue=is_open and days_until is not None and days_until < 0,
        call_reason_id=call_reason_id,
        call_reason=call_reason or "",
        campaign_id=campaign_id,
        campaign=campaign or "",
        business_unit_id=business_unit_id,
        business_unit=business_unit or "",
        job_type_id=job_type_id,
        job_type=job_type or "",
        created_at=created_at,
        converted_job_number=job_number or "",
        status_reason=status_reason or "",
    )


def _order(status: str | None) -> list[Any]:
    """ORDER BY for ``sort_key``'s order, as simple as the status filter allows, so that SQLite can
    walk an index instead of sorting where one exists."""
    if status is not None and status != LeadStatus.OPEN.value:
        return [Lead.created_at.desc(), Lead.id]
    if status == LeadStatus.OPEN.value:
        return [Lead.follow_up_on.is_(None), Lead.follow_up_on, Lead.created_at.desc(), Lead.id]
    is_open = Lead.status == LeadStatus.OPEN
    group = case((and_(is_open, Lead.follow_up_on.is_not(None)), 0), (is_open, 1), else_=2)
    return [group, case((is_open, Lead.follow_up_on)), Lead.created_at.desc(), Lead.id]


def list_leads(
    session: Session,
    *,
    status: str | None = LeadStatus.OPEN.value,
    today: date,
    search: str = "",
    limit: int = DEFAULT_LIMIT,
) -> list[LeadRow]:
    """Leads of one status (None: all) matching ``search`` (name, phone digits or summary), in the
    order of ``sort_key``. ``today`` decides which follow-ups are due."""
    # Two steps: pick and order the ids on narrow rows, then read the page's details. Sorting the
    # joined rows instead would run the joins and the phone lookup for every lead of the status.
    page = select(Lead.id)
    if status is not None:
        page = page.where(Lead.status == LeadStatus(status))
    text = search.strip()
    if text:
        _stmt, name, phone = _query()
        matches = [name.icontains(text, autoescape=True), Lead.summary.icontains(text, autoescape=True)]
        digits = digits_only(text)
        if looks_like_phone(text) and len(digits) >= _MIN_PHONE_DIGITS:
            matches.append(phone.contains(digits, autoescape=True))
        page = page.outerjoin(Customer, Customer.id == Lead.customer_id).where(or_(*matches))
    ids = list(session.scalars(page.order_by(*_order(status)).limit(limit)))
    if not ids:
        return []
    stmt, _name, _phone = _query()
    rows = {values[0]: _row(values, today) for values in session.execute(stmt.where(Lead.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def load_lead(session: Session, lead_id: str, *, today: date | None = None) -> LeadRow | None:
    """One lead as the list shows it, or None when it isn't in the cache."""
    stmt, _name, _phone = _query()
    values = session.execute(stmt.where(Lead.id == lead_id)).first()
    return _row(values, today or date.today()) if values is not None else None


def lead_choices(session: Session) -> LeadChoices:
    """Active call reasons, campaigns, business units and job types (with their business units)."""
    reasons = session.execute(
        select(CallReason.id, CallReason.name, CallReason.is_lead)
        .where(CallReason.active)
        .order_by(CallReason.is_lead.desc(), CallReason.name)
    )
    campaigns = session.execute(
        select(Campaign.id, Campaign.name).where(Campaign.active).order_by(Campaign.name)
    )
    units = session.execute(
        select(BusinessUnit.id, BusinessUnit.name).where(BusinessUnit.active).order_by(BusinessUnit.name)
    )
    unit_ids: dict[str, set[str]] = {}
    for job_type_id, unit_id in session.execute(
        select(job_type_business_units.c.job_type_id, job_type_business_units.c.business_unit_id)
    ):
        unit_ids.setdefault(job_type_id, set()).add(unit_id)
    job_types = session.execute(select(JobType.id, JobType.name).where(JobType.active).order_by(JobType.name))
    return LeadChoices(
        call_reasons=tuple(CallReasonChoice(i, n, bool(lead)) for i, n, lead in reasons),
        campaigns=tuple(Choice(i, n) for i, n in campaigns),
        business_units=tuple(Choice(i, n) for i, n in units),
        job_types=tuple(JobTypeChoice(i, n, frozenset(unit_ids.get(i, ()))) for i, n in job_types),
    )
