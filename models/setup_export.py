"""Writing the cache's setup as a setup file (docs/setup-file.md) in one canonical layout.

The same cache always gives the same text (sorted records, no timestamps), so exports can be
diffed and kept in version control. YAML is emitted from a node tree rather than yaml.dump so each
value gets the style a reader expects: times and colors in double quotes, short records on one line.
"""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .customers import TagType
from .notify_setup import export_node
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
)
from .setup_doc import FORMAT_VERSION, WEEKDAYS

HEADER = "# CSR Console setup file, written by `csr-console setup export`. Format: docs/setup-file.md\n"
_T = "tag:yaml.org,2002:"


class NoSetupError(LookupError):
    """The cache has no setup to export yet."""


class _Dumper(yaml.SafeDumper):
    # Indent list items under their key ("key:\n  - item"), as people write YAML by hand.
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _s(value: str, style: str | None = None) -> ScalarNode:
    return ScalarNode(_T + "str", value, style=style)


def _v(value: Any) -> Node:
    """A plain Python value as a node: bool, int, Decimal (2 places), time ("HH:MM"), str or list."""
    if isinstance(value, Node):
        return value
    if isinstance(value, bool):
        return ScalarNode(_T + "bool", "true" if value else "false")
    if isinstance(value, int):
        return ScalarNode(_T + "int", str(value))
    if isinstance(value, Decimal):
        return ScalarNode(_T + "float", f"{value:.2f}")
    if isinstance(value, time):
        return _s(f"{value:%H:%M}", '"')
    if isinstance(value, list):
        return SequenceNode(_T + "seq", [_v(v) for v in value], flow_style=True)
    return _s(str(value), "|" if "\n" in str(value) else None)


def _map(flow: bool = False, **pairs: Any) -> MappingNode:
    return MappingNode(
        _T + "map", [(_s(k), _v(v)) for k, v in pairs.items() if v is not None], flow_style=flow
    )


def _seq(items: list[Node]) -> SequenceNode:
    return SequenceNode(_T + "seq", items, flow_style=False)


def _quantity(value: Any) -> Node:
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return ScalarNode(_T + "int", str(int(number)))
    return ScalarNode(_T + "float", format(number.normalize(), "f"))


def _key(name: str) -> str:
    return name.casefold()


def export_setup(session: Session) -> str:
    """The cache's setup as setup-file text; raises NoSetupError when nothing was imported yet."""
    company = session.get(CompanySetting, "company")
    if company is None:
        raise NoSetupError("This cache has no setup yet; import a setup file first.")
    groups = sorted(session.scalars(select(BusinessUnitGroup)), key=lambda g: _key(g.name))
    group_name = {g.id: g.name for g in groups}
    units = sorted(
        session.scalars(select(BusinessUnit).where(BusinessUnit.active)),
        key=lambda u: (_key(group_name[u.group_id]), _key(u.name)),
    )
    unit_name = {u.id: u.name for u in units}
    tags = sorted(session.scalars(select(TagType).where(TagType.active)), key=lambda t: _key(t.name))
    tag_names = {t.name for t in tags}
    services = sorted(session.scalars(select(Service)), key=lambda s: _key(s.code))
    codes = {s.code for s in services}
    categories = sorted(session.scalars(select(CampaignCategory)), key=lambda c: _key(c.name))
    category_name = {c.id: c.name for c in categories}

    sections: dict[str, Node] = {
        "version": _v(FORMAT_VERSION),
        "company": _map(name=company.value.get("name", ""), time_zone=company.value.get("time_zone", "")),
        "business_unit_groups": _seq([_map(name=g.name) for g in groups]),
        "business_units": _seq(
            [_map(True, name=u.name, group=group_name[u.group_id], trade=u.trade or "") for u in units]
        ),
        "services": _seq(
            [
                _map(
                    True,
                    code=s.code,
                    name=s.name,
                    price=Decimal(str(s.price or 0)),
                    duration_minutes=s.duration_minutes,
                )
                for s in services
            ]
        ),
        "tag_types": _seq([_map(True, name=t.name, color=_s(t.color, '"')) for t in tags]),
        "job_types": _seq(_job_types(session, unit_name, tag_names, codes)),
        "campaign_categories": _seq([_map(name=c.name) for c in categories]),
        "campaigns": _seq(_campaigns(session, category_name)),
        "call_reasons": _seq(
            [
                _map(True, name=r.name, is_lead=r.is_lead)
                for r in sorted(
                    session.scalars(select(CallReason).where(CallReason.active)),
                    key=lambda r: (not r.is_lead, _key(r.name)),
                )
            ]
        ),
        "arrival_windows": _seq(_windows(session, unit_name)),
        "business_hours": _seq(
            [
                _map(True, weekday=WEEKDAYS[h.weekday], opens=h.opens, closes=h.closes)
                for h in sorted(
                    session.scalars(select(BusinessHours)), key=lambda h: (h.weekday, h.opens, h.closes)
                )
            ]
        ),
        "technicians": _seq(_technicians(session, unit_name)),
        "capacity": _seq(
            [
                _map(
                    True,
                    group=group_name[c.group_id],
                    bookable_percent=c.bookable_percent,
                    overbooking_warn_percent=c.overbooking_warn_percent,
                )
                for c in sorted(
                    session.scalars(select(CapacitySetting)),
                    key=lambda c: _key(group_name.get(c.group_id, "")),
                )
                if c.group_id in group_name
            ]
        ),
        "booking_preferences": _map(required_fields=_required_fields(session)),
        "online_booking": _online_booking(session, unit_name),
    }
    notifications = session.get(CompanySetting, "notifications")
    if notifications is not None and (node := export_node(notifications.value)) is not None:
        sections["notifications"] = node
    root = MappingNode(_T + "map", [(_s(k), v) for k, v in sections.items()])
    body = yaml.serialize(root, Dumper=_Dumper, allow_unicode=True, width=1000, indent=2)
    # A blank line before each section, to read the file section by section.
    lines = body.splitlines()
    spaced = [line if i == 0 or line[:1] in (" ", "-", "") else "\n" + line for i, line in enumerate(lines)]
    return HEADER + "\n" + "\n".join(spaced) + "\n"


