"""Lead intents: capture a lead (from a customer, or just a name and a phone), follow it up,
dismiss it with a reason. Booking a job with ``lead_id`` converts it (models/booking.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from .attribution import attributed
from .customers import Customer, Location
from .intent_kit import Applied, clean_text, get_row, intent, own_id, require_id, section
from .jobs import Lead, LeadStatus
from .phone import InvalidPhone, parse_phone
from .setup import BusinessUnit, CallReason, Campaign, JobType
from .validation import ValidationFailed, max_length

LEAD_FIELDS = (
    "name",
    "phone",
    "summary",
    "follow_up_on",
    "call_reason_id",
    "campaign_id",
    "business_unit_id",
    "job_type_id",
)


def _follow_up(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed({"follow_up_on": "The follow-up date isn't a date."}) from exc


def _reference(session: Session, model: type, value: Any, field: str, label: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or session.get(model, value) is None:
        raise ValidationFailed({field: f"That {label} no longer exists."})
    return value


def _apply(session: Session, lead: Lead, values: dict[str, Any]) -> None:
    errors: dict[str, str] = {}
    for key in ("name", "summary"):
        if key in values:
            v = values[key]
            if not isinstance(v, str):
                errors[key] = f"The {key} must be text."
                continue
            limit = max_length(Lead, key) or (5000 if key == "summary" else None)
            clean_text(v, key)
            if limit and len(v) > limit:
                errors[key] = f"The {key} is too long (at most {limit} characters)."
            setattr(lead, key, v.strip())
    if "phone" in values:
        phone = values["phone"]
        if phone in (None, ""):
            lead.phone = ""
        else:
            try:
                lead.phone = parse_phone(str(phone)).e164
            except InvalidPhone as exc:
                errors["phone"] = str(exc)
    if "follow_up_on" in values:
        lead.follow_up_on = _follow_up(values["follow_up_on"])
    refs = {
        "call_reason_id": (CallReason, "call reason"),
        "campaign_id": (Campaign, "campaign"),
        "business_unit_id": (BusinessUnit, "business unit"),
        "job_type_id": (JobType, "job type"),
    }
    for key, (model, label) in refs.items():
        if key in values:
            try:
                setattr(lead, key, _reference(session, model, values[key], key, label))
            except ValidationFailed as exc:
                errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)


@intent("create_lead")
def create_lead(session: Session, args: dict[str, Any]) -> Applied:
    """{lead: {customer_id?, location_id?, name?, phone?, summary, follow_up_on, call_reason_id, ...}}"""
    raw = section(args, "lead")
    unknown = set(raw) - set(LEAD_FIELDS) - {"id", "customer_id", "location_id", "created_by_id"}
    if unknown:
        raise ValidationFailed({k: f"Unknown field '{k}'." for k in sorted(unknown)})
    created_by = attributed(session, raw, "created_by_id")
    lead = Lead(id=own_id(raw, "lead_id"), status=LeadStatus.OPEN, created_by_id=created_by)
    customer_id = raw.get("customer_id")
    if customer_id:
        customer = get_row(session, Customer, require_id(customer_id, "customer_id"), "customer")
        lead.customer_id = customer.id
        lead.name = customer.name
        if raw.get("location_id"):
            loc = get_row(session, Location, require_id(raw["location_id"], "location_id"), "location")
            if loc.customer_id != customer.id:
                raise ValidationFailed({"location_id": "That location belongs to another customer."})
            lead.location_id = loc.id
    _apply(session, lead, {k: raw[k] for k in LEAD_FIELDS if k in raw})
    if not lead.customer_id and not (lead.name and lead.phone):
        raise ValidationFailed({"name": "A lead without a customer needs a name and a phone number."})
    session.add(lead)
    return Applied("lead", lead.id, [], {})  # leads are not in the customer search document


@intent("update_lead")
def update_lead(session: Session, args: dict[str, Any]) -> Applied:
    """{lead_id, changes: {field: [old, new]}} for an open lead."""
    lead = get_row(session, Lead, require_id(args.get("lead_id"), "lead_id"), "lead")
    if LeadStatus(lead.status) is not LeadStatus.OPEN:
        raise ValidationFailed({"status": "Only an open lead can be changed."})
    changes = args.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed({"changes": "Nothing to change."})
    values = {}
    for key, pair in changes.items():
        if key not in LEAD_FIELDS:
            raise ValidationFailed({key: f"Unknown field '{key}'."})
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValidationFailed({key: "A change must carry the old and the new value."})
        values[key] = pair[1]
    _apply(session, lead, values)
    return Applied("lead", lead.id, [], {})  # leads are not in the customer search document


@intent("dismiss_lead")
def dismiss_lead(session: Session, args: dict[str, Any]) -> Applied:
    lead = get_row(session, Lead, require_id(args.get("lead_id"), "lead_id"), "lead")
    if LeadStatus(lead.status) is not LeadStatus.OPEN:
        raise ValidationFailed({"status": "Only an open lead can be dismissed."})
    reason = args.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed({"reason": "Give a reason for dismissing the lead."})
    lead.status, lead.status_reason = LeadStatus.DISMISSED, reason.strip()[:200]
    return Applied("lead", lead.id, [], {})  # leads are not in the customer search document
