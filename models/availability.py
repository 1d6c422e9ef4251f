"""Availability management (issue 19 part 4): technician time off, company holidays and manual capacity
adjustments, as intents a manager pushes.

Each is one :class:`AvailabilityEntry` row (table ``availability_entries``, synced to every console like
any other row). The capacity math (models/capacity.py ``availability``) reads them through
:func:`load_rules`, so Get Availability on every console and the server's authoritative re-check of a
booking see a change as soon as its row has arrived:

- ``holiday``: the company is closed that day — every window has no capacity;
- ``time_off``: a technician is off the whole day, or between ``start`` and ``end`` (part of a day);
  their shift minutes inside it no longer count, and they no longer count as "on shift" with skills;
- ``adjustment``: ``minutes`` (+ or −) added to one capacity group's window on one day, after the
  bookable percentage (never below zero).

A change that leaves already-booked jobs over capacity is applied (the technician *is* off) and the jobs
are listed for rescheduling: in the entry's ``overbooked`` column (so every console can list them) and
in the intent's warnings (what the person who made the change is told at once).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Integer, String, Time, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import ID_LEN, Base, utcnow
from .conflicts import ACTOR_NAME
from .intent_kit import Applied, get_row, intent, own_id, require_id
from .setup import BusinessUnit, BusinessUnitGroup, Technician
from .validation import ValidationFailed

AVAILABILITY_INTENTS = frozenset(
    {"add_time_off", "add_holiday", "adjust_capacity", "remove_availability_entry"}
)
TIME_OFF, HOLIDAY, ADJUSTMENT = "time_off", "holiday", "adjustment"
WHOLE_DAY = (0, 24 * 60)
MAX_ADJUST = 24 * 60 * 50  # technician-minutes: 50 technicians' whole day


class AvailabilityEntry(Base):
    """One time off, holiday or capacity adjustment."""

    __tablename__ = "availability_entries"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # time_off / holiday / adjustment
    day: Mapped[date] = mapped_column(Date, index=True)
    technician_id: Mapped[str] = mapped_column(String(ID_LEN), default="")  # time_off
    start: Mapped[time | None] = mapped_column(Time, default=None)  # time_off: part of a day
    end: Mapped[time | None] = mapped_column(Time, default=None)
    group_id: Mapped[str] = mapped_column(String(ID_LEN), default="")  # adjustment
    arrival_window_id: Mapped[str] = mapped_column(String(ID_LEN), default="")  # adjustment
    minutes: Mapped[int] = mapped_column(Integer, default=0)  # adjustment, + or −
    note: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Jobs the change left over capacity, for rescheduling: [{job_id, number, day, window}].
    overbooked: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


@dataclass(frozen=True)
class AvailabilityRules:
    """The active entries of some days, as the capacity math reads them."""

    closed: dict[date, str] = field(default_factory=dict)  # day → the holiday's note
    off: dict[tuple[str, date], tuple[tuple[int, int], ...]] = field(default_factory=dict)  # merged
    adjust: dict[tuple[str, date, str], int] = field(default_factory=dict)  # (group, day, window) → min

    def off_minutes(self, technician_id: str, day: date, start: int, end: int) -> list[tuple[int, int]]:
        """The technician's time off inside [start, end) of that day."""
        out = []
        for a, b in self.off.get((technician_id, day), ()):
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                out.append((lo, hi))
        return out


NO_RULES = AvailabilityRules()


def _minutes(t: time | None, default: int) -> int:
    return default if t is None else t.hour * 60 + t.minute


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def rules_from(entries: list[AvailabilityEntry]) -> AvailabilityRules:
    closed: dict[date, str] = {}
    off: dict[tuple[str, date], list[tuple[int, int]]] = defaultdict(list)
    adjust: dict[tuple[str, date, str], int] = defaultdict(int)
    for e in entries:
        if not e.active:
            continue
        if e.kind == HOLIDAY:
            closed[e.day] = e.note or "Company holiday"
        elif e.kind == TIME_OFF:
            off[(e.technician_id, e.day)].append((_minutes(e.start, 0), _minutes(e.end, 24 * 60)))
        elif e.kind == ADJUSTMENT:
            adjust[(e.group_id, e.day, e.arrival_window_id)] += e.minutes
    return AvailabilityRules(closed, {k: _merge(v) for k, v in off.items()}, dict(adjust))


def load_rules(session: Session, first: date, last: date) -> AvailabilityRules:
    """The active entries between two local days (inclusive)."""
    entries = session.scalars(
        select(AvailabilityEntry).where(
            AvailabilityEntry.active, AvailabilityEntry.day >= first, AvailabilityEntry.day <= last
        )
    )
    return rules_from(list(entries))


# -- intents -----------------------------------------------------------------------------------------------
def _actor(session: Session, args: dict[str, Any]) -> str:
    return str(session.info.get(ACTOR_NAME) or args.get("actor") or "")[:100]


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value or ""))
    except ValueError:
        raise ValidationFailed({"day": "Pick a day (YYYY-MM-DD)."}) from None


def _time(value: Any, what: str) -> time | None:
    if value in (None, ""):
        return None
    try:
        t = time.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed({what: f"The {what} time must look like 13:30."}) from None
    return t.replace(second=0, microsecond=0)


def _note(args: dict[str, Any]) -> str:
    note = str(args.get("note") or "").strip()
    if len(note) > 200:
        raise ValidationFailed({"note": "The note is too long (at most 200 characters)."})
    return note


