"""The setup file (docs/setup-file.md): parse, import into the cache, export from it.

Import upserts by natural key — names, service codes, tracking numbers — so re-importing a file
changes nothing, and a later file can rename (``renamed_from``) or retire records. Records that a
job, call or lead may point at are never deleted: missing from the file, they are marked inactive.
Only rows nothing refers to (services, business hours, capacity, unused groups and categories) are
removed. Tracking numbers are never deleted nor moved to another campaign (docs/setup-file.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from .base import new_id
from .customers import TagType
from .db import Cache
from .phone import format_phone
from .setup import (
    ArrivalWindow,
    BookingPreference,
    BusinessHours,
    BusinessUnit,
    BusinessUnitGroup,
    CallReason,
    Campaign,
    CampaignCategory,
    CapacitySetting,
    CompanySetting,
    JobType,
    Service,
    Technician,
    TrackingNumber,
)
from .setup_data import bump_setup_version
from .setup_doc import Problem, SetupDoc, SetupFileError
from .setup_export import export_setup
from .setup_validate import parse_setup

__all__ = [
    "ImportSummary",
    "SectionCount",
    "SetupDoc",
    "SetupFileError",
    "demo_setup_path",
    "export_setup",
    "import_setup",
    "import_setup_file",
    "parse_setup",
]

T = TypeVar("T")


@dataclass
class SectionCount:
    """What one import did to one section."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0  # marked inactive, or deleted where nothing can refer to the row

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def tally(self, created: bool, changed: bool) -> None:
        if created:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


@dataclass
class ImportSummary:
    """Counts per section, notes for the admin, and the file's warnings."""

    sections: dict[str, SectionCount] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    def __getitem__(self, section: str) -> SectionCount:
        """The counts of a section (e.g. "job_types"), created empty on first use."""
        return self.sections.setdefault(section, SectionCount())

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated or c.retired for c in self.sections.values())

    def lines(self) -> list[str]:
        """One readable line per section, e.g. "campaigns: 8 (1 new, 1 retired)"."""
        out = []
        for name, c in self.sections.items():
            parts = [
                f"{n} {w}"
                for n, w in ((c.created, "new"), (c.updated, "changed"), (c.retired, "retired"))
                if n
            ]
            out.append(f"{name.replace('_', ' ')}: {c.total}" + (f" ({', '.join(parts)})" if parts else ""))
        return out


def demo_setup_path() -> Path:
    """The setup file the demo ships (resources/demo_setup.yaml)."""
    return Path(str(files("resources").joinpath("demo_setup.yaml")))


def import_setup_file(cache: Cache, path: Path | str) -> ImportSummary:
    """Parse and import a file in one transaction: on any error nothing is imported.

    Raises SetupFileError for a refused file and OSError when it can't be read.
    """
    text = read_setup_text(Path(path))
    with cache.sessions.begin() as session:
        return import_setup(session, parse_setup(text))


