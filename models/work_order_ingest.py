"""A work order from ServiceChannel (webhook or poll) into ``work_orders``: stored once, never dropped,
newer news never overwritten by older (out-of-order deliveries), the client matched to a customer and the
store to a location (never duplicated), and whatever is missing or odd said in ``problems``.

Matching (the duplicate rules of models/duplicates.py, as the server can run them — it has no search
index): a subscriber already seen keeps its customer; else an active customer with the same name (case and
spacing folded) or the same phone; else a new Commercial customer. A store already seen keeps its
location; else the customer's location with the same address key (models/address.address_key); else a new
location. A store without a street gets no location (the problem says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .address import address_key
from .customers import ContactKind, ContactMethod, Customer, CustomerType, Location
from .phone import try_parse_phone
from .setup import JobType
from .work_orders import WorkOrder, WorkOrderState

_HOURS = re.compile(r"(\d+(?:\.\d+)?)\s*(hour|hr|h\b|day|d\b)", re.IGNORECASE)


@dataclass
class ScMapping:
    """The setup the adapter needs (docs/servicechannel.md): trade/category → job type name (a category of
    ``*`` matches any), per-subscriber status overrides (action → [primary, extended]), the company's
    currency, the subscribers served (empty: all)."""

    job_types: dict[tuple[str, str], str] = field(default_factory=dict)
    statuses: dict[int, dict[str, tuple[str, str]]] = field(default_factory=dict)
    currency: str = "USD"
    subscribers: frozenset[int] = frozenset()
    # Per subscriber: the reason code a reschedule is sent with (its GET workOrderRescheduleReasons list).
    reschedule_reasons: dict[int, int] = field(default_factory=dict)

    def job_type_name(self, trade: str, category: str) -> str:
        t, c = trade.strip().casefold(), category.strip().casefold()
        for (mt, mc), name in self.job_types.items():
            if mt.casefold() == t and mc.casefold() in (c, "*"):
                return name
        return ""


def parse_time(value: Any) -> datetime | None:
    """A platform date-time ("…Z", with an offset, or naive = UTC) as aware UTC; None when absent or bad."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def response_hours(priority: str) -> float | None:
    """The response time a priority's name carries ("P2 - 8 Hours" → 8, "P4 - 3 Days" → 72)."""
    match = _HOURS.search(priority or "")
    if not match:
        return None
    value = float(match.group(1))
    return value * 24 if match.group(2).lower().startswith("d") else value


def _text(value: Any, limit: int) -> str:
    return str(value).strip()[:limit] if value not in (None, "") else ""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _address(loc: dict[str, Any]) -> dict[str, str]:
    # The definition calls Address2 the main address and Address1 the additional one (it looks swapped):
    # take whichever holds a street number first.
    a1, a2 = _text(loc.get("Address1"), 120), _text(loc.get("Address2"), 120)
    street, unit = (a2, a1) if a2[:1].isdigit() or not a1 else (a1, a2)
    return {
        "street": street,
        "unit": unit[:40],
        "city": _text(loc.get("City"), 60),
        "state": _text(loc.get("State"), 30),
        "zip": _text(loc.get("Zip"), 10),
        "country": (_text(loc.get("Country"), 2) or "US").upper(),
    }


@dataclass
class Ingested:
    work_order: WorkOrder
    created: bool
    applied: bool  # False: an older copy than the stored one (ignored)


def ingest(session: Session, data: dict[str, Any], mapping: ScMapping, now: datetime) -> Ingested | None:
    """Store one work order as the platform sent it; None when it has no Id (nothing to key it by) or
    belongs to a subscriber this company does not serve."""
    sc_id = _int(data.get("Id"))
    if sc_id <= 0:
        return None
    subscriber = data.get("Subscriber") if isinstance(data.get("Subscriber"), dict) else {}
    subscriber_id = _int(subscriber.get("Id"))
    if mapping.subscribers and subscriber_id not in mapping.subscribers:
        return None
    updated = parse_time(data.get("UpdatedDate_DTO") or data.get("UpdatedDate"))
    wo = session.scalar(select(WorkOrder).where(WorkOrder.sc_id == sc_id).with_for_update())
    created = wo is None
    if wo is None:
        wo = WorkOrder(sc_id=sc_id, received_at=now, problems=[], address={})
        session.add(wo)
    elif wo.platform_updated_at is not None and updated is not None:
        stored = _aware(wo.platform_updated_at)
        if updated < stored:
            return Ingested(wo, False, False)  # older news: what we hold is newer
        if updated == stored:
            return Ingested(wo, False, True)  # the same news again (a poll re-reading it): nothing to do
    draft = _Draft(wo)
    _fill(session, draft, data, subscriber, subscriber_id, mapping, updated)  # type: ignore[arg-type]
    for key, value in draft.values.items():
        # Only what really changed: a poll re-reading an unchanged work order writes nothing (no change
        # rows, no pull on every console).
        if _same(getattr(wo, key), value):
            continue
        setattr(wo, key, value)
    session.flush()
    return Ingested(wo, created, True)


