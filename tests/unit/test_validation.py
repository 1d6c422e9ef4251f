"""The field rules the dialogs and the intents share: phones to E.164, emails, ZIP/state, lengths;
errors block, warnings (a ZIP not in the postal list) only inform."""

from __future__ import annotations

import pytest

from models.customers import ContactMethod, Customer, Location
from models.phone import InvalidPhone, format_phone, parse_phone
from models.validation import (
    ValidationFailed,
    check_contact,
    check_customer,
    check_location,
    max_length,
    normalize_contact,
)

ADDRESS = {"street": "1500 Marilla St", "city": "Dallas", "state": "TX", "zip": "75201"}


@pytest.mark.parametrize(
    "typed",
    ["(214) 555-0134", "214.555.0134", "+1 214 555 0134", "2145550134", "1-214-555-0134", " 214 555 0134 "],
)
def test_us_formats_normalize_to_e164(typed: str) -> None:
    assert parse_phone(typed).e164 == "+12145550134"
    assert normalize_contact("MobilePhone", typed) == ("+12145550134", None)
    assert format_phone("+12145550134") == "(214) 555-0134"


def test_phone_keys_for_partial_search() -> None:
    phone = parse_phone("(214) 555-0134")
    assert (phone.digits, phone.digits_rev) == ("2145550134", "4310555412")


def test_international_number_keeps_its_country() -> None:
    assert parse_phone("+44 20 7946 0958").e164 == "+442079460958"
    assert format_phone("+442079460958") == "+44 20 7946 0958"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter a phone number."),
        ("5550", "needs more digits (only 4 entered)"),
        ("555-0134", "check the area code"),  # a local number: possible, but no area code
        ("214555013412345", "too many digits"),
        ("call me maybe", "doesn't look like a phone number"),
        ("(014) 555-0134", "isn't valid"),
        ("9" * 41, "too long"),
    ],
)
def test_invalid_phones_say_why(typed: str, says: str) -> None:
    with pytest.raises(InvalidPhone, match=says.replace("(", r"\(").replace(")", r"\)")):
        parse_phone(typed)
    stored, error = normalize_contact("Phone", typed)
    assert error and says in error and stored == typed.strip()


@pytest.mark.parametrize(
    ("typed", "stored", "error"),
    [
        ("Ana.Lopez@Example.COM", "ana.lopez@example.com", None),
        ("  ana+hvac@mail.example.org ", "ana+hvac@mail.example.org", None),
        ("ana@", "ana@", "isn't valid"),
        ("ana example.com", "ana example.com", "isn't valid"),
        ("", "", "Enter an email address."),
        ("a" * 115 + "@x.com", "a" * 115 + "@x.com", "too long"),
    ],
)
def test_email_rules(typed: str, stored: str, error: str | None) -> None:
    value, problem = normalize_contact("Email", typed)
    assert value == stored
    assert (problem is None) if error is None else (error in problem)


def test_unknown_contact_kind_is_an_error() -> None:
    assert normalize_contact("Pager", "2145550134")[1] == "Choose Phone, Mobile, Email or Fax."


def test_check_contact_normalizes_and_checks_memo_length() -> None:
    values, report = check_contact({"kind": "Phone", "value": "214.555.0134", "memo": "x" * 201})
    assert values["value"] == "+12145550134"
    assert report.errors == {"memo": "Memo is too long (at most 200 characters)."}


def test_new_customer_needs_name_and_address() -> None:
    report = check_customer({"name": "  "}, new=True)
    assert set(report.errors) == {"name"}
    report = check_customer({"name": "Ana", "street": "", "city": "", "zip": ""}, new=True)
    assert set(report.errors) == {"street", "city", "zip"}
    assert check_customer({"name": "Ana", **ADDRESS}, new=True).ok


def test_edit_does_not_require_the_address() -> None:
    assert check_customer({"street": "", "city": "", "zip": ""}, new=False).ok


@pytest.mark.parametrize(
    ("zip_", "error"), [("7520", "5 digits"), ("75201-12", "5 digits"), ("ABCDE", "5 digits")]
)
def test_zip_format_is_an_error(zip_: str, error: str) -> None:
    assert error in check_customer({"name": "Ana", **ADDRESS, "zip": zip_}).errors["zip"]


def test_zip_plus_four_is_fine() -> None:
    report = check_customer({"name": "Ana", **ADDRESS, "zip": "75201-1234"})
    assert report.ok and not report.warnings


def test_zip_not_in_postal_list_is_a_warning_not_an_error() -> None:
    report = check_customer({"name": "Ana", **ADDRESS, "zip": "00000"})
    assert report.ok
    assert report.warnings == {"zip": "ZIP 00000 isn't in the postal list — please double-check it."}
    report.raise_if_errors()  # warnings never raise


def test_zip_in_another_state_or_city_warns() -> None:
    assert "is in TX, not OK" in check_customer({"name": "A", **ADDRESS, "state": "OK"}).warnings["zip"]
    assert (
        "doesn't usually go with Austin"
        in check_customer({"name": "A", **ADDRESS, "city": "Austin"}).warnings["zip"]
    )
    assert "two-letter" in check_customer({"name": "A", **ADDRESS, "state": "Texas"}).errors["state"]


def test_lengths_come_from_the_schema() -> None:
    assert (
        max_length(Customer, "name"),
        max_length(Customer, "zip"),
        max_length(ContactMethod, "memo"),
        max_length(Location, "access_notes"),
    ) == (100, 10, 200, 500)
    report = check_customer({"name": "x" * 101, **ADDRESS})
    assert report.errors == {"name": "Name is too long (at most 100 characters)."}
    assert check_customer({"name": "x" * 100, **ADDRESS}).ok


def test_location_coordinates_and_access_notes() -> None:
    assert check_location({**ADDRESS, "latitude": "32.78", "longitude": "-96.8"}).ok
    report = check_location({**ADDRESS, "latitude": "91", "longitude": "east", "access_notes": "g" * 501})
    assert set(report.errors) == {"latitude", "longitude", "access_notes"}


def test_dns_without_reason_warns() -> None:
    report = check_customer({"name": "Ana", **ADDRESS, "do_not_service": True})
    assert report.ok and "reason" in report.warnings["do_not_service_reason"]


def test_validation_failed_carries_field_errors() -> None:
    exc = ValidationFailed({"zip": "Enter the ZIP code."})
    assert exc.errors == {"zip": "Enter the ZIP code."} and "zip: Enter the ZIP code." in str(exc)
