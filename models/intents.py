"""Intents: every write is a named mutation with JSON arguments.

A handler checks the arguments and applies them to a session; it returns the customer ids whose
search documents must be rebuilt. The console applies intents to its cache and queues them in the
outbox; the server (a later issue) will apply the very same handlers authoritatively.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .address import address_key
from .attribution import author_name
from .base import new_id
from .conflicts import merge_changes, merge_tags
from .customers import ContactKind, ContactMethod, Customer, CustomerType, Location, Note
from .intent_kit import (
    Applied,
    clean_text,
    get_row,
    intent,
    items,
    own_id,
    pick,
    require_id,
    section,
    tags_named,
)
from .phone import parse_phone
from .validation import (
    Report,
    ValidationFailed,
    check_contact,
    check_customer,
    check_location,
)

CUSTOMER_FIELDS = (
    "name",
    "type",
    "street",
    "unit",
    "city",
    "state",
    "zip",
    "country",
    "do_not_service",
    "do_not_service_reason",
    "do_not_mail",
)
LOCATION_FIELDS = (
    "name",
    "street",
    "unit",
    "city",
    "state",
    "zip",
    "country",
    "access_notes",
    "latitude",
    "longitude",
)
CONTACT_FIELDS = ("kind", "value", "memo", "notifications", "do_not_text")


def _contact(
    session: Session, customer_id: str, location_id: str | None, raw: dict[str, Any]
) -> ContactMethod:
    values, report = check_contact(pick(raw, CONTACT_FIELDS, ContactMethod))
    report.raise_if_errors()
    kind = ContactKind(values["kind"])
    cm = ContactMethod(
        id=own_id(raw, "contact_id"),
        customer_id=customer_id,
        location_id=location_id,
        kind=kind,
        value=values["value"],
        memo=values.get("memo", ""),
        notifications=bool(values.get("notifications", True)),
        do_not_text=bool(values.get("do_not_text", False)),
    )
    _set_phone_keys(cm)
    session.add(cm)
    return cm


def _set_phone_keys(cm: ContactMethod) -> None:
    if ContactKind(cm.kind).is_phone:
        digits = parse_phone(cm.value).digits
        cm.digits, cm.digits_rev = digits, digits[::-1]
    else:
        cm.digits = cm.digits_rev = ""


def _location(session: Session, customer_id: str, raw: dict[str, Any]) -> tuple[Location, Report]:
    values = pick(raw, LOCATION_FIELDS, Location)
    report = check_location(values, new=True)
    report.raise_if_errors()
    loc = Location(id=own_id(raw, "location_id"), customer_id=customer_id, **values)
    loc.address_key = address_key(loc.street, loc.unit, loc.zip)
    session.add(loc)
    for c in items(raw, "contacts"):
        _contact(session, customer_id, loc.id, c)
    return loc, report


@intent("create_customer")
def create_customer(session: Session, args: dict[str, Any]) -> Applied:
    """{customer: {...}, locations: [{...}], contacts: [{...}], tags: [...], note: str}"""
    raw = section(args, "customer")
    values = pick(raw, CUSTOMER_FIELDS, Customer)
    values.setdefault("type", CustomerType.RESIDENTIAL.value)
    report = check_customer(values, new=True)
    contacts = items(args, "contacts")
    errors = dict(report.errors)
    phones = [c for c in contacts if c.get("kind") != ContactKind.EMAIL.value]
    if not phones:
        errors.setdefault("phone", "Add at least one phone number.")
    for i, c in enumerate(contacts):
        _, crep = check_contact(c)
        for k, v in crep.errors.items():
            errors.setdefault(f"contacts.{i}.{k}", v)
    if errors:
        raise ValidationFailed(errors)
    if raw.get("id") and session.get(Customer, raw["id"]) is not None:
        raise ValidationFailed({"id": "This customer was already saved."})
    cid = own_id(raw, "customer_id")
    if session.get(Customer, cid) is not None:
        raise ValidationFailed({"id": "This customer was already saved."})
    customer = Customer(id=cid, **values)
    customer.tags = tags_named(session, args.get("tags") or [])
    session.add(customer)
    session.flush()
    warnings = dict(report.warnings)
    for loc in items(args, "locations"):
        _, lrep = _location(session, cid, loc)
        warnings.update({f"location.{k}": v for k, v in lrep.warnings.items()})
    for c in contacts:
        _contact(session, cid, None, c)
    note = args.get("note") or ""
    if not isinstance(note, str):
        raise ValidationFailed({"note": "The note must be text."})
    note = note.strip()
    if note:
        args.setdefault("note_id", new_id())
        session.add(
            Note(
                id=require_id(args["note_id"], "note_id"),
                customer_id=cid,
                text=note,
                author=author_name(session, args),
            )
        )
    return Applied("customer", cid, [cid], warnings)


@intent("update_customer")
def update_customer(session: Session, args: dict[str, Any]) -> Applied:
    _old_tags(args)
    customer = get_row(session, Customer, require_id(args.get("customer_id"), "customer_id"), "customer")
    if not args.get("changes") and "tags" in args:
        customer.tags = tags_named(session, merge_tags(session, customer, args["tags"], args.get("old_tags")))
        return Applied("customer", customer.id, [customer.id], {})
    values = merge_changes(session, customer, customer.id, args.get("changes"), CUSTOMER_FIELDS)
    merged = {k: getattr(customer, k) for k in ("street", "city", "state", "zip")} | values
    report = check_customer(merged if set(values) & {"street", "city", "state", "zip"} else values, new=False)
    if "name" in values and not values["name"]:
        report.errors["name"] = "Enter the customer's name."
    report.raise_if_errors()
    for k, v in values.items():
        setattr(customer, k, v)
    if "tags" in args:
        customer.tags = tags_named(session, merge_tags(session, customer, args["tags"], args.get("old_tags")))
    return Applied("customer", customer.id, [customer.id], report.warnings)


def _old_tags(args: dict[str, Any]) -> None:
    """``old_tags``: the tags the CSR saw, kept in the outbox for the server's per-field merge."""
    old = args.get("old_tags")
    if old is not None and (not isinstance(old, list) or not all(isinstance(t, str) for t in old)):
        raise ValidationFailed({"old_tags": "Malformed previous tags."})


