"""Merging duplicate customers, and undoing a merge (issue 19).

``merge_customers`` moves everything of the merged customer to the survivor: jobs, calls, leads, online
bookings, contacts, notes, memberships, open conflicts and locations (a location at the same address as
one of the survivor's is retired and its history moves to the survivor's location). Per customer field
the manager picks which value wins. The merged customer keeps its row, retired, with ``merged_into_id``
pointing at the survivor: search and screen pop follow it.

Every row the merge writes is recorded in a :class:`CustomerMerge` row, before and after, column by
column. ``undo_merge`` puts every one of them back exactly — as long as each is still as the merge left
it ("until the records change again"); a record changed since is named in the refusal. Both are intents:
applied on the console at once (offline too), re-applied by the server, which lets only managers and
admins push them (sync/server_auth.py) and whose copy of the merge row (its own before/after) travels
to every console. Two managers merging the same pair: the second merge meets a customer already merged
and is refused with a sentence naming the first one (the console then takes the server's rows back).
"""

from __future__ import annotations

import datetime as dt
import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, delete, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import ID_LEN, Base, utcnow
from .calls import Call
from .conflicts import ACTOR_NAME, Conflict
from .customers import ContactMethod, Customer, Location, Membership, Note, customer_tags
from .intent_kit import Applied, get_row, intent, own_id, require_id
from .intents import CUSTOMER_FIELDS
from .jobs import Job, Lead, OnlineBooking
from .validation import ValidationFailed

MERGE_INTENTS = frozenset({"merge_customers", "undo_merge"})
SURVIVOR, MERGED = "survivor", "merged"
TAGS = "customer_tags"  # the survivor's tag set, recorded as one pseudo-row of the snapshot

# (model, its customer column, its location column or None): everything that follows the customer.
MOVES: tuple[tuple[type, str, str | None], ...] = (
    (Job, "customer_id", "location_id"),
    (Call, "customer_id", "location_id"),
    (Lead, "customer_id", "location_id"),
    (OnlineBooking, "customer_id", None),
    (ContactMethod, "customer_id", "location_id"),
    (Note, "customer_id", "location_id"),
    (Membership, "customer_id", None),
    (Conflict, "customer_id", None),
)
_MODELS: dict[str, type] = {
    m.__tablename__: m for m in (Customer, Location, *(model for model, _c, _l in MOVES))
}


class CustomerMerge(Base):
    """One merge: who into whom, which values won, and every row it wrote (before and after)."""

    __tablename__ = "customer_merges"
    id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    merged_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    status: Mapped[str] = mapped_column(String(10), default="merged")  # merged / undone
    fields: Mapped[dict] = mapped_column(JSON, default=dict)  # {field: "survivor" | "merged"}
    # [{"t": table, "k": primary key, "b": columns before or null, "a": columns after or null}, ...]
    rows: Mapped[list] = mapped_column(JSON, default=list)
    merged_by: Mapped[str] = mapped_column(String(100), default="")
    merged_at: Mapped[datetime] = mapped_column(default=utcnow)
    undone_by: Mapped[str] = mapped_column(String(100), default="")
    undone_at: Mapped[datetime | None] = mapped_column(default=None)


# -- a row as JSON, and back ------------------------------------------------------------------------------
_PLAIN = (str, int, float, bool, type(None))


