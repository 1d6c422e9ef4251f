"""The Web Scheduler's settings (the setup file's ``online_booking:`` section) in the setup screen
(models/setup_kind_online.py): read with the file's readers and rules, saved into the same company
setting the file writes, audited; one record that can't be added, retired or deleted."""

from __future__ import annotations

import pytest

from models.journal import AuditEntry
from models.setup_edit import KINDS, list_records
from models.setup_file import demo_setup_path, import_setup_file
from models.validation import ValidationFailed
from models.web_booking import load_web_settings


@pytest.fixture
def setup_cache(cache):
    import_setup_file(cache, demo_setup_path())
    return cache


def _shown(cache) -> dict[str, str]:
    with cache.sessions() as s:
        (row,) = list_records(s, KINDS["online_booking"]).rows
    assert row[:2] == ("online_booking", "Web Scheduler settings")
    return row[3]


def _save(writer, values: dict, seen: dict) -> None:
    writer.execute(
        "setup_save",
        {
            "kind": "online_booking",
            "id": "online_booking",
            "values": values,
            "seen": {k: seen[k] for k in values},
        },
    )


def _refused(writer, values: dict, seen: dict) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        _save(writer, values, seen)
    return info.value.errors


def test_the_files_section_is_shown_and_its_rules_hold(setup_cache, writer):
    shown = _shown(setup_cache)
    assert shown["job_types"].splitlines()[0] == "AC Not Cooling | My air conditioning isn't cooling"
    assert _refused(writer, {"service_area_zips": "7520"}, shown) == {
        "service_area_zips": "'7520' is not a 5-digit ZIP code (put ZIPs in quotes: \"02134\")"
    }
    assert _refused(writer, {"allowed_origins": "www.example.com"}, shown) == {
        "allowed_origins": "'www.example.com' is not a web origin (scheme and host only, e.g. https://www.example.com)"
    }
    errors = _refused(writer, {"job_types": "AC Not Coling"}, shown)
    assert errors["job_types"] == (
        "online booking names job type 'AC Not Coling', which isn't in job_types (did you mean 'AC Not Cooling'?)"
    )
    errors = _refused(writer, {"job_types": "AC Not Cooling | AC repair | Plumbing Service"}, shown)
    assert errors == {
        "job_types": "job type 'AC Not Cooling' isn't booked in business unit 'Plumbing Service'"
    }
    errors = _refused(writer, {"enabled": "true", "job_types": ""}, shown)
    assert errors == {"job_types": "online booking is enabled but lists no job_types customers may book"}
    errors = _refused(writer, {"hold_minutes": "90"}, shown)
    assert errors["hold_minutes"] == "'hold_minutes' must be between 1 and 60, not 90"
    with setup_cache.sessions() as s:
        assert len(load_web_settings(s).job_types) == len(shown["job_types"].splitlines())  # nothing written


def test_a_save_reaches_the_web_schedulers_settings_and_is_audited(setup_cache, writer):
    shown = _shown(setup_cache)
    _save(
        writer,
        {
            "job_types": "AC Not Cooling | AC repair | HVAC Service\nDrain Clog",
            "service_area_zips": "75201, 75202",
        },
        shown,
    )
    with setup_cache.sessions() as s:
        web = load_web_settings(s)
        assert [j.public_name for j in web.job_types] == ["AC repair", "Drain Clog"]
        assert web.service_area_zips == {"75201", "75202"} and web.enabled is True
        audit = s.query(AuditEntry).filter_by(action="setup_save").one()
        assert audit.details["seen"]["service_area_zips"] == shown["service_area_zips"]
    assert _shown(setup_cache)["job_types"] == "AC Not Cooling | AC repair | HVAC Service\nDrain Clog"
    # Turned off, it may list nothing.
    _save(writer, {"enabled": "false", "job_types": ""}, _shown(setup_cache))
    with setup_cache.sessions() as s:
        assert load_web_settings(s).enabled is False


def test_one_record_never_added_retired_or_deleted(setup_cache, writer):
    for name, args in (
        ("setup_save", {"kind": "online_booking", "id": "web2", "values": {"enabled": "false"}}),
        ("setup_delete", {"kind": "online_booking", "id": "online_booking"}),
        ("setup_retire", {"kind": "online_booking", "id": "online_booking", "active": False}),
    ):
        with pytest.raises(ValidationFailed) as info:
            writer.execute(name, args)
        assert info.value.errors["id"].startswith("online booking is one set of settings")
