"""Editing setup records one at a time (models/setup_edit.py): the setup file's rules and sentences for
each field, conflicts when the record changed since the editor read it, retire instead of delete for
records history refers to, the audit's before/after, and the setup version bumped for every console."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from models.journal import AuditEntry
from models.setup import (
    ArrivalWindow,
    BusinessUnit,
    CallReason,
    CallType,
    Campaign,
    CompanySetting,
    TrackingNumber,
)
from models.setup_doc import SetupFileError
from models.setup_edit import KINDS, list_records
from models.setup_export import export_setup
from models.setup_file import demo_setup_path, import_setup_file, parse_setup
from models.validation import ValidationFailed


@pytest.fixture
def setup_cache(cache):
    import_setup_file(cache, demo_setup_path())
    return cache


def _version(cache) -> str:
    with cache.sessions() as s:
        return s.get(CompanySetting, "setup_version").value["version"]


def _file_problems(text: str) -> list[str]:
    with pytest.raises(SetupFileError) as info:
        parse_setup(text)
    return [m for _line, m in info.value.problems]


def test_each_field_is_checked_with_the_setup_files_sentence(setup_cache, writer):
    with pytest.raises(ValidationFailed) as info:
        writer.execute(
            "setup_save",
            {
                "kind": "arrival_window",
                "values": {"name": "Dawn", "start": "25:00", "end": "9:00", "same_day": "maybe"},
            },
        )
    errors = info.value.errors
    assert errors["start"] == "'25:00' is not a time (use HH:MM)"
    assert errors["same_day"] == "'same_day' must be true or false, not 'maybe'"
    # The very sentence the file gives for the same value:
    file_text = demo_setup_path().read_text().replace('start: "08:00"', 'start: "25:00"', 1)
    if file_text != demo_setup_path().read_text():
        assert errors["start"] in _file_problems(file_text)
    with setup_cache.sessions() as s:
        assert s.scalar(select(ArrivalWindow).where(ArrivalWindow.name == "Dawn")) is None


def test_a_window_ending_before_it_starts_is_refused_as_in_the_file(setup_cache, writer):
    with pytest.raises(ValidationFailed) as info:
        writer.execute(
            "setup_save",
            {"kind": "arrival_window", "values": {"name": "Late", "start": "18:00", "end": "08:00"}},
        )
    assert info.value.errors["end"] == (
        "arrival window 'Late' ends at 08:00, before it starts at 18:00 — windows can't cross midnight"
    )


def test_create_and_change_bump_the_setup_version_and_are_audited_before_and_after(setup_cache, writer):
    v0 = _version(setup_cache)
    done = writer.execute(
        "setup_save",
        {"kind": "business_unit", "values": {"name": "Roofing", "group": "HVAC", "trade": "Roofing"}},
    )
    unit_id = done.args["id"]
    v1 = _version(setup_cache)
    assert v1 != v0
    listing = _listing(setup_cache, "business_unit")
    seen = next(r[3] for r in listing.rows if r[0] == unit_id)
    assert seen == {"name": "Roofing", "group": "HVAC", "trade": "Roofing"}
    writer.execute(
        "setup_save",
        {"kind": "business_unit", "id": unit_id, "values": {**seen, "trade": "Roofs"}, "seen": seen},
    )
    assert _version(setup_cache) != v1
    with setup_cache.sessions() as s:
        assert s.get(BusinessUnit, unit_id).trade == "Roofs"
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == unit_id).order_by(AuditEntry.id)
        ).all()
    assert [a.action for a in audit] == ["setup_save", "setup_save"]
    assert audit[1].actor == "test"
    assert audit[1].details["seen"]["trade"] == "Roofing" and audit[1].details["values"]["trade"] == "Roofs"


def _listing(cache, kind):
    with cache.sessions() as s:
        return list_records(s, KINDS[kind])


def test_a_record_changed_since_it_was_read_is_a_conflict(setup_cache, writer):
    listing = _listing(setup_cache, "call_reason")
    rid, _label, _active, seen = listing.rows[0]
    flipped = "false" if seen["is_lead"] == "true" else "true"
    writer.execute(
        "setup_save", {"kind": "call_reason", "id": rid, "values": {"is_lead": flipped}, "seen": seen}
    )
    stale = dict(seen)
    with pytest.raises(ValidationFailed) as info:
        writer.execute(
            "setup_save", {"kind": "call_reason", "id": rid, "values": {"name": "Renamed"}, "seen": stale}
        )
    text = info.value.errors["conflict"]
    assert "Someone else changed call reason" in text and f"Is a lead is now '{flipped}'" in text
    with setup_cache.sessions() as s:
        assert s.get(CallReason, rid).name == seen["name"]


def test_unknown_references_and_duplicate_names_are_refused(setup_cache, writer):
    with pytest.raises(ValidationFailed) as info:
        writer.execute("setup_save", {"kind": "business_unit", "values": {"name": "X", "group": "HVACC"}})
    assert info.value.errors["group"] == (
        "business unit 'X' names group 'HVACC', which isn't in business_unit_groups (did you mean 'HVAC'?)"
    )
    with pytest.raises(ValidationFailed) as info:
        writer.execute(
            "setup_save", {"kind": "business_unit", "values": {"name": "hvac service", "group": "HVAC"}}
        )
    assert "already a business unit named 'HVAC Service'" in info.value.errors["name"]


def test_tracking_number_default_call_type_and_no_second_campaign(setup_cache, writer):
    with setup_cache.sessions() as s:
        line = s.scalars(select(TrackingNumber)).first()
        number, campaign = line.number, line.campaign.name
    with pytest.raises(ValidationFailed) as info:
        writer.execute(
            "setup_save",
            {"kind": "tracking_number", "values": {"number": number, "campaign": "Word of mouth"}},
        )
    assert "is used by two campaigns" in info.value.errors["number"]
    done = writer.execute(
        "setup_save",
        {
            "kind": "tracking_number",
            "values": {"number": "(312) 555-7788", "campaign": campaign, "default_call_type": "not lead"},
        },
    )
    with setup_cache.sessions() as s:
        assert s.get(TrackingNumber, done.args["id"]).default_call_type is CallType.NOT_LEAD


def test_deleting_what_history_refers_to_is_refused_with_the_retire_alternative(setup_cache, writer):
    with setup_cache.sessions() as s:
        unit = s.scalar(select(BusinessUnit).where(BusinessUnit.name == "HVAC Service"))
        unit_id = unit.id
    with pytest.raises(ValidationFailed) as info:
        writer.execute("setup_delete", {"kind": "business_unit", "id": unit_id})
    text = info.value.errors["id"]
    assert "can't be deleted" in text and "job types" in text and "retire it instead (Ctrl+R)" in text
    writer.execute("setup_retire", {"kind": "business_unit", "id": unit_id})
    with setup_cache.sessions() as s:
        assert s.get(BusinessUnit, unit_id).active is False
    # a record nothing refers to can go
    done = writer.execute(
        "setup_save", {"kind": "call_reason", "values": {"name": "Typo", "is_lead": "false"}}
    )
    writer.execute("setup_delete", {"kind": "call_reason", "id": done.args["id"]})
    with setup_cache.sessions() as s:
        assert s.get(CallReason, done.args["id"]) is None


def test_a_campaigns_monthly_cost_in_the_screen_and_the_file(setup_cache, writer):
    with setup_cache.sessions() as s:
        campaign = s.scalar(select(Campaign).where(Campaign.name == "Facebook"))
        cid, seen = campaign.id, KINDS["campaign"].read(campaign)
    assert seen["monthly_cost"] == ""
    with pytest.raises(ValidationFailed) as info:
        writer.execute("setup_save", {"kind": "campaign", "id": cid, "values": {"monthly_cost": "12,000"}})
    said = info.value.errors["monthly_cost"]
    assert said == "'monthly_cost' must be a number such as 89.50 (no $ or commas), not '12,000'"
    file_text = (
        demo_setup_path()
        .read_text()
        .replace("  - name: Facebook\n", "  - name: Facebook\n    monthly_cost: 12,000\n", 1)
    )
    assert said in _file_problems(file_text)  # the very sentence the setup file gives
    writer.execute(
        "setup_save",
        {"kind": "campaign", "id": cid, "values": {"monthly_cost": "1200.50"}, "seen": {"monthly_cost": ""}},
    )
    with setup_cache.sessions() as s:
        assert s.get(Campaign, cid).monthly_cost == Decimal("1200.50")
        exported = export_setup(s)
    assert "monthly_cost: 1200.50" in exported
    again = parse_setup(exported)  # the exported file reads back with the cost
    assert next(c for c in again.campaigns if c.name == "Facebook").monthly_cost == Decimal("1200.50")
    writer.execute(
        "setup_save",
        {"kind": "campaign", "id": cid, "values": {"monthly_cost": ""}, "seen": {"monthly_cost": "1200.50"}},
    )
    with setup_cache.sessions() as s:
        assert s.get(Campaign, cid).monthly_cost is None