def _encode(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        # SQLite hands back naive UTC, PostgreSQL aware: one spelling for both, so rows compare equal.
        aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return value


_KEYS: dict[type, tuple[str, ...]] = {}


def columns_of(row: Any) -> dict[str, Any]:
    """Every column of an ORM row, JSON-safe."""
    cls = type(row)
    keys = _KEYS.get(cls)
    if keys is None:
        keys = _KEYS[cls] = tuple(attr.key for attr in inspect(cls).column_attrs)
    loaded = row.__dict__  # the loaded values, without the instrumented attribute's overhead
    return {k: _encode(loaded[k] if k in loaded else getattr(row, k)) for k in keys}


def _decode(model: type, key: str, value: Any) -> Any:
    if value is None:
        return None
    column = model.__table__.c[key]
    enum_class = getattr(column.type, "enum_class", None)
    if enum_class is not None:
        return enum_class(value)
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if python_type is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if python_type is dt.date:
        return dt.date.fromisoformat(value)
    if python_type is dt.time:
        return dt.time.fromisoformat(value)
    return value


def _tag_ids(session: Session, customer_id: str) -> list[str]:
    return sorted(
        session.scalars(select(customer_tags.c.tag_type_id).where(customer_tags.c.customer_id == customer_id))
    )


class _Recorder:
    """The merge's before/after of each row it writes, in the order first touched."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.before: dict[tuple[str, str], tuple[Any, dict[str, Any] | None]] = {}

    def touch(self, row: Any) -> None:
        key = (row.__tablename__, row.id)
        if key not in self.before:
            self.before[key] = (row, columns_of(row))
            if hasattr(row, "updated_at"):
                # One explicit stamp, set before any change: the column's onupdate would stamp each row
                # of a batched UPDATE with a clock read the object never holds (then "after" is wrong).
                row.updated_at = self.now
                _bump(row)

    def entries(self, session: Session, tags: tuple[str, list[str]]) -> list[dict[str, Any]]:
        session.flush()
        out = []
        for (table, pk), (row, before) in self.before.items():
            gone = inspect(row).deleted or inspect(row).was_deleted
            out.append({"t": table, "k": pk, "b": before, "a": None if gone else columns_of(row)})
        survivor_id, tags_before = tags
        out.append({"t": TAGS, "k": survivor_id, "b": tags_before, "a": _tag_ids(session, survivor_id)})
        return out


def _actor(session: Session, args: dict[str, Any]) -> str:
    return str(session.info.get(ACTOR_NAME) or args.get("actor") or "")[:100]


def _now(session: Session) -> datetime:
    return session.info.get("now") or utcnow()


def _field_choices(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed({"fields": "Malformed field choices."})
    out = {}
    for key, side in raw.items():
        if key not in CUSTOMER_FIELDS:
            raise ValidationFailed({"fields": f"'{key}' is not a customer field that can be merged."})
        if side not in (SURVIVOR, MERGED):
            raise ValidationFailed({"fields": f"Choose 'survivor' or 'merged' for '{key}'."})
        out[key] = side
    return out


def _already_merged(session: Session, customer: Customer) -> str:
    into = session.get(Customer, customer.merged_into_id) if customer.merged_into_id else None
    merge = session.scalar(
        select(CustomerMerge)
        .where(CustomerMerge.merged_id == customer.id, CustomerMerge.status == "merged")
        .order_by(CustomerMerge.merged_at.desc())
        .limit(1)
    )
    by = f" by {merge.merged_by}" if merge is not None and merge.merged_by else ""
    target = f" into {into.name}" if into is not None else ""
    return f"{customer.name} was already merged{target}{by} — open that record instead."


@intent("merge_customers")
def merge_customers(session: Session, args: dict[str, Any]) -> Applied:
    """{merge_id, survivor_id, merged_id, fields: {field: "survivor" | "merged"}}: move everything of
    ``merged_id`` to ``survivor_id``; the chosen fields take the merged customer's value."""
    survivor = get_row(session, Customer, require_id(args.get("survivor_id"), "survivor_id"), "customer")
    merged = get_row(session, Customer, require_id(args.get("merged_id"), "merged_id"), "customer")
    if survivor.id == merged.id:
        raise ValidationFailed({"merged_id": "Pick two different customers to merge."})
    for customer in (merged, survivor):
        if customer.merged_into_id:
            raise ValidationFailed({"merged_id": _already_merged(session, customer)})
    choices = _field_choices(args.get("fields"))
    merge_id = _merge_id(args)
    if session.get(CustomerMerge, merge_id) is not None:
        raise ValidationFailed({"merge_id": "This merge was already saved."})

    # One flush at the end: each query would otherwise flush the rows moved so far (most of the cost).
    with session.no_autoflush:
        rec = _Recorder(_now(session))
        rec.touch(survivor)
        rec.touch(merged)
        tags_before = _tag_ids(session, survivor.id)
        for key, side in choices.items():
            if side == MERGED:
                setattr(survivor, key, getattr(merged, key))
        # Locations: one at an address the survivor already has is retired, its history moves there.
        own = {
            loc.address_key: loc
            for loc in session.scalars(
                select(Location)
                .where(Location.customer_id == survivor.id, Location.active.is_(True))
                .order_by(Location.created_at, Location.id)
            )
            if loc.address_key
        }
        relocated: dict[str, str] = {}
        for loc in session.scalars(
            select(Location)
            .where(Location.customer_id == merged.id)
            .order_by(Location.created_at, Location.id)
        ):
            rec.touch(loc)
            twin = own.get(loc.address_key) if loc.address_key and loc.active else None
            if twin is not None:
                relocated[loc.id] = twin.id
                loc.active = False
            else:
                loc.customer_id = survivor.id
        survivor_phones = {
            (cm.value, cm.location_id)
            for cm in session.scalars(select(ContactMethod).where(ContactMethod.customer_id == survivor.id))
        }
        for model, customer_col, location_col in MOVES:
            for row in session.scalars(select(model).where(getattr(model, customer_col) == merged.id)):
                rec.touch(row)
                if location_col is not None and getattr(row, location_col) in relocated:
                    setattr(row, location_col, relocated[getattr(row, location_col)])
                if model is ContactMethod and (row.value, row.location_id) in survivor_phones:
                    session.delete(row)  # the same number (or email) twice on one record: kept once
                    continue
                setattr(row, customer_col, survivor.id)
                if model is ContactMethod:
                    survivor_phones.add((row.value, row.location_id))
        # Customers merged into this one earlier now point at the survivor: the redirect is one hop.
        for earlier in session.scalars(select(Customer).where(Customer.merged_into_id == merged.id)):
            rec.touch(earlier)
            earlier.merged_into_id = survivor.id
        wanted = set(tags_before) | set(_tag_ids(session, merged.id))
        missing = sorted(wanted - set(tags_before))
        if missing:
            session.execute(
                insert(customer_tags), [{"customer_id": survivor.id, "tag_type_id": t} for t in missing]
            )
            _bump(survivor)  # the tag rows travel with the customer's row
        merged.merged_into_id = survivor.id
        merged.active = False
    session.flush()
    merge = CustomerMerge(
        id=merge_id,
        survivor_id=survivor.id,
        merged_id=merged.id,
        status="merged",
        fields=choices,
        merged_by=_actor(session, args),
        merged_at=_now(session),
    )
    merge.rows = rec.entries(session, (survivor.id, tags_before))
    session.add(merge)
    touched = [survivor.id, merged.id, *(k for (t, k) in rec.before if t == "customers")]
    return Applied("customer_merge", merge.id, list(dict.fromkeys(touched)), {})


def _merge_id(args: dict[str, Any]) -> str:
    # The id travels in ``merge_id`` (minted here when absent, so the server creates the same row).
    holder = {"id": args.get("merge_id")}
    args["merge_id"] = own_id(holder, "merge_id")
    return args["merge_id"]


def _bump(row: Any) -> None:
    from sqlalchemy.orm.attributes import flag_modified

    flag_modified(row, "updated_at")


def changed_since(session: Session, merge: CustomerMerge) -> list[str]:
    """What changed since the merge, as people read it (empty: the merge can be undone)."""
    out: list[str] = []
    for entry in merge.rows:
        table, pk, after = entry["t"], entry["k"], entry["a"]
        if table == TAGS:
            if _tag_ids(session, pk) != after:
                out.append("the survivor's tags")
            continue
        model = _MODELS.get(table)
        row = session.get(model, pk) if model is not None else None
        now = columns_of(row) if row is not None else None
        if now != after:
            out.append(_label(table, row or entry))
    return list(dict.fromkeys(out))


def _label(table: str, row: Any) -> str:
    if isinstance(row, dict):
        row = row.get("a") or row.get("b") or {}
        name = row.get("name") or row.get("number") or row.get("value") or ""
    else:
        name = getattr(row, "name", "") or getattr(row, "number", "") or getattr(row, "value", "")
    what = {
        "customers": "customer",
        "locations": "location",
        "jobs": "job",
        "calls": "call",
        "leads": "lead",
        "online_bookings": "online booking",
        "contact_methods": "contact",
        "notes": "note",
        "memberships": "membership",
        "conflicts": "conflict",
    }.get(table, table)
    return f"{what} {name}".strip()


@intent("undo_merge")
def undo_merge(session: Session, args: dict[str, Any]) -> Applied:
    """{merge_id}: put every row the merge wrote back as it was, if none changed since."""
    merge = get_row(session, CustomerMerge, require_id(args.get("merge_id"), "merge_id"), "merge")
    if merge.status == "undone":
        by = f" by {merge.undone_by}" if merge.undone_by else ""
        raise ValidationFailed({"merge_id": f"This merge was already undone{by}."})
    changed = changed_since(session, merge)
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        raise ValidationFailed(
            {"merge_id": f"The records changed since the merge ({shown}) — it can no longer be undone."}
        )
    touched: list[str] = []
    # Rows the merge removed come back first (parents before children), then every value is restored.
    for entry in merge.rows:
        table, pk, before = entry["t"], entry["k"], entry["b"]
        if table == TAGS:
            session.execute(delete(customer_tags).where(customer_tags.c.customer_id == pk))
            if before:
                session.execute(
                    insert(customer_tags), [{"customer_id": pk, "tag_type_id": t} for t in before]
                )
            continue
        model = _MODELS[table]
        row = session.get(model, pk)
        if before is None:
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = model(**{k: _decode(model, k, v) for k, v in before.items()})
            session.add(row)
        else:
            for key, value in before.items():
                setattr(row, key, _decode(model, key, value))
            if "updated_at" in before:
                _bump(row)  # the stamp as it was, even when equal: onupdate must not restamp it
        if table == "customers":
            touched.append(pk)
    merge.status = "undone"
    merge.undone_by = _actor(session, args)
    merge.undone_at = _now(session)
    session.flush()
    return Applied(
        "customer_merge", merge.id, list(dict.fromkeys([merge.survivor_id, merge.merged_id, *touched])), {}
    )