def read_setup_text(path: Path) -> str:
    """The file's text; a file that isn't UTF-8 is refused with the line of the first bad byte."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")  # Notepad writes a BOM; it is not part of the setup
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SetupFileError(
            [(line, "this line has characters that aren't UTF-8; save the file as UTF-8 text")]
        ) from exc


def import_setup(session: Session, doc: SetupDoc) -> ImportSummary:
    """Apply a parsed setup in the caller's transaction (flushed, not committed).

    Raises SetupFileError when the file clashes with the cache (a tracking number that belongs to
    another campaign); the caller must then roll back.
    """
    summary = ImportSummary(warnings=list(doc.warnings))
    problems: list[Problem] = []
    # Order matters: each section refers to rows of the ones before it. `a | b` (not `or`) below so
    # both the columns and the business-unit links are applied.
    _company(session, doc, summary)
    groups = _upsert(
        session,
        BusinessUnitGroup,
        doc.business_unit_groups,
        summary["business_unit_groups"],
        lambda o, d: False,
    )
    units = _upsert(
        session,
        BusinessUnit,
        doc.business_units,
        summary["business_units"],
        lambda o, d: _set(o, group=groups[d.group], trade=d.trade),
    )
    _services(session, doc, summary)
    _upsert(session, TagType, doc.tag_types, summary["tag_types"], lambda o, d: _set(o, color=d.color))
    _upsert(
        session,
        JobType,
        doc.job_types,
        summary["job_types"],
        lambda o, d: (
            _set(
                o,
                priority=d.priority,
                duration_minutes=d.duration_minutes,
                skills=list(d.skills),
                default_tags=list(d.default_tags),
                summary_template=d.summary_template,
                default_services=[
                    {"code": s.code, "quantity": _number(s.quantity)} for s in d.default_services
                ],
            )
            | _set_units(o, [units[n] for n in d.business_units])
        ),
    )
    categories = _upsert(
        session, CampaignCategory, doc.campaign_categories, summary["campaign_categories"], lambda o, d: False
    )
    campaigns = _upsert(
        session,
        Campaign,
        doc.campaigns,
        summary["campaigns"],
        lambda o, d: _set(
            o,
            category=categories[d.category] if d.category else None,
            monthly_cost=None if d.monthly_cost is None else Decimal(d.monthly_cost),
        ),
        active=lambda d: d.active,
    )
    _tracking_numbers(session, doc, campaigns, summary, problems)
    _upsert(
        session,
        CallReason,
        doc.call_reasons,
        summary["call_reasons"],
        lambda o, d: _set(o, is_lead=d.is_lead),
    )
    _upsert(
        session,
        ArrivalWindow,
        doc.arrival_windows,
        summary["arrival_windows"],
        lambda o, d: (
            _set(o, start=d.start, end=d.end, same_day=d.same_day)
            | _set_units(o, [units[n] for n in d.business_units])
        ),
    )
    _business_hours(session, doc, summary)
    _upsert(
        session,
        Technician,
        doc.technicians,
        summary["technicians"],
        lambda o, d: _set(
            o,
            business_unit=units[d.business_unit],
            skills=list(d.skills),
            shifts=[
                {"weekday": s.weekday, "start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}"}
                for s in sorted(d.shifts, key=lambda s: (s.weekday, s.start))
            ],
        ),
    )
    _capacity(session, doc, groups, summary)
    _preferences(session, doc, summary)
    _online_booking(session, doc, summary)
    session.flush()
    # Groups and categories go last: only now is it known whether a retired unit or campaign still
    # points at them.
    _prune(session, BusinessUnitGroup, groups, [BusinessUnit.group_id], summary["business_unit_groups"])
    _prune(session, CampaignCategory, categories, [Campaign.category_id], summary["campaign_categories"])
    if problems:
        raise SetupFileError(problems)
    if summary.changed:
        bump_setup_version(session)  # consoles reload setup data when this changes
    session.flush()
    return summary


def _set(obj: Any, **values: Any) -> bool:
    """Assign only what differs, so an unchanged re-import writes nothing; True if anything changed."""
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _set_units(obj: Any, units: list[BusinessUnit]) -> bool:
    if {u.id for u in obj.business_units} == {u.id for u in units}:
        return False
    obj.business_units = units
    return True


def _number(value: Any) -> int | float:
    return int(value) if value == int(value) else float(value)


def _upsert(
    session: Session,
    model: type[T],
    defs: Iterable[Any],
    count: SectionCount,
    apply: Callable[[Any, Any], bool],
    active: Callable[[Any], bool] = lambda d: True,
) -> dict[str, T]:
    """Match each record by name (exact, then ignoring case, then ``renamed_from``), create the rest,
    and mark rows missing from the file inactive. Returns name → row for the file's records."""
    rows = list(session.scalars(select(model).order_by(model.id)))  # type: ignore[attr-defined]
    exact: dict[str, Any] = {}
    folded: dict[str, Any] = {}
    for row in rows:
        exact.setdefault(row.name, row)
        folded.setdefault(row.name.casefold(), row)
    taken: set[str] = set()
    out: dict[str, T] = {}
    for d in defs:
        candidates = (exact.get(d.name), folded.get(d.name.casefold()), exact.get(d.renamed_from or ""))
        row = next((r for r in candidates if r is not None and r.id not in taken), None)
        created = row is None
        if row is None:
            row = model(id=new_id(), name=d.name)
            session.add(row)
        taken.add(row.id)
        changed = _set(row, name=d.name)
        changed = apply(row, d) or changed
        if hasattr(model, "active"):
            changed = _set(row, active=active(d)) or changed
        count.tally(created, changed)
        out[d.name] = row
    for row in rows:
        if row.id not in taken and getattr(row, "active", False):
            row.active = False
            count.retired += 1
    session.flush()  # later sections refer to these rows by id
    return out


