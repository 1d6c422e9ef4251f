"""More kinds of setup record for the setup screen: business unit groups, campaign categories, tag types,
technicians (with their shifts) and capacity settings. Each is described exactly as the first six in
models/setup_edit.py — the setup file's reader and sentence for every field, the file's cross-record
rules (a shift ends after it starts and doesn't overlap another), retire instead of delete where the
table can be retired — and saved through the same ``setup_save`` / ``setup_retire`` / ``setup_delete``
intents (audit, conflicts, setup version, live sync).

Imported by models/setup_edit.py once its own kinds are defined (it adds these to ``KINDS``); import
``models.setup_edit``, not this module.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import setup_fields as f
from .customers import TagType
from .setup import (
    BookingPreference,
    BusinessHours,
    BusinessUnit,
    BusinessUnitGroup,
    CampaignCategory,
    CapacitySetting,
    JobType,
    Service,
    Technician,
)
from .setup_doc import REQUIRED_FIELD_CHOICES, WEEKDAY_NAMES, WEEKDAYS
from .setup_edit import Field, Kind, _refs, _who, typed_mark
from .setup_validate import _SHIFT, PREFERENCES_SPEC, SECTIONS, check_hours, check_shifts
from .validation import ValidationFailed

_STR = "tag:yaml.org,2002:str"
_SERVICE_LINE = re.compile(r"^\s*(\S+)(?:\s*[x×*]\s*(\S+))?\s*$")
_SHIFT_LINE = re.compile(r"^\s*(\S+)\s+(\S+)\s*[-–]\s*(\S+)\s*$")


# -- name-only kinds (no ``active`` column: nothing to retire; a used one can't be deleted) -----------------
def _write_name(session: Session, row: Any, v: dict[str, Any]) -> None:
    if "name" in v:
        row.name = v["name"]


# -- tag types --------------------------------------------------------------------------------------------
def _write_tag_type(session: Session, row: TagType, v: dict[str, Any]) -> None:
    for key in ("name", "color"):
        if key in v:
            setattr(row, key, v[key])


# -- technicians and their shifts -------------------------------------------------------------------------
def _shift_nodes(text: str) -> Node:
    """One shift a line, "mon 08:00-17:00", as the file's list of shift records (each line keeps its
    number, so the file's rules can name it)."""
    items = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        m = _SHIFT_LINE.match(line)
        if m is None:
            raise f.Bad(f"each line is one shift, such as 'mon 08:00-17:00' — not '{line.strip()}'")
        pairs = [
            (
                ScalarNode(_STR, key, typed_mark(i), typed_mark(i)),
                ScalarNode(_STR, value, typed_mark(i), typed_mark(i)),
            )
            for key, value in zip(("weekday", "start", "end"), m.groups(), strict=True)
        ]
        items.append(MappingNode("tag:yaml.org,2002:map", pairs, typed_mark(i), typed_mark(i)))
    return SequenceNode("tag:yaml.org,2002:seq", items, typed_mark(0), typed_mark(0))


def _read_shifts(node: Node, key: str, ctx: f.Ctx) -> list:
    shifts = f.records(_SHIFT)(node, key, ctx)
    check_shifts(ctx, shifts, ctx.where)
    return shifts


def _shift_text(shifts: list[dict[str, Any]]) -> str:
    return "\n".join(f"{WEEKDAYS[s['weekday']]} {s['start']}-{s['end']}" for s in shifts or [])


def _write_technician(session: Session, row: Technician, v: dict[str, Any]) -> None:
    if "name" in v:
        row.name = v["name"]
    if "business_unit" in v:
        unit = _refs(
            session,
            BusinessUnit,
            [v["business_unit"]],
            "business_unit",
            _who(row, v),
            "business unit",
            "business_units",
        )[0]
        row.business_unit_id = unit.id
    if "skills" in v:
        row.skills = list(v["skills"])
    if "shifts" in v:
        row.shifts = [
            {"weekday": s.weekday, "start": f"{s.start:%H:%M}", "end": f"{s.end:%H:%M}"}
            for s in sorted(v["shifts"], key=lambda s: (s.weekday, s.start))
        ]


def _unit_name(row: Technician) -> str:
    if row.business_unit is not None:
        return row.business_unit.name
    return ""


# -- capacity settings (one per business unit group) -----------------------------------------------------
def _group_name(row: CapacitySetting) -> str:
    session = object_session(row)
    group = session.get(BusinessUnitGroup, row.group_id) if session is not None and row.group_id else None
    return group.name if group is not None else ""


