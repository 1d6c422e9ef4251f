"""The notification templates as records of the setup screen: one per message (confirmation, reminder,
reschedule, cancel, on the way), each with its text, email subject and email body. They are kept where
the setup file's ``notifications:`` section keeps them — ``company_settings`` row ``notifications``
(models/notify_templates.py) — so a save changes that row (audited, conflicts, setup version, live sync
like every setup save), and a template with an unknown placeholder or unpaired braces is refused at save
with the setup file's own sentence ("template confirmation.sms: unknown placeholder {time}; the
placeholders are …"). The set of messages is fixed: nothing to add, retire or delete.

Imported by models/setup_edit.py once its own kinds are defined; import ``models.setup_edit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from . import setup_fields as f
from .notify_setup import QUIET_BOTH, REMINDER_ONE, SECTION
from .notify_templates import DEFAULT_TEMPLATES, TEMPLATE_KINDS, check_settings_value, check_template
from .setup import CompanySetting
from .setup_edit import Field, Kind
from .validation import ValidationFailed

_LABELS = {
    "confirmation": "Confirmation",
    "reminder": "Reminder",
    "reschedule": "Reschedule",
    "cancel": "Cancel",
    "on_the_way": "On the way",
    "online_booking": "Online booking received",
}
# The file's readers of a template's parts (models/notify_setup.py reads them the same way).
_SPEC = f.Spec(
    "templates",
    "notification template",
    dict,
    {
        "sms": f.Key(f.text(2000)),
        "email_subject": f.Key(f.text(2000)),
        "email": f.Key(f.text(2000, one_line=False)),
    },
    label="id",
)


@dataclass
class Template:
    """One message's template, as the screen edits it: the setting row that holds it (None until the
    company has a ``notifications`` setting)."""

    id: str  # the message: "confirmation"
    setting: CompanySetting | None

    @property
    def parts(self) -> dict[str, str]:
        stored = ((self.setting.value or {}).get("templates") or {}) if self.setting is not None else {}
        return {**DEFAULT_TEMPLATES.get(self.id, {}), **(stored.get(self.id) or {})}


def _fetch(session: Session, ident: str) -> Template | None:
    if ident not in TEMPLATE_KINDS:
        return None
    return Template(ident, session.get(CompanySetting, SECTION))


def _rows(session: Session) -> list[Template]:
    setting = session.get(CompanySetting, SECTION)
    return [Template(str(kind), setting) for kind in TEMPLATE_KINDS]


def _write(session: Session, row: Template, v: dict[str, Any]) -> None:
    problems = {
        part: f"template {row.id}.{part}: {why}"
        for part, text in v.items()
        if (why := check_template(text)) is not None
    }
    if problems:
        raise ValidationFailed(problems)
    setting = session.get(CompanySetting, SECTION)
    if setting is None:
        # No notifications set up yet: the template is kept for when they are (the setup file's
        # ``notifications:`` section turns them on) — saving a text never starts sending texts.
        setting = CompanySetting(key=SECTION, value={"enabled": False})
        session.add(setting)
    value = dict(setting.value or {})
    templates = dict(value.get("templates") or {})
    templates[row.id] = {**(templates.get(row.id) or {}), **v}
    value["templates"] = templates
    wrong = check_settings_value(value)
    if wrong:
        where, message = wrong[0]
        raise ValidationFailed({"sms": f"notifications {where}: {message}"})
    setting.value = value  # a new dict: the JSON column sees the change
    row.setting = setting


TEMPLATE_KIND = Kind(
    "notification_template",
    "Notification templates",
    _SPEC,
    CompanySetting,
    (
        Field("sms", "Text message"),
        Field("email_subject", "Email subject"),
        Field("email", "Email", "multiline"),
    ),
    lambda r: dict(r.parts),
    _write,
    retirable=False,
    keep_hint="the notification templates are one per message (confirmation, reminder, reschedule, cancel, "
    "on the way): change their text — they can't be added, retired or deleted",
    label=lambda r: _LABELS.get(r.id, r.id),
    fetch=_fetch,
    rows=_rows,
    creatable=False,
    stored_as=SECTION,
    unique="",
)


# -- the notifications' other settings (the same ``notifications`` setting, one record) ---------------------
@dataclass
class NotifySettingsRecord:
    id: str
    value: dict[str, Any]


def _settings_fetch(session: Session, ident: str) -> NotifySettingsRecord | None:
    if ident != SECTION:
        return None
    row = session.get(CompanySetting, SECTION)
    return NotifySettingsRecord(SECTION, dict(row.value or {}) if row is not None else {})


def _settings_read(r: NotifySettingsRecord) -> dict[str, str]:
    v = r.value
    quiet, reminder = v.get("quiet_hours") or {}, v.get("reminder") or {}
    return {
        "enabled": "true" if v and v.get("enabled", True) else "false",
        "company_phone": str(v.get("company_phone") or ""),
        "quiet_start": str(quiet.get("start") or ""),
        "quiet_end": str(quiet.get("end") or ""),
        "hours_before": "" if reminder.get("hours_before") is None else str(reminder["hours_before"]),
        "day_before_at": str(reminder.get("day_before_at") or ""),
        "rate_per_second": str(v.get("rate_per_second") or 0),
    }


def _settings_write(session: Session, row: NotifySettingsRecord, v: dict[str, Any]) -> None:
    stored = session.get(CompanySetting, SECTION)
    value = dict(stored.value or {}) if stored is not None else {"enabled": False}
    shown = _settings_read(NotifySettingsRecord(SECTION, value))
    if "enabled" in v:
        value["enabled"] = v["enabled"]
    if "company_phone" in v:
        value["company_phone"] = v["company_phone"] or ""
    if "rate_per_second" in v:
        value["rate_per_second"] = v["rate_per_second"]
    if "quiet_start" in v or "quiet_end" in v:
        start = v["quiet_start"] if "quiet_start" in v else _clock_or_none(shown["quiet_start"])
        end = v["quiet_end"] if "quiet_end" in v else _clock_or_none(shown["quiet_end"])
        if (start is None) != (end is None):
            raise ValidationFailed({"quiet_end" if end is None else "quiet_start": QUIET_BOTH})
        value["quiet_hours"] = {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"} if start is not None else {}
    if "hours_before" in v or "day_before_at" in v:
        reminder = dict(value.get("reminder") or {})
        for key in ("hours_before", "day_before_at"):
            if key in v:
                reminder.pop(key, None)
                if v[key] is not None:
                    reminder[key] = f"{v[key]:%H:%M}" if key == "day_before_at" else v[key]
        if "hours_before" in reminder and "day_before_at" in reminder:
            raise ValidationFailed({"day_before_at": REMINDER_ONE})
        value["reminder"] = reminder
    wrong = check_settings_value(value)
    if wrong:
        where, message = wrong[0]
        raise ValidationFailed({"enabled": f"notifications {where}: {message}"})
    if stored is None:
        stored = CompanySetting(key=SECTION, value={})
        session.add(stored)
    stored.value = value  # a new dict: the JSON column sees the change
    row.value = value


def _clock_or_none(text: str) -> Any:
    return datetime.strptime(text, "%H:%M").time() if text else None


_SETTINGS_SPEC = f.Spec(
    "notifications",
    "notification settings",
    dict,
    {
        "enabled": f.Key(f.boolean),
        "company_phone": f.Key(f.text(40, empty_ok=True)),
        "quiet_start": f.Key(f.clock),
        "quiet_end": f.Key(f.clock),
        "hours_before": f.Key(f.integer(1, 168)),
        "day_before_at": f.Key(f.clock),
        "rate_per_second": f.Key(f.integer(0, 1000)),
    },
    label="id",
)
NOTIFY_SETTINGS_KIND = Kind(
    "notification_settings",
    "Notification settings",
    _SETTINGS_SPEC,
    CompanySetting,
    (
        Field("enabled", "Send appointment texts and emails", "check"),
        Field("company_phone", "Company phone in messages"),
        Field("quiet_start", "Quiet hours from (HH:MM, the customer's time)", blank_is_none=True),
        Field("quiet_end", "Quiet hours until (HH:MM)", blank_is_none=True),
        Field("hours_before", "Reminder: hours before", blank_is_none=True),
        Field("day_before_at", "or the day before at (HH:MM)", blank_is_none=True),
        Field("rate_per_second", "Texts per second (0: no limit)"),
    ),
    _settings_read,
    _settings_write,
    retirable=False,
    keep_hint="the notification settings are one record: turn sending off with its check box — they can't be "
    "added, retired or deleted",
    label=lambda _r: "Notification settings",
    fetch=_settings_fetch,
    rows=lambda session: [_settings_fetch(session, SECTION)],
    creatable=False,
    stored_as=SECTION,
    unique="",
)
