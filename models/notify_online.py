"""The "online booking received" message (docs/notifications.md): when the Web Scheduler stores a
request, the requester hears that it arrived — by text when they gave a number that can take texts and
agreed to texts, else by email — exactly once per request (the key is the request's id).

Called in the transaction that stores the request (sync/web_scheduler.py), so the message is queued if
and only if the request is. Nothing is queued when notifications are off, for a Do Not Service match
(the page tells them to call), or when the requester gave no usable address.
"""

from __future__ import annotations

from datetime import datetime

import phonenumbers
from sqlalchemy.orm import Session

from .jobs import OnlineBooking
from .notifications import Channel, NoticeKind, Notification
from .notify_intents import opted_out
from .notify_rules import Recipient, queue_message, window_text, zip_zone
from .notify_templates import load_settings

# The phonenumbers types a text can reach (in the US a number is usually "fixed line or mobile").
_TEXTABLE = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PAGER,
    }
)


def textable(number: str) -> bool:
    """Whether ``number`` (E.164) may be a mobile: not a known landline, toll-free or premium line."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(parsed) and phonenumbers.number_type(parsed) in _TEXTABLE


def requester(session: Session, request: OnlineBooking) -> Recipient | None:
    """Where the message goes: a text with consent to a number that can take it and hasn't opted
    out, else the email address, else nowhere."""
    phone = (request.phone or "").strip()
    if request.sms_consent and phone and textable(phone) and not opted_out(session, phone):
        return Recipient(Channel.SMS, "", phone)
    if (request.email or "").strip():
        return Recipient(Channel.EMAIL, "", request.email.strip())
    return None


def queue_online_booking_received(session: Session, request_id: str, now: datetime) -> Notification | None:
    """Queue the message for the stored request ``request_id`` (None: nothing to send, or already
    queued)."""
    settings = load_settings(session)
    if not settings.enabled:
        return None
    request = session.get(OnlineBooking, request_id)
    if request is None or request.customer_match == "do_not_service":
        return None
    to = requester(session, request)
    if to is None:
        return None
    wanted = request.requested_window or {}
    window = date = ""
    if wanted.get("start") and wanted.get("end"):
        start, end = datetime.fromisoformat(wanted["start"]), datetime.fromisoformat(wanted["end"])
        # The requester's local time: their ZIP's zone, else the zone the page showed the window in.
        tz = zip_zone((request.address or {}).get("zip") or "", wanted.get("time_zone") or settings.time_zone)
        window = window_text(start, end, tz)
        local = start.astimezone(tz)
        date = f"{local:%a %b} {local.day}"
    values = {
        "customer": request.name,
        "window": window,
        "date": date,
        "job_number": "",
        "company": settings.company,
        "company_phone": settings.company_phone,
    }
    return queue_message(
        session,
        settings,
        key=f"online_booking:{request.id}:received",
        kind=NoticeKind.ONLINE_BOOKING,
        to=to,
        values=values,
        due=now,
        customer_id=request.customer_id,
    )