def _prune(session: Session, model: type, kept: dict[str, Any], refs: list[Any], count: SectionCount) -> None:
    """Delete rows not in the file that nothing refers to; keep the others (history needs them)."""
    keep = {row.id for row in kept.values()}
    used: set[str] = set()
    for column in refs:
        used |= set(session.scalars(select(column).distinct()))
    for row in session.scalars(select(model)):
        if row.id not in keep and row.id not in used:
            session.delete(row)
            count.retired += 1


def _company(session: Session, doc: SetupDoc, summary: ImportSummary) -> None:
    value = {"name": doc.company.name, "time_zone": doc.company.time_zone}
    row = session.get(CompanySetting, "company")
    if row is None:
        session.add(CompanySetting(key="company", value=value))
    summary["company"].tally(row is None, row is not None and _set(row, value=value))
    # Notifications (docs/notifications.md): a file without the section leaves the stored settings be.
    if doc.notifications is not None:
        stored = session.get(CompanySetting, "notifications")
        if stored is None:
            session.add(CompanySetting(key="notifications", value=doc.notifications))
        else:
            _set(stored, value=doc.notifications)


def _services(session: Session, doc: SetupDoc, summary: ImportSummary) -> None:
    # Jobs copy code, name and price into their line items, so a service missing from the file can go.
    count = summary["services"]
    rows = {s.code: s for s in session.scalars(select(Service))}
    for d in doc.services:
        row = rows.pop(d.code, None)
        created = row is None
        if row is None:
            row = Service(id=new_id(), code=d.code)
            session.add(row)
        count.tally(created, _set(row, name=d.name, price=d.price, duration_minutes=d.duration_minutes))
    for row in rows.values():
        session.delete(row)
        count.retired += 1


def _tracking_numbers(
    session: Session,
    doc: SetupDoc,
    campaigns: dict[str, Campaign],
    summary: ImportSummary,
    problems: list[Problem],
) -> None:
    count = summary["tracking_numbers"]
    rows = {t.number: t for t in session.scalars(select(TrackingNumber))}
    listed: set[str] = set()
    for c in doc.campaigns:
        campaign = campaigns[c.name]
        for d in c.tracking_numbers:
            listed.add(d.number)
            row = rows.get(d.number)
            if row is not None and row.campaign_id != campaign.id:
                problems.append(
                    (
                        d.lines.get("number", 0),
                        f"tracking number {format_phone(d.number)} belongs to campaign "
                        f"'{row.campaign.name}' in this cache; a tracking number is never moved to "
                        "another campaign (to rename a campaign, use renamed_from)",
                    )
                )
                continue
            created = row is None
            if row is None:
                row = TrackingNumber(id=new_id(), number=d.number, campaign=campaign)
                session.add(row)
            count.tally(created, _set(row, default_call_type=d.default_call_type, label=d.label))
    for number, row in sorted(rows.items()):
        if number not in listed and row.campaign.name in campaigns and row.campaign.active:
            summary.notes.append(
                f"tracking number {format_phone(number)} is no longer in the file; it "
                f"stays with campaign '{row.campaign.name}' (tracking numbers are never "
                "deleted or reused; retire the campaign to stop using it)"
            )


