"""CSRs' SIP seats on the server: set by an admin (`csr-server phone-seat`, or the Users window's
``manage_user`` ``set_seat``), sent to a CSR's console at sign-in (and live when an admin changes it),
and used by the voice webhook to ring a CSR's seat with ``<Dial><Sip>`` instead of their Client
identity (docs/phone.md). A CSR picks the seat's three sound devices themselves (``set_my_devices``:
names only they can see, on their own PC), never the rest of it."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.callbacks import CLAIM_RELEASE_MINUTES
from models.journal import AuditEntry
from models.phone_seats import TRANSPORTS, PhoneSeat
from models.setup import User

from .phone_protocol import BadCommand, is_sip_uri, listen_address

SEAT_FIELDS = ("sip_address", "registrar", "proxy", "user", "transport", "input_device", "output_device",
               "ring_device")  # fmt: skip
DEVICE_FIELDS = ("input_device", "output_device", "ring_device")
DEVICE_WHAT = {"input_device": "microphone", "output_device": "headset", "ring_device": "ring device"}
MAX_DEVICE_NAME = 120  # models/phone_seats.py: the columns' length
CACHE_SECONDS = 5.0  # a changed seat rings within this long


class SeatRefused(ValueError):
    """A seat that cannot be saved; the message says what to fix."""


def check_device(field: str, value: Any) -> str:
    """One device name cleaned ("" = the system's default; for the ring device, the headset), or
    SeatRefused saying what is wrong with it."""
    what = DEVICE_WHAT[field]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SeatRefused(f"The {what}'s name must be text.")
    name = value.strip()
    if len(name) > MAX_DEVICE_NAME:
        raise SeatRefused(f"The {what}'s name is longer than {MAX_DEVICE_NAME} characters.")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise SeatRefused(f"The {what}'s name has control characters in it.")
    return name


def check_devices(fields: dict[str, Any]) -> dict[str, str]:
    """The three device names cleaned, or SeatRefused naming the first problem."""
    return {k: check_device(k, fields.get(k)) for k in DEVICE_FIELDS}


def check_seat(fields: dict[str, Any]) -> dict[str, str]:
    """The seat's fields cleaned, or SeatRefused naming the first problem."""
    seat = {k: str(fields.get(k) or "").strip() for k in SEAT_FIELDS}
    seat.update(check_devices(fields))
    seat["transport"] = (seat["transport"] or "udp").lower()
    # No registrar: a direct seat, whose phone listens at the seat's own address (a LAN, the demo).
    for name in ("sip_address", "registrar") if seat["registrar"] else ("sip_address",):
        if not is_sip_uri(seat[name]):
            raise SeatRefused(f"The {name.replace('_', ' ')} “{seat[name]}” is not a SIP address (sip:…).")
    if not seat["registrar"]:
        try:
            listen_address(seat["sip_address"])
        except BadCommand as exc:
            raise SeatRefused(f"{exc} A seat with no registrar is reached at that address itself.") from None
        if seat["transport"] != "udp" or seat["proxy"]:
            raise SeatRefused("A seat with no registrar listens on UDP, with no proxy.")
    if seat["proxy"] and not is_sip_uri(seat["proxy"]):
        raise SeatRefused(f"The proxy “{seat['proxy']}” is not a SIP address (sip:…).")
    if not seat["user"]:
        raise SeatRefused("The seat needs a SIP user name.")
    if seat["transport"] not in TRANSPORTS:
        raise SeatRefused(f"The transport “{seat['transport']}” is not one of UDP, TCP or TLS.")
    return seat


def store_seat(
    session: Session, user: User, fields: dict[str, Any]
) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Give ``user`` a seat (or change it) in the caller's transaction: (the seat before or None, the seat
    as consoles receive it). SeatRefused (nothing written) for a seat that can't be saved. The one code
    path of `csr-server phone-seat set` and an admin's ``manage_user`` ``set_seat``."""
    seat = check_seat(fields)
    row = session.get(PhoneSeat, user.id)
    before = row.as_dict() if row is not None else None
    row = row or PhoneSeat(user_id=user.id)
    row.sip_address, row.registrar, row.proxy = seat["sip_address"], seat["registrar"], seat["proxy"]
    row.sip_user, row.transport = seat["user"], seat["transport"]
    row.input_device, row.output_device = seat["input_device"], seat["output_device"]
    row.ring_device, row.updated_at = seat["ring_device"], utcnow()
    session.add(row)
    return before, row.as_dict()


