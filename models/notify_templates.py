"""The company's notification settings and templates (the setup file's ``notifications:`` section,
docs/notifications.md): read, checked, rendered.

A template is plain text with placeholders in braces — ``{customer}``, ``{window}``, ``{date}``,
``{job_number}``, ``{company}``, ``{company_phone}``. An unknown placeholder is refused when the setup
file is saved (imported), never discovered at send time. The settings travel to consoles in
``company_settings`` (key ``notifications``), so a console can preview a template from its cache.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from sqlalchemy.orm import Session

from .notifications import NoticeKind

SETTING_KEY = "notifications"
PLACEHOLDERS = ("customer", "window", "date", "job_number", "company", "company_phone")
TEMPLATE_KINDS = (
    NoticeKind.CONFIRMATION,
    NoticeKind.REMINDER,
    NoticeKind.RESCHEDULE,
    NoticeKind.CANCEL,
    NoticeKind.ON_THE_WAY,
    NoticeKind.ONLINE_BOOKING,
)
TEMPLATE_PARTS = ("sms", "email_subject", "email")
MAX_SMS = 640  # four segments: a template longer than that is a letter, not a text
HELP_TEXT = "{company}: appointment texts. Reply C to confirm, STOP to opt out. Call us at {company_phone}."

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    NoticeKind.CONFIRMATION: {
        "sms": "{company}: hi {customer}, your appointment (job {job_number}) is booked for {window}. "
        "Reply C to confirm. Questions? {company_phone}. Reply STOP to opt out.",
        "email_subject": "Your appointment with {company} on {date}",
        "email": "Hi {customer},\n\nYour appointment (job {job_number}) is booked for {window}.\n\n"
        "Questions? Call us at {company_phone}.\n\n{company}",
    },
    NoticeKind.REMINDER: {
        "sms": "{company}: reminder, we'll see you {window} (job {job_number}). Reply C to confirm. "
        "{company_phone}",
        "email_subject": "Reminder: {company} arrives {date}",
        "email": "Hi {customer},\n\nA reminder: we'll see you {window} (job {job_number}).\n\n"
        "To change it call {company_phone}.\n\n{company}",
    },
    NoticeKind.RESCHEDULE: {
        "sms": "{company}: your appointment (job {job_number}) moved to {window}. {company_phone}",
        "email_subject": "Your appointment with {company} moved to {date}",
        "email": "Hi {customer},\n\nYour appointment (job {job_number}) is now {window}.\n\n"
        "Questions? Call us at {company_phone}.\n\n{company}",
    },
    NoticeKind.CANCEL: {
        "sms": "{company}: your appointment (job {job_number}) for {window} is canceled. {company_phone}",
        "email_subject": "Your appointment with {company} is canceled",
        "email": "Hi {customer},\n\nYour appointment (job {job_number}) for {window} is canceled.\n\n"
        "To book again call {company_phone}.\n\n{company}",
    },
    NoticeKind.ON_THE_WAY: {
        "sms": "{company}: your technician is on the way (job {job_number}). {company_phone}",
        "email_subject": "{company} is on the way",
        "email": "Hi {customer},\n\nYour technician is on the way (job {job_number}).\n\n{company}",
    },
    # A Web Scheduler request, not yet a job: no job number; {window} is the window asked for.
    NoticeKind.ONLINE_BOOKING: {
        "sms": "{company}: hi {customer}, we received your request for {window}. We'll be in touch to "
        "confirm it. Questions? {company_phone}. Reply STOP to opt out.",
        "email_subject": "We received your request — {company}",
        "email": "Hi {customer},\n\nWe received your request for {window}. We'll be in touch to confirm "
        "it.\n\nQuestions? Call us at {company_phone}.\n\n{company}",
    },
}


class TemplateError(ValueError):
    """A template that can't be used; the message is for the admin."""


@dataclass(frozen=True)
class NotifySettings:
    """What the company chose; ``enabled`` False (no section in the setup file) sends nothing."""

    enabled: bool = False
    company: str = ""
    company_phone: str = ""
    time_zone: str = ""
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 0)
    reminder_hours_before: int | None = 24
    reminder_day_before_at: time | None = None
    rate_per_second: float = 0.0  # 0: no limit
    # No confirmation when the arrival window starts within this many minutes of the booking (0: always).
    skip_confirmation_within_minutes: int = 0
    # No reminder for jobs of these business units / job types (names, compared case-insensitively).
    reminder_exclude_business_units: frozenset[str] = frozenset()
    reminder_exclude_job_types: frozenset[str] = frozenset()
    templates: dict[str, dict[str, str]] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))

    def template(self, kind: str, part: str) -> str:
        if kind == NoticeKind.HELP:
            return HELP_TEXT
        return (self.templates.get(kind) or {}).get(part) or DEFAULT_TEMPLATES.get(kind, {}).get(part, "")


