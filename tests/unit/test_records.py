"""load_customer_record: one customer with its flags, contacts, locations, notes and history,
read from a real migrated cache (writes go through the real intents where one exists)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from models.base import new_id
from models.calls import Call, CallClass, CallDirection
from models.customers import Customer, Location, Membership, TagType, location_tags
from models.db import Cache
from models.jobs import Appointment, Job, JobStatus
from models.records import CustomerRecord, changed_fields, load_customer_record
from models.setup import BusinessUnit, BusinessUnitGroup, Campaign, JobType, User
from models.writer import LocalWriter

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def writer(cache: Cache) -> LocalWriter:
    return LocalWriter(cache.sessions, actor="Dana")  # the notes' author in these tests


def _customer(writer: LocalWriter, name: str = "Ana Lopez", **extra: object) -> str:
    result = writer.execute(
        "create_customer",
        {
            "customer": {
                "name": name,
                "street": "12 Elm St",
                "city": "Dallas",
                "state": "TX",
                "zip": "75201",
                **extra,
            },
            "contacts": [
                {"kind": "MobilePhone", "value": "(214) 555-0134", "memo": "Cell"},
                {"kind": "Email", "value": "Ana@Example.com"},
            ],
            "locations": [
                {
                    "name": "Home",
                    "street": "12 Elm St",
                    "city": "Dallas",
                    "state": "TX",
                    "zip": "75201",
                    "access_notes": "Gate 4321",
                }
            ],
            "tags": ["VIP", "Gate code"],
        },
    )
    cid = result.applied.entity_id
    # A location's own contact, added afterwards as a CSR would.
    with writer.sessions.begin() as s:
        location_id = s.scalar(select(Location.id).where(Location.customer_id == cid))
    writer.execute(
        "add_contact",
        {
            "contact": {
                "customer_id": cid,
                "location_id": location_id,
                "kind": "Phone",
                "value": "214.555.0199",
                "memo": "Tenant",
            }
        },
    )
    return cid


def _load(cache: Cache, cid: str, **kw: object) -> CustomerRecord:
    with cache.sessions() as s:
        record = load_customer_record(s, cid, **kw)
    assert record is not None
    return record


def test_unknown_customer_is_none(cache: Cache) -> None:
    with cache.sessions() as s:
        assert load_customer_record(s, new_id()) is None


def test_customer_fields_contacts_locations_and_tags(cache: Cache, writer: LocalWriter) -> None:
    cid = _customer(
        writer,
        do_not_service=True,
        do_not_service_reason="Unpaid balance",
        do_not_mail=True,
        type="Commercial",
    )
    r = _load(cache, cid)
    assert (r.name, r.type, r.billing_address) == ("Ana Lopez", "Commercial", "12 Elm St, Dallas, TX 75201")
    assert (r.do_not_service, r.do_not_service_reason, r.do_not_mail) == (True, "Unpaid balance", True)
    assert r.tags == ("Gate code", "VIP")
    assert [(c.kind, c.value, c.display, c.memo) for c in r.contacts] == [
        ("MobilePhone", "+12145550134", "(214) 555-0134", "Cell"),
        ("Email", "ana@example.com", "ana@example.com", ""),
    ]
    assert all(c.notifications and not c.do_not_text and c.location_id is None for c in r.contacts)
    (loc,) = r.locations
    assert (loc.name, loc.address, loc.access_notes) == ("Home", "12 Elm St, Dallas, TX 75201", "Gate 4321")
    assert [(c.display, c.memo, c.location_id) for c in loc.contacts] == [
        ("(214) 555-0199", "Tenant", loc.id)
    ]
    assert r.contact(loc.contacts[0].id) == loc.contacts[0]
    assert r.location(loc.id) == loc
    assert r.fields()["do_not_service_reason"] == "Unpaid balance"


def test_location_tags_membership_and_notes(cache: Cache, writer: LocalWriter) -> None:
    cid = _customer(writer)
    writer.execute("add_note", {"note": {"customer_id": cid, "text": "Older note"}, "actor": "Dana"})
    writer.execute(
        "add_note", {"note": {"customer_id": cid, "text": "Pinned note", "pinned": True}, "actor": "Lee"}
    )
    writer.execute("add_note", {"note": {"customer_id": cid, "text": "Newest note"}, "actor": "Dana"})
    with cache.sessions.begin() as s:
        loc = s.query(Location).filter_by(customer_id=cid).one()
        tag = TagType(id=new_id(), name="Pets on site")
        s.add(tag)
        s.flush()
        s.execute(insert(location_tags).values(location_id=loc.id, tag_type_id=tag.id))
        s.add_all(
            [
                Membership(customer_id=cid, name="Old Plan", status="Expired"),
                Membership(customer_id=cid, name="Lapsed Club", status="Active", ends_on=date(2025, 12, 31)),
                Membership(customer_id=cid, name="Comfort Club", status="Active", ends_on=date(2026, 12, 31)),
            ]
        )
    r = _load(cache, cid, today=date(2026, 6, 1))
    assert r.locations[0].tags == ("Pets on site",)
    assert r.membership == "Comfort Club"
    assert [n.text for n in r.notes] == ["Pinned note", "Newest note", "Older note"]
    assert r.notes[0].pinned and r.notes[0].author == "Lee"
    assert _load(cache, cid, today=date(2027, 1, 1)).membership is None


def _setup(cache: Cache) -> dict[str, str]:
    ids = {k: new_id() for k in ("group", "bu", "campaign", "job_type", "agent")}
    with cache.sessions.begin() as s:
        s.add(BusinessUnitGroup(id=ids["group"], name="HVAC"))
        s.flush()
        s.add(BusinessUnit(id=ids["bu"], name="HVAC Service", group_id=ids["group"]))
        s.add(Campaign(id=ids["campaign"], name="Google Ads"))
        s.add(JobType(id=ids["job_type"], name="No cooling"))
        s.add(User(id=ids["agent"], username="dana", display_name="Dana Reyes"))
    return ids


def test_jobs_history_with_first_appointment(cache: Cache, writer: LocalWriter) -> None:
    cid, other = _customer(writer), _customer(writer, "Someone Else")
    ids = _setup(cache)
    with cache.sessions.begin() as s:
        loc = s.query(Location).filter_by(customer_id=cid).one().id
        other_loc = s.query(Location).filter_by(customer_id=other).one().id
        common = {"business_unit_id": ids["bu"], "campaign_id": ids["campaign"]}
        s.add(
            Job(
                id="j1",
                number="1001",
                customer_id=cid,
                location_id=loc,
                job_type_id=ids["job_type"],
                summary="AC blows  warm\nair",
                created_at=T0,
                **common,
            )
        )
        s.add(
            Job(
                id="j2",
                number="1002",
                customer_id=cid,
                location_id=loc,
                job_type_id=None,
                status=JobStatus.CANCELED,
                created_at=T0 + timedelta(days=3),
                **common,
            )
        )
        s.add(Job(id="j3", number="1003", customer_id=other, location_id=other_loc, created_at=T0, **common))
        s.flush()
        for day in (2, 1):  # inserted out of order: the earliest start is the first appointment
            start = T0 + timedelta(days=day)
            s.add(
                Appointment(
                    job_id="j1",
                    start=start,
                    end=start + timedelta(hours=2),
                    arrival_window_start=start,
                    arrival_window_end=start + timedelta(hours=4),
                )
            )
    r = _load(cache, cid)
    assert [j.number for j in r.jobs] == ["1002", "1001"]  # newest first, other customer's absent
    newer, older = r.jobs
    assert (newer.status, newer.job_type, newer.first_appointment) == ("Canceled", "", None)
    assert (older.status, older.job_type, older.business_unit) == ("Scheduled", "No cooling", "HVAC Service")
    assert older.first_appointment.replace(tzinfo=UTC) == T0 + timedelta(days=1)
    assert older.location_id == loc and older.summary == "AC blows  warm\nair"
    assert [j.number for j in _load(cache, cid, history_limit=1).jobs] == ["1002"]


def test_calls_history_with_agent_name(cache: Cache, writer: LocalWriter) -> None:
    cid, other = _customer(writer), _customer(writer, "Someone Else")
    ids = _setup(cache)
    with cache.sessions.begin() as s:
        s.add(
            Call(
                provider_call_id="CA1",
                customer_id=cid,
                from_number="+12145550134",
                started_at=T0,
                duration_seconds=95,
                agent_id=ids["agent"],
                classification=CallClass.BOOKED,
            )
        )
        s.add(
            Call(
                provider_call_id="CA2",
                customer_id=cid,
                from_number="+12145550134",
                started_at=T0 + timedelta(hours=1),
                direction=CallDirection.OUTBOUND,
            )
        )
        s.add(Call(provider_call_id="CA3", customer_id=other, started_at=T0))
    r = _load(cache, cid)
    assert [(c.direction, c.classification, c.agent, c.duration_seconds) for c in r.calls] == [
        ("Outbound", "", "", 0),
        ("Inbound", "Booked", "Dana Reyes", 95),
    ]
    assert r.calls[1].from_number == "(214) 555-0134"
    assert r.calls[1].started_at.replace(tzinfo=UTC) == T0


def test_empty_history_and_no_membership(cache: Cache, writer: LocalWriter) -> None:
    r = _load(cache, _customer(writer))
    assert (r.jobs, r.calls, r.membership, r.merged_into_id) == ((), (), None, None)


def test_merged_customer_points_to_survivor(cache: Cache, writer: LocalWriter) -> None:
    keep, gone = _customer(writer), _customer(writer, "Ana M Lopez")
    with cache.sessions.begin() as s:
        s.get(Customer, gone).merged_into_id = keep
    assert _load(cache, gone).merged_into_id == keep


def test_changed_fields_keeps_old_and_new_for_changed_keys_only() -> None:
    old = {"name": "Ana", "city": "Dallas", "do_not_mail": False}
    new = {"name": "Ana", "city": "Plano", "do_not_mail": True}
    assert changed_fields(old, new) == {"city": ["Dallas", "Plano"], "do_not_mail": [False, True]}
    assert changed_fields(old, dict(old)) == {}
