"""What a work order says, as the platform sent it, compared with what is stored — so the catch-up poll
re-reading a work order whose ``UpdatedDate`` moved but whose content did not (the platform stamps its own
accept of what we sent) stores nothing: no write on the server's single SQLite writer, no change row, no
console pull. Pure: the stored side is a row of the columns below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from .timeutil import as_utc
from .work_order_ingest import _address, _int, _text, parse_time
from .work_orders import WorkOrder

# The columns ingest fills straight from the platform's fields (the rest are derived from these, or ours).
COLUMNS = (
    WorkOrder.number,
    WorkOrder.purchase_number,
    WorkOrder.subscriber_id,
    WorkOrder.subscriber_name,
    WorkOrder.store_id,
    WorkOrder.store_name,
    WorkOrder.address,
    WorkOrder.store_phone,
    WorkOrder.time_zone,
    WorkOrder.trade,
    WorkOrder.category,
    WorkOrder.priority,
    WorkOrder.description,
    WorkOrder.caller,
    WorkOrder.call_date,
    WorkOrder.scheduled_at,
    WorkOrder.expires_at,
    WorkOrder.platform_status,
    WorkOrder.platform_extended,
    WorkOrder.nte,
    WorkOrder.currency,
)


def platform_content(data: dict[str, Any]) -> tuple[Any, ...]:
    """The values ingest would store for ``data``, in ``COLUMNS`` order."""
    subscriber = data.get("Subscriber") if isinstance(data.get("Subscriber"), dict) else {}
    loc = data.get("Location") if isinstance(data.get("Location"), dict) else {}
    status = data.get("Status") if isinstance(data.get("Status"), dict) else {}
    currency = data.get("Currency") if isinstance(data.get("Currency"), dict) else {}
    try:
        nte = None if data.get("Nte") in (None, "") else float(data["Nte"])
    except (TypeError, ValueError):
        nte = None
    return (
        _text(data.get("Number"), 40),
        _text(data.get("PurchaseNumber"), 60),
        _int(subscriber.get("Id")),
        _text(subscriber.get("Name"), 120),
        _int(loc.get("Id") or data.get("LocationId")),
        _text(loc.get("Name"), 120),
        _address(loc),
        _text(loc.get("Phone"), 30),
        _text(loc.get("TimeZoneIanaName"), 60),
        _text(data.get("Trade"), 60),
        _text(data.get("Category"), 60),
        _text(data.get("Priority"), 60),
        _text(data.get("Description"), 4000),
        _text(data.get("Caller"), 120),
        parse_time(data.get("CallDate_DTO") or data.get("CallDate")),
        parse_time(data.get("ScheduledDate_DTO") or data.get("ScheduledDate")),
        parse_time(data.get("ExpirationDate_DTO") or data.get("ExpirationDate")),
        _text(status.get("Primary"), 40),
        _text(status.get("Extended"), 60),
        nte,
        _text(currency.get("AlphabeticalCode"), 3).upper(),
    )


def same_content(stored: Row[Any] | tuple[Any, ...], data: dict[str, Any]) -> bool:
    """Whether the stored columns (``COLUMNS`` order) already say everything ``data`` says."""
    return all(_same(old, new) for old, new in zip(stored, platform_content(data), strict=True))


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) or isinstance(new, datetime):
        return old is not None and new is not None and as_utc(old) == as_utc(new)
    if old is None or new is None:
        return old is None and new is None
    return bool(old == new)