class NoSeat(SeatRefused):
    """Sound devices for a user who has no phone seat."""


def store_own_devices(session: Session, user_id: str, fields: dict[str, Any]) -> tuple[dict, dict]:
    """A user's own choice of the three sound devices, in the caller's transaction: (the devices before,
    the seat as consoles receive it). Nothing else of the seat changes. SeatRefused for a bad name,
    NoSeat when they have no seat (nothing written either way)."""
    devices = check_devices(fields)
    row = session.get(PhoneSeat, user_id)
    if row is None:
        raise NoSeat(
            "You have no phone seat, so there are no sound devices to choose: an admin gives you one."
        )
    before = {k: getattr(row, k) for k in DEVICE_FIELDS}
    for key, value in devices.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    return before, row.as_dict()


def set_own_devices(sessions: Callable[[], Session], user: dict[str, Any], fields: dict[str, Any]) -> dict:
    """``set_my_devices``: the signed-in ``user`` (from the session) picks their seat's sound devices;
    audited (the devices before and after). The seat as consoles receive it."""
    user_id = str(user["id"])
    with sessions() as s, s.begin():
        before, seat = store_own_devices(s, user_id, fields)
        after = {k: seat[k] for k in DEVICE_FIELDS}
        if after != before:
            s.add(
                AuditEntry(
                    actor=str(user.get("display_name") or user.get("username") or "")[:60],
                    entity="users",
                    entity_id=user_id,
                    action="user_set_devices",
                    details={"by_user_id": user_id, "before": before, "after": after},
                )
            )
        return seat


def remove_seat(session: Session, user: User) -> dict[str, str] | None:
    """Take ``user``'s seat away in the caller's transaction: the seat they had, or None (nothing to do)."""
    row = session.get(PhoneSeat, user.id)
    if row is None:
        return None
    before = row.as_dict()
    session.delete(row)
    return before


def set_seat(sessions: Callable[[], Session], username: str, fields: dict[str, Any]) -> dict[str, str]:
    """Give ``username`` a seat (or change it); returns the seat as consoles receive it."""
    check_seat(fields)  # a bad seat is named before the user is looked up
    with sessions() as s, s.begin():
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise SeatRefused(f"There is no user “{username}”.")
        return store_seat(s, user, fields)[1]


def clear_seat(sessions: Callable[[], Session], username: str) -> bool:
    """Take ``username``'s seat away (they are rung as a Client again); False when they had none."""
    with sessions() as s, s.begin():
        user = s.scalar(select(User).where(User.username == username))
        return user is not None and remove_seat(s, user) is not None


def all_seats(sessions: Callable[[], Session]) -> dict[str, dict[str, str]]:
    """user id → seat, for every user who has one (the admins' Users window)."""
    with sessions() as s:
        return {row.user_id: row.as_dict() for row in s.scalars(select(PhoneSeat))}


# company_settings row: {after_hours_voicemail, max_wait_seconds, auto_claim, offer_callback, overflow,
# callback_claim_minutes}
PHONE_SETTINGS_KEY = "phone"


