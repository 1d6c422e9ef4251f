"""Field checks that speak a CSR's language. Errors block a save; warnings only inform."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .customers import ContactKind, ContactMethod, Customer, CustomerType, Location
from .phone import InvalidPhone, parse_phone
from .zip_table import zip_info

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_ZIP = re.compile(r"^\d{5}(?:-\d{4})?$")
_STATE = re.compile(r"^[A-Za-z]{2}$")


class ValidationFailed(ValueError):
    """Raised by a write whose input is wrong; ``errors`` maps field name → sentence."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Report:
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)


_LABELS = {
    "name": "Name",
    "street": "Street",
    "unit": "Unit",
    "city": "City",
    "state": "State",
    "zip": "ZIP",
    "memo": "Memo",
    "access_notes": "Access notes",
    "do_not_service_reason": "Reason",
    "value": "Value",
}


def max_length(model: type, column: str) -> int | None:
    """The length limit comes from the table definition, so a form and the schema never disagree."""
    return getattr(model.__table__.c[column].type, "length", None)


def _check_lengths(model: type, values: dict[str, Any], report: Report) -> None:
    for key, value in values.items():
        if isinstance(value, str) and key in model.__table__.c:
            limit = max_length(model, key)
            if limit and len(value) > limit:
                report.errors[key] = (
                    f"{_LABELS.get(key, key.title())} is too long (at most {limit} characters)."
                )


def check_address(values: dict[str, Any], report: Report, *, required: bool) -> None:
    street = (values.get("street") or "").strip()
    city = (values.get("city") or "").strip()
    state = (values.get("state") or "").strip()
    zip_ = (values.get("zip") or "").strip()
    if required:
        if not street:
            report.errors["street"] = "Enter the street address."
        if not city:
            report.errors["city"] = "Enter the city."
    if state and not _STATE.match(state):
        report.errors["state"] = "Use the two-letter state code, e.g. TX."
    if zip_:
        if not _ZIP.match(zip_):
            report.errors["zip"] = "A ZIP code is 5 digits (or ZIP+4, e.g. 75201-1234)."
        elif (values.get("country") or "US") == "US":
            known = zip_info(zip_[:5])
            if known is None:
                report.warnings["zip"] = f"ZIP {zip_} isn't in the postal list — please double-check it."
            else:
                zstate, cities = known
                if state and state.upper() != zstate:
                    report.warnings["zip"] = f"ZIP {zip_} is in {zstate}, not {state.upper()}."
                elif city and city.casefold() not in cities:
                    report.warnings["zip"] = f"ZIP {zip_} doesn't usually go with {city} — please check."
    elif required:
        report.errors["zip"] = "Enter the ZIP code."


def check_customer(values: dict[str, Any], *, new: bool = True) -> Report:
    """Customer fields (name, type, billing address, flags)."""
    report = Report()
    name = (values.get("name") or "").strip() if "name" in values or new else None
    if name is not None and not name:
        report.errors["name"] = "Enter the customer's name."
    ctype = values.get("type")
    if ctype is not None and ctype not in {t.value for t in CustomerType}:
        report.errors["type"] = "Choose Residential or Commercial."
    if values.get("do_not_service") and not (values.get("do_not_service_reason") or "").strip() and new:
        report.warnings["do_not_service_reason"] = "Add a reason so the next CSR knows why."
    if any(k in values for k in ("street", "city", "state", "zip")):
        check_address(values, report, required=new)
    _check_lengths(Customer, values, report)
    return report


def check_location(values: dict[str, Any], *, new: bool = True) -> Report:
    report = Report()
    if new or any(k in values for k in ("street", "city", "state", "zip")):
        check_address(values, report, required=new)
    for coord, lo, hi in (("latitude", -90, 90), ("longitude", -180, 180)):
        v = values.get(coord)
        if v not in (None, ""):
            try:
                if not lo <= float(v) <= hi:
                    raise ValueError
            except (TypeError, ValueError):
                report.errors[coord] = f"{coord.title()} must be a number between {lo} and {hi}."
    _check_lengths(Location, values, report)
    return report


def normalize_contact(kind: str, value: str, region: str | None = None) -> tuple[str, str | None]:
    """(stored value, error): E.164 for phones, lower-cased address for email."""
    value = (value or "").strip()
    try:
        k = ContactKind(kind)
    except ValueError:
        return value, "Choose Phone, Mobile, Email or Fax."
    if k is ContactKind.EMAIL:
        if not value:
            return value, "Enter an email address."
        limit = max_length(ContactMethod, "value") or 120
        if len(value) > limit:
            return value, f"That email address is too long (at most {limit} characters)."
        if not _EMAIL.match(value):
            return value, "That email address isn't valid (it should look like name@example.com)."
        return value.lower(), None
    try:
        return parse_phone(value, region).e164, None
    except InvalidPhone as exc:
        return value, str(exc)


def check_contact(values: dict[str, Any], region: str | None = None) -> tuple[dict[str, Any], Report]:
    """Validate one contact method; returns the normalized values and the report."""
    report = Report()
    out = dict(values)
    stored, error = normalize_contact(values.get("kind", ""), values.get("value", ""), region)
    if error:
        report.errors["value"] = error
    out["value"] = stored
    _check_lengths(ContactMethod, {k: v for k, v in values.items() if k != "value"}, report)
    return out, report
