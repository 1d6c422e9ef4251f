"""The leads list's read side: due follow-ups first, search by name / phone / summary, the
names behind the ids, and the setup choices for the lead dialog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update

from models.base import new_id
from models.customers import Location
from models.jobs import Job, Lead, LeadStatus
from models.lead_queries import lead_choices, list_leads, load_lead, sort_key
from models.setup import BusinessUnit, BusinessUnitGroup, CallReason, Campaign, JobType

from .conftest import customer_args

TODAY = date(2026, 3, 10)


@dataclass
class LeadSetup:
    quote: str  # call reason, is lead
    wrong_number: str  # call reason, not a lead
    google: str
    yard: str
    hvac: str
    plumbing: str
    tune_up: str  # job type of HVAC
    drain: str  # job type of Plumbing


def build_lead_setup(session) -> LeadSetup:
    """The setup rows a lead refers to, written through the ORM (plus inactive ones to be skipped)."""
    group = BusinessUnitGroup(id=new_id(), name="Service")
    hvac = BusinessUnit(id=new_id(), name="HVAC Service", group_id=group.id)
    plumbing = BusinessUnit(id=new_id(), name="Plumbing Service", group_id=group.id)
    retired = BusinessUnit(id=new_id(), name="Solar", group_id=group.id, active=False)
    tune_up = JobType(id=new_id(), name="AC Tune-up", business_units=[hvac])
    drain = JobType(id=new_id(), name="Drain Clog", business_units=[plumbing])
    rows = LeadSetup(new_id(), new_id(), new_id(), new_id(), hvac.id, plumbing.id, tune_up.id, drain.id)
    session.add_all(
        [
            group,
            hvac,
            plumbing,
            retired,
            tune_up,
            drain,
            JobType(id=new_id(), name="Old Type", business_units=[hvac], active=False),
            CallReason(id=rows.quote, name="Wants a quote", is_lead=True),
            CallReason(id=new_id(), name="Call back later", is_lead=True),
            CallReason(id=rows.wrong_number, name="Wrong number", is_lead=False),
            CallReason(id=new_id(), name="Retired reason", is_lead=True, active=False),
            Campaign(id=rows.google, name="Google Local Services"),
            Campaign(id=rows.yard, name="Yard signs"),
            Campaign(id=new_id(), name="Old flyer", active=False),
        ]
    )
    session.flush()
    return rows


def add_lead(writer, *, created: datetime, follow_up: date | None = None, **lead) -> str:
    """A lead through the real intent, with a known creation time (ordering depends on it)."""
    lead.setdefault("follow_up_on", follow_up.isoformat() if follow_up else None)
    lead_id = writer.execute("create_lead", {"lead": lead}).applied.entity_id
    with writer.sessions.begin() as s:
        s.execute(update(Lead).where(Lead.id == lead_id).values(created_at=created))
    return lead_id


def at(hours: int) -> datetime:
    return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=hours)


@pytest.fixture
def setup(cache) -> LeadSetup:
    with cache.sessions.begin() as s:
        return build_lead_setup(s)


def names(rows) -> list[str]:
    return [r.name for r in rows]


def test_due_follow_ups_first_then_upcoming_then_undated_newest_first(cache, writer, setup):
    caller = {"phone": "(214) 555-0100"}
    add_lead(writer, name="Undated old", created=at(1), **caller)
    add_lead(writer, name="Next week", follow_up=TODAY + timedelta(days=7), created=at(2), **caller)
    add_lead(writer, name="Today", follow_up=TODAY, created=at(3), **caller)
    add_lead(writer, name="Three days late", follow_up=TODAY - timedelta(days=3), created=at(4), **caller)
    add_lead(writer, name="Tomorrow", follow_up=TODAY + timedelta(days=1), created=at(5), **caller)
    add_lead(writer, name="Undated new", created=at(6), **caller)
    add_lead(writer, name="One day late", follow_up=TODAY - timedelta(days=1), created=at(7), **caller)
    dismissed = add_lead(
        writer, name="Dismissed", follow_up=TODAY - timedelta(days=9), created=at(8), **caller
    )
    writer.execute("dismiss_lead", {"lead_id": dismissed, "reason": "Not interested"})

    with cache.sessions() as s:
        rows = list_leads(s, today=TODAY)
        everything = list_leads(s, status=None, today=TODAY)
        closed = list_leads(s, status="Dismissed", today=TODAY)

    assert names(rows) == [
        "Three days late",
        "One day late",
        "Today",
        "Tomorrow",
        "Next week",
        "Undated new",
        "Undated old",
    ]
    flags = {r.name: (r.due, r.overdue, r.days_until, r.overdue_days) for r in rows}
    assert flags["Three days late"] == (True, True, -3, 3)
    assert flags["Today"] == (True, False, 0, 0)
    assert flags["Tomorrow"] == (False, False, 1, 0)
    assert flags["Undated new"] == (False, False, None, 0)
    # Closed leads come after the open ones and are never "due", however old their date.
    assert names(everything) == names(rows) + ["Dismissed"]
    (gone,) = closed
    assert (gone.status, gone.status_reason, gone.due, gone.overdue) == (
        "Dismissed",
        "Not interested",
        False,
        False,
    )
    # The widget places an updated row with sort_key: it must agree with the SQL order.
    assert sorted(everything, key=sort_key) == everything


def test_row_carries_names_formatted_phone_and_converted_job(cache, writer, setup):
    lead_id = add_lead(
        writer,
        name="Walk-in Caller",
        phone="214.555.0111",
        summary="Quote for a water heater",
        follow_up=TODAY,
        created=at(1),
        call_reason_id=setup.quote,
        campaign_id=setup.yard,
        business_unit_id=setup.plumbing,
        job_type_id=setup.drain,
    )
    with cache.sessions() as s:
        row = load_lead(s, lead_id, today=TODAY)
    assert row is not None
    assert (row.name, row.phone, row.phone_e164, row.customer_id) == (
        "Walk-in Caller",
        "(214) 555-0111",
        "+12145550111",
        None,
    )
    assert (row.call_reason, row.campaign, row.business_unit, row.job_type) == (
        "Wants a quote",
        "Yard signs",
        "Plumbing Service",
        "Drain Clog",
    )
    assert (row.summary, row.follow_up_on, row.converted_job_number) == (
        "Quote for a water heater",
        TODAY,
        "",
    )

    cid = writer.execute("create_customer", customer_args(name="Ana Lopez")).applied.entity_id
    with cache.sessions.begin() as s:
        loc = s.query(Location.id).filter_by(customer_id=cid).scalar()
        job = Job(
            id=new_id(),
            number="ABC-1001",
            customer_id=cid,
            location_id=loc,
            business_unit_id=setup.hvac,
            campaign_id=setup.google,
        )
        s.add(job)
        s.flush()
        s.execute(
            update(Lead)
            .where(Lead.id == lead_id)
            .values(status=LeadStatus.CONVERTED, converted_job_id=job.id)
        )
    with cache.sessions() as s:
        row = load_lead(s, lead_id, today=TODAY)
        assert load_lead(s, new_id(), today=TODAY) is None
    assert row is not None and (row.status, row.converted_job_number, row.due) == (
        "Converted",
        "ABC-1001",
        False,
    )


def test_customer_lead_shows_the_customers_current_name_and_phone(cache, writer, setup):
    cid = writer.execute(
        "create_customer", customer_args(name="Maria Garcia", phone="(214) 555-0134")
    ).applied.entity_id
    lead_id = add_lead(writer, customer_id=cid, summary="Maybe a new furnace", created=at(1))
    writer.execute(
        "update_customer", {"customer_id": cid, "changes": {"name": ["Maria Garcia", "Maria Lopez"]}}
    )
    with cache.sessions() as s:
        row = load_lead(s, lead_id, today=TODAY)
        by_phone = list_leads(s, today=TODAY, search="555-0134")
    assert row is not None
    assert (row.name, row.customer_name, row.customer_id, row.phone) == (
        "Maria Lopez",
        "Maria Lopez",
        cid,
        "(214) 555-0134",
    )
    assert [r.id for r in by_phone] == [lead_id]


def test_search_by_name_phone_or_summary(cache, writer, setup):
    add_lead(writer, name="Ana Lopez", phone="(214) 555-0111", summary="Water heater quote", created=at(1))
    add_lead(
        writer, name="Bob Smith", phone="(469) 555-0222", summary="Duct cleaning, 100% sure", created=at(2)
    )
    with cache.sessions() as s:

        def search(text: str, status: str | None = "Open") -> list[str]:
            return names(list_leads(s, today=TODAY, search=text, status=status))

        assert search("lopez") == ["Ana Lopez"]
        assert search("HEATER") == ["Ana Lopez"]
        assert search("469 555") == ["Bob Smith"]  # punctuation and spaces don't matter
        assert search("12") == []  # too few digits to mean a phone number
        assert search("(469) 555-02") == ["Bob Smith"]
        assert search("0222") == ["Bob Smith"]
        assert search("100%") == ["Bob Smith"]  # LIKE wildcards are escaped
        assert search("  ") == ["Bob Smith", "Ana Lopez"]
        assert search("lopez", status="Dismissed") == []


def test_limit(cache, writer, setup):
    for i in range(5):
        add_lead(writer, name=f"Caller {i}", phone="(214) 555-0100", created=at(i))
    with cache.sessions() as s:
        assert names(list_leads(s, today=TODAY, limit=2)) == ["Caller 4", "Caller 3"]


def test_lead_choices_are_active_rows_with_lead_reasons_first(cache, setup):
    with cache.sessions() as s:
        choices = lead_choices(s)
    assert [(r.name, r.is_lead) for r in choices.call_reasons] == [
        ("Call back later", True),
        ("Wants a quote", True),
        ("Wrong number", False),
    ]
    assert [c.name for c in choices.campaigns] == ["Google Local Services", "Yard signs"]
    assert [b.name for b in choices.business_units] == ["HVAC Service", "Plumbing Service"]
    assert [(t.name, t.business_unit_ids) for t in choices.job_types] == [
        ("AC Tune-up", frozenset({setup.hvac})),
        ("Drain Clog", frozenset({setup.plumbing})),
    ]
