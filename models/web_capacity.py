"""Online availability, window holds and request submits (the Web Scheduler's rules, Qt-free).

- Online availability is the CSRs' capacity (models/capacity.py, the same code and the same booked
  appointments) with every group's bookable share scaled by the company's online share, less the windows
  held by browsers and by requests waiting in the inbox; no window sooner than the lead time.
- A hold and a submit first update the (group, day) lock row, then re-read capacity: on PostgreSQL
  several instances queue on that row lock, on SQLite BEGIN IMMEDIATE serializes them. So two browsers
  racing for the last window get one request and one ``WindowFilled`` with the nearest free windows.
- Nothing is half-stored: the caller runs each function in one transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from .capacity import BookedSlot, availability, booked_slots, horizon, window_bounds
from .duplicates import find_duplicates
from .jobs import OnlineBooking
from .phone import InvalidPhone, parse_phone
from .setup_data import CapacityInfo, JobTypeInfo, SetupData
from .timeutil import as_utc, minutes, zone
from .validation import _EMAIL, ValidationFailed, zip_info
from .web_booking import WEB_SOURCE, CustomerMatch, RequestStatus, WebDayLock, WebHold, WebSettings

FILLED = "That window just filled — here are the nearest ones."
# Field limits (characters) of the public form: the server refuses longer values with a 4xx.
LIMITS = {
    "name": 100,
    "phone": 40,
    "email": 120,
    "street": 120,
    "unit": 40,
    "city": 60,
    "state": 2,
    "zip": 10,
    "notes": 1000,
    "utm_campaign": 80,
}
_ZIP5 = re.compile(r"^\d{5}$")
_STATE = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class OnlineSlot:
    day: date
    window_id: str
    window_name: str
    start: time
    end: time
    fits: bool

    @property
    def key(self) -> str:
        return f"{self.day.isoformat()}|{self.window_id}"


class WindowFilled(Exception):
    """The wanted window has no online room left; ``nearest`` lists free ones close to it."""

    def __init__(self, nearest: list[OnlineSlot]) -> None:
        super().__init__(FILLED)
        self.nearest = nearest


@dataclass
class Offer:
    job_type: JobTypeInfo
    business_unit_id: str
    group_id: str
    public_name: str


@dataclass
class Submitted:
    request_id: str
    status: str
    customer_match: str
    window_label: str = ""
    changes: list[Any] = field(default_factory=list)


def _db_time(session: Session, value: datetime) -> datetime:
    value = as_utc(value)
    return value.replace(tzinfo=None) if session.get_bind().dialect.name == "sqlite" else value


def offer_for(setup: SetupData, settings: WebSettings, job_type_id: str) -> Offer:
    """The online-bookable job type and where it is booked; ValidationFailed when it isn't offered."""
    choice = settings.offer(job_type_id)
    job_type = setup.job_type(job_type_id) if choice else None
    if choice is None or job_type is None:
        raise ValidationFailed({"service": "Pick one of the services listed."})
    bu_id = choice.business_unit_id or next(
        (
            b.id
            for b in sorted(setup.business_units, key=lambda b: b.name)
            if b.id in job_type.business_unit_ids
        ),
        "",
    )
    bu = setup.business_unit(bu_id)
    if bu is None:
        raise ValidationFailed({"service": "Pick one of the services listed."})
    return Offer(job_type, bu.id, bu.group_id, choice.public_name or job_type.name)


def offers(setup: SetupData, settings: WebSettings) -> list[Offer]:
    out = []
    for choice in settings.job_types:
        try:
            out.append(offer_for(setup, settings, choice.job_type_id))
        except ValidationFailed:
            continue  # retired since the setup named it
    return out