def _business_hours(session: Session, doc: SetupDoc, summary: ImportSummary) -> None:
    # Nothing refers to business hours: the file's set replaces the cache's, row for row.
    count = summary["business_hours"]
    rows = {(h.weekday, h.opens, h.closes): h for h in session.scalars(select(BusinessHours))}
    for d in doc.business_hours:
        key = (d.weekday, d.opens, d.closes)
        if rows.pop(key, None) is None:
            session.add(BusinessHours(id=new_id(), weekday=d.weekday, opens=d.opens, closes=d.closes))
            count.created += 1
        else:
            count.unchanged += 1
    for row in rows.values():
        session.delete(row)
        count.retired += 1


def _capacity(
    session: Session, doc: SetupDoc, groups: dict[str, BusinessUnitGroup], summary: ImportSummary
) -> None:
    count = summary["capacity"]
    rows = {c.group_id: c for c in session.scalars(select(CapacitySetting))}
    for d in doc.capacity:
        group_id = groups[d.group].id
        row = rows.pop(group_id, None)
        created = row is None
        if row is None:
            row = CapacitySetting(id=new_id(), group_id=group_id)
            session.add(row)
        count.tally(
            created,
            _set(
                row, bookable_percent=d.bookable_percent, overbooking_warn_percent=d.overbooking_warn_percent
            ),
        )
    for row in rows.values():  # the group falls back to 100 % bookable, no warning
        session.delete(row)
        count.retired += 1


def _preferences(session: Session, doc: SetupDoc, summary: ImportSummary) -> None:
    # Per-user preferences (user_id set) belong to the users, not to the setup file: left alone.
    value = {"fields": list(doc.booking_preferences.required_fields)}
    row = session.scalars(
        select(BookingPreference).where(
            BookingPreference.user_id.is_(None), BookingPreference.key == "required_fields"
        )
    ).first()
    if row is None:
        session.add(BookingPreference(id=new_id(), user_id=None, key="required_fields", value=value))
    summary["booking_preferences"].tally(row is None, row is not None and _set(row, value=value))


def _online_booking(session: Session, doc: SetupDoc, summary: ImportSummary) -> None:
    """The Web Scheduler's settings (models/web_booking.py): names resolved to ids."""
    from .web_booking import OnlineJobType, WebSettings, load_web_settings, save_web_settings

    d = doc.online_booking
    job_types = {j.name.casefold(): j.id for j in session.scalars(select(JobType))}
    units = {u.name.casefold(): u.id for u in session.scalars(select(BusinessUnit))}
    before = load_web_settings(session)
    settings = WebSettings(
        enabled=d.enabled,
        auto_book=d.auto_book,
        service_area_zips=frozenset(d.service_area_zips),
        job_types=tuple(
            OnlineJobType(
                job_types[o.job_type.casefold()],
                o.public_name or o.job_type,
                units.get(o.business_unit.casefold(), "") if o.business_unit else "",
            )
            for o in d.job_types
            if o.job_type.casefold() in job_types
        ),
        capacity_share_percent=d.capacity_share_percent,
        lead_time_hours=d.lead_time_hours,
        hold_minutes=d.hold_minutes,
        horizon_days=before.horizon_days,
        allowed_origins=tuple(d.allowed_origins),
        campaign=d.campaign,
        min_fill_seconds=before.min_fill_seconds,
        requests_per_phone_per_day=before.requests_per_phone_per_day,
        requests_per_address_per_hour=before.requests_per_address_per_hour,
    )
    existed = session.get(CompanySetting, "online_booking") is not None
    changed = save_web_settings(session, settings)
    summary["online_booking"].tally(not existed, existed and changed)
