"""Capacity arithmetic: shifts, skills, durations, overlapping windows, overbooking, past windows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.capacity import BookedSlot, availability, find_slot, horizon, nearest_free
from models.setup_data import load_setup

from .booking_setup import NOW, SATURDAY, SUNDAY, TUESDAY, build_setup


@pytest.fixture
def setup_ids(cache):
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    with cache.sessions() as s:
        return load_setup(s), ids


def _slots(setup, bu, duration=120, skills=("HVAC",), booked=(), days=(TUESDAY,), now=NOW):
    return availability(setup, bu, duration, skills, list(booked), list(days), now)


def test_capacity_is_technician_minutes_in_the_window(setup_ids):
    setup, ids = setup_ids
    slot = find_slot(_slots(setup, ids.hvac), TUESDAY, ids.w8_12)
    # HVAC group = HVAC Service (Ann, Bob: 08–17) + HVAC Install (Pat, Tuesday 08–12): 3 × 240 min.
    assert slot.capacity == 720 and slot.booked == 0 and slot.fits
    assert sorted(slot.technicians) == ["Ann", "Bob", "Pat"]
    assert find_slot(_slots(setup, ids.hvac), TUESDAY, ids.w12_4).capacity == 2 * 240  # Pat is off at 12:00


def test_booked_minutes_deduct_and_overlapping_windows_share(setup_ids):
    setup, ids = setup_ids
    group = setup.business_unit(ids.hvac).group_id
    booked = [
        BookedSlot(group, TUESDAY, 8 * 60, 12 * 60, 120),  # a job in 8–12
        BookedSlot(group, TUESDAY, 8 * 60, 10 * 60, 60),
    ]  # a job in 8–10
    slots = _slots(setup, ids.hvac, booked=booked)
    assert find_slot(slots, TUESDAY, ids.w8_12).booked == 180
    # 8–10 sees the whole 8–10 job and half of the 8–12 job (its window overlaps half of it).
    assert find_slot(slots, TUESDAY, ids.w8_10).booked == 60 + 60
    assert find_slot(slots, TUESDAY, ids.w12_4).booked == 0


def test_other_groups_bookings_do_not_count(setup_ids):
    setup, ids = setup_ids
    plumbing_group = setup.business_unit(ids.plumbing).group_id
    slots = _slots(setup, ids.hvac, booked=[BookedSlot(plumbing_group, TUESDAY, 480, 720, 240)])
    assert find_slot(slots, TUESDAY, ids.w8_12).booked == 0


def test_full_window_does_not_fit_but_is_listed(setup_ids):
    setup, ids = setup_ids
    group = setup.business_unit(ids.hvac).group_id
    booked = [BookedSlot(group, TUESDAY, 480, 720, 110)] * 6  # 660 of 720 minutes
    slot = find_slot(_slots(setup, ids.hvac, booked=booked), TUESDAY, ids.w8_12)
    assert not slot.fits and slot.percent == 92  # 660 + 120 > 720
    slot = find_slot(_slots(setup, ids.hvac, duration=60, booked=booked), TUESDAY, ids.w8_12)
    assert slot.fits and "Overbooking" in slot.warnings  # 720/720 > 80 %


def test_skills_filter_technicians(setup_ids):
    setup, ids = setup_ids
    slot = find_slot(_slots(setup, ids.hvac_install, duration=60, skills=("Sales",)), TUESDAY, ids.w8_12)
    assert slot.technicians == ["Pat"] and slot.fits
    slot = find_slot(_slots(setup, ids.hvac_install, duration=60, skills=("Sales",)), TUESDAY, ids.w12_4)
    assert slot.technicians == [] and not slot.fits
    assert "No technician with the skills on shift" in slot.warnings


def test_window_limited_to_business_units(setup_ids):
    setup, ids = setup_ids
    assert find_slot(_slots(setup, ids.hvac), TUESDAY, ids.w_plumb_eve) is None
    assert find_slot(_slots(setup, ids.plumbing, 90, ()), TUESDAY, ids.w_plumb_eve) is not None


def test_past_and_not_same_day_windows_are_not_offered(setup_ids):
    setup, ids = setup_ids
    monday = TUESDAY - timedelta(days=1)
    at_1030 = NOW + timedelta(hours=2, minutes=30)
    slots = _slots(setup, ids.hvac, days=(monday,), now=at_1030)
    assert find_slot(slots, monday, ids.w8_10) is None  # ended at 10:00
    assert "Already started" in find_slot(slots, monday, ids.w8_12).warnings
    assert find_slot(slots, monday, ids.w12_4) is None  # not offered same day
    assert _slots(setup, ids.hvac, days=(monday - timedelta(days=1),)) == []


def test_business_hours_and_closed_days(setup_ids):
    setup, ids = setup_ids
    slots = _slots(setup, ids.hvac, days=(SATURDAY, SUNDAY))
    assert "Outside business hours" in find_slot(slots, SATURDAY, ids.w12_4).warnings
    assert find_slot(slots, SATURDAY, ids.w8_12).warnings == []
    sunday = find_slot(slots, SUNDAY, ids.w8_12)
    assert "The office is closed on Sundays" in sunday.warnings and sunday.capacity == 0 and not sunday.fits


def test_bookable_percent(cache):
    with cache.sessions.begin() as s:
        ids = build_setup(s, bookable_percent=50)
    with cache.sessions() as s:
        setup = load_setup(s)
    assert find_slot(_slots(setup, ids.hvac), TUESDAY, ids.w8_12).capacity == 360


def test_nearest_free_and_horizon(setup_ids):
    setup, ids = setup_ids
    days = horizon(NOW, setup)
    assert len(days) == 14 and days[0] == NOW.date()
    group = setup.business_unit(ids.hvac).group_id
    booked = [BookedSlot(group, TUESDAY, 480, 720, 720)]
    slots = _slots(setup, ids.hvac, booked=booked, days=days)
    near = nearest_free(slots, TUESDAY, 8 * 60)
    assert len(near) == 3 and all(s.fits for s in near)
    assert (near[0].day, near[0].window.id) != (TUESDAY, ids.w8_12)
