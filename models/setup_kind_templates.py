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
from typing import Any

from sqlalchemy.orm import Session

from . import setup_fields as f
from .notify_setup import SECTION
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
)