def _write_capacity(session: Session, row: CapacitySetting, v: dict[str, Any]) -> None:
    if "group" in v:
        group = _refs(
            session, BusinessUnitGroup, [v["group"]], "group", "capacity", "group", "business_unit_groups"
        )[0]
        other = session.scalar(select(CapacitySetting).where(CapacitySetting.group_id == group.id))
        if other is not None and other is not row:
            raise ValidationFailed(
                {"group": f"group '{group.name}' already has capacity settings — edit those instead"}
            )
        row.group_id = group.id
    for key in ("bookable_percent", "overbooking_warn_percent"):
        if key in v:
            setattr(row, key, v[key])


# -- business hours (rows of weekday, opens, closes; several a day allowed, never overlapping) ------------
def _hours_label(row: BusinessHours) -> str:
    if row.weekday is None or row.opens is None or row.closes is None:
        return ""
    return f"{WEEKDAY_NAMES[row.weekday]} {row.opens:%H:%M}–{row.closes:%H:%M}"


def _write_hours(session: Session, row: BusinessHours, v: dict[str, Any]) -> None:
    for key in ("weekday", "opens", "closes"):
        if key in v:
            setattr(row, key, v[key])
    # The day's other hours, as stored (the row itself, already changed in memory, is left out).
    day = [
        h
        for h in session.scalars(select(BusinessHours).where(BusinessHours.weekday == row.weekday))
        if h.id != row.id
    ]
    ctx = f.Ctx()
    check_hours(
        ctx,
        [SimpleNamespace(weekday=h.weekday, opens=h.opens, closes=h.closes, lines={}) for h in [*day, row]],
    )
    if ctx.problems:
        raise ValidationFailed({"closes": ctx.problems[0][1]})


# -- booking preferences (the company-wide required fields; a user's own preferences are theirs) ---------
def _write_preferences(session: Session, row: BookingPreference, v: dict[str, Any]) -> None:
    other = session.scalar(
        select(BookingPreference).where(
            BookingPreference.user_id.is_(None), BookingPreference.key == "required_fields"
        )
    )
    if other is not None and other is not row:
        raise ValidationFailed(
            {"required_fields": "the company's required fields are already set — edit those instead"}
        )
    row.user_id, row.key = None, "required_fields"
    if "required_fields" in v:
        row.value = {"fields": list(v["required_fields"])}


# -- a job type's skills, default tags and default services (the fields the first screen left to the file)
def _service_nodes(text: str) -> Node:
    """One default service a line, "DRAIN-CLEAR" or "DRAIN-CLEAR x 2", as the file's records."""
    items = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        m = _SERVICE_LINE.match(line)
        if m is None:
            raise f.Bad(f"each line is one service, as 'CODE' or 'CODE x 2' — not '{line.strip()}'")
        cells = [("code", m[1])] + ([("quantity", m[2])] if m[2] else [])
        pairs = [
            (
                ScalarNode(_STR, k, typed_mark(i), typed_mark(i)),
                ScalarNode(_STR, v, typed_mark(i), typed_mark(i)),
            )
            for k, v in cells
        ]
        items.append(MappingNode("tag:yaml.org,2002:map", pairs, typed_mark(i), typed_mark(i)))
    return SequenceNode("tag:yaml.org,2002:seq", items, typed_mark(0), typed_mark(0))


def _quantity(value: Any) -> int | float:
    return int(value) if value == int(value) else float(value)


def _service_text(services: list[dict[str, Any]]) -> str:
    return "\n".join(
        s["code"] if float(s.get("quantity") or 1) == 1 else f"{s['code']} x {s['quantity']}"
        for s in services or []
    )


def _write_job_type_more(session: Session, row: JobType, v: dict[str, Any]) -> None:
    who = _who(row, v)
    if "skills" in v:
        row.skills = list(v["skills"])
    if "default_tags" in v:
        row.default_tags = [
            t.name
            for t in _refs(session, TagType, v["default_tags"], "default_tags", who, "tag", "tag_types")
        ]
    if "default_services" in v:
        codes = set(session.scalars(select(Service.code)))
        for ds in v["default_services"]:
            if ds.code not in codes:
                raise ValidationFailed(
                    {
                        "default_services": f"{who} adds service '{ds.code}', which isn't in the services "
                        f"catalog{f.suggest(ds.code, codes)}"
                    }
                )
        row.default_services = [
            {"code": ds.code, "quantity": _quantity(ds.quantity)} for ds in v["default_services"]
        ]