def phone_settings(sessions: Callable[[], Session]) -> dict[str, Any]:
    """The company's phone settings (a row of their own: a setup import never touches them)."""
    from models.setup import CompanySetting

    with sessions() as s:
        row = s.get(CompanySetting, PHONE_SETTINGS_KEY)
        value = dict(row.value or {}) if row is not None else {}
    return {
        "after_hours_voicemail": bool(value.get("after_hours_voicemail", False)),
        "max_wait_seconds": int(value.get("max_wait_seconds") or 0),
        "auto_claim": bool(value.get("auto_claim", False)),
        "offer_callback": bool(value.get("offer_callback", False)),
        "callback_claim_minutes": int(value.get("callback_claim_minutes", CLAIM_RELEASE_MINUTES) or 0),
        "overflow": [str(u) for u in value.get("overflow") or []],
    }


def set_phone_settings(sessions: Callable[[], Session], **changes: Any) -> dict[str, Any]:
    """Change some of them; returns them all."""
    from models.setup import CompanySetting

    current = phone_settings(sessions)
    for key, value in changes.items():
        if value is None:
            continue
        if key == "max_wait_seconds" and (not isinstance(value, int) or value < 0):
            raise SeatRefused("The longest wait is a number of seconds, 0 for none.")
        if key == "callback_claim_minutes" and (not isinstance(value, int) or value < 0):
            raise SeatRefused("The callback claim limit is a number of minutes, 0 for none.")
        if key == "overflow":
            value = [u.strip() for u in value if u.strip()]
            with sessions() as s:
                known = set(s.scalars(select(User.username).where(User.username.in_(value))))
            unknown = [u for u in value if u not in known]
            if unknown:
                raise SeatRefused(f"There is no user {', '.join('“' + u + '”' for u in unknown)}.")
        current[key] = value
    with sessions() as s, s.begin():
        row = s.get(CompanySetting, PHONE_SETTINGS_KEY)
        if row is None:
            s.add(CompanySetting(key=PHONE_SETTINGS_KEY, value=current))
        else:
            row.value = current
    return current


def seat_for_user(sessions: Callable[[], Session], user_id: str) -> dict[str, str] | None:
    with sessions() as s:
        row = s.get(PhoneSeat, user_id)
        return row.as_dict() if row is not None else None


class OverflowGroup:
    """The second group (phone settings' ``overflow``), re-read at most every few seconds."""

    def __init__(
        self, sessions: Callable[[], Session] | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._names: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def names(self) -> frozenset[str]:
        if self.sessions is None:  # a desk without a store (unit tests of the ring order)
            return frozenset()
        now = self.clock()
        if self._read_at is None or now - self._read_at >= CACHE_SECONDS:
            self._names = frozenset(phone_settings(self.sessions)["overflow"])
            self._read_at = now
        return self._names


def ring_order(agents: list[str], available: set[str], overflow: frozenset[str]) -> list[str]:
    """Who to ring, in order: the Available CSRs of the first group; when none of them is Available, the
    second group's (overflow) Available ones; then everyone else signed in, so the call still reaches
    someone (Away, Wrap-up, On call) — the first group before the second."""
    first = [a for a in agents if a not in overflow]
    second = [a for a in agents if a in overflow]
    free_first = [a for a in first if a in available]
    if free_first:
        return free_first + [a for a in first if a not in available]
    free_second = [a for a in second if a in available]
    return free_second + [a for a in first if a not in available] + [a for a in second if a not in available]


class SeatDirectory:
    """username → the SIP address to ring, read at most every few seconds (the webhook asks per call)."""

    def __init__(
        self, sessions: Callable[[], Session] | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self._addresses: dict[str, str] = {}
        self._read_at: float | None = None

    def addresses(self) -> dict[str, str]:
        if self.sessions is None:
            return {}
        now = self.clock()
        if self._read_at is None or now - self._read_at >= CACHE_SECONDS:
            with self.sessions() as s:
                rows = s.execute(select(User.username, PhoneSeat.sip_address).join(PhoneSeat))
                self._addresses = {name: address for name, address in rows}
            self._read_at = now
        return self._addresses

    def ring_targets(self, usernames: Iterable[str]) -> list[str]:
        """Each CSR to ring as their seat's SIP address when they have one, else their user name."""
        addresses = self.addresses()
        return [addresses.get(name, name) for name in usernames]
