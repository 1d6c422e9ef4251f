"""The setup screen's further kinds (models/setup_kinds_more.py): business unit groups, campaign categories,
tag types, technicians with their shifts, capacity settings — each checked with the setup file's reader
and sentence, saved as a ``setup_save`` intent (audited, conflicts, setup version), retired where the
table can be, and refused a delete that history refers to. Also: list fields typed in the screen (a job
type's business units) are read at all — they failed before with an error the manager couldn't read."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.customers import TagType
from models.journal import AuditEntry
from models.setup import (
    BusinessUnitGroup,
    CampaignCategory,
    CapacitySetting,
    CompanySetting,
    JobType,
    Technician,
)
from models.setup_doc import SetupFileError
from models.setup_edit import KINDS, list_records
from models.setup_file import demo_setup_path, import_setup_file, parse_setup
from models.validation import ValidationFailed


@pytest.fixture
def setup_cache(cache):
    import_setup_file(cache, demo_setup_path())
    return cache


def _refused(writer, name: str, args: dict) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        writer.execute(name, args)
    return info.value.errors


def _save(writer, kind: str, values: dict, ident: str = "", seen: dict | None = None) -> str:
    args: dict = {"kind": kind, "values": values}
    if ident:
        args |= {"id": ident, "seen": seen or {}}
    return str(writer.execute("setup_save", args).args["id"])


def _one(cache, model, **by):
    with cache.sessions() as s:
        row = s.scalars(select(model).filter_by(**by)).one()
        s.expunge(row)
        return row


def _version(cache) -> str:
    with cache.sessions() as s:
        return s.get(CompanySetting, "setup_version").value["version"]


def test_every_new_kind_is_listed_with_its_records(setup_cache):
    with setup_cache.sessions() as s:
        for name in ("business_unit_group", "campaign_category", "tag_type", "technician", "capacity"):
            listing = list_records(s, KINDS[name])
            assert listing.rows, name
    with setup_cache.sessions() as s:
        techs = list_records(s, KINDS["technician"])
        ana = next(r for r in techs.rows if r[1] == "Ana Delgado")[3]
        assert ana["business_unit"] == "Plumbing Service"
        assert ana["shifts"].splitlines()[0] == "mon 10:00-19:00"
        assert "Plumbing Service" in techs.choices["business_unit"]


def test_a_technician_with_shifts_saved_and_the_files_shift_rules(setup_cache, writer):
    before = _version(setup_cache)
    errors = _refused(
        writer,
        "setup_save",
        {
            "kind": "technician",
            "values": {
                "name": "Zoe",
                "business_unit": "HVAC Service",
                "shifts": "mon 08:00-17:00\nmon 09:00-12:00",
            },
        },
    )
    assert errors == {"shifts": "technician 'Zoe' has overlapping Monday shifts: 08:00–17:00 and 09:00–12:00"}
    errors = _refused(
        writer,
        "setup_save",
        {
            "kind": "technician",
            "values": {"name": "Zoe", "business_unit": "HVAC Service", "shifts": "mnday 8-5"},
        },
    )
    assert (
        errors["shifts"]
        == "'mnday' is not a weekday (use mon, tue, wed, thu, fri, sat or sun) (did you mean 'mon'?)"
    )
    errors = _refused(
        writer,
        "setup_save",
        {
            "kind": "technician",
            "values": {"name": "Zoe", "business_unit": "HVAC Service", "shifts": "all week"},
        },
    )
    assert errors["shifts"] == "each line is one shift, such as 'mon 08:00-17:00' — not 'all week'"
    # The file says the same of the same shifts:
    with pytest.raises(SetupFileError) as info:
        parse_setup(
            demo_setup_path()
            .read_text()
            .replace(
                "technicians:\n",
                "technicians:\n  - name: Zoe\n    business_unit: HVAC Service\n"
                '    shifts:\n      - {weekday: mon, start: "08:00", end: "17:00"}\n'
                '      - {weekday: mon, start: "09:00", end: "12:00"}\n',
                1,
            )
        )
    assert "technician 'Zoe' has overlapping Monday shifts: 08:00–17:00 and 09:00–12:00" in [
        m for _l, m in info.value.problems
    ]
    ident = _save(
        writer,
        "technician",
        {
            "name": "Zoe",
            "business_unit": "HVAC Service",
            "skills": "AC repair, Heat pumps",
            "shifts": "tue 09:00-12:00\nmon 08:00-17:00",
        },
    )
    zoe = _one(setup_cache, Technician, id=ident)
    assert zoe.skills == ["AC repair", "Heat pumps"]
    assert zoe.shifts == [
        {"weekday": 0, "start": "08:00", "end": "17:00"},
        {"weekday": 1, "start": "09:00", "end": "12:00"},
    ]
    assert _version(setup_cache) != before
    errors = _refused(
        writer,
        "setup_save",
        {"kind": "technician", "id": ident, "values": {"business_unit": "HVAC Servce"}, "seen": {}},
    )
    assert errors["business_unit"].startswith(
        "technician 'Zoe' names business unit 'HVAC Servce', which isn't in"
    )
    assert "did you mean 'HVAC Service'" in errors["business_unit"]
    # Retire, not delete: the technician stays for history, no longer offered.
    writer.execute("setup_retire", {"kind": "technician", "id": ident, "active": False})
    assert _one(setup_cache, Technician, id=ident).active is False


def test_a_technicians_save_over_another_managers_change_is_a_conflict_and_is_audited(setup_cache, writer):
    ana = _one(setup_cache, Technician, name="Ana Delgado")
    seen = KINDS["technician"].read
    with setup_cache.sessions() as s:
        shown = seen(s.get(Technician, ana.id))
    _save(writer, "technician", {"skills": "Water heaters"}, ana.id, {"skills": shown["skills"]})
    errors = _refused(
        writer,
        "setup_save",
        {
            "kind": "technician",
            "id": ana.id,
            "values": {"skills": "Leak repair"},
            "seen": {"skills": shown["skills"]},
        },
    )
    assert errors["conflict"].startswith(
        "Someone else changed technician 'Ana Delgado' meanwhile: Skills is now 'Water heaters'"
    )
    with setup_cache.sessions() as s:
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == ana.id).order_by(AuditEntry.id)
        ).all()
    assert [a.action for a in audit] == ["setup_save"]  # the refused save wrote nothing
    assert audit[0].details["seen"] == {"skills": shown["skills"]}
    assert audit[0].details["values"] == {"skills": "Water heaters"}


def test_tag_types_colors_as_in_the_file_and_retire(setup_cache, writer):
    errors = _refused(writer, "setup_save", {"kind": "tag_type", "values": {"name": "VIP+", "color": "red"}})
    assert errors == {"color": '\'red\' is not a color (use "#rrggbb", e.g. "#607d8b")'}
    ident = _save(writer, "tag_type", {"name": "VIP+", "color": "#AA00FF"})
    assert _one(setup_cache, TagType, id=ident).color == "#aa00ff"
    errors = _refused(
        writer, "setup_save", {"kind": "tag_type", "values": {"name": "vip+", "color": "#000000"}}
    )
    assert errors == {"name": "there is already a tag type named 'VIP+'"}
    writer.execute("setup_retire", {"kind": "tag_type", "id": ident, "active": False})
    assert _one(setup_cache, TagType, id=ident).active is False


def test_groups_and_categories_renamed_deleted_when_unused_and_never_retired(setup_cache, writer):
    plumbing = _one(setup_cache, BusinessUnitGroup, name="Plumbing")
    errors = _refused(writer, "setup_delete", {"kind": "business_unit_group", "id": plumbing.id})
    assert errors["id"].startswith("business unit group 'Plumbing' can't be deleted: 2 business units")
    assert errors["id"].endswith("refer to it — move them to another group first")
    errors = _refused(
        writer, "setup_retire", {"kind": "business_unit_group", "id": plumbing.id, "active": False}
    )
    assert errors["id"].startswith("a business unit group isn't retired")
    _save(writer, "business_unit_group", {"name": "Plumbing & Drains"}, plumbing.id, {"name": "Plumbing"})
    assert _one(setup_cache, BusinessUnitGroup, id=plumbing.id).name == "Plumbing & Drains"
    ident = _save(writer, "campaign_category", {"name": "Radio"})
    writer.execute("setup_delete", {"kind": "campaign_category", "id": ident})
    with setup_cache.sessions() as s:
        assert s.get(CampaignCategory, ident) is None
    used = _one(setup_cache, CampaignCategory, name="Online")
    errors = _refused(writer, "setup_delete", {"kind": "campaign_category", "id": used.id})
    assert errors["id"].endswith("give them another category (or none) first")


def test_capacity_one_per_group_with_the_files_ranges(setup_cache, writer):
    electrical = _one(setup_cache, BusinessUnitGroup, name="Electrical")
    row = _one(setup_cache, CapacitySetting, group_id=electrical.id)
    errors = _refused(
        writer,
        "setup_save",
        {"kind": "capacity", "id": row.id, "values": {"bookable_percent": "250"}, "seen": {}},
    )
    assert errors == {"bookable_percent": "'bookable_percent' must be between 0 and 200, not 250"}
    _save(writer, "capacity", {"bookable_percent": "80"}, row.id, {"bookable_percent": "100"})
    assert _one(setup_cache, CapacitySetting, id=row.id).bookable_percent == 80
    errors = _refused(writer, "setup_save", {"kind": "capacity", "values": {"group": "Electrical"}})
    assert errors == {"group": "group 'Electrical' already has capacity settings — edit those instead"}
    errors = _refused(writer, "setup_save", {"kind": "capacity", "values": {"group": "Roofing"}})
    assert errors["group"].startswith("capacity names group 'Roofing', which isn't in business_unit_groups")
    # The group is set once: another group is refused, not silently moved.
    errors = _refused(
        writer, "setup_save", {"kind": "capacity", "id": row.id, "values": {"group": "Plumbing"}, "seen": {}}
    )
    assert errors == {"group": "a capacity for group's group can't be changed once it is set"}


def test_a_list_typed_in_the_screen_is_read(setup_cache, writer):
    ident = _save(
        writer, "job_type", {"name": "Duct cleaning", "business_units": "HVAC Service, Plumbing Service"}
    )
    with setup_cache.sessions() as s:
        assert sorted(u.name for u in s.get(JobType, ident).business_units) == [
            "HVAC Service",
            "Plumbing Service",
        ]
    errors = _refused(
        writer,
        "setup_save",
        {"kind": "job_type", "values": {"name": "Vents", "business_units": "HVAC Service, hvac service"}},
    )
    assert errors["business_units"].startswith("job type 'Vents' lists business unit 'hvac service' twice")


def test_business_hours_by_the_files_rules(setup_cache, writer):
    errors = _refused(
        writer,
        "setup_save",
        {"kind": "business_hours", "values": {"weekday": "Monday", "opens": "12:00", "closes": "13:00"}},
    )
    assert errors == {"closes": "business hours for Monday overlap: 07:00–19:00 and 12:00–13:00"}
    errors = _refused(
        writer,
        "setup_save",
        {"kind": "business_hours", "values": {"weekday": "Sunday", "opens": "12:00", "closes": "11:00"}},
    )
    assert errors["closes"].startswith("business hours for Sunday close at 11:00, before they open at 12:00")
    ident = _save(writer, "business_hours", {"weekday": "Sunday", "opens": "10:00", "closes": "14:00"})
    with setup_cache.sessions() as s:
        listing = list_records(s, KINDS["business_hours"])
    assert next(r for r in listing.rows if r[0] == ident)[1] == "Sunday 10:00–14:00"
    # Changing a day's hours is checked against the day's other hours, not against themselves.
    _save(writer, "business_hours", {"opens": "09:00"}, ident, {"opens": "10:00"})
    writer.execute("setup_delete", {"kind": "business_hours", "id": ident})
    errors = _refused(
        writer, "setup_retire", {"kind": "business_hours", "id": listing.rows[0][0], "active": False}
    )
    assert errors["id"].startswith("business hours aren't retired")


def test_booking_preferences_required_fields_reach_the_booking_setup(setup_cache, writer):
    from models.setup_data import load_setup

    with setup_cache.sessions() as s:
        (row,) = list_records(s, KINDS["booking_preferences"]).rows
    errors = _refused(
        writer,
        "setup_save",
        {
            "kind": "booking_preferences",
            "id": row[0],
            "values": {"required_fields": "summary, tagz"},
            "seen": row[3],
        },
    )
    assert errors == {
        "required_fields": "'tagz' can't be used here; choose from summary, technician, tags, priority (did you mean 'tags'?)"
    }
    _save(writer, "booking_preferences", {"required_fields": "summary, tags"}, row[0], row[3])
    with setup_cache.sessions() as s:
        assert load_setup(s).required_fields == {"summary", "tags"}
    errors = _refused(
        writer, "setup_save", {"kind": "booking_preferences", "values": {"required_fields": "tags"}}
    )
    assert errors == {"required_fields": "the company's required fields are already set — edit those instead"}


def test_a_job_types_skills_default_tags_and_services(setup_cache, writer):
    with setup_cache.sessions() as s:
        row = next(r for r in list_records(s, KINDS["job_type"]).rows if r[1] == "AC Not Cooling")
    ident, shown = row[0], row[3]
    assert (shown["skills"], shown["default_services"]) == ("AC repair", "HV-DIAG")

    def refused(values):
        return _refused(
            writer,
            "setup_save",
            {"kind": "job_type", "id": ident, "values": values, "seen": {k: shown[k] for k in values}},
        )

    assert refused({"default_tags": "Emergncy"}) == {
        "default_tags": "job type 'AC Not Cooling' names tag 'Emergncy', which isn't in tag_types (did you mean 'Emergency'?)"
    }
    assert refused({"default_services": "NOPE x 2"}) == {
        "default_services": "job type 'AC Not Cooling' adds service 'NOPE', which isn't in the services catalog"
    }
    assert refused({"default_services": "HV-DIAG, HV-CAP"}) == {
        "default_services": "each line is one service, as 'CODE' or 'CODE x 2' — not 'HV-DIAG, HV-CAP'"
    }
    values = {
        "skills": "AC repair, Refrigerant",
        "default_tags": "emergency",
        "default_services": "HV-DIAG\nHV-CAP x 2",
    }
    _save(writer, "job_type", values, ident, {k: shown[k] for k in values})
    jt = _one(setup_cache, JobType, id=ident)
    assert jt.skills == ["AC repair", "Refrigerant"]
    assert jt.default_tags == ["Emergency"]  # the tag type's own spelling
    assert jt.default_services == [{"code": "HV-DIAG", "quantity": 1}, {"code": "HV-CAP", "quantity": 2}]
    with setup_cache.sessions() as s:
        again = next(r for r in list_records(s, KINDS["job_type"]).rows if r[0] == ident)[3]
    assert again["default_services"] == "HV-DIAG\nHV-CAP x 2"