def extend_job_type(kind: Kind) -> Kind:
    """The job type kind with its skills, default tags and default services (as in the setup file)."""
    base_read, base_write = kind.read, kind.write

    def read(row: JobType) -> dict[str, str]:
        return {
            **base_read(row),
            "skills": ", ".join(row.skills or []),
            "default_tags": ", ".join(row.default_tags or []),
            "default_services": _service_text(row.default_services),
        }

    def write(session: Session, row: JobType, v: dict[str, Any]) -> None:
        base_write(session, row, v)
        _write_job_type_more(session, row, v)

    extra = (
        Field("skills", "Skills a technician needs", "list"),
        Field("default_tags", "Default tags", "list", ref="tag_type"),
        Field(
            "default_services",
            "Default services (one a line: CODE or CODE x 2)",
            "multiline",
            node=_service_nodes,
        ),
    )
    return replace(kind, fields=(*kind.fields, *extra), read=read, write=write)


MORE_KINDS: tuple[Kind, ...] = (
    Kind(
        "business_unit_group",
        "Business unit groups",
        SECTIONS["business_unit_groups"],
        BusinessUnitGroup,
        (Field("name", "Name"),),
        lambda r: {"name": r.name},
        _write_name,
        retirable=False,
        keep_hint="a business unit group isn't retired — move its business units to another group, then "
        "delete it",
        delete_hint="move them to another group first",
    ),
    Kind(
        "campaign_category",
        "Campaign categories",
        SECTIONS["campaign_categories"],
        CampaignCategory,
        (Field("name", "Name"),),
        lambda r: {"name": r.name},
        _write_name,
        retirable=False,
        keep_hint="a campaign category isn't retired — give its campaigns another category (or none), then "
        "delete it",
        delete_hint="give them another category (or none) first",
    ),
    Kind(
        "tag_type",
        "Tag types",
        SECTIONS["tag_types"],
        TagType,
        (Field("name", "Name"), Field("color", "Color (#rrggbb)")),
        lambda r: {"name": r.name, "color": r.color or ""},
        _write_tag_type,
    ),
    Kind(
        "technician",
        "Technicians",
        SECTIONS["technicians"],
        Technician,
        (
            Field("name", "Name"),
            Field("business_unit", "Business unit", "choice", ref="business_unit"),
            Field("skills", "Skills", "list"),
            Field(
                "shifts",
                "Shifts (one a line: mon 08:00-17:00)",
                "multiline",
                reader=_read_shifts,
                node=_shift_nodes,
            ),
        ),
        lambda r: {
            "name": r.name,
            "business_unit": _unit_name(r),
            "skills": ", ".join(r.skills or []),
            "shifts": _shift_text(r.shifts),
        },
        _write_technician,
    ),
    Kind(
        "capacity",
        "Capacity",
        SECTIONS["capacity"],
        CapacitySetting,
        (
            Field("group", "Group", "choice", ref="business_unit_group", create_only=True),
            Field("bookable_percent", "Bookable (% of the technicians' hours)"),
            Field("overbooking_warn_percent", "Warn when booked past (%)"),
        ),
        lambda r: {
            "group": _group_name(r),
            "bookable_percent": str(r.bookable_percent),
            "overbooking_warn_percent": str(r.overbooking_warn_percent),
        },
        _write_capacity,
        retirable=False,
        keep_hint="capacity settings aren't retired — set Bookable to 0 to stop booking the group, or delete "
        "them to go back to the defaults",
        label=_group_name,
    ),
    Kind(
        "business_hours",
        "Business hours",
        SECTIONS["business_hours"],
        BusinessHours,
        (
            Field("weekday", "Day", "choice", choices=WEEKDAY_NAMES),
            Field("opens", "Opens (HH:MM)"),
            Field("closes", "Closes (HH:MM)"),
        ),
        lambda r: {
            "weekday": WEEKDAY_NAMES[r.weekday],
            "opens": f"{r.opens:%H:%M}",
            "closes": f"{r.closes:%H:%M}",
        },
        _write_hours,
        retirable=False,
        keep_hint="business hours aren't retired — change them, or delete the hours the company no longer "
        "keeps (closed days: holidays in Availability, Ctrl+Alt+A)",
        label=_hours_label,
    ),
    Kind(
        "booking_preferences",
        "Booking preferences",
        PREFERENCES_SPEC,
        BookingPreference,
        (
            Field(
                "required_fields",
                f"Required when booking ({', '.join(REQUIRED_FIELD_CHOICES)})",
                "list",
            ),
        ),
        lambda r: {"required_fields": ", ".join((r.value or {}).get("fields", []))},
        _write_preferences,
        retirable=False,
        keep_hint="booking preferences aren't retired — clear the required fields instead",
        label=lambda _r: "Required fields when booking",
        only=lambda: BookingPreference.user_id.is_(None) & (BookingPreference.key == "required_fields"),
    ),
)
