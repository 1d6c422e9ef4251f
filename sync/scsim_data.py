"""What the ServiceChannel stand-in (`csr-scsim`, sync/scsim.py) holds and sends, as data: work orders in
the shape of the API v3 definition (``ServiceChannel.Services.Messaging.Workorders.WorkOrder``), each
subscriber's configured statuses, the webhook signature. Pure: no network; the randomness comes from the
caller's seeded ``random.Random``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import UTC, datetime, timedelta
from typing import Any

SIGN_TYPE = "HMACSHA256"
SIGN_TYPE_HEADER = "Sign-Type"
SIGN_DATA_HEADER = "Sign-Data"

# The statuses most subscribers configure (docs/servicechannel.md; the reference's §1.5). A subscriber
# may have fewer: a status it lacks is refused.
DEFAULT_STATUSES: list[tuple[str, str]] = [
    ("Open", ""),
    ("Open", "Declined"),
    ("In Progress", "Dispatch Confirmed"),
    ("In Progress", "On Site"),
    ("In Progress", "Incomplete"),
    ("In Progress", "Parts on Order"),
    ("In Progress", "Waiting for Quote"),
    ("In Progress", "On Hold"),
    ("Completed", "Pending Confirmation"),
    ("Completed", "Cancelled"),
]
DECLINE_REASONS = {
    1: "Can't make ETA",
    2: "Trade not serviced",
    3: "Location not serviced",
    4: "Not under warranty",
    5: "Other",
    6: "NTE too low",
}
# Response time of each priority, in hours (the subscriber's names carry it: "P2 - 8 Hours").
PRIORITIES = {"P1 - Emergency 4 Hours": 4, "P2 - 8 Hours": 8, "P3 - 24 Hours": 24, "P4 - 72 Hours": 72}
TRADES = ["HVAC", "PLUMBING", "ELECTRICAL"]
CATEGORIES = ["MAINTENANCE", "REPAIR", "CAPEX"]

SUBSCRIBERS = [
    {"Id": 2014917421, "Name": "Glendale Retail Group", "ShortName": "GRG", "Phone": "8185550100"},
    {"Id": 2014917422, "Name": "Sunbelt Burger Co.", "ShortName": "SBC", "Phone": "6025550100"},
]
STORES = [
    ("Glendale Galleria Mall", "100 W Broadway", "Glendale", "CA", "91210", "America/Los_Angeles"),
    ("Pasadena Plaza", "300 E Colorado Blvd", "Pasadena", "CA", "91101", "America/Los_Angeles"),
    ("Tempe Marketplace", "2000 E Rio Salado Pkwy", "Tempe", "AZ", "85281", "America/Phoenix"),
    ("Dallas Galleria", "13350 Dallas Pkwy", "Dallas", "TX", "75240", "America/Chicago"),
]
PROBLEMS = [
    "Walk-in cooler not holding temperature",
    "Rooftop unit 3 blowing warm air",
    "Water leaking under the prep sink",
    "Breaker for the front lights keeps tripping",
    "Restroom toilet running constantly",
]


def sign(key: str, body: bytes) -> str:
    """``Sign-Data`` for a delivery: base64 of HMAC-SHA256 over the raw body, the key as UTF-8 (the
    reference's §1.10 leaves the exact input open; the adapter also accepts a base64-decoded key)."""
    return base64.b64encode(hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_work_order(wo_id: int, rng: random.Random, now: datetime, **overrides: Any) -> dict[str, Any]:
    """A new work order as the platform returns it (Open, not yet accepted)."""
    subscriber = dict(rng.choice(SUBSCRIBERS))
    name, street, city, state, zip_, tz = rng.choice(STORES)
    store_no = STORES.index((name, street, city, state, zip_, tz)) + 1
    priority = rng.choice(list(PRIORITIES))
    scheduled = now + timedelta(hours=PRIORITIES[priority])
    wo: dict[str, Any] = {
        "Id": wo_id,
        "Number": f"{rng.randint(1000000, 9999999)}",
        "PurchaseNumber": f"PO-{wo_id}",
        "Subscriber": subscriber,
        "Location": {
            "Id": 5000 + store_no + 10 * SUBSCRIBERS.index(subscriber),
            "StoreId": f"{subscriber['ShortName']}-{store_no:03d}",
            "Name": name,
            "Address1": "",
            "Address2": street,
            "City": city,
            "State": state,
            "Zip": zip_,
            "Country": "US",
            "Phone": f"{rng.randint(200, 989)}555{rng.randint(1000, 9999)}",
            "TimeZoneIanaName": tz,
        },
        "LocationId": 5000 + store_no + 10 * SUBSCRIBERS.index(subscriber),
        "Status": {"Primary": "Open", "Extended": "", "CanCreateInvoice": False},
        "Priority": priority,
        "Trade": rng.choice(TRADES),
        "Category": rng.choice(CATEGORIES),
        "Nte": float(rng.choice([250, 500, 750, 1000, 1500])),
        "Currency": {"AlphabeticalCode": "USD", "Name": "US Dollar"},
        "Description": rng.choice(PROBLEMS),
        "Caller": rng.choice(["Store manager", "District manager", "Facilities desk"]),
        "CallDate": iso(now),
        "ScheduledDate": iso(scheduled),
        "ExpirationDate": iso(scheduled + timedelta(hours=24)),
        "CreatedDate": iso(now),
        "UpdatedDate": iso(now),
        "IsExpired": False,
        "Notes": {"Count": 0},
    }
    wo.update(overrides)
    return wo


def odata_filter(rows: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
    """The subset of ``$filter`` the adapter sends: clauses joined by ``and``, each ``Field op 'value'``
    or ``Field op datetime`` with eq / ne / ge / gt / le / lt; ``Status/Primary`` reaches into Status.
    Anything else is a ValueError (the platform answers 400)."""
    out = rows
    for clause in [c.strip() for c in expression.split(" and ") if c.strip()]:
        parts = clause.split(" ", 2)
        if len(parts) != 3 or parts[1] not in _OPS:
            raise ValueError(f"unsupported filter clause: {clause}")
        field, op, raw = parts
        value = raw.strip("'")
        out = [r for r in out if _compare(_field(r, field), _OPS[op], value)]
    return out


_OPS = {"eq": "==", "ne": "!=", "ge": ">=", "gt": ">", "le": "<=", "lt": "<"}


def _field(row: dict[str, Any], path: str) -> Any:
    value: Any = row
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _compare(left: Any, op: str, right: str) -> bool:
    if left is None:
        return False
    if isinstance(left, str) and left[:4].isdigit() and "T" in left:
        # Dates compare as instants whatever their spelling.
        a, b = _instant(left), _instant(right)
    elif isinstance(left, int | float):
        a, b = float(left), float(right)
    else:
        a, b = str(left).casefold(), right.casefold()
    return {"==": a == b, "!=": a != b, ">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b}[op]


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
