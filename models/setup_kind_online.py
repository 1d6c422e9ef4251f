"""The setup file's ``online_booking:`` section (the Web Scheduler, docs/web-scheduler.md) as one record of
the setup screen. It is kept where the file keeps it — ``company_settings`` row ``online_booking``
(models/web_booking.py), names resolved to ids — so a save is a ``setup_save`` like every other (audited,
conflicts, setup version, live sync). Every field is read by the file's reader, and the file's rules
hold: the online job types and their business units must exist (and the job type be booked there), an
enabled scheduler needs job types and an existing campaign.

The online job types are typed one a line: ``Job type | Public name | Business unit`` (the last two may
be left out). Imported by models/setup_edit.py once its own kinds are defined; import ``models.setup_edit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import setup_fields as f
from .setup import BusinessUnit, Campaign, CompanySetting, JobType
from .setup_edit import Field, Kind, _refs, _yes, typed_mark
from .setup_validate import ONLINE_SPEC
from .validation import ValidationFailed
from .web_booking import SETTINGS_KEY, OnlineJobType, WebSettings, load_web_settings, save_web_settings

_STR = "tag:yaml.org,2002:str"
_WHO = "online booking"


@dataclass
class OnlineBooking:
    """The one record: the stored settings and the names of what they point at (for the form)."""

    id: str
    settings: WebSettings
    names: dict[str, str]  # job type and business unit ids → names


def _names(session: Session) -> dict[str, str]:
    rows = [
        *session.execute(select(JobType.id, JobType.name)),
        *session.execute(select(BusinessUnit.id, BusinessUnit.name)),
    ]
    return {ident: name for ident, name in rows}


def _fetch(session: Session, ident: str) -> OnlineBooking | None:
    if ident != SETTINGS_KEY:
        return None
    return OnlineBooking(SETTINGS_KEY, load_web_settings(session), _names(session))


def _rows(session: Session) -> list[OnlineBooking]:
    return [OnlineBooking(SETTINGS_KEY, load_web_settings(session), _names(session))]


def _job_type_lines(record: OnlineBooking) -> str:
    out = []
    for j in record.settings.job_types:
        name = record.names.get(j.job_type_id, j.job_type_id)
        parts = [
            name,
            j.public_name if j.public_name != name else "",
            record.names.get(j.business_unit_id, ""),
        ]
        while parts and not parts[-1]:
            parts.pop()
        out.append(" | ".join(parts))
    return "\n".join(out)


def _read(record: OnlineBooking) -> dict[str, str]:
    s = record.settings
    return {
        "enabled": _yes(s.enabled),
        "auto_book": _yes(s.auto_book),
        "service_area_zips": ", ".join(sorted(s.service_area_zips)),
        "job_types": _job_type_lines(record),
        "capacity_share_percent": str(s.capacity_share_percent),
        "lead_time_hours": str(s.lead_time_hours),
        "hold_minutes": str(s.hold_minutes),
        "allowed_origins": ", ".join(s.allowed_origins),
        "campaign": s.campaign,
    }


def _job_type_nodes(text: str) -> Node:
    """One online job type a line, "AC Not Cooling | AC repair | HVAC Service", as the file's records."""
    items = []
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 or not cells[0]:
            raise f.Bad(
                f"each line is one job type, as 'Job type | Public name | Business unit' — not '{line.strip()}'"
            )
        pairs = [
            (
                ScalarNode(_STR, key, typed_mark(i), typed_mark(i)),
                ScalarNode(_STR, value, typed_mark(i), typed_mark(i)),
            )
            for key, value in zip(("job_type", "public_name", "business_unit"), cells, strict=False)
            if value
        ]
        items.append(MappingNode("tag:yaml.org,2002:map", pairs, typed_mark(i), typed_mark(i)))
    return SequenceNode("tag:yaml.org,2002:seq", items, typed_mark(0), typed_mark(0))


def _write(session: Session, row: OnlineBooking, v: dict[str, Any]) -> None:
    s = row.settings
    job_types = s.job_types
    if "job_types" in v:
        picked = []
        for o in v["job_types"]:
            jt = _refs(session, JobType, [o.job_type], "job_types", _WHO, "job type", "job_types")[0]
            unit_id = ""
            if o.business_unit:
                unit = _refs(
                    session,
                    BusinessUnit,
                    [o.business_unit],
                    "job_types",
                    _WHO,
                    "business unit",
                    "business_units",
                )[0]
                if unit.id not in {u.id for u in jt.business_units}:
                    raise ValidationFailed(
                        {"job_types": f"job type '{jt.name}' isn't booked in business unit '{unit.name}'"}
                    )
                unit_id = unit.id
            picked.append(OnlineJobType(jt.id, o.public_name or jt.name, unit_id))
        job_types = tuple(picked)
    changed = {
        k: v[k]
        for k in (
            "enabled",
            "auto_book",
            "capacity_share_percent",
            "lead_time_hours",
            "hold_minutes",
            "campaign",
        )
        if k in v
    }
    settings = WebSettings(
        enabled=changed.get("enabled", s.enabled),
        auto_book=changed.get("auto_book", s.auto_book),
        service_area_zips=frozenset(v["service_area_zips"])
        if "service_area_zips" in v
        else s.service_area_zips,
        job_types=job_types,
        capacity_share_percent=changed.get("capacity_share_percent", s.capacity_share_percent),
        lead_time_hours=changed.get("lead_time_hours", s.lead_time_hours),
        hold_minutes=changed.get("hold_minutes", s.hold_minutes),
        horizon_days=s.horizon_days,
        allowed_origins=tuple(v["allowed_origins"]) if "allowed_origins" in v else s.allowed_origins,
        campaign=changed.get("campaign", s.campaign),
        min_fill_seconds=s.min_fill_seconds,
        requests_per_phone_per_day=s.requests_per_phone_per_day,
        requests_per_address_per_hour=s.requests_per_address_per_hour,
    )
    if settings.enabled:
        campaigns = {c.casefold() for c in session.scalars(select(Campaign.name))}
        if settings.campaign and settings.campaign.casefold() not in campaigns:
            raise ValidationFailed(
                {
                    "campaign": f"online booking's campaign '{settings.campaign}' is not in campaigns; add it "
                    "(Campaigns, Ctrl+N)"
                }
            )
        if not settings.job_types:
            raise ValidationFailed(
                {"job_types": "online booking is enabled but lists no job_types customers may book"}
            )
    save_web_settings(session, settings)
    row.settings = settings


ONLINE_KIND = Kind(
    "online_booking",
    "Online booking",
    ONLINE_SPEC,
    CompanySetting,
    (
        Field("enabled", "Customers may book online", "check"),
        Field("auto_book", "Book at once (no CSR review)", "check"),
        Field("service_area_zips", "Service area ZIP codes", "list"),
        Field(
            "job_types",
            "Job types (one a line: Job type | Public name | Business unit)",
            "multiline",
            node=_job_type_nodes,
        ),
        Field("capacity_share_percent", "Share of capacity offered online (%)"),
        Field("lead_time_hours", "Lead time (hours)"),
        Field("hold_minutes", "Hold a slot while booking (minutes)"),
        Field("allowed_origins", "Web sites that may embed it", "list"),
        Field("campaign", "Campaign credited"),
    ),
    _read,
    _write,
    retirable=False,
    keep_hint="online booking is one set of settings: turn it off with 'Customers may book online' — it "
    "can't be added, retired or deleted",
    label=lambda _r: "Web Scheduler settings",
    fetch=_fetch,
    rows=_rows,
    creatable=False,
    stored_as=SETTINGS_KEY,
)
