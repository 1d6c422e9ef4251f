"""Booking intents: job + first appointment in one intent, capacity deducted, every rule enforced."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from models.capacity import availability, booked_slots, find_slot
from models.jobs import Appointment, Job, JobStatus, Lead, LeadStatus
from models.journal import OutboxEntry
from models.setup_data import load_setup
from models.timeutil import as_utc
from models.validation import ValidationFailed

from .booking_setup import NOW, TUESDAY, build_setup
from .conftest import customer_args


@pytest.fixture
def world(cache, writer):
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions() as s:
        loc = (
            s.scalar(select(Job.location_id).limit(0))
            or s.execute(select(__import__("models.customers", fromlist=["Location"]).Location.id)).scalar()
        )
    return ids, cid, loc


def booking(ids, cid, loc, **job) -> dict:
    base = {
        "customer_id": cid,
        "location_id": loc,
        "business_unit_id": ids.hvac,
        "job_type_id": ids.ac_repair,
        "campaign_id": ids.google,
        "priority": "High",
        "summary": "AC blowing warm air",
        "tags": ["Emergency"],
        "line_items": [{"code": "DIAG", "quantity": 1}],
    }
    base.update(job)
    return {
        "job": base,
        "appointment": {"day": TUESDAY.isoformat(), "arrival_window_id": ids.w8_12},
        "booked_at": NOW.isoformat(),
    }


def _count(cache, model) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_book_job_creates_job_appointment_and_one_outbox_row(cache, writer, world):
    ids, cid, loc = world
    before = writer.pending_count()
    result = writer.execute("book_job", booking(ids, cid, loc))
    assert writer.pending_count() == before + 1
    with cache.sessions() as s:
        job = s.get(Job, result.applied.entity_id)
        appt = s.scalar(select(Appointment).where(Appointment.job_id == job.id))
        queued = s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq.desc())).first()
        assert re.fullmatch(r"[A-Z3479]{3}-1001", job.number)
        assert job.status == JobStatus.SCHEDULED and job.priority == "High"
        assert job.line_items == [{"code": "DIAG", "name": "Diagnostic", "quantity": 1.0, "price": 89.0}]
        # 8–12 Dallas time on Tuesday = 14:00–18:00 UTC; the job lasts 120 minutes.
        assert as_utc(appt.arrival_window_start).hour == 14 and as_utc(appt.arrival_window_end).hour == 18
        assert (as_utc(appt.end) - as_utc(appt.start)).total_seconds() == 7200
        # The outbox carries every id and the number, so the server creates the same job.
        assert queued.name == "book_job" and queued.args["job"]["number"] == job.number
        assert queued.args["job"]["id"] == job.id and queued.args["appointment"]["id"] == appt.id


def test_numbers_increase_with_the_same_prefix(writer, world):
    ids, cid, loc = world
    numbers = [writer.execute("book_job", booking(ids, cid, loc)).applied.entity_id for _ in range(3)]
    with writer.sessions() as s:
        got = [s.get(Job, j).number for j in numbers]
    prefixes = {n.split("-")[0] for n in got}
    assert len(prefixes) == 1 and [int(n.split("-")[1]) for n in got] == [1001, 1002, 1003]


def test_booking_deducts_capacity(cache, writer, world):
    ids, cid, loc = world
    writer.execute("book_job", booking(ids, cid, loc))
    with cache.sessions() as s:
        setup = load_setup(s)
        booked = booked_slots(s, setup, TUESDAY, TUESDAY)
    slot = find_slot(
        availability(setup, ids.hvac, 120, ("HVAC",), booked, [TUESDAY], NOW), TUESDAY, ids.w8_12
    )
    assert slot.booked == 120 and slot.capacity == 720


def test_full_window_is_refused_locally(writer, world):
    ids, cid, loc = world
    for _ in range(6):  # 6 × 120 = 720 minutes: the window is full
        writer.execute("book_job", booking(ids, cid, loc))
    pending = writer.pending_count()
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", booking(ids, cid, loc))
    assert err.value.errors == {"window": "This window is now full — pick another."}
    assert writer.pending_count() == pending
    # Another window still books.
    args = booking(ids, cid, loc)
    args["appointment"]["arrival_window_id"] = ids.w12_4
    writer.execute("book_job", args)


def test_do_not_service_customer_cannot_be_booked(writer, world):
    ids, cid, loc = world
    writer.execute(
        "update_customer",
        {
            "customer_id": cid,
            "changes": {"do_not_service": [False, True], "do_not_service_reason": ["", "Unpaid balance"]},
        },
    )
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", booking(ids, cid, loc))
    assert "Do Not Service (Unpaid balance)" in err.value.errors["customer"]


@pytest.mark.parametrize(
    "change,field",
    [
        ({"business_unit_id": ""}, "businessUnit"),
        ({"job_type_id": ""}, "jobType"),
        ({"campaign_id": ""}, "campaign"),
        ({"summary": "   "}, "summary"),
        ({"priority": "Whenever"}, "priority"),
        ({"summary": "x" * 5001}, "summary"),
    ],
)
def test_required_and_bad_fields_are_named(writer, world, change, field):
    ids, cid, loc = world
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", booking(ids, cid, loc, **change))
    assert field in err.value.errors


def test_all_missing_fields_are_reported_together(writer, world):
    ids, cid, loc = world
    with pytest.raises(ValidationFailed) as err:
        writer.execute(
            "book_job",
            booking(ids, cid, loc, business_unit_id="", job_type_id="", campaign_id="", summary=""),
        )
    assert {"businessUnit", "jobType", "campaign", "summary"} <= set(err.value.errors)


def test_job_type_must_belong_to_the_business_unit(writer, world):
    ids, cid, loc = world
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", booking(ids, cid, loc, job_type_id=ids.drain))
    assert "isn't a job type of HVAC Service" in err.value.errors["jobType"]


def test_window_of_another_business_unit_and_unknown_service(writer, world):
    ids, cid, loc = world
    args = booking(ids, cid, loc)
    args["appointment"]["arrival_window_id"] = ids.w_plumb_eve
    with pytest.raises(ValidationFailed, match="isn't offered"):
        writer.execute("book_job", args)
    with pytest.raises(ValidationFailed, match="services catalog"):
        writer.execute("book_job", booking(ids, cid, loc, line_items=[{"code": "NOPE"}]))


def test_reschedule_cancel_hold_rules(cache, writer, world):
    ids, cid, loc = world
    job_id = writer.execute("book_job", booking(ids, cid, loc)).applied.entity_id
    writer.execute(
        "reschedule_job",
        {
            "job_id": job_id,
            "booked_at": NOW.isoformat(),
            "appointment": {"day": TUESDAY.isoformat(), "arrival_window_id": ids.w12_4},
        },
    )
    with cache.sessions() as s:
        appt = s.scalar(select(Appointment).where(Appointment.job_id == job_id))
        assert appt.arrival_window_id == ids.w12_4 and as_utc(appt.start).hour == 18
    with pytest.raises(ValidationFailed, match="reason"):
        writer.execute("hold_job", {"job_id": job_id, "reason": " "})
    writer.execute("hold_job", {"job_id": job_id, "reason": "Waiting for parts"})
    writer.execute("release_hold", {"job_id": job_id})
    with pytest.raises(ValidationFailed, match="reason"):
        writer.execute("cancel_job", {"job_id": job_id})
    writer.execute("cancel_job", {"job_id": job_id, "reason": "Customer fixed it"})
    with pytest.raises(ValidationFailed, match="canceled job can't be"):
        writer.execute(
            "reschedule_job",
            {"job_id": job_id, "appointment": {"day": TUESDAY.isoformat(), "arrival_window_id": ids.w8_12}},
        )
    with cache.sessions() as s:
        job = s.get(Job, job_id)
        assert job.status == JobStatus.CANCELED and job.status_reason == "Customer fixed it"
    assert _count(cache, Job) == 1  # never deleted


def test_canceled_job_frees_capacity(cache, writer, world):
    ids, cid, loc = world
    jobs = [writer.execute("book_job", booking(ids, cid, loc)).applied.entity_id for _ in range(6)]
    writer.execute("cancel_job", {"job_id": jobs[0], "reason": "Duplicate"})
    writer.execute("book_job", booking(ids, cid, loc))


def test_leads_lifecycle_and_conversion(cache, writer, world):
    ids, cid, loc = world
    lead_id = writer.execute(
        "create_lead",
        {
            "lead": {
                "name": "Walk-in Caller",
                "phone": "(214) 555-0111",
                "summary": "Wants a quote",
                "follow_up_on": "2026-12-03",
                "campaign_id": ids.yard,
            }
        },
    ).applied.entity_id
    with pytest.raises(ValidationFailed):
        writer.execute("create_lead", {"lead": {"name": "No Phone"}})
    with pytest.raises(ValidationFailed, match="phone"):
        writer.execute("create_lead", {"lead": {"name": "Bad", "phone": "12"}})
    writer.execute(
        "update_lead", {"lead_id": lead_id, "changes": {"follow_up_on": ["2026-12-03", "2026-12-04"]}}
    )
    other = writer.execute(
        "create_lead", {"lead": {"customer_id": cid, "summary": "Maybe later"}}
    ).applied.entity_id
    writer.execute("book_job", booking(ids, cid, loc, lead_id=other))
    with pytest.raises(ValidationFailed, match="reason"):
        writer.execute("dismiss_lead", {"lead_id": lead_id, "reason": ""})
    writer.execute("dismiss_lead", {"lead_id": lead_id, "reason": "Went with a competitor"})
    with cache.sessions() as s:
        first, second = s.get(Lead, lead_id), s.get(Lead, other)
        assert first.status == LeadStatus.DISMISSED and str(first.follow_up_on) == "2026-12-04"
        assert first.phone == "+12145550111"
        assert (
            second.status == LeadStatus.CONVERTED
            and second.converted_job_id
            and second.name == "Maria Garcia"
        )
    with pytest.raises(ValidationFailed, match="open lead"):
        writer.execute("dismiss_lead", {"lead_id": other, "reason": "x"})


@pytest.mark.parametrize(
    "change",
    [
        {"priority": ["High"]},
        {"tags": 5},
        {"tags": ["a", 3]},
        {"booked_from": "Carrier pigeon"},
        {"line_items": [{"code": "DIAG", "quantity": float("nan")}]},
        {"line_items": [{"code": "DIAG", "price": "inf"}]},
        {"booked_by_id": "nobody"},
        {"number": "X" * 30},
        {"summary": "nul\x00byte"},
        {"technician_ids": ["not-a-tech"]},
    ],
)
def test_hostile_job_fields_are_refused_with_a_sentence(writer, world, change):
    ids, cid, loc = world
    pending = writer.pending_count()
    with pytest.raises(ValidationFailed):
        writer.execute("book_job", booking(ids, cid, loc, **change))
    assert writer.pending_count() == pending


def test_args_must_be_an_object(writer):
    with pytest.raises(ValidationFailed):
        writer.execute("book_job", None)


def test_caller_clock_is_not_trusted_and_past_days_are_refused(writer, world):
    ids, cid, loc = world
    args = booking(ids, cid, loc)
    args["booked_at"] = "2020-01-01T00:00:00+00:00"  # ignored: the writer's clock counts
    args["appointment"]["day"] = "2026-11-01"
    with pytest.raises(ValidationFailed, match="passed"):
        writer.execute("book_job", args)
    args["appointment"]["day"] = "2099-01-05"
    with pytest.raises(ValidationFailed, match="days ahead"):
        writer.execute("book_job", args)


def test_technician_must_belong_to_the_business_unit_and_duplicates_collapse(cache, writer, world):
    ids, cid, loc = world
    with cache.sessions() as s:
        from models.setup import Technician

        plumber = s.scalar(select(Technician.id).where(Technician.name == "Cy"))
    with pytest.raises(ValidationFailed, match="doesn't work for this business unit"):
        writer.execute("book_job", booking(ids, cid, loc, technician_ids=[plumber]))
    job_id = writer.execute(
        "book_job",
        booking(
            ids,
            cid,
            loc,
            technician_ids=[ids.tech_ann, ids.tech_ann],
            tags=["Emergency", "Emergency", "New tag"],
        ),
    ).applied.entity_id
    assert job_id


def test_new_tag_ids_follow_from_the_name(cache, writer, world):
    """Two consoles that create the same tag offline create the same row (no clash when syncing)."""
    from models.customers import TagType
    from models.intent_kit import tag_id

    ids, cid, loc = world
    writer.execute("book_job", booking(ids, cid, loc, tags=["Second floor"]))
    with cache.sessions() as s:
        assert s.scalar(select(TagType.id).where(TagType.name == "Second floor")) == tag_id("second floor")


def test_leads_of_another_customer_or_closed_cannot_be_converted(writer, world):
    ids, cid, loc = world
    other = writer.execute(
        "create_customer", customer_args(name="Other", phone="2145550166")
    ).applied.entity_id
    foreign = writer.execute(
        "create_lead", {"lead": {"customer_id": other, "summary": "x"}}
    ).applied.entity_id
    with pytest.raises(ValidationFailed, match="another customer"):
        writer.execute("book_job", booking(ids, cid, loc, lead_id=foreign))
    closed = writer.execute("create_lead", {"lead": {"customer_id": cid, "summary": "y"}}).applied.entity_id
    writer.execute("dismiss_lead", {"lead_id": closed, "reason": "No longer needed"})
    with pytest.raises(ValidationFailed, match="no longer open"):
        writer.execute("book_job", booking(ids, cid, loc, lead_id=closed))


def test_merged_or_inactive_customers_cannot_be_booked(cache, writer, world):
    from models.customers import Customer

    ids, cid, loc = world
    with cache.sessions.begin() as s:
        s.get(Customer, cid).active = False
    with pytest.raises(ValidationFailed, match="inactive"):
        writer.execute("book_job", booking(ids, cid, loc))


def test_required_tags(cache, writer, world):
    from models.setup import BookingPreference

    ids, cid, loc = world
    with cache.sessions.begin() as s:
        s.scalar(select(BookingPreference)).value = {"fields": ["summary", "tags"]}
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", booking(ids, cid, loc, tags=[]))
    assert "tags" in err.value.errors


def test_booking_on_a_claimed_call_makes_it_booked_and_closes_its_bubble(cache, writer, world):
    from datetime import timedelta

    from models.call_store import claim_call, record_events
    from models.calls import Call, CallClass, CallEventKind, NeutralEvent
    from models.setup import User

    ids, cid, loc = world
    with cache.sessions.begin() as s:
        s.add(User(id="dana", username="dana", display_name="Dana", role="csr"))
        events = [
            NeutralEvent(
                "twilio",
                "CA1",
                f"k{i}",
                kind,
                NOW + timedelta(seconds=i),
                from_number="+14155550123",
                to_number="+12145550100",
            )
            for i, kind in enumerate((CallEventKind.OFFERED, CallEventKind.ANSWERED))
        ]
        call_id = record_events(s, events).calls[0].id
        claim_call(s, call_id, "dana")
    job_id = writer.execute("book_job", {**booking(ids, cid, loc), "call_id": call_id}).applied.entity_id
    with cache.sessions() as s:
        call = s.get(Call, call_id)
        assert call.job_id == job_id and call.closed_at is not None
        assert call.classification is None  # still talking: classified when it ends
    with cache.sessions.begin() as s:
        record_events(
            s,
            [
                NeutralEvent(
                    "twilio",
                    "CA1",
                    "k9",
                    CallEventKind.ENDED,
                    NOW + timedelta(seconds=30),
                    end_reason="completed",
                )
            ],
        )
    with cache.sessions() as s:
        assert s.get(Call, call_id).classification is CallClass.BOOKED
    # A call id this cache doesn't know (not pulled yet): the booking stands.
    writer.execute(
        "book_job", {**booking(ids, cid, loc, summary="Second visit"), "call_id": "not-pulled-yet"}
    )


def _call_on_a_retired_campaign(cache, ids) -> tuple[str, str, str]:
    """A call to a retired campaign's tracking number and one to another: (its id, the campaign, the other)."""
    from models.base import new_id
    from models.call_store import record_events
    from models.calls import CallEventKind, NeutralEvent
    from models.setup import Campaign, TrackingNumber

    with cache.sessions.begin() as s:
        spring = Campaign(id=new_id(), name="Spring home show", active=False)
        s.add_all([spring, TrackingNumber(id=new_id(), number="+19725550109", campaign=spring)])
        s.add(TrackingNumber(id=new_id(), number="+19725550104", campaign_id=ids.yard))
        s.flush()
        ring = NeutralEvent(
            "twilio",
            "CA-spring",
            "s1",
            CallEventKind.OFFERED,
            NOW,
            from_number="+14155550123",
            to_number="+19725550109",
        )
        other = NeutralEvent(
            "twilio",
            "CA-yard",
            "y1",
            CallEventKind.OFFERED,
            NOW,
            from_number="+14155550123",
            to_number="+19725550104",
        )
        calls = {c.provider_call_id: c.id for c in record_events(s, [ring, other]).calls}
        return calls["CA-spring"], spring.id, calls["CA-yard"]


