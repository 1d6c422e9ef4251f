"""The Web Scheduler's HTML: small server-rendered pages that work without JavaScript.

Every step is a plain form (GET for the ZIP and the service, POST for the hold and the submit), every
input has a label, errors sit next to their field (``aria-describedby``, ``aria-invalid``) and in a
summary at the top that links to them. The company's time zone is stated wherever a time is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from models.web_capacity import OnlineSlot

STEPS = ("Area", "Service", "Time", "Details", "Done")


def clock(t: Any) -> str:
    """9:00 AM — portable (no %-I)."""
    return f"{t.hour % 12 or 12}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def zone_label(tz: ZoneInfo, on: datetime) -> str:
    """ "Central Time (CST, America/Chicago)"-style wording for the page."""
    abbrev = on.astimezone(tz).tzname() or ""
    return f"{abbrev}, {tz.key}" if abbrev else tz.key


def page(title: str, body: str, *, company: str, step: int | None = None, status_note: str = "") -> str:
    progress = ""
    if step is not None:
        progress = f'<p class="progress" id="progress">Step {step + 1} of {len(STEPS)}: {_e(STEPS[step])}</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)} — {_e(company)}</title>
<link rel="stylesheet" href="static/web.css">
<script src="static/web.js" defer></script>
</head>
<body>
<header><p class="company">{_e(company)}</p>{progress}</header>
<main id="main">
<h1 id="title" tabindex="-1">{_e(title)}</h1>
{status_note}
{body}
</main>
</body>
</html>
"""


def hidden(**values: Any) -> str:
    return "".join(
        f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in values.items() if v is not None
    )


def error_summary(errors: dict[str, str], labels: dict[str, str]) -> str:
    if not errors:
        return ""
    items = "".join(
        f'<li><a href="#{_e(k)}">{_e(labels.get(k, k.title()))}: {_e(v)}</a></li>' for k, v in errors.items()
    )
    return (
        '<div class="error-summary" id="error-summary" role="alert" tabindex="-1" aria-labelledby="error-summary-title">'
        f'<h2 id="error-summary-title">Please fix {len(errors)} thing{"s" if len(errors) > 1 else ""}</h2>'
        f"<ul>{items}</ul></div>"
    )


def field(
    name: str,
    label: str,
    value: str = "",
    *,
    error: str = "",
    kind: str = "text",
    autocomplete: str = "",
    required: bool = True,
    maxlength: int | None = None,
    hint: str = "",
    extra: str = "",
) -> str:
    described = []
    hint_html = ""
    if hint:
        hint_html = f'<p class="hint" id="hint-{_e(name)}">{_e(hint)}</p>'
        described.append(f"hint-{name}")
    error_html = ""
    if error:
        error_html = f'<p class="error" id="err-{_e(name)}">{_e(error)}</p>'
        described.append(f"err-{name}")
    attrs = [f'id="{_e(name)}"', f'name="{_e(name)}"']
    if kind == "textarea":
        pass
    else:
        attrs += [f'type="{_e(kind)}"', f'value="{_e(value)}"']
    if autocomplete:
        attrs.append(f'autocomplete="{_e(autocomplete)}"')
    if required:
        attrs.append('required aria-required="true"')
    if maxlength:
        attrs.append(f'maxlength="{maxlength}"')
    if described:
        attrs.append(f'aria-describedby="{" ".join(described)}"')
    if error:
        attrs.append('aria-invalid="true"')
    if extra:
        attrs.append(extra)
    optional = "" if required else ' <span class="optional">(optional)</span>'
    control = (
        f'<textarea {" ".join(attrs)} rows="4">{_e(value)}</textarea>'
        if kind == "textarea"
        else f"<input {' '.join(attrs)}>"
    )
    return (
        f'<div class="field{" has-error" if error else ""}"><label for="{_e(name)}">{_e(label)}{optional}</label>'
        f"{hint_html}{error_html}{control}</div>"
    )


