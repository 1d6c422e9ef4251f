"""Capacity: how much technician time each arrival window still has, per business-unit group.

The model (docs/capacity.md):
- capacity(group, day, window) = bookable % × Σ over the group's technicians on shift of the minutes
  their shifts overlap the window;
- booked(group, day, window) = Σ over the group's live appointments of the job's duration × the share
  of its arrival window that overlaps this window (so overlapping windows such as 8–12 and 8–10 see
  each other's bookings);
- a job fits when booked + its duration ≤ capacity, and at least one technician with the job type's
  skills is on shift in the window.
Pure functions over plain data: the console computes it from the cache for the picker, the server
re-checks it authoritatively with the same code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .availability import NO_RULES, AvailabilityRules, load_rules
from .jobs import Appointment, Job, JobStatus
from .setup import BusinessUnit
from .setup_data import SetupData, TechnicianInfo, WindowInfo
from .timeutil import as_utc, days_from, local_to_utc, minutes, overlap_minutes, zone


@dataclass(frozen=True)
class BookedSlot:
    """One live appointment as the capacity math sees it (local day, window minutes, duration)."""

    group_id: str
    day: date
    start_min: int
    end_min: int
    duration: int
    job_id: str = ""


@dataclass
class Slot:
    """One arrival window on one day, for one business unit."""

    day: date
    window: WindowInfo
    capacity: int  # technician-minutes available in the window
    booked: int  # technician-minutes already committed
    technicians: list[str]  # on shift in the window, with the needed skills
    fits: bool  # a job of the requested duration can still be booked
    warnings: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        """How full the window is, 0–100+ (a window with no capacity counts as full)."""
        return 100 if self.capacity <= 0 else round(100 * self.booked / self.capacity)

    @property
    def label(self) -> str:
        return f"{self.day:%a %b} {self.day.day} · {self.window.name}"


def _on_shift(
    tech: TechnicianInfo, day: date, start: int, end: int, rules: AvailabilityRules = NO_RULES
) -> int:
    """The technician's shift minutes inside [start, end) of that day, less their time off."""
    total = 0
    for a, b in tech.shifts.get(day.weekday(), ()):
        lo, hi = max(minutes(a), start), min(minutes(b), end)
        if hi <= lo:
            continue
        total += hi - lo - sum(y - x for x, y in rules.off_minutes(tech.id, day, lo, hi))
    return total


def window_capacity(
    setup: SetupData,
    group_id: str,
    techs: list[TechnicianInfo],
    day: date,
    window: WindowInfo,
    rules: AvailabilityRules = NO_RULES,
) -> int:
    """Technician-minutes of one window: bookable % of the shifts (less time off), plus the day's
    manual adjustment; nothing on a company holiday."""
    if day in rules.closed:
        return 0
    settings = setup.capacity.get(group_id)
    bookable = (settings.bookable_percent if settings else 100) / 100
    start, end = minutes(window.start), minutes(window.end)
    capacity = round(bookable * sum(_on_shift(t, day, start, end, rules) for t in techs))
    return max(0, capacity + rules.adjust.get((group_id, day, window.id), 0))


def _used(bookings: list[BookedSlot], start: int, end: int) -> float:
    used = 0.0
    for b in bookings:
        span = max(1, b.end_min - b.start_min)
        used += b.duration * overlap_minutes(b.start_min, b.end_min, start, end) / span
    return used


def _business_hours_warning(setup: SetupData, day: date, start: int, end: int) -> str | None:
    hours = setup.business_hours.get(day.weekday())
    if not setup.business_hours:
        return None  # no business hours configured: nothing to warn about
    if not hours:
        return f"The office is closed on {day:%A}s"
    inside = sum(overlap_minutes(minutes(a), minutes(b), start, end) for a, b in hours)
    if inside < end - start:
        return "Outside business hours"
    return None


def _booked_query(by_group: bool) -> Any:
    """The live appointments between two UTC instants, with their group (built once: constructing the
    statement cost as much as running it on the server's 1,000-booking catch-up)."""
    query = (
        select(
            Appointment.arrival_window_start,
            Appointment.arrival_window_end,
            Appointment.start,
            Appointment.end,
            BusinessUnit.group_id,
            Job.id,
        )
        .join(Job, Job.id == Appointment.job_id)
        .join(BusinessUnit, BusinessUnit.id == Job.business_unit_id)
        .where(
            Appointment.start >= bindparam("lo"),
            Appointment.start < bindparam("hi"),
            Job.status != JobStatus.CANCELED,
            Job.id != bindparam("exclude"),
        )
    )
    return query.where(BusinessUnit.group_id == bindparam("group")) if by_group else query


_BOOKED = {by_group: _booked_query(by_group) for by_group in (False, True)}


def booked_slots(
    session: Session,
    setup: SetupData,
    first: date,
    last: date,
    exclude_job: str = "",
    group_id: str | None = None,
) -> list[BookedSlot]:
    """Live appointments between two local days (inclusive), with their capacity group (only
    ``group_id``'s when given)."""
    tz = zone(setup.time_zone)
    lo = local_to_utc(first, time(0), tz)
    hi = local_to_utc(last + timedelta(days=1), time(0), tz)
    if session.get_bind().dialect.name == "sqlite":
        lo, hi = lo.replace(tzinfo=None), hi.replace(tzinfo=None)  # stored naive, in UTC
    params = {"lo": lo, "hi": hi, "exclude": exclude_job}
    if group_id is not None:
        params["group"] = group_id
    rows = session.execute(_BOOKED[group_id is not None], params)
    out = []
    # Appointments share a few arrival windows: one time-zone conversion per distinct window.
    windows: dict[tuple[datetime, datetime], tuple[date, int, int]] = {}
    for w_start, w_end, start, end, group, job_id in rows:
        local = windows.get((w_start, w_end))
        if local is None:
            ws = as_utc(w_start).astimezone(tz)
            start_min = ws.hour * 60 + ws.minute
            end_min = min(24 * 60, start_min + round((w_end - w_start).total_seconds() / 60))
            local = windows[(w_start, w_end)] = (ws.date(), start_min, end_min)
        duration = max(0, round((end - start).total_seconds() / 60))
        out.append(BookedSlot(group, local[0], local[1], local[2], duration, job_id))
    return out


