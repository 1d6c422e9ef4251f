"""The setup file's notifications section: checked when saved (an unknown placeholder refuses the file,
with its line), imported into company_settings, exported back."""

from __future__ import annotations

import pytest

from models.notify_templates import load_settings
from models.setup_file import SetupFileError, demo_setup_path, export_setup, import_setup, parse_setup

SECTION = """
notifications:
  company_phone: (972) 555-0100
  quiet_hours: {start: "21:00", end: "08:00"}
  reminder: {day_before_at: "17:00"}
  rate_per_second: 5
  templates:
    confirmation:
      sms: "{company}: see you {window}, job {job_number}. Reply C to confirm."
"""


def _base() -> str:
    text = demo_setup_path().read_text(encoding="utf-8")
    return text.split("\nnotifications:")[0]


def test_an_unknown_placeholder_refuses_the_file_with_its_line():
    bad = _base() + SECTION.replace("{job_number}", "{technician}")
    with pytest.raises(SetupFileError) as err:
        parse_setup(bad)
    line = (
        bad.splitlines().index(
            '      sms: "{company}: see you {window}, job {technician}. Reply C to confirm."'
        )
        + 1
    )
    assert any(n == line and "unknown placeholder {technician}" in msg for n, msg in err.value.problems)


def test_a_bad_key_and_a_bad_time_are_refused():
    bad = _base() + SECTION.replace("rate_per_second", "rate_per_secnd").replace('"08:00"', '"8h"')
    with pytest.raises(SetupFileError) as err:
        parse_setup(bad)
    messages = " ".join(m for _, m in err.value.problems)
    assert "unknown key 'rate_per_secnd'" in messages and "not a time" in messages


def test_imported_settings_are_stored_and_exported_back(cache):
    doc = parse_setup(_base() + SECTION)
    with cache.sessions.begin() as s:
        import_setup(s, doc)
    with cache.sessions() as s:
        settings = load_settings(s)
        exported = export_setup(s)
    assert settings.enabled and settings.company_phone == "(972) 555-0100" and settings.rate_per_second == 5
    assert settings.template("confirmation", "sms").startswith("{company}: see you {window}")
    assert settings.reminder_day_before_at.hour == 17
    again = parse_setup(exported)
    assert again.notifications == doc.notifications


def test_last_minute_and_reminder_exclusions_are_read_stored_and_exported(cache):
    section = SECTION.replace(
        'reminder: {day_before_at: "17:00"}',
        'reminder: {day_before_at: "17:00", exclude_business_units: [Plumbing Service], '
        "exclude_job_types: [ac not cooling]}\n  skip_confirmation_within_minutes: 90",
    ).replace(
        "confirmation:\n",
        'online_booking: {sms: "{company}: got it, {customer} ({window})."}\n    confirmation:\n',
    )
    doc = parse_setup(_base() + section)
    with cache.sessions.begin() as s:
        import_setup(s, doc)
    with cache.sessions() as s:
        settings = load_settings(s)
        exported = export_setup(s)
    assert settings.skip_confirmation_within_minutes == 90
    assert settings.reminder_exclude_business_units == {"plumbing service"}
    assert settings.reminder_exclude_job_types == {"ac not cooling"}  # names compared case-insensitively
    assert settings.template("online_booking", "sms") == "{company}: got it, {customer} ({window})."
    assert parse_setup(exported).notifications == doc.notifications


def test_an_exclusion_naming_no_business_unit_of_the_file_is_refused_with_its_line():
    section = SECTION.replace(
        'reminder: {day_before_at: "17:00"}',
        'reminder:\n    day_before_at: "17:00"\n    exclude_business_units:\n      - Plumbing Servce',
    )
    bad = _base() + section
    with pytest.raises(SetupFileError) as err:
        parse_setup(bad)
    line = bad.splitlines().index("      - Plumbing Servce") + 1
    assert any(
        n == line and "no business unit 'Plumbing Servce'" in m and "Plumbing Service" in m
        for n, m in err.value.problems
    ), err.value.problems


def test_an_online_booking_template_with_an_unknown_placeholder_is_refused():
    bad = _base() + SECTION.replace(
        "confirmation:\n", 'online_booking: {sms: "{company}: {technician}"}\n    confirmation:\n'
    )
    with pytest.raises(SetupFileError) as err:
        parse_setup(bad)
    assert any("online_booking.sms" in m and "{technician}" in m for _, m in err.value.problems)
