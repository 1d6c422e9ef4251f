"""Setup data read once into plain, immutable objects for the booking form and the capacity math."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import time

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .agents import away_reasons
from .base import new_id
from .customers import TagType
from .setup import (
    ArrivalWindow,
    BookingPreference,
    BusinessHours,
    BusinessUnit,
    BusinessUnitGroup,
    Campaign,
    CapacitySetting,
    CompanySetting,
    JobType,
    Service,
    Technician,
)
from .timeutil import DEFAULT_TZ, parse_hhmm


@dataclass(frozen=True)
class BusinessUnitInfo:
    id: str
    name: str
    group_id: str
    group_name: str


@dataclass(frozen=True)
class ServiceInfo:
    code: str
    name: str
    price: float
    duration_minutes: int


@dataclass(frozen=True)
class JobTypeInfo:
    id: str
    name: str
    business_unit_ids: frozenset[str]
    priority: str
    duration_minutes: int
    skills: tuple[str, ...]
    default_tags: tuple[str, ...]
    summary_template: str
    default_services: tuple[tuple[str, float], ...]  # (service code, quantity)


@dataclass(frozen=True)
class CampaignInfo:
    id: str
    name: str
    category: str
    tracking_numbers: tuple[str, ...]


@dataclass(frozen=True)
class WindowInfo:
    id: str
    name: str
    start: time
    end: time
    business_unit_ids: frozenset[str]  # empty: every business unit
    same_day: bool

    def allows(self, business_unit_id: str) -> bool:
        return not self.business_unit_ids or business_unit_id in self.business_unit_ids


@dataclass(frozen=True)
class TechnicianInfo:
    id: str
    name: str
    business_unit_id: str
    skills: frozenset[str]
    shifts: dict[int, tuple[tuple[time, time], ...]]  # weekday → shifts

    def has(self, skills: tuple[str, ...]) -> bool:
        return set(skills) <= self.skills


@dataclass(frozen=True)
class CapacityInfo:
    bookable_percent: int = 100
    overbooking_warn_percent: int = 100


@dataclass
class SetupData:
    time_zone: str = DEFAULT_TZ
    company_name: str = ""
    business_units: list[BusinessUnitInfo] = field(default_factory=list)
    job_types: list[JobTypeInfo] = field(default_factory=list)
    services: dict[str, ServiceInfo] = field(default_factory=dict)
    campaigns: list[CampaignInfo] = field(default_factory=list)
    windows: list[WindowInfo] = field(default_factory=list)
    technicians: list[TechnicianInfo] = field(default_factory=list)
    business_hours: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    capacity: dict[str, CapacityInfo] = field(default_factory=dict)  # group id → settings
    tag_names: list[str] = field(default_factory=list)
    required_fields: frozenset[str] = frozenset()
    away_reasons: list[str] = field(default_factory=list)  # what a CSR may pick for Away (models/agents.py)

    def business_unit(self, bu_id: str) -> BusinessUnitInfo | None:
        return next((b for b in self.business_units if b.id == bu_id), None)

    def job_type(self, jt_id: str) -> JobTypeInfo | None:
        return next((j for j in self.job_types if j.id == jt_id), None)

    def job_types_for(self, bu_id: str) -> list[JobTypeInfo]:
        return [j for j in self.job_types if bu_id in j.business_unit_ids]

    def group_units(self, group_id: str) -> set[str]:
        return {b.id for b in self.business_units if b.group_id == group_id}


def _shifts(raw: list) -> dict[int, tuple[tuple[time, time], ...]]:
    out: dict[int, list[tuple[time, time]]] = {}
    for s in raw or []:
        try:
            out.setdefault(int(s["weekday"]), []).append((parse_hhmm(s["start"]), parse_hhmm(s["end"])))
        except (KeyError, TypeError, ValueError):
            continue  # the setup import validates shifts; a damaged row must not break booking
    return {k: tuple(sorted(v)) for k, v in out.items()}


# Setup changes only through an import (or, later, the server), each of which writes a new
# company_settings["setup_version"]; between two versions the loaded SetupData is reused. A cache
# without a version (setup written by hand, as in tests) is read fresh every time.
_CACHE: dict[tuple[str, str], SetupData] = {}
_CACHE_LOCK = threading.Lock()


def bump_setup_version(session: Session) -> str:
    """Mark the setup as changed (in the caller's transaction)."""
    version = new_id()
    row = session.get(CompanySetting, "setup_version")
    if row is None:
        session.add(CompanySetting(key="setup_version", value={"version": version}))
    else:
        row.value = {"version": version}
    return version


def load_setup(session: Session) -> SetupData:
    """Every active setup record, in display order (reused while the setup version is unchanged)."""
    row = session.get(CompanySetting, "setup_version")
    version = str((row.value or {}).get("version", "")) if row is not None else ""
    key = (str(session.get_bind().url), version)
    if version:
        with _CACHE_LOCK:
            cached = _CACHE.get(key)
        if cached is not None:
            return cached
    data = _read_setup(session)
    if version:
        with _CACHE_LOCK:
            _CACHE.clear()  # one company per process: keep only the newest version
            _CACHE[key] = data
    return data


def _read_setup(session: Session) -> SetupData:
    data = SetupData()
    settings = {s.key: s.value for s in session.scalars(select(CompanySetting))}
    data.time_zone = str((settings.get("company") or {}).get("time_zone") or DEFAULT_TZ)
    data.company_name = str((settings.get("company") or {}).get("name") or "")
    data.away_reasons = away_reasons(settings)
    groups = {g.id: g.name for g in session.scalars(select(BusinessUnitGroup))}
    data.business_units = [
        BusinessUnitInfo(b.id, b.name, b.group_id, groups.get(b.group_id, ""))
        for b in session.scalars(select(BusinessUnit).where(BusinessUnit.active).order_by(BusinessUnit.name))
    ]
    data.services = {
        s.code: ServiceInfo(s.code, s.name, float(s.price or 0), s.duration_minutes)
        for s in session.scalars(select(Service))
    }
    data.job_types = [
        JobTypeInfo(
            j.id,
            j.name,
            frozenset(b.id for b in j.business_units),
            str(j.priority),
            j.duration_minutes,
            tuple(j.skills or ()),
            tuple(j.default_tags or ()),
            j.summary_template or "",
            tuple((str(d.get("code")), float(d.get("quantity", 1))) for d in j.default_services or []),
        )
        for j in session.scalars(
            select(JobType)
            .where(JobType.active)
            .order_by(JobType.name)
            .options(selectinload(JobType.business_units))
        )
    ]
    data.campaigns = [
        CampaignInfo(
            c.id, c.name, c.category.name if c.category else "", tuple(t.number for t in c.tracking_numbers)
        )
        for c in session.scalars(
            select(Campaign)
            .where(Campaign.active)
            .order_by(Campaign.name)
            .options(selectinload(Campaign.tracking_numbers), selectinload(Campaign.category))
        )
    ]
    data.windows = [
        WindowInfo(w.id, w.name, w.start, w.end, frozenset(b.id for b in w.business_units), w.same_day)
        for w in session.scalars(
            select(ArrivalWindow)
            .where(ArrivalWindow.active)
            .order_by(ArrivalWindow.start, ArrivalWindow.end)
            .options(selectinload(ArrivalWindow.business_units))
        )
    ]
    data.technicians = [
        TechnicianInfo(t.id, t.name, t.business_unit_id, frozenset(t.skills or ()), _shifts(t.shifts))
        for t in session.scalars(select(Technician).where(Technician.active).order_by(Technician.name))
    ]
    hours: dict[int, list[tuple[time, time]]] = {}
    for h in session.scalars(select(BusinessHours)):
        hours.setdefault(h.weekday, []).append((h.opens, h.closes))
    data.business_hours = {k: tuple(sorted(v)) for k, v in hours.items()}
    data.capacity = {
        c.group_id: CapacityInfo(c.bookable_percent, c.overbooking_warn_percent)
        for c in session.scalars(select(CapacitySetting))
    }
    data.tag_names = list(session.scalars(select(TagType.name).where(TagType.active).order_by(TagType.name)))
    for pref in session.scalars(select(BookingPreference).where(BookingPreference.user_id.is_(None))):
        if pref.key == "required_fields":
            data.required_fields = frozenset((pref.value or {}).get("fields", []))
    return data
