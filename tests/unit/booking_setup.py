"""A small, fully known setup for the booking and capacity tests (built through the ORM, so these
tests don't depend on the setup-file importer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from models.base import new_id
from models.customers import TagType
from models.setup import (
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

# Monday 30 Nov 2026, 08:00 in Dallas (UTC-6).
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
TUESDAY = date(2026, 12, 1)
SATURDAY = date(2026, 12, 5)
SUNDAY = date(2026, 12, 6)


@dataclass
class Ids:
    hvac: str
    hvac_install: str
    plumbing: str
    ac_repair: str  # HVAC Service, 120 min, skill HVAC
    install_estimate: str  # HVAC Install, 60 min, skill Sales
    drain: str  # Plumbing, 90 min
    google: str
    yard: str
    w8_12: str
    w8_10: str
    w12_4: str
    w_plumb_eve: str  # 16:00–18:00, Plumbing only
    tech_ann: str
    tech_bob: str
    tech_pat: str


def build_setup(
    session, *, techs_per_unit: int = 2, bookable_percent: int = 100, required: tuple[str, ...] = ("summary",)
) -> Ids:
    hvac_g = BusinessUnitGroup(id=new_id(), name="HVAC")
    plumb_g = BusinessUnitGroup(id=new_id(), name="Plumbing")
    hvac = BusinessUnit(id=new_id(), name="HVAC Service", group_id=hvac_g.id, trade="HVAC")
    hvac_install = BusinessUnit(id=new_id(), name="HVAC Install", group_id=hvac_g.id, trade="HVAC")
    plumbing = BusinessUnit(id=new_id(), name="Plumbing Service", group_id=plumb_g.id, trade="Plumbing")
    session.add_all([hvac_g, plumb_g, hvac, hvac_install, plumbing])
    session.add_all(
        [
            Service(id=new_id(), code="DIAG", name="Diagnostic", price=89, duration_minutes=60),
            Service(id=new_id(), code="TUNE", name="Tune-up", price=129, duration_minutes=60),
        ]
    )
    ac = JobType(
        id=new_id(),
        name="AC Not Cooling",
        priority="High",
        duration_minutes=120,
        skills=["HVAC"],
        default_tags=["Emergency"],
        summary_template="AC not cooling. Unit age: ",
        default_services=[{"code": "DIAG", "quantity": 1}],
        business_units=[hvac],
    )
    est = JobType(
        id=new_id(),
        name="Install Estimate",
        priority="Normal",
        duration_minutes=60,
        skills=["Sales"],
        business_units=[hvac_install],
    )
    drain = JobType(
        id=new_id(),
        name="Drain Clog",
        priority="Normal",
        duration_minutes=90,
        skills=[],
        business_units=[plumbing],
    )
    google = Campaign(id=new_id(), name="Google Local Services")
    yard = Campaign(id=new_id(), name="Yard signs")
    w8_12 = ArrivalWindow(id=new_id(), name="8–12", start=time(8), end=time(12))
    w8_10 = ArrivalWindow(id=new_id(), name="8–10", start=time(8), end=time(10))
    w12_4 = ArrivalWindow(id=new_id(), name="12–4", start=time(12), end=time(16), same_day=False)
    eve = ArrivalWindow(id=new_id(), name="4–6", start=time(16), end=time(18), business_units=[plumbing])
    session.add_all([ac, est, drain, google, yard, w8_12, w8_10, w12_4, eve])
    week = [{"weekday": d, "start": "08:00", "end": "17:00"} for d in range(0, 5)]
    techs = []
    names = iter(["Ann", "Bob", "Cy", "Dee", "Eve", "Flo"])
    for unit, skills in ((hvac, ["HVAC"]), (plumbing, ["Plumbing"])):
        for _ in range(techs_per_unit):
            techs.append(
                Technician(
                    id=new_id(),
                    name=next(names),
                    business_unit_id=unit.id,
                    skills=skills,
                    shifts=week + [{"weekday": 5, "start": "08:00", "end": "12:00"}],
                )
            )
    pat = Technician(
        id=new_id(),
        name="Pat",
        business_unit_id=hvac_install.id,
        skills=["Sales", "HVAC"],
        shifts=[{"weekday": 1, "start": "08:00", "end": "12:00"}],
    )
    session.add_all([*techs, pat])
    for g in (hvac_g, plumb_g):
        session.add(
            CapacitySetting(
                id=new_id(), group_id=g.id, bookable_percent=bookable_percent, overbooking_warn_percent=80
            )
        )
    for d in range(5):
        session.add(BusinessHours(id=new_id(), weekday=d, opens=time(7), closes=time(19)))
    session.add(BusinessHours(id=new_id(), weekday=5, opens=time(8), closes=time(12)))
    session.add(CompanySetting(key="company", value={"name": "Test Co", "time_zone": "America/Chicago"}))
    session.add(BookingPreference(id=new_id(), key="required_fields", value={"fields": list(required)}))
    session.add(TagType(id=new_id(), name="Emergency"))
    session.flush()
    return Ids(
        hvac.id,
        hvac_install.id,
        plumbing.id,
        ac.id,
        est.id,
        drain.id,
        google.id,
        yard.id,
        w8_12.id,
        w8_10.id,
        w12_4.id,
        eve.id,
        techs[0].id,
        techs[1].id,
        pat.id,
    )
