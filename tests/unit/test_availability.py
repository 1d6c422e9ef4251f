"""Availability management (issue 19 part 4): time off, holidays and capacity adjustments change the
capacity Get Availability and the booking check compute; a change that leaves booked jobs over capacity
lists them for rescheduling."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.availability import AvailabilityEntry, load_rules
from models.capacity import availability, booked_slots, find_slot
from models.journal import OutboxEntry
from models.setup_data import load_setup
from models.validation import ValidationFailed
from sync.server_auth import mutation_allowed

from .booking_setup import NOW, TUESDAY, build_setup
from .conftest import customer_args
from .test_booking import booking


@pytest.fixture
def world(cache, writer):
    from models.customers import Location

    with cache.sessions.begin() as s:
        ids = build_setup(s)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions() as s:
        loc = s.scalar(select(Location.id))
    return ids, cid, loc


def _slot(cache, bu, window, duration=120, skills=("HVAC",)):
    with cache.sessions() as s:
        setup = load_setup(s)
        booked = booked_slots(s, setup, TUESDAY, TUESDAY)
        rules = load_rules(s, TUESDAY, TUESDAY)
    return find_slot(
        availability(setup, bu, duration, skills, booked, [TUESDAY], NOW, rules), TUESDAY, window
    )


def _entries(cache) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(AvailabilityEntry))


def test_whole_day_time_off_takes_the_technician_out(cache, writer, world):
    ids, _cid, _loc = world
    assert _slot(cache, ids.hvac, ids.w8_12).capacity == 720  # Ann, Bob, Pat: 3 × 240
    writer.execute(
        "add_time_off", {"technician_id": ids.tech_ann, "day": TUESDAY.isoformat(), "note": "Dentist"}
    )
    slot = _slot(cache, ids.hvac, ids.w8_12)
    assert slot.capacity == 480 and "Ann" not in slot.technicians and slot.fits
    # The outbox carries the intent (with its minted id) to the server.
    with cache.sessions() as s:
        queued = s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq.desc())).first()
        entry = s.scalars(select(AvailabilityEntry)).one()
    assert queued.name == "add_time_off" and queued.args["id"] == entry.id
    assert entry.created_by == "test" and entry.start is None


def test_part_day_time_off_counts_only_its_minutes(cache, writer, world):
    ids, _cid, _loc = world
    writer.execute(
        "add_time_off",
        {"technician_id": ids.tech_ann, "day": TUESDAY.isoformat(), "start": "10:00", "end": "13:00"},
    )
    assert _slot(cache, ids.hvac, ids.w8_12).capacity == 720 - 120  # 10–12 of 8–12
    assert _slot(cache, ids.hvac, ids.w8_10).capacity == 3 * 120  # untouched
    slot = _slot(cache, ids.hvac, ids.w12_4)
    assert slot.capacity == 2 * 240 - 60 and "Ann" in slot.technicians  # 12–13 off, back at 13:00
    # Overlapping time off of the same technician is counted once.
    writer.execute(
        "add_time_off",
        {"technician_id": ids.tech_ann, "day": TUESDAY.isoformat(), "start": "11:00", "end": "12:00"},
    )
    assert _slot(cache, ids.hvac, ids.w8_12).capacity == 600


def test_holiday_closes_every_window_and_the_booking_check_refuses(cache, writer, world):
    ids, cid, loc = world
    writer.execute("add_holiday", {"day": TUESDAY.isoformat(), "note": "Founders' day"})
    for bu, window, skills in ((ids.hvac, ids.w8_12, ("HVAC",)), (ids.plumbing, ids.w_plumb_eve, ())):
        slot = _slot(cache, bu, window, skills=skills)
        assert slot.capacity == 0 and not slot.fits and "Closed: Founders' day" in slot.warnings
    with pytest.raises(ValidationFailed) as err:
        writer.execute("book_job", booking(ids, cid, loc))
    assert "window" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        writer.execute("add_holiday", {"day": TUESDAY.isoformat(), "note": "Again"})
    assert "already a company holiday" in err.value.errors["day"]


def test_adjustments_add_and_take_away_minutes_per_window(cache, writer, world):
    ids, _cid, _loc = world
    day = TUESDAY.isoformat()
    writer.execute(
        "adjust_capacity",
        {"business_unit_id": ids.hvac, "arrival_window_id": ids.w8_12, "day": day, "minutes": 120},
    )
    assert _slot(cache, ids.hvac, ids.w8_12).capacity == 840
    assert _slot(cache, ids.hvac_install, ids.w8_12, 60, ("Sales",)).capacity == 840  # the whole group
    assert _slot(cache, ids.hvac, ids.w8_10).capacity == 360  # another window: untouched
    assert _slot(cache, ids.plumbing, ids.w8_12, 90, ()).capacity == 480  # another group: untouched
    removed = writer.execute(
        "adjust_capacity",
        {"business_unit_id": ids.hvac, "arrival_window_id": ids.w8_12, "day": day, "minutes": -2000},
    ).applied.entity_id
    slot = _slot(cache, ids.hvac, ids.w8_12)
    assert slot.capacity == 0 and not slot.fits  # never below zero
    writer.execute("remove_availability_entry", {"id": removed})
    assert _slot(cache, ids.hvac, ids.w8_12).capacity == 840
    with cache.sessions() as s:
        entry = s.get(AvailabilityEntry, removed)
        assert not entry.active and entry.removed_by == "test"


def test_a_change_that_overbooks_lists_the_jobs_for_rescheduling(cache, writer, world):
    ids, cid, loc = world
    jobs = [writer.execute("book_job", booking(ids, cid, loc)).applied.entity_id for _ in range(3)]  # 360 min
    result = writer.execute("add_time_off", {"technician_id": ids.tech_ann, "day": TUESDAY.isoformat()})
    assert "overbooked" not in result.applied.warnings  # 480 left ≥ 360 booked
    result = writer.execute("add_time_off", {"technician_id": ids.tech_bob, "day": TUESDAY.isoformat()})
    warning = result.applied.warnings["overbooked"]  # Pat alone: 240 < 360
    assert warning.startswith("3 booked jobs now over capacity on Tue Dec 1 — reschedule: ")
    with cache.sessions() as s:
        entry = s.get(AvailabilityEntry, result.applied.entity_id)
        from models.jobs import Job

        numbers = {s.get(Job, j).number for j in jobs}
    assert {o["job_id"] for o in entry.overbooked} == set(jobs)
    assert {o["number"] for o in entry.overbooked} == numbers and all(n in warning for n in numbers)
    assert entry.overbooked[0]["day"] == TUESDAY.isoformat()
    # Nothing was silently moved or canceled: the jobs are still booked, the slot shows it full.
    slot = _slot(cache, ids.hvac, ids.w8_12, 60)
    assert slot.booked == 360 and slot.capacity == 240 and not slot.fits


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("add_time_off", {"technician_id": "nope", "day": "2026-12-01"}, "technician_id"),
        ("add_time_off", {"day": "2026-12-01"}, "technician_id"),
        ("add_time_off", {"technician_id": "ANN", "day": "Tuesday"}, "day"),
        (
            "add_time_off",
            {"technician_id": "ANN", "day": "2026-12-01", "start": "13:00", "end": "12:00"},
            "end",
        ),
        ("add_time_off", {"technician_id": "ANN", "day": "2026-12-01", "start": "13:00"}, "end"),
        (
            "add_time_off",
            {"technician_id": "ANN", "day": "2026-12-01", "start": "1pm", "end": "2pm"},
            "start",
        ),
        ("add_holiday", {"day": "2026-12-01"}, "note"),
        (
            "adjust_capacity",
            {"group_id": "x", "arrival_window_id": "W", "day": "2026-12-01", "minutes": 5},
            "group_id",
        ),
        (
            "adjust_capacity",
            {"business_unit_id": "HVAC", "arrival_window_id": "W", "day": "2026-12-01", "minutes": 0},
            "minutes",
        ),
        (
            "adjust_capacity",
            {"business_unit_id": "HVAC", "arrival_window_id": "nope", "day": "2026-12-01", "minutes": 5},
            "arrival_window_id",
        ),
        ("remove_availability_entry", {"id": "nope"}, "id"),
    ],
)
def test_bad_input_is_refused_with_a_sentence_and_changes_nothing(cache, writer, world, name, args, field):
    ids, _cid, _loc = world
    subst = {"ANN": ids.tech_ann, "HVAC": ids.hvac, "W": ids.w8_12}
    args = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in args.items()}
    before = writer.pending_count()
    with pytest.raises(ValidationFailed) as err:
        writer.execute(name, args)
    assert field in err.value.errors and err.value.errors[field].endswith((".", ")"))
    assert _entries(cache) == 0 and writer.pending_count() == before


@pytest.mark.parametrize(
    "name", ["add_time_off", "add_holiday", "adjust_capacity", "remove_availability_entry"]
)
def test_only_managers_and_admins_may_change_availability(name):
    assert mutation_allowed({"role": "manager"}, name) and mutation_allowed({"role": "admin"}, name)
    assert not mutation_allowed({"role": "csr"}, name) and not mutation_allowed({"role": "supervisor"}, name)