def _new_entry(
    session: Session, args: dict[str, Any], kind: str, day: date, **values: Any
) -> AvailabilityEntry:
    entry_id = own_id(args, "entry_id")
    if session.get(AvailabilityEntry, entry_id) is not None:
        raise ValidationFailed({"id": "That entry exists already."})
    now = session.info.get("now") or utcnow()
    entry = AvailabilityEntry(
        id=entry_id,
        kind=kind,
        day=day,
        note=_note(args),
        active=True,
        created_by=_actor(session, args),
        created_at=now,
        updated_at=now,
        **values,
    )
    session.add(entry)
    session.flush()
    return entry


def _applied(session: Session, entry: AvailabilityEntry) -> Applied:
    from .capacity import over_capacity  # capacity imports this module

    jobs = over_capacity(session, [entry.day])
    entry.overbooked = jobs
    warnings: dict[str, str] = {}
    if jobs:
        numbers = ", ".join(j["number"] or j["job_id"] for j in jobs[:10])
        more = f" and {len(jobs) - 10} more" if len(jobs) > 10 else ""
        warnings["overbooked"] = (
            f"{len(jobs)} booked job{'s' if len(jobs) != 1 else ''} now over capacity on "
            f"{entry.day:%a %b} {entry.day.day} — reschedule: {numbers}{more}."
        )
    return Applied("availability_entry", entry.id, [], warnings)


@intent("add_time_off")
def add_time_off(session: Session, args: dict[str, Any]) -> Applied:
    tech_id = require_id(args.get("technician_id"), "technician_id")
    tech = session.get(Technician, tech_id)
    if tech is None or not tech.active:
        raise ValidationFailed({"technician_id": "Pick an active technician."})
    day = _day(args.get("day"))
    start, end = _time(args.get("start"), "start"), _time(args.get("end"), "end")
    if (start is None) != (end is None):
        raise ValidationFailed({"end": "Give both a start and an end for part of a day, or neither."})
    if start is not None and end is not None and end <= start:
        raise ValidationFailed({"end": "The end must be after the start."})
    entry = _new_entry(session, args, TIME_OFF, day, technician_id=tech_id, start=start, end=end)
    return _applied(session, entry)


@intent("add_holiday")
def add_holiday(session: Session, args: dict[str, Any]) -> Applied:
    day = _day(args.get("day"))
    if not str(args.get("note") or "").strip():
        raise ValidationFailed({"note": "Name the holiday (e.g. Thanksgiving)."})
    existing = session.scalar(
        select(AvailabilityEntry.id).where(
            AvailabilityEntry.kind == HOLIDAY, AvailabilityEntry.day == day, AvailabilityEntry.active
        )
    )
    if existing:
        raise ValidationFailed({"day": f"{day:%a %b} {day.day} is already a company holiday."})
    entry = _new_entry(session, args, HOLIDAY, day)
    return _applied(session, entry)


@intent("adjust_capacity")
def adjust_capacity(session: Session, args: dict[str, Any]) -> Applied:
    group_id = str(args.get("group_id") or "")
    if not group_id and args.get("business_unit_id"):
        bu = session.get(BusinessUnit, str(args["business_unit_id"]))
        group_id = bu.group_id if bu is not None else ""
    if not group_id or session.get(BusinessUnitGroup, group_id) is None:
        raise ValidationFailed({"group_id": "Pick a business unit group."})
    window_id = require_id(args.get("arrival_window_id"), "arrival_window_id")
    from .setup import ArrivalWindow

    if session.get(ArrivalWindow, window_id) is None:
        raise ValidationFailed({"arrival_window_id": "Pick an arrival window."})
    minutes = args.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes == 0 or abs(minutes) > MAX_ADJUST:
        raise ValidationFailed(
            {"minutes": f"Give the technician-minutes to add (+) or take away (−), at most {MAX_ADJUST}."}
        )
    entry = _new_entry(
        session,
        args,
        ADJUSTMENT,
        _day(args.get("day")),
        group_id=group_id,
        arrival_window_id=window_id,
        minutes=minutes,
    )
    return _applied(session, entry)


@intent("remove_availability_entry")
def remove_availability_entry(session: Session, args: dict[str, Any]) -> Applied:
    entry = get_row(session, AvailabilityEntry, require_id(args.get("id"), "id"), "entry")
    if not entry.active:
        raise ValidationFailed({"id": "That entry was removed already."})
    entry.active = False
    entry.removed_by = _actor(session, args)
    session.flush()
    return _applied(session, entry)


def entry_label(entry: AvailabilityEntry, names: dict[str, str] | None = None) -> str:
    """One line for lists: "Fri Dec 11 · Time off · Sam Ortiz 13:00–17:00"."""
    names = names or {}
    head = f"{entry.day:%a %b} {entry.day.day}"
    if entry.kind == HOLIDAY:
        return f"{head} · Holiday · {entry.note}"
    if entry.kind == TIME_OFF:
        who = names.get(entry.technician_id, entry.technician_id)
        part = f" {entry.start:%H:%M}–{entry.end:%H:%M}" if entry.start and entry.end else " (whole day)"
        return f"{head} · Time off · {who}{part}"
    sign = "+" if entry.minutes > 0 else "−"
    what = f"{names.get(entry.group_id, entry.group_id)}, {names.get(entry.arrival_window_id, entry.arrival_window_id)}"
    return f"{head} · Capacity {sign}{abs(entry.minutes)} min · {what}"
