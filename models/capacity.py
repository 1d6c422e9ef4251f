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


def _on_shift(tech: TechnicianInfo, day: date, start: int, end: int) -> int:
    return sum(
        overlap_minutes(minutes(a), minutes(b), start, end) for a, b in tech.shifts.get(day.weekday(), ())
    )


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
    window_id: str | None = None,
) -> list[Slot]:
    """Every arrival window of these days for a job of this business unit, duration and skills (only
    ``window_id``'s when given: the server re-checking one booking)."""
    bu = setup.business_unit(business_unit_id)
    if bu is None:
        return []
    tz = zone(setup.time_zone)
    local_now = as_utc(now).astimezone(tz)
    group_units = setup.group_units(bu.group_id)
    techs = [t for t in setup.technicians if t.business_unit_id in group_units]
    settings = setup.capacity.get(bu.group_id)
    bookable = (settings.bookable_percent if settings else 100) / 100
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
            capacity = round(bookable * sum(_on_shift(t, day, start, end) for t in techs))
            used = 0.0
            for b in by_day.get(day, ()):
                span = max(1, b.end_min - b.start_min)
                used += b.duration * overlap_minutes(b.start_min, b.end_min, start, end) / span
            booked_min = round(used)
            skilled = [t.name for t in techs if t.has(skills) and _on_shift(t, day, start, end) > 0]
            fits = bool(skilled) and booked_min + duration <= capacity
            slot = Slot(day, w, capacity, booked_min, skilled, fits)
            if day == local_now.date() and start < local_now.hour * 60 + local_now.minute:
                slot.warnings.append("Already started")
            warning = _business_hours_warning(setup, day, start, end)
            if warning:
                slot.warnings.append(warning)
            if capacity and fits and round(100 * (booked_min + duration) / capacity) > warn_at:
                slot.warnings.append("Overbooking")
            if not skilled:
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