class _Draft:
    """The work order's new values, collected before any is set on the row."""

    def __init__(self, wo: WorkOrder) -> None:
        object.__setattr__(self, "_wo", wo)
        object.__setattr__(self, "values", {})

    def __getattr__(self, key: str) -> Any:
        values = object.__getattribute__(self, "values")
        return values[key] if key in values else getattr(object.__getattribute__(self, "_wo"), key)

    def __setattr__(self, key: str, value: Any) -> None:
        self.values[key] = value


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return _aware(old) == _aware(new)
    return old == new and type(old) is type(new) or (old is None and new is None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _fill(
    session: Session,
    wo: WorkOrder,
    data: dict[str, Any],
    subscriber: dict[str, Any],
    subscriber_id: int,
    mapping: ScMapping,
    updated: datetime | None,
) -> None:
    problems: list[str] = []
    loc = data.get("Location") if isinstance(data.get("Location"), dict) else {}
    status = data.get("Status") if isinstance(data.get("Status"), dict) else {}
    currency = data.get("Currency") if isinstance(data.get("Currency"), dict) else {}
    wo.number = _text(data.get("Number"), 40)
    wo.purchase_number = _text(data.get("PurchaseNumber"), 60)
    wo.subscriber_id = subscriber_id
    wo.subscriber_name = _text(subscriber.get("Name"), 120)
    wo.store_id = _int(loc.get("Id") or data.get("LocationId"))
    wo.store_name = _text(loc.get("Name"), 120)
    wo.address = _address(loc)
    wo.store_phone = _text(loc.get("Phone"), 30)
    wo.time_zone = _text(loc.get("TimeZoneIanaName"), 60)
    wo.trade = _text(data.get("Trade"), 60)
    wo.category = _text(data.get("Category"), 60)
    wo.priority = _text(data.get("Priority"), 60)
    wo.description = _text(data.get("Description"), 4000)
    wo.caller = _text(data.get("Caller"), 120)
    wo.call_date = parse_time(data.get("CallDate_DTO") or data.get("CallDate"))
    wo.scheduled_at = parse_time(data.get("ScheduledDate_DTO") or data.get("ScheduledDate"))
    wo.expires_at = parse_time(data.get("ExpirationDate_DTO") or data.get("ExpirationDate"))
    wo.platform_status = _text(status.get("Primary"), 40)
    wo.platform_extended = _text(status.get("Extended"), 60)
    wo.platform_updated_at = updated
    try:
        wo.nte = None if data.get("Nte") in (None, "") else float(data["Nte"])
    except (TypeError, ValueError):
        wo.nte = None
        problems.append(f"Not-to-exceed '{data.get('Nte')}' is not a number")
    wo.currency = _text(currency.get("AlphabeticalCode"), 3).upper()
    if wo.currency and wo.currency != mapping.currency:
        problems.append(f"NTE in {wo.currency}, not {mapping.currency}")
    wo.response_hours = response_hours(wo.priority)
    start = wo.call_date or parse_time(data.get("CreatedDate"))
    wo.due_at = start + timedelta(hours=wo.response_hours) if start and wo.response_hours else None
    if not wo.priority:
        problems.append("No priority")
    elif wo.response_hours is None:
        problems.append(f"Priority '{wo.priority}' names no response time")
    if not wo.subscriber_name:
        problems.append("No client (subscriber) name")
    if not wo.address["street"] or not wo.address["zip"]:
        problems.append("No store address" if not wo.address["street"] else "No ZIP for the store")
    if not wo.time_zone:
        problems.append("No time zone for the store")
    if not wo.scheduled_at:
        problems.append("No scheduled date")
    job_type_name = mapping.job_type_name(wo.trade, wo.category)
    job_type = (
        session.scalar(select(JobType).where(JobType.name == job_type_name, JobType.active.is_(True)))
        if job_type_name
        else None
    )
    wo.job_type_id = job_type.id if job_type else None
    if not wo.trade:
        problems.append("No trade")
    elif job_type is None:
        problems.append(
            f"Unknown trade '{wo.trade}'"
            + (f" / category '{wo.category}'" if wo.category else "")
            + " — no job type mapped"
            if not job_type_name
            else f"Job type '{job_type_name}' (mapped from {wo.trade}) is not in the setup"
        )
    if wo.customer_id is None and wo.subscriber_name:
        wo.customer_id = _match_customer(session, subscriber_id, wo.subscriber_name, subscriber)
    if wo.customer_id is not None and wo.location_id is None and wo.address["street"]:
        wo.location_id = _match_location(session, wo)
    customer = session.get(Customer, wo.customer_id) if wo.customer_id else None
    if customer is not None and customer.do_not_service:
        problems.append(
            "Do Not Service customer"
            + (f": {customer.do_not_service_reason}" if customer.do_not_service_reason else "")
        )
    if wo.platform_extended.casefold() == "on site" and wo.checked_in_at is None:
        wo.checked_in_at = updated or datetime.now(UTC)
    platform_done = wo.platform_status.casefold() == "completed"
    if platform_done and wo.state == WorkOrderState.NEW.value:
        wo.state = WorkOrderState.CLOSED.value
    wo.problems = problems


def _match_customer(session: Session, subscriber_id: int, name: str, subscriber: dict[str, Any]) -> str:
    known = session.scalar(
        select(WorkOrder.customer_id)
        .where(WorkOrder.subscriber_id == subscriber_id, WorkOrder.customer_id.is_not(None))
        .limit(1)
    )
    if known:
        return known
    folded = " ".join(name.split()).casefold()
    same_name = session.scalar(
        select(Customer.id)
        .where(
            func.lower(Customer.name) == folded, Customer.active.is_(True), Customer.merged_into_id.is_(None)
        )
        .order_by(Customer.created_at)
        .limit(1)
    )
    if same_name:
        return same_name
    phone = try_parse_phone(_text(subscriber.get("Phone"), 30))
    if phone is not None:
        same_phone = session.scalar(
            select(ContactMethod.customer_id)
            .join(Customer, Customer.id == ContactMethod.customer_id)
            .where(
                ContactMethod.value == phone.e164,
                Customer.active.is_(True),
                Customer.merged_into_id.is_(None),
            )
            .limit(1)
        )
        if same_phone:
            return same_phone
    customer = Customer(name=" ".join(name.split())[:100], type=CustomerType.COMMERCIAL)
    session.add(customer)
    session.flush()
    if phone is not None:
        session.add(
            ContactMethod(
                customer_id=customer.id,
                kind=ContactKind.PHONE,
                value=phone.e164,
                memo="ServiceChannel",
                digits=phone.digits,
                digits_rev=phone.digits_rev,
            )
        )
    return customer.id


def _match_location(session: Session, wo: WorkOrder) -> str:
    known = session.scalar(
        select(WorkOrder.location_id)
        .where(
            WorkOrder.subscriber_id == wo.subscriber_id,
            WorkOrder.store_id == wo.store_id,
            WorkOrder.location_id.is_not(None),
            WorkOrder.id != wo.id,
        )
        .limit(1)
    )
    if known and wo.store_id:
        return known
    a = wo.address
    key = address_key(a["street"], a["unit"], a["zip"])
    same = session.scalar(
        select(Location.id)
        .where(Location.customer_id == wo.customer_id, Location.address_key == key)
        .limit(1)
    )
    if same:
        return same
    loc = Location(
        customer_id=wo.customer_id,
        name=wo.store_name[:100],
        street=a["street"],
        unit=a["unit"],
        city=a["city"],
        state=a["state"],
        zip=a["zip"],
        country=a["country"],
        address_key=key,
    )
    session.add(loc)
    session.flush()
    return loc.id