def availability(
    setup: SetupData,
    business_unit_id: str,
    duration: int,
    skills: tuple[str, ...],
    booked: list[BookedSlot],
    days: list[date],
    now: datetime,
    rules: AvailabilityRules = NO_RULES,
    window_id: str | None = None,
) -> list[Slot]:
    """Every arrival window of these days for a job of this business unit, duration and skills
    (``rules``: the days' time off, holidays and adjustments — models/availability.py; only ``window_id``'s
    when given: the server re-checking one booking)."""
    bu = setup.business_unit(business_unit_id)
    if bu is None:
        return []
    tz = zone(setup.time_zone)
    local_now = as_utc(now).astimezone(tz)
    group_units = setup.group_units(bu.group_id)
    techs = [t for t in setup.technicians if t.business_unit_id in group_units]
    settings = setup.capacity.get(bu.group_id)
    warn_at = settings.overbooking_warn_percent if settings else 100
    by_day: dict[date, list[BookedSlot]] = defaultdict(list)
    for b in booked:
        if b.group_id == bu.group_id:
            by_day[b.day].append(b)
    slots: list[Slot] = []
    for day in days:
        for w in setup.windows:
            if not w.allows(business_unit_id) or (window_id is not None and w.id != window_id):
                continue
            start, end = minutes(w.start), minutes(w.end)
            if day == local_now.date():
                if not w.same_day or end <= local_now.hour * 60 + local_now.minute:
                    continue  # gone, or not offered for today
            elif day < local_now.date():
                continue
            capacity = window_capacity(setup, bu.group_id, techs, day, w, rules)
            booked_min = round(_used(by_day.get(day, []), start, end))
            closed = day in rules.closed
            skilled = [
                t.name
                for t in techs
                if not closed and t.has(skills) and _on_shift(t, day, start, end, rules) > 0
            ]
            fits = bool(skilled) and booked_min + duration <= capacity
            slot = Slot(day, w, capacity, booked_min, skilled, fits)
            if closed:
                slot.warnings.append(f"Closed: {rules.closed[day]}")
            if day == local_now.date() and start < local_now.hour * 60 + local_now.minute:
                slot.warnings.append("Already started")
            warning = _business_hours_warning(setup, day, start, end)
            if warning:
                slot.warnings.append(warning)
            if capacity and fits and round(100 * (booked_min + duration) / capacity) > warn_at:
                slot.warnings.append("Overbooking")
            if not skilled and not closed:
                slot.warnings.append("No technician with the skills on shift")
            slots.append(slot)
    return slots


def find_slot(slots: list[Slot], day: date, window_id: str) -> Slot | None:
    return next((s for s in slots if s.day == day and s.window.id == window_id), None)


def nearest_free(slots: list[Slot], day: date, window_start: int, count: int = 3) -> list[Slot]:
    """The free windows closest in time to a wanted one (for "needs rescheduling")."""
    free = [s for s in slots if s.fits]
    free.sort(key=lambda s: abs((s.day - day).days * 24 * 60 + minutes(s.window.start) - window_start))
    return free[:count]


def window_bounds(setup: SetupData, day: date, window: WindowInfo) -> tuple[datetime, datetime]:
    """The window's start and end as UTC datetimes."""
    tz = zone(setup.time_zone)
    return local_to_utc(day, window.start, tz), local_to_utc(day, window.end, tz)


def horizon(now: datetime, setup: SetupData, count: int = 14) -> list[date]:
    return days_from(as_utc(now).astimezone(zone(setup.time_zone)).date(), count)


def over_capacity(session: Session, days: list[date]) -> list[dict[str, str]]:
    """The live jobs booked into a window whose bookings now exceed its capacity, on these days
    (time off, a holiday or a negative adjustment can do that): [{job_id, number, day, window}], for
    rescheduling. A job is listed once, in the first such window it overlaps."""
    from .setup_data import load_setup

    if not days:
        return []
    setup = load_setup(session)
    first, last = min(days), max(days)
    rules = load_rules(session, first, last)
    booked = booked_slots(session, setup, first, last)
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    groups = sorted({b.group_id for b in setup.business_units})
    for group_id in groups:
        units = setup.group_units(group_id)
        techs = [t for t in setup.technicians if t.business_unit_id in units]
        for day in sorted(set(days)):
            bookings = [b for b in booked if b.group_id == group_id and b.day == day]
            if not bookings:
                continue
            for w in setup.windows:
                if w.business_unit_ids and not (w.business_unit_ids & units):
                    continue
                start, end = minutes(w.start), minutes(w.end)
                inside = [b for b in bookings if overlap_minutes(b.start_min, b.end_min, start, end) > 0]
                if not inside or round(_used(inside, start, end)) <= window_capacity(
                    setup, group_id, techs, day, w, rules
                ):
                    continue
                for b in inside:
                    if b.job_id not in seen:
                        seen.add(b.job_id)
                        out.append({"job_id": b.job_id, "day": day.isoformat(), "window": w.name})
    if out:
        wanted = [o["job_id"] for o in out]
        numbers = {i: n for i, n in session.execute(select(Job.id, Job.number).where(Job.id.in_(wanted)))}
        for o in out:
            o["number"] = str(numbers.get(o["job_id"]) or "")
    return out