def zip_page(company: str, zip_: str = "", error: str = "", utm: str = "") -> str:
    labels = {"zip": "ZIP code"}
    body = (
        error_summary({"zip": error} if error else {}, labels)
        + '<form method="get" action="./" class="step" novalidate>'
        + "<p>Book a visit online. First, where do you need us?</p>"
        + field(
            "zip",
            "ZIP code of the home",
            zip_,
            error=error,
            autocomplete="postal-code",
            maxlength=10,
            extra='inputmode="numeric"',
        )
        + hidden(utm_campaign=utm or None)
        + '<button type="submit" id="zip-next">Continue</button></form>'
    )
    return page("Book a visit", body, company=company, step=0)


def out_of_area_page(company: str, zip_: str, message: str, utm: str = "") -> str:
    body = (
        f'<p class="notice" role="status" id="out-of-area">{_e(message)}</p>'
        f'<p><a href="./?{urlencode({"utm_campaign": utm} if utm else {})}" id="try-another">Try another ZIP code</a></p>'
    )
    return page("We don't serve that area yet", body, company=company, step=0)


def services_page(
    company: str, zip_: str, offers: Iterable[tuple[str, str]], utm: str = "", error: str = ""
) -> str:
    radios = "".join(
        f'<div class="choice"><input type="radio" name="service" id="service-{i}" value="{_e(key)}"'
        f'{" required" if i == 0 else ""}><label for="service-{i}">{_e(name)}</label></div>'
        for i, (key, name) in enumerate(offers)
    )
    err = f'<p class="error" id="err-service">{_e(error)}</p>' if error else ""
    described = ' aria-describedby="err-service"' if error else ""
    body = (
        error_summary({"service-0": error} if error else {}, {"service-0": "Service"})
        + '<form method="get" action="times" class="step" novalidate>'
        + f'<fieldset id="service"{described}>'
        + f"<legend>What do you need?</legend>{err}{radios}</fieldset>"
        + hidden(zip=zip_, utm_campaign=utm or None)
        + '<button type="submit" id="service-next">Continue</button></form>'
        + f'<p><a href="./" id="change-zip">Change ZIP code ({_e(zip_)})</a></p>'
    )
    return page("What can we help with?", body, company=company, step=1)


def _slot_radios(slots: list[OnlineSlot], tz_label: str) -> str:
    by_day: dict[date, list[OnlineSlot]] = {}
    for s in slots:
        if s.fits:
            by_day.setdefault(s.day, []).append(s)
    if not by_day:
        return '<p class="notice" role="status" id="no-times">No online times are open in the next two weeks — please call us.</p>'
    out = []
    n = 0
    for day, day_slots in sorted(by_day.items()):
        radios = []
        for s in day_slots:
            radios.append(
                f'<div class="choice"><input type="radio" name="slot" id="slot-{n}" value="{_e(s.key)}"'
                f'{" required" if n == 0 else ""}><label for="slot-{n}">Arrive between {clock(s.start)} and '
                f"{clock(s.end)}</label></div>"
            )
            n += 1
        out.append(
            f'<fieldset class="day"><legend>{day:%A, %B} {day.day}</legend>{"".join(radios)}</fieldset>'
        )
    return f'<p class="tz" id="tz">Times are in the company\'s time zone ({_e(tz_label)}).</p>' + "".join(out)


def times_page(
    company: str,
    zip_: str,
    service: str,
    service_name: str,
    slots: list[OnlineSlot],
    tz_label: str,
    *,
    utm: str = "",
    note: str = "",
    error: str = "",
) -> str:
    status = f'<p class="notice" role="alert" id="filled">{_e(note)}</p>' if note else ""
    err = f'<p class="error" id="err-slot">{_e(error)}</p>' if error else ""
    any_free = any(s.fits for s in slots)
    body = (
        error_summary({"slot-0": error} if error else {}, {"slot-0": "Arrival window"})
        + f"<p>Service: <strong>{_e(service_name)}</strong>. A technician arrives within the window you pick.</p>"
        + '<form method="post" action="hold" class="step" novalidate>'
        + f'<div id="slots" role="group" aria-label="Arrival windows">{err}{_slot_radios(slots, tz_label)}</div>'
        + hidden(zip=zip_, service=service, utm_campaign=utm or None)
        + ('<button type="submit" id="time-next">Continue</button>' if any_free else "")
        + "</form>"
        + f'<p><a href="./?{urlencode({"zip": zip_})}" id="change-service">Change service</a></p>'
    )
    return page("Pick a day and arrival window", body, company=company, step=2, status_note=status)


