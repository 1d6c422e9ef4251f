"""The services catalog and the company (name, time zone) as kinds of the setup screen, described as the
others in models/setup_edit.py: the setup file's readers and sentences, the same intents.

- A **service**'s code is set once: job types name it in their default services and jobs copy it into
  their line items. A service no job type names can be deleted (jobs keep their copy, as when the file
  drops it); one that is named is refused with the job types.
- The **company** is one record, kept where the file keeps it (``company_settings`` row ``company``).

Imported by models/setup_edit.py once its own kinds are defined; import ``models.setup_edit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .setup import CompanySetting, JobType, Service
from .setup_edit import Field, Kind
from .setup_validate import COMPANY_SPEC, SECTIONS


# -- services -----------------------------------------------------------------------------------------------
def _write_service(session: Session, row: Service, v: dict[str, Any]) -> None:
    for key in ("code", "name", "price", "duration_minutes"):
        if key in v:
            setattr(row, key, v[key])


def _job_types_naming(session: Session, row: Service) -> list[tuple[str, int]]:
    n = sum(
        1
        for services in session.scalars(select(JobType.default_services))
        if any(s.get("code") == row.code for s in services or [])
    )
    return [("job types' default services", n)] if n else []


SERVICE_KIND = Kind(
    "service",
    "Services",
    SECTIONS["services"],
    Service,
    (
        Field("code", "Code", create_only=True),
        Field("name", "Name"),
        Field("price", "Price ($)"),
        Field("duration_minutes", "Duration (minutes)"),
    ),
    lambda r: {
        "code": r.code,
        "name": r.name,
        "price": f"{Decimal(str(r.price or 0)):.2f}",
        "duration_minutes": str(r.duration_minutes),
    },
    _write_service,
    retirable=False,
    keep_hint="a service isn't retired — delete it once no job type adds it (jobs keep their own copy)",
    delete_hint="take it out of their default services first (jobs keep their own copy)",
    label=lambda r: f"{r.code} · {r.name}",
    unique="code",
    used_by=_job_types_naming,
)


# -- the company ---------------------------------------------------------------------------------------------
@dataclass
class Company:
    id: str
    value: dict[str, Any]


def _fetch(session: Session, ident: str) -> Company | None:
    if ident != "company":
        return None
    row = session.get(CompanySetting, "company")
    return Company("company", dict(row.value or {}) if row is not None else {})


def _write_company(session: Session, row: Company, v: dict[str, Any]) -> None:
    stored = session.get(CompanySetting, "company")
    if stored is None:
        stored = CompanySetting(key="company", value={})
        session.add(stored)
    value = {**(stored.value or {}), **{k: v[k] for k in ("name", "time_zone") if k in v}}
    stored.value = value  # a new dict: the JSON column sees the change
    row.value = value


COMPANY_KIND = Kind(
    "company",
    "Company",
    COMPANY_SPEC,
    CompanySetting,
    (Field("name", "Company name"), Field("time_zone", "Time zone (e.g. America/Chicago)")),
    lambda r: {"name": str(r.value.get("name") or ""), "time_zone": str(r.value.get("time_zone") or "")},
    _write_company,
    retirable=False,
    keep_hint="the company is one record: change its name or time zone — it can't be added, retired or "
    "deleted",
    label=lambda r: str(r.value.get("name") or "The company"),
    fetch=_fetch,
    rows=lambda session: [_fetch(session, "company")],
    creatable=False,
    stored_as="company",
    unique="",
)