@intent("set_customer_tags")
def set_customer_tags(session: Session, args: dict[str, Any]) -> Applied:
    """{customer_id, tags: [names], old_tags: [names the CSR saw]}"""
    _old_tags(args)
    customer = get_row(session, Customer, require_id(args.get("customer_id"), "customer_id"), "customer")
    customer.tags = tags_named(
        session, merge_tags(session, customer, list(args.get("tags") or []), args.get("old_tags"))
    )
    return Applied("customer", customer.id, [customer.id], {})


@intent("add_location")
def add_location(session: Session, args: dict[str, Any]) -> Applied:
    raw = section(args, "location")
    customer = get_row(session, Customer, require_id(raw.get("customer_id"), "customer_id"), "customer")
    if raw.get("id") and session.get(Location, raw["id"]) is not None:
        raise ValidationFailed({"id": "This location was already saved."})
    loc, report = _location(session, customer.id, raw)
    return Applied("location", loc.id, [customer.id], report.warnings)


@intent("update_location")
def update_location(session: Session, args: dict[str, Any]) -> Applied:
    loc = get_row(session, Location, require_id(args.get("location_id"), "location_id"), "location")
    values = merge_changes(session, loc, loc.customer_id, args.get("changes"), LOCATION_FIELDS)
    merged = {k: getattr(loc, k) for k in ("street", "city", "state", "zip")} | values
    report = check_location(merged, new=False)
    report.raise_if_errors()
    for k, v in values.items():
        setattr(loc, k, v)
    loc.address_key = address_key(loc.street, loc.unit, loc.zip)
    return Applied("location", loc.id, [loc.customer_id], report.warnings)


@intent("add_contact")
def add_contact(session: Session, args: dict[str, Any]) -> Applied:
    raw = section(args, "contact")
    customer = get_row(session, Customer, require_id(raw.get("customer_id"), "customer_id"), "customer")
    location_id = raw.get("location_id")
    if location_id:
        loc = get_row(session, Location, require_id(location_id, "location_id"), "location")
        if loc.customer_id != customer.id:
            raise ValidationFailed({"location_id": "That location belongs to another customer."})
    if raw.get("id") and session.get(ContactMethod, raw["id"]) is not None:
        raise ValidationFailed({"id": "This contact was already saved."})
    cm = _contact(session, customer.id, location_id, raw)
    return Applied("contact", cm.id, [customer.id], {})


@intent("update_contact")
def update_contact(session: Session, args: dict[str, Any]) -> Applied:
    cm = get_row(session, ContactMethod, require_id(args.get("contact_id"), "contact_id"), "contact")
    values = merge_changes(session, cm, cm.customer_id, args.get("changes"), CONTACT_FIELDS)
    merged = {k: getattr(cm, k) for k in CONTACT_FIELDS} | values
    merged["kind"] = ContactKind(merged["kind"]).value
    normalized, report = check_contact(merged)
    report.raise_if_errors()
    for k in values:
        setattr(cm, k, normalized[k] if k == "value" else values[k])
    _set_phone_keys(cm)
    return Applied("contact", cm.id, [cm.customer_id], {})


@intent("remove_contact")
def remove_contact(session: Session, args: dict[str, Any]) -> Applied:
    cm = get_row(session, ContactMethod, require_id(args.get("contact_id"), "contact_id"), "contact")
    customer_id = cm.customer_id
    if ContactKind(cm.kind).is_phone and cm.location_id is None:
        phones = session.scalars(
            select(ContactMethod.id).where(
                ContactMethod.customer_id == customer_id,
                ContactMethod.location_id.is_(None),
                ContactMethod.kind != ContactKind.EMAIL,
            )
        ).all()
        if len(phones) <= 1:
            raise ValidationFailed(
                {"contact": "A customer needs at least one phone number — add another first."}
            )
    session.delete(cm)
    return Applied("contact", cm.id, [customer_id], {})


@intent("add_note")
def add_note(session: Session, args: dict[str, Any]) -> Applied:
    raw = section(args, "note")
    customer = get_row(session, Customer, require_id(raw.get("customer_id"), "customer_id"), "customer")
    text = raw.get("text") or ""
    if not isinstance(text, str):
        raise ValidationFailed({"text": "The note must be text."})
    text = text.strip()
    if not text:
        raise ValidationFailed({"text": "The note is empty."})
    if len(text) > 5000:
        raise ValidationFailed({"text": "The note is too long (at most 5,000 characters)."})
    clean_text(text, "text")
    location_id = raw.get("location_id")
    if location_id is not None:
        loc = session.get(Location, location_id) if isinstance(location_id, str) else None
        if loc is None or loc.customer_id != customer.id:
            raise ValidationFailed({"location_id": "That location isn't one of this customer's."})
    note = Note(
        id=own_id(raw, "note_id"),
        customer_id=customer.id,
        location_id=raw.get("location_id"),
        text=text,
        pinned=bool(raw.get("pinned", False)),
        author=author_name(session, args),
    )
    session.add(note)
    return Applied("note", note.id, [customer.id], {})