def _job_types(
    session: Session, unit_name: dict[str, str], tag_names: set[str], codes: set[str]
) -> list[Node]:
    out = []
    rows = session.scalars(
        select(JobType).where(JobType.active).options(selectinload(JobType.business_units))
    )
    for j in sorted(rows, key=lambda j: _key(j.name)):
        # Only active units can be named in a file; a job type left with none can't be offered anyway.
        units = sorted((unit_name[u.id] for u in j.business_units if u.id in unit_name), key=_key)
        if not units:
            continue
        out.append(
            _map(
                name=j.name,
                business_units=units,
                priority=str(j.priority.value),
                duration_minutes=j.duration_minutes,
                skills=list(j.skills or []),
                default_tags=[t for t in j.default_tags or [] if t in tag_names],
                summary_template=j.summary_template or "",
                default_services=_seq(
                    [
                        MappingNode(
                            _T + "map",
                            [
                                (_s("code"), _s(str(d["code"]))),
                                (_s("quantity"), _quantity(d.get("quantity", 1))),
                            ],
                            flow_style=True,
                        )
                        for d in j.default_services or []
                        if d.get("code") in codes
                    ]
                ),
            )
        )
    return out


def _campaigns(session: Session, category_name: dict[str, str]) -> list[Node]:
    # Retired campaigns are written too (active: false): their tracking numbers stay theirs forever,
    # and an admin editing the file should see that a number is taken.
    out = []
    rows = session.scalars(select(Campaign).options(selectinload(Campaign.tracking_numbers)))
    for c in sorted(rows, key=lambda c: _key(c.name)):
        numbers = [
            _map(
                True,
                number=format_phone(t.number),
                default_call_type=str(t.default_call_type.value),
                label=t.label or "",
            )
            for t in sorted(c.tracking_numbers, key=lambda t: t.number)
        ]
        out.append(
            _map(
                name=c.name,
                category=category_name.get(c.category_id or ""),
                active=c.active,
                monthly_cost=None if c.monthly_cost is None else Decimal(str(c.monthly_cost)),
                tracking_numbers=_seq(numbers),
            )
        )
    return out


def _windows(session: Session, unit_name: dict[str, str]) -> list[Node]:
    out = []
    rows = session.scalars(
        select(ArrivalWindow).where(ArrivalWindow.active).options(selectinload(ArrivalWindow.business_units))
    )
    for w in sorted(rows, key=lambda w: (w.start, w.end, _key(w.name))):
        units = sorted((unit_name[u.id] for u in w.business_units if u.id in unit_name), key=_key)
        if w.business_units and not units:
            continue  # limited to retired units only: writing [] would open it to every unit
        out.append(_map(name=w.name, start=w.start, end=w.end, business_units=units, same_day=w.same_day))
    return out


def _technicians(session: Session, unit_name: dict[str, str]) -> list[Node]:
    out = []
    rows = session.scalars(select(Technician).where(Technician.active))
    for t in sorted(
        (t for t in rows if t.business_unit_id in unit_name),
        key=lambda t: (_key(unit_name[t.business_unit_id]), _key(t.name)),
    ):
        shifts = [
            _map(
                True,
                weekday=WEEKDAYS[int(s["weekday"])],
                start=_s(str(s["start"]), '"'),
                end=_s(str(s["end"]), '"'),
            )
            for s in sorted(t.shifts or [], key=lambda s: (int(s["weekday"]), str(s["start"])))
        ]
        out.append(
            _map(
                name=t.name,
                business_unit=unit_name[t.business_unit_id],
                skills=list(t.skills or []),
                shifts=_seq(shifts),
            )
        )
    return out


def _required_fields(session: Session) -> list[str]:
    row = session.scalars(
        select(BookingPreference).where(
            BookingPreference.user_id.is_(None), BookingPreference.key == "required_fields"
        )
    ).first()
    return list((row.value or {}).get("fields", [])) if row else []


def _online_booking(session: Session, unit_name: dict[str, str]) -> Node:
    from .web_booking import load_web_settings

    w = load_web_settings(session)
    job_type_name = dict(session.execute(select(JobType.id, JobType.name)).all())
    return _map(
        enabled=w.enabled,
        auto_book=w.auto_book,
        service_area_zips=SequenceNode(
            _T + "seq", [_s(z, '"') for z in sorted(w.service_area_zips)], flow_style=True
        ),
        capacity_share_percent=w.capacity_share_percent,
        lead_time_hours=w.lead_time_hours,
        hold_minutes=w.hold_minutes,
        allowed_origins=list(w.allowed_origins),
        campaign=w.campaign,
        job_types=_seq(
            [
                _map(
                    True,
                    job_type=job_type_name[j.job_type_id],
                    public_name=j.public_name,
                    business_unit=unit_name.get(j.business_unit_id) if j.business_unit_id else None,
                )
                for j in w.job_types
                if j.job_type_id in job_type_name
            ]
        ),
    )
