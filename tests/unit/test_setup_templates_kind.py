"""Notification templates in the setup screen (models/setup_kind_templates.py): one record per message,
saved into the ``notifications`` company setting the setup file writes; a template with an unknown
placeholder or unpaired braces is refused at save with the file's sentence, nothing written; the set of
messages is fixed (no new, retire or delete)."""

from __future__ import annotations

import pytest

from models.journal import AuditEntry
from models.notify_templates import load_settings
from models.setup import CompanySetting
from models.setup_doc import SetupFileError
from models.setup_edit import KINDS, list_records
from models.setup_file import demo_setup_path, import_setup_file, parse_setup
from models.validation import ValidationFailed


@pytest.fixture
def setup_cache(cache):
    import_setup_file(cache, demo_setup_path())
    return cache


def _shown(cache, ident: str) -> dict[str, str]:
    with cache.sessions() as s:
        rows = list_records(s, KINDS["notification_template"]).rows
    assert [r[1] for r in rows] == [
        "Cancel",
        "Confirmation",
        "On the way",
        "Online booking received",
        "Reminder",
        "Reschedule",
    ]
    return next(r[3] for r in rows if r[0] == ident)


def _save(writer, ident: str, values: dict, seen: dict) -> None:
    writer.execute(
        "setup_save", {"kind": "notification_template", "id": ident, "values": values, "seen": seen}
    )


def _setting(cache) -> dict:
    with cache.sessions() as s:
        row = s.get(CompanySetting, "notifications")
        return dict(row.value) if row is not None else {}


def test_an_unknown_placeholder_is_refused_at_save_with_the_files_sentence(setup_cache, writer):
    shown = _shown(setup_cache, "confirmation")
    before = _setting(setup_cache)
    with pytest.raises(ValidationFailed) as info:
        _save(writer, "confirmation", {"sms": "See you at {time}, {customer}"}, {"sms": shown["sms"]})
    sentence = (
        "template confirmation.sms: unknown placeholder {time}; the placeholders are {customer}, {window}, "
        "{date}, {job_number}, {company}, {company_phone}"
    )
    assert info.value.errors == {"sms": sentence}
    assert _setting(setup_cache) == before  # nothing written
    # The setup file refuses the very same template with the very same sentence.
    text = demo_setup_path().read_text() + (
        '\nnotifications:\n  templates:\n    confirmation: {sms: "See you at {time}, {customer}"}\n'
    )
    if "\nnotifications:" in demo_setup_path().read_text():
        pytest.skip("the demo file has a notifications section of its own")
    with pytest.raises(SetupFileError) as file_info:
        parse_setup(text)
    assert sentence in [m for _line, m in file_info.value.problems]
    with pytest.raises(ValidationFailed) as info:
        _save(writer, "confirmation", {"email_subject": "Hi {customer"}, {})
    assert info.value.errors["email_subject"].startswith("template confirmation.email_subject: the braces")


def test_a_template_saved_is_what_notifications_send_and_is_audited(setup_cache, writer):
    shown = _shown(setup_cache, "reminder")
    _save(writer, "reminder", {"sms": "{company}: see you {window}, {customer}."}, {"sms": shown["sms"]})
    with setup_cache.sessions() as s:
        settings = load_settings(s)
        assert settings.template("reminder", "sms") == "{company}: see you {window}, {customer}."
        assert settings.template("reminder", "email") == shown["email"]  # the other parts unchanged
        assert settings.enabled is False  # a template saved before notifications are set up sends nothing
        audit = s.query(AuditEntry).filter_by(action="setup_save").one()
        assert audit.details["values"] == {"sms": "{company}: see you {window}, {customer}."}
    # Someone else's save meanwhile is a conflict, as for every setup record.
    with pytest.raises(ValidationFailed) as info:
        _save(writer, "reminder", {"sms": "{company}: tomorrow."}, {"sms": shown["sms"]})
    assert info.value.errors["conflict"].startswith("Someone else changed notification template 'Reminder'")


def test_the_messages_are_a_fixed_set(setup_cache, writer):
    for name, args in (
        ("setup_save", {"kind": "notification_template", "id": "birthday", "values": {"sms": "Hi"}}),
        ("setup_delete", {"kind": "notification_template", "id": "cancel"}),
        ("setup_retire", {"kind": "notification_template", "id": "cancel", "active": False}),
    ):
        with pytest.raises(ValidationFailed) as info:
            writer.execute(name, args)
        assert info.value.errors["id"].startswith("the notification templates are one per message")


def test_the_notification_settings_by_the_files_rules(setup_cache, writer):
    from models.notify_setup import QUIET_BOTH, REMINDER_ONE

    with setup_cache.sessions() as s:
        (row,) = list_records(s, KINDS["notification_settings"]).rows
    assert row[3]["enabled"] == "false"  # the demo file has no notifications section

    def save(values: dict) -> None:
        writer.execute(
            "setup_save",
            {"kind": "notification_settings", "id": "notifications", "values": values, "seen": {}},
        )

    def refused(values: dict) -> dict:
        with pytest.raises(ValidationFailed) as info:
            save(values)
        return info.value.errors

    assert refused({"quiet_start": "21:00"}) == {"quiet_end": QUIET_BOTH}
    assert refused({"quiet_start": "25:00", "quiet_end": "08:00"}) == {
        "quiet_start": "'25:00' is not a time (use HH:MM)"
    }
    assert refused({"rate_per_second": "5000"}) == {
        "rate_per_second": "'rate_per_second' must be between 0 and 1000, not 5000"
    }
    save({"quiet_start": "21:00", "quiet_end": "08:00", "hours_before": "24"})
    assert refused({"day_before_at": "17:00"}) == {"day_before_at": REMINDER_ONE}
    save({"enabled": "true", "hours_before": "", "day_before_at": "17:00", "company_phone": "(972) 555-0100"})
    with setup_cache.sessions() as s:
        settings = load_settings(s)
    assert settings.enabled is True and settings.company_phone == "(972) 555-0100"
    assert (f"{settings.quiet_start:%H:%M}", f"{settings.quiet_end:%H:%M}") == ("21:00", "08:00")
    assert (settings.reminder_hours_before, f"{settings.reminder_day_before_at:%H:%M}") == (None, "17:00")
    # The same sentences in the file:
    text = demo_setup_path().read_text() + '\nnotifications:\n  quiet_hours: {start: "21:00"}\n'
    with pytest.raises(SetupFileError) as info:
        parse_setup(text)
    assert QUIET_BOTH in [m for _line, m in info.value.problems]
