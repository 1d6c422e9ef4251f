"""Phone numbers: parse any format a CSR types or a phone system sends, store E.164."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

DEFAULT_REGION = "US"
_region = [DEFAULT_REGION]  # the company's region (csr-console --region); one per process


def set_default_region(region: str) -> None:
    """Numbers typed without a + are read in this region everywhere (search, forms, intents)."""
    region = (region or DEFAULT_REGION).upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"Unknown phone region '{region}'.")
    _region[0] = region


def default_region() -> str:
    return _region[0]


_NON_DIGITS = re.compile(r"\D+")
# Characters that may appear in a phone number as typed; anything else means "not a phone query".
_PHONEISH = re.compile(r"^[\d\s().+\-/]+$")


class InvalidPhone(ValueError):
    """Raised with a sentence a CSR can read."""


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str  # "+15551234567"
    digits: str  # national significant number, "5551234567"

    @property
    def digits_rev(self) -> str:
        return self.digits[::-1]

    def display(self) -> str:
        return format_phone(self.e164)


def digits_only(text: str) -> str:
    return _NON_DIGITS.sub("", text)


def looks_like_phone(text: str) -> bool:
    """True when the text is made only of digits and phone punctuation and has a digit."""
    return bool(_PHONEISH.match(text)) and any(c.isdigit() for c in text)


def parse_phone(text: str, region: str | None = None) -> Phone:
    """Parse and validate; raise InvalidPhone with a readable reason."""
    return _parse_phone(text, region or default_region())


@lru_cache(maxsize=4096)
def _parse_phone(text: str, region: str) -> Phone:
    raw = (text or "").strip()
    if not raw:
        raise InvalidPhone("Enter a phone number.")
    if len(raw) > 40:
        raise InvalidPhone("That phone number is too long.")
    try:
        num = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("That doesn't look like a phone number.") from exc
    if not phonenumbers.is_possible_number(num):
        count = len(digits_only(raw))
        raise InvalidPhone(
            f"A phone number needs more digits (only {count} entered)."
            if count < 10
            else "That phone number has too many digits."
        )
    if not phonenumbers.is_valid_number(num):
        raise InvalidPhone("That phone number isn't valid — check the area code.")
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return Phone(e164=e164, digits=str(num.national_number))


def try_parse_phone(text: str, region: str | None = None) -> Phone | None:
    try:
        return parse_phone(text, region)
    except InvalidPhone:
        return None


def format_phone(e164: str, region: str | None = None) -> str:
    """E.164 → how a CSR reads it: national format at home, international elsewhere."""
    return _format_phone(e164, region or default_region())


@lru_cache(maxsize=65536)
def _format_phone(e164: str, region: str) -> str:
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(num) == region
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(num, fmt)


def phone_from_parts(country_code: int, national: str) -> Phone:
    """Fast path for bulk data generation: trusted digits, no validation."""
    return Phone(e164=f"+{country_code}{national}", digits=national)