def _online_setup(setup: SetupData, share: int) -> SetupData:
    """The setup as online booking sees it: every group's bookable share scaled by the online share."""
    groups = {b.group_id for b in setup.business_units}
    capacity = {}
    for g in groups:
        base = setup.capacity.get(g, CapacityInfo())
        capacity[g] = CapacityInfo(base.bookable_percent * share // 100, 100)
    return replace(setup, capacity=capacity, business_hours={})


def _held(
    session: Session, group_id: str | None, first: date, last: date, now: datetime, exclude: str
) -> list[BookedSlot]:
    """Live holds between two days: one group's, or every group's (``group_id`` None)."""
    where = [
        WebHold.day >= first,
        WebHold.day <= last,
        WebHold.id != exclude,
        or_(WebHold.expires_at.is_(None), WebHold.expires_at > _db_time(session, now)),
    ]
    if group_id is not None:
        where.append(WebHold.group_id == group_id)
    rows = session.scalars(select(WebHold).where(*where))
    return [BookedSlot(h.group_id, h.day, h.start_min, h.end_min, h.duration) for h in rows]


def taken_capacity(
    session: Session, setup: SetupData, settings: WebSettings, now: datetime
) -> list[BookedSlot]:
    """What every service's availability needs from the database over the booking horizon: the booked
    appointments and the live holds of every group. Read once, shared by all services
    (:func:`online_slots_from`): the read is half the cost of a service's availability."""
    days = horizon(now, setup, settings.horizon_days)
    return booked_slots(session, setup, days[0], days[-1]) + _held(session, None, days[0], days[-1], now, "")


def online_slots_from(
    taken: list[BookedSlot], setup: SetupData, settings: WebSettings, offer: Offer, now: datetime
) -> list[OnlineSlot]:
    """:func:`online_slots` over the horizon, from :func:`taken_capacity`'s answer (no database)."""
    return _online(taken, setup, settings, offer, now, horizon(now, setup, settings.horizon_days))


def online_slots(
    session: Session,
    setup: SetupData,
    settings: WebSettings,
    offer: Offer,
    now: datetime,
    *,
    days: list[date] | None = None,
    exclude_hold: str = "",
) -> list[OnlineSlot]:
    """Every window of these days (default: the booking horizon) with whether the job fits online."""
    days = days or horizon(now, setup, settings.horizon_days)
    booked = booked_slots(session, setup, days[0], days[-1])
    booked += _held(session, offer.group_id, days[0], days[-1], now, exclude_hold)
    return _online(booked, setup, settings, offer, now, days)


def _online(
    booked: list[BookedSlot],
    setup: SetupData,
    settings: WebSettings,
    offer: Offer,
    now: datetime,
    days: list[date],
) -> list[OnlineSlot]:
    jt = offer.job_type
    slots = availability(
        _online_setup(setup, settings.capacity_share_percent),
        offer.business_unit_id,
        jt.duration_minutes,
        jt.skills,
        booked,
        days,
        now,
    )
    earliest = as_utc(now) + timedelta(hours=settings.lead_time_hours)
    return [
        OnlineSlot(s.day, s.window.id, s.window.name, s.window.start, s.window.end, s.fits)
        for s in slots
        if window_bounds(setup, s.day, s.window)[0] >= earliest
    ]


def nearest(slots: list[OnlineSlot], day: date, start: time, count: int = 3) -> list[OnlineSlot]:
    free = [s for s in slots if s.fits]
    free.sort(key=lambda s: abs((s.day - day).days * 1440 + minutes(s.start) - minutes(start)))
    return sorted(free[:count], key=lambda s: (s.day, s.start))


def lock_day(session: Session, group_id: str, day: date) -> None:
    """Take the (group, day) lock row for this transaction (created on first use, race-free)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(WebDayLock).values(group_id=group_id, day=day, n=0).on_conflict_do_nothing())
    session.execute(
        update(WebDayLock)
        .where(WebDayLock.group_id == group_id, WebDayLock.day == day)
        .values(n=WebDayLock.n + 1)
    )


def _wanted(setup: SetupData, offer: Offer, day: date, window_id: str):  # noqa: ANN202
    window = next((w for w in setup.windows if w.id == window_id), None)
    if window is None or not window.allows(offer.business_unit_id):
        raise ValidationFailed({"window": "Pick one of the arrival windows listed."})
    return window


def _filled(
    session: Session,
    setup: SetupData,
    settings: WebSettings,
    offer: Offer,
    now: datetime,
    day: date,
    start: time,
) -> WindowFilled:
    return WindowFilled(nearest(online_slots(session, setup, settings, offer, now), day, start))


def place_hold(
    session: Session,
    setup: SetupData,
    settings: WebSettings,
    job_type_id: str,
    day: date,
    window_id: str,
    now: datetime,
) -> WebHold:
    """Hold a window for ``hold_minutes`` while the customer types; WindowFilled when it has no room."""
    offer = offer_for(setup, settings, job_type_id)
    window = _wanted(setup, offer, day, window_id)
    lock_day(session, offer.group_id, day)
    # Expired holds of this day go now: the table stays as small as the browsers holding windows.
    session.query(WebHold).filter(
        WebHold.group_id == offer.group_id,
        WebHold.day == day,
        WebHold.request_id.is_(None),
        WebHold.expires_at <= _db_time(session, now),
    ).delete(synchronize_session=False)
    slot = next(
        (
            s
            for s in online_slots(session, setup, settings, offer, now, days=[day])
            if s.window_id == window.id
        ),
        None,
    )
    if slot is None or not slot.fits:
        raise _filled(session, setup, settings, offer, now, day, window.start)
    hold = WebHold(
        id=secrets.token_hex(16),
        group_id=offer.group_id,
        business_unit_id=offer.business_unit_id,
        job_type_id=offer.job_type.id,
        arrival_window_id=window.id,
        day=day,
        start_min=minutes(window.start),
        end_min=minutes(window.end),
        duration=offer.job_type.duration_minutes,
        expires_at=as_utc(now) + timedelta(minutes=settings.hold_minutes),
    )
    session.add(hold)
    session.flush()
    return hold


def live_hold(session: Session, hold_id: str, now: datetime) -> WebHold | None:
    """The browser's hold if it is still running (not expired, not used by a request)."""
    hold = session.get(WebHold, hold_id) if re.fullmatch(r"[0-9a-f]{32}", hold_id or "") else None
    if hold is None or hold.request_id is not None or hold.expires_at is None:
        return None
    return hold if as_utc(hold.expires_at) > as_utc(now) else None


def check_contact_form(
    raw: dict[str, Any], settings: WebSettings, region: str = "US"
) -> tuple[dict[str, Any], dict[str, str]]:
    """The contact step's fields, cleaned: (values, errors by field). Phone → E.164."""
    errors: dict[str, str] = {}
    v: dict[str, Any] = {}
    for key, limit in LIMITS.items():
        value = raw.get(key, "")
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > limit and key not in ("state", "zip"):  # those two say what they should be
            errors[key] = f"At most {limit} characters, please."
        v[key] = value
    if not v["name"]:
        errors.setdefault("name", "Tell us your name.")
    if not v["phone"]:
        errors.setdefault("phone", "We need a phone number to confirm the visit.")
    elif "phone" not in errors:
        try:
            v["phone"] = parse_phone(v["phone"], region).e164
        except InvalidPhone as exc:
            errors["phone"] = str(exc)
    if v["email"] and "email" not in errors and not _EMAIL.match(v["email"]):
        errors["email"] = "That email address doesn't look right (name@example.com)."
    if not v["street"]:
        errors.setdefault("street", "Tell us the street address of the visit.")
    if not v["city"]:
        errors.setdefault("city", "Tell us the city.")
    if not _STATE.match(v["state"]):
        errors.setdefault("state", "Use the two-letter state code, e.g. TX.")
    else:
        v["state"] = v["state"].upper()
    if not _ZIP5.match(v["zip"]):
        errors.setdefault("zip", "A ZIP code is 5 digits.")
    elif settings.service_area_zips and v["zip"] not in settings.service_area_zips:
        errors.setdefault("zip", "We don't serve that ZIP code online — please call us.")
    v["sms_consent"] = str(raw.get("sms_consent", "")).lower() in ("1", "on", "yes", "true")
    return v, errors


def check_zip(text: str, settings: WebSettings) -> str | None:
    """None when the ZIP is served online, else the sentence to show."""
    value = (text or "").strip()
    if not _ZIP5.match(value):
        return "A ZIP code is 5 digits."
    if settings.service_area_zips and value not in settings.service_area_zips:
        return "Sorry — we don't serve that area yet. Please call us and we'll point you to someone who does."
    if not settings.service_area_zips and zip_info(value) is None:
        return "We don't know that ZIP code — please check it."
    return None


def match_customer(session: Session, values: dict[str, Any]) -> tuple[str, str | None]:
    """(customer_match, the matched customer id): same phone or same address (models/duplicates.py)."""
    found = find_duplicates(
        session,
        values["name"],
        [values["phone"]],
        values["street"],
        values.get("unit", ""),
        values["zip"],
        limit=5,
    )
    strong = [c for c in found if c.same_phone or c.same_address]
    if any(c.do_not_service for c in strong):
        dns = next(c for c in strong if c.do_not_service)
        return CustomerMatch.DO_NOT_SERVICE.value, dns.customer_id
    if strong:
        return CustomerMatch.EXISTING.value, strong[0].customer_id
    return CustomerMatch.NEW.value, None


def requests_today(session: Session, phone: str, now: datetime) -> int:
    since = _db_time(session, as_utc(now) - timedelta(days=1))
    return (
        session.scalar(
            select(func.count())
            .select_from(OnlineBooking)
            .where(OnlineBooking.phone == phone, OnlineBooking.created_at >= since)
        )
        or 0
    )


def submit_request(
    session: Session,
    setup: SetupData,
    settings: WebSettings,
    *,
    job_type_id: str,
    day: date,
    window_id: str,
    hold_id: str,
    values: dict[str, Any],
    now: datetime,
) -> Submitted:
    """Store one request (status New) holding its window until a CSR settles it. Raises
    ValidationFailed (bad service/window, per-phone limit) or WindowFilled; a Do Not Service customer
    is stored flagged, holding nothing (the page tells them neutrally to call)."""
    offer = offer_for(setup, settings, job_type_id)
    window = _wanted(setup, offer, day, window_id)
    if requests_today(session, values["phone"], now) >= settings.requests_per_phone_per_day:
        raise ValidationFailed(
            {"phone": "We already have requests from this number today — we'll be in touch."}
        )
    matched, customer_id = match_customer(session, values)
    tz = zone(setup.time_zone)
    start_utc, end_utc = window_bounds(setup, day, window)
    requested = {
        "day": day.isoformat(),
        "arrival_window_id": window.id,
        "name": window.name,
        "start": start_utc.isoformat(),
        "end": end_utc.isoformat(),
        "time_zone": str(tz),
    }
    request = OnlineBooking(
        source=WEB_SOURCE,
        status=RequestStatus.NEW.value,
        name=values["name"],
        phone=values["phone"],
        email=values["email"],
        address={k: values[k] for k in ("street", "unit", "city", "state", "zip")},
        requested_window=requested,
        summary=values["notes"],
        customer_id=customer_id,
        job_type_id=offer.job_type.id,
        business_unit_id=offer.business_unit_id,
        sms_consent=bool(values["sms_consent"]),
        utm_campaign=values.get("utm_campaign", ""),
        customer_match=matched,
        created_at=as_utc(now),
        updated_at=as_utc(now),
    )
    label = f"{day:%A %B} {day.day}, {window.name}"
    if matched == CustomerMatch.DO_NOT_SERVICE.value:
        session.add(request)
        session.flush()
        return Submitted(request.id, request.status, matched, label)
    lock_day(session, offer.group_id, day)
    slot = next(
        (
            s
            for s in online_slots(session, setup, settings, offer, now, days=[day], exclude_hold=hold_id)
            if s.window_id == window.id
        ),
        None,
    )
    if slot is None or not slot.fits:
        raise _filled(session, setup, settings, offer, now, day, window.start)
    session.add(request)
    session.flush()
    hold = live_hold(session, hold_id, now)
    if hold is not None and (hold.day, hold.arrival_window_id, hold.job_type_id) == (
        day,
        window.id,
        offer.job_type.id,
    ):
        hold.request_id, hold.expires_at = request.id, None
    else:
        session.add(
            WebHold(
                id=secrets.token_hex(16),
                group_id=offer.group_id,
                business_unit_id=offer.business_unit_id,
                job_type_id=offer.job_type.id,
                arrival_window_id=window.id,
                day=day,
                start_min=minutes(window.start),
                end_min=minutes(window.end),
                duration=offer.job_type.duration_minutes,
                expires_at=None,
                request_id=request.id,
            )
        )
    session.flush()
    if settings.auto_book:
        auto_book(session, settings, request, offer, day, window.id, now)
    return Submitted(request.id, request.status, matched, label)


def auto_book(
    session: Session,
    settings: WebSettings,
    request: OnlineBooking,
    offer: Offer,
    day: date,
    window_id: str,
    now: datetime,
) -> bool:
    """The company books online requests directly: the customer (matched, or created from the request), a
    location at the request's address, and the job in the requested window, through the same intents a
    console's booking runs; the request is then Booked. Anything the job can't be booked with (a campaign
    missing, a required field) leaves the request New in the inbox for a CSR — never a half-made job."""
    from .address import address_key
    from .customers import Location
    from .handlers import HANDLERS
    from .job_numbers import server_number
    from .setup import Campaign

    names = [n for n in (request.utm_campaign, settings.campaign) if n]
    campaign_id = None
    for name in names:
        campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == name, Campaign.active))
        if campaign_id:
            break
    if campaign_id is None:
        return False
    a = request.address or {}
    address = {k: a.get(k, "") for k in ("street", "unit", "city", "state", "zip")}
    session.info["now"] = now  # the booking's clock (models/booking.py): the request's, not the wall's
    try:
        with session.begin_nested():
            customer_id = request.customer_id
            if customer_id is None:
                contacts = [{"kind": "MobilePhone", "value": request.phone}]
                if request.email:
                    contacts.append({"kind": "Email", "value": request.email})
                made = HANDLERS["create_customer"](
                    session,
                    {
                        "customer": {"name": request.name, **address},
                        "locations": [dict(address)],
                        "contacts": contacts,
                    },
                )
                customer_id = made.entity_id
            key = address_key(address["street"], address["unit"], address["zip"])
            location_id = session.scalar(
                select(Location.id)
                .where(Location.customer_id == customer_id, Location.address_key == key)
                .limit(1)
            )
            if location_id is None:
                location_id = HANDLERS["add_location"](
                    session, {"location": {"customer_id": customer_id, **address}}
                ).entity_id
            job = {
                "customer_id": customer_id,
                "location_id": location_id,
                "business_unit_id": offer.business_unit_id,
                "job_type_id": offer.job_type.id,
                "campaign_id": campaign_id,
                "summary": request.summary or offer.public_name,
                "booked_from": "OnlineBooking",
                "number": server_number(session),
            }
            booked = HANDLERS["book_job"](
                session, {"job": job, "appointment": {"day": day.isoformat(), "arrival_window_id": window_id}}
            )
            request.status, request.job_id, request.customer_id = (
                RequestStatus.BOOKED.value,
                booked.entity_id,
                customer_id,
            )
            release_request_hold(session, request.id)
            session.flush()
    except ValidationFailed:
        return False  # the request stays New: a CSR books it from the inbox
    return True


def release_request_hold(session: Session, request_id: str) -> None:
    """A request was accepted or dismissed: its window stops being held (the job, if any, counts now)."""
    session.query(WebHold).filter(WebHold.request_id == request_id).delete(synchronize_session=False)