CONTACT_LABELS = {
    "name": "Full name",
    "phone": "Mobile phone",
    "email": "Email",
    "street": "Street address",
    "unit": "Apartment or unit",
    "city": "City",
    "state": "State",
    "zip": "ZIP code",
    "notes": "What's going on?",
}


def details_page(
    company: str,
    *,
    hold: str,
    token: str,
    service_name: str,
    window_label: str,
    held_until: str,
    values: dict[str, Any],
    errors: dict[str, str],
    utm: str = "",
    job_type_id: str = "",
    slot: str = "",
) -> str:
    v = {k: values.get(k, "") for k in CONTACT_LABELS}
    f = []
    for name, kind, ac, req, maxlength, hint in (
        ("name", "text", "name", True, 100, ""),
        ("phone", "tel", "tel", True, 40, "We text or call to confirm."),
        ("email", "email", "email", False, 120, ""),
        ("street", "text", "address-line1", True, 120, ""),
        ("unit", "text", "address-line2", False, 40, ""),
        ("city", "text", "address-level2", True, 60, ""),
        ("state", "text", "address-level1", True, 2, "Two letters, e.g. TX."),
        ("zip", "text", "postal-code", True, 10, ""),
        ("notes", "textarea", "off", False, 1000, "Anything the technician should know."),
    ):
        f.append(
            field(
                name,
                CONTACT_LABELS[name],
                v[name],
                error=errors.get(name, ""),
                kind=kind,
                autocomplete=ac,
                required=req,
                maxlength=maxlength,
                hint=hint,
            )
        )
    consent_checked = " checked" if values.get("sms_consent") else ""
    body = (
        error_summary(errors, CONTACT_LABELS | {"window": "Arrival window", "form": "Form"})
        + f'<p class="summary" id="held">{_e(service_name)} — <strong>{_e(window_label)}</strong>. '
        + (
            f"We hold this window for you until {_e(held_until)}.</p>"
            if held_until
            else "Send the form soon: we hold the window for a few minutes only.</p>"
        )
        + '<form method="post" action="submit" class="step" novalidate>'
        + "".join(f)
        + '<div class="choice"><input type="checkbox" name="sms_consent" id="sms_consent" value="1"'
        + f'{consent_checked}><label for="sms_consent">Text me about this visit (message rates may apply; '
        + "reply STOP to opt out)</label></div>"
        # The honeypot: hidden from people and screen readers, filled only by bots.
        + '<div class="hp" aria-hidden="true"><label for="website">Leave this empty</label>'
        + '<input type="text" name="website" id="website" tabindex="-1" autocomplete="off" value=""></div>'
        + hidden(hold=hold, t=token, utm_campaign=utm or None, service=job_type_id, slot=slot)
        + '<button type="submit" id="submit-request">Request this visit</button></form>'
    )
    return page("Your details", body, company=company, step=3)


def done_page(company: str, *, booked: bool, service_name: str, window_label: str, tz_label: str) -> str:
    if booked:
        title = "You're booked"
        text = (
            f"Your visit is booked: {_e(service_name)}, <strong>{_e(window_label)}</strong> "
            f"({_e(tz_label)}). We'll text or call before the technician comes."
        )
    else:
        title = "Request received"
        text = (
            f"We received your request for {_e(service_name)}, <strong>{_e(window_label)}</strong> "
            f"({_e(tz_label)}). <strong>This is not a confirmed appointment yet</strong>: our team will call or "
            "text you shortly to confirm it."
        )
    body = f'<p role="status" id="confirmation">{text}</p>'
    return page(title, body, company=company, step=4)


def refused_page(company: str) -> str:
    # Neutral on purpose (a Do Not Service customer): no reason given, a way to reach a person.
    body = (
        '<p role="status" id="refused">We can\'t complete this booking online. Please call our office and '
        "we'll be glad to help.</p>"
    )
    return page("Please call us", body, company=company, step=4)


def closed_page(company: str) -> str:
    body = (
        '<p role="status" id="closed">Online booking isn\'t available right now. Please call our office.</p>'
    )
    return page("Online booking is closed", body, company=company)


def message_page(company: str, title: str, text: str) -> str:
    return page(
        title,
        f'<p role="alert" id="message">{_e(text)}</p><p><a href="./">Start again</a></p>',
        company=company,
    )