def test_a_call_to_a_retired_campaigns_number_books_with_that_campaign(cache, writer, world):
    """The CSR records the truth: the call came in on the retired campaign's tracking number. Without
    that call — or on a call from another number — the retired campaign is still refused."""
    from models.booking import ACCEPT_AND_FLAG, job_errors
    from models.calls import Call

    ids, cid, loc = world
    call_id, spring, yard_call = _call_on_a_retired_campaign(cache, ids)
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", booking(ids, cid, loc, campaign_id=spring))
    assert err.value.errors == {"campaign": "Choose the campaign the customer called about."}
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", {**booking(ids, cid, loc, campaign_id=spring), "call_id": yard_call})
    assert "campaign" in err.value.errors
    job_id = writer.execute(
        "book_job", {**booking(ids, cid, loc, campaign_id=spring), "call_id": call_id}
    ).applied.entity_id
    with cache.sessions() as s:
        assert s.get(Job, job_id).campaign_id == spring and s.get(Call, call_id).job_id == job_id
        setup = load_setup(s)
        job = booking(ids, cid, loc, campaign_id=spring)["job"]
        # A call this console hasn't pulled yet: the console lets it through (the campaign exists) …
        assert job_errors(s, setup, job, "not-pulled-yet") == {}
        # … and the server, which holds every call, refuses a call it doesn't know.
        s.info[ACCEPT_AND_FLAG] = True
        assert "campaign" in job_errors(s, setup, job, "not-pulled-yet")
        assert job_errors(s, setup, job, call_id) == {}