def unknown_placeholders(template: str) -> list[str]:
    """The placeholders of ``template`` that aren't ours; TemplateError for braces that don't pair."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"the braces don't pair up ({exc}); write {{{{ for a literal brace") from exc
    out = []
    for _text, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            out.append(name or "{}")
    return out


def check_template(template: str) -> str | None:
    """None when ``template`` is usable, else the sentence saying why."""
    try:
        unknown = unknown_placeholders(template)
    except TemplateError as exc:
        return str(exc)
    if unknown:
        names = ", ".join("{" + u + "}" for u in unknown)
        known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        return f"unknown placeholder {names}; the placeholders are {known}"
    return None


def render(template: str, values: dict[str, str]) -> str:
    """The message text. Templates are checked when saved; a value is never re-read as a template."""
    return template.format_map({p: values.get(p, "") for p in PLACEHOLDERS})


def _hhmm(value: Any) -> time | None:
    if value in (None, ""):
        return None
    hours, minutes = str(value).split(":")
    return time(int(hours), int(minutes))


def settings_from_value(
    value: dict[str, Any] | None, company: dict[str, Any] | None = None
) -> NotifySettings:
    """The settings stored in ``company_settings`` (what the setup import wrote)."""
    company = company or {}
    if not value:
        return NotifySettings(company=company.get("name", ""), time_zone=company.get("time_zone", ""))
    quiet = value.get("quiet_hours") or {}
    reminder = value.get("reminder") or {}
    templates = {k: dict(DEFAULT_TEMPLATES[k]) for k in DEFAULT_TEMPLATES}
    for kind, parts in (value.get("templates") or {}).items():
        templates.setdefault(kind, {}).update({p: t for p, t in parts.items() if t})
    return NotifySettings(
        enabled=bool(value.get("enabled", True)),
        company=company.get("name", ""),
        company_phone=value.get("company_phone", ""),
        time_zone=company.get("time_zone", ""),
        quiet_start=_hhmm(quiet.get("start")),
        quiet_end=_hhmm(quiet.get("end")),
        reminder_hours_before=reminder.get("hours_before"),
        reminder_day_before_at=_hhmm(reminder.get("day_before_at")),
        rate_per_second=float(value.get("rate_per_second") or 0),
        skip_confirmation_within_minutes=int(value.get("skip_confirmation_within_minutes") or 0),
        reminder_exclude_business_units=frozenset(
            n.casefold() for n in reminder.get("exclude_business_units") or ()
        ),
        reminder_exclude_job_types=frozenset(n.casefold() for n in reminder.get("exclude_job_types") or ()),
        templates=templates,
    )


def load_settings(session: Session) -> NotifySettings:
    from .setup import CompanySetting

    row = session.get(CompanySetting, SETTING_KEY)
    company = session.get(CompanySetting, "company")
    return settings_from_value(row.value if row else None, company.value if company else None)


def check_settings_value(value: dict[str, Any]) -> list[tuple[str, str]]:
    """Every problem of a ``notifications`` value as (where, message); [] when it can be saved."""
    problems: list[tuple[str, str]] = []
    reminder = value.get("reminder") or {}
    if reminder.get("hours_before") is not None and reminder.get("day_before_at"):
        problems.append(("reminder", "give either hours_before or day_before_at, not both"))
    for kind, parts in (value.get("templates") or {}).items():
        if kind not in TEMPLATE_KINDS:
            names = ", ".join(TEMPLATE_KINDS)
            problems.append((f"templates.{kind}", f"'{kind}' is not a message; the messages are {names}"))
            continue
        for part, text in (parts or {}).items():
            where = f"templates.{kind}.{part}"
            if part not in TEMPLATE_PARTS:
                problems.append((where, f"'{part}' is not a part; the parts are {', '.join(TEMPLATE_PARTS)}"))
                continue
            if not isinstance(text, str):
                problems.append((where, "a template must be text"))
                continue
            why = check_template(text)
            if why:
                problems.append((where, why))
            elif part == "sms" and len(text) > MAX_SMS:
                problems.append((where, f"a text template may be at most {MAX_SMS} characters"))
    return problems
