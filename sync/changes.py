"""Change capture and replay: the rows a server transaction touched become change-log entries, and a
console applies those entries to its cache. Both sides use the same ORM tables (models/), so a row is
its column values, JSON-encoded, plus the link tables that hang off it (tags, technicians)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
from typing import Any

from sqlalchemy import bindparam, delete, event, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from models.base import Base
from models.customers import customer_tags, location_tags
from models.jobs import appointment_technicians, job_tags
from models.schema import metadata  # noqa: F401 - every table registered
from models.setup import arrival_window_business_units, job_type_business_units
from models.sync_tables import CONSOLE_TABLES, REDACTED_COLUMNS
from models.timeutil import as_utc, utc_iso

# Link tables carried inside their owner's change: (owner table, link table, owner fk, other fk, key).
LINKS = [
    ("customers", customer_tags, "customer_id", "tag_type_id", "_tag_ids"),
    ("locations", location_tags, "location_id", "tag_type_id", "_tag_ids"),
    ("jobs", job_tags, "job_id", "tag_type_id", "_tag_ids"),
    ("appointments", appointment_technicians, "appointment_id", "technician_id", "_technician_ids"),
    ("job_types", job_type_business_units, "job_type_id", "business_unit_id", "_business_unit_ids"),
    (
        "arrival_windows",
        arrival_window_business_units,
        "arrival_window_id",
        "business_unit_id",
        "_business_unit_ids",
    ),
]
_MAPPERS = {m.local_table.name: m for m in Base.registry.mappers}
_LINK_TABLES = {link.name: link for _owner, link, _a, _b, _k in LINKS}


def synced_tables() -> list[str]:
    """Every table consoles may read (models/sync_tables.py CONSOLE_TABLES), parents before children
    (the initial sync's order)."""
    return [t.name for t in Base.metadata.sorted_tables if t.name in CONSOLE_TABLES]


def console_may_read(table: str) -> bool:
    """Whether a console may read ``table`` (fetch, snapshot, the change log): the allow-list only."""
    return table in CONSOLE_TABLES and table in Base.metadata.tables


PATCH = "patch"  # a change-log entry that sets some columns of many existing rows (docs/protocol.md)


def json_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return utc_iso(value)  # "…Z": a client never guesses the zone
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def row_data(session: Session, obj: Any) -> dict[str, Any]:
    """Column values of an ORM object (JSON-safe), plus its link-table ids."""
    mapper = inspect(obj).mapper
    table = mapper.local_table.name
    hidden = REDACTED_COLUMNS.get(table, frozenset())
    data = {
        attr.key: ("" if attr.key in hidden else json_value(getattr(obj, attr.key)))
        for attr in mapper.column_attrs
    }
    for key, query in _link_queries().get(table, ()):
        data[key] = sorted(session.scalars(query, {"owner": obj.id}))
    return data


@functools.cache
def _link_queries() -> dict[str, list[tuple[str, Any]]]:
    """Per owner table, its link tables' id queries, built once (a server serializes one or two rows per
    mutation: building the statement each time cost as much as running it)."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for owner, link, owner_fk, other_fk, key in LINKS:
        query = select(link.c[other_fk]).where(link.c[owner_fk] == bindparam("owner"))
        out.setdefault(owner, []).append((key, query))
    return out


def primary_key(obj: Any) -> str:
    # From the attributes, not the identity map: in after_flush a new object has no identity yet.
    return ":".join(str(v) for v in inspect(obj).mapper.primary_key_from_instance(obj))


class ChangeCollector:
    """Watches a session for the objects its flushes write; ``collect()`` serializes them at the end
    of the transaction (after the last flush, so link tables are complete)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._touched: dict[tuple[str, str], Any] = {}
        self._deleted: dict[tuple[str, str], str] = {}
        event.listen(session, "after_flush", self._after_flush)

    def _after_flush(self, session: Session, _ctx: Any) -> None:
        for obj in list(session.new) + list(session.dirty):
            table = inspect(obj).mapper.local_table.name
            if table in CONSOLE_TABLES:
                self._touched[(table, primary_key(obj))] = obj
        for obj in session.deleted:
            table = inspect(obj).mapper.local_table.name
            if table in CONSOLE_TABLES:
                key = (table, primary_key(obj))
                self._touched.pop(key, None)
                self._deleted[key] = key[1]

    def forget(self, table: str, ids: Any) -> None:
        """Leave these rows out of ``collect()`` (the caller logs them another way: a ``patch``)."""
        for i in ids:
            self._touched.pop((table, str(i)), None)

    def touch(self, obj: Any) -> None:
        """Record an object changed by a core statement (e.g. a link-table insert) the flush can't see."""
        self._touched[(inspect(obj).mapper.local_table.name, primary_key(obj))] = obj

    def collect(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """[(entity, entity_id, op, data)] in a stable order: parents before children (table order)."""
        self.session.flush()
        event.remove(self.session, "after_flush", self._after_flush)
        order = _change_order()
        out = [
            (table, pk, "upsert", row_data(self.session, obj))
            for (table, pk), obj in sorted(self._touched.items(), key=lambda kv: order.get(kv[0][0], 0))
        ]
        out += [(table, pk, "delete", {}) for (table, pk) in self._deleted]
        return out


@functools.cache
def _change_order() -> dict[str, int]:
    """Table → its place in a change set: parents before children. A row travels with its link rows,
    so it goes where its link table sorts: after every table the links point to (a job type after
    the business units it is offered in)."""
    order = {t.name: i for i, t in enumerate(Base.metadata.sorted_tables)}
    for owner, link, *_ in LINKS:
        order[owner] = max(order[owner], order[link.name])
    return order


# -- console side ------------------------------------------------------------------------------------------
def _decode(mapper: Any, data: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for attr in mapper.column_attrs:
        if attr.key not in data:
            continue
        value = data[attr.key]
        column = attr.columns[0]
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            python_type = object
        if value is not None and isinstance(value, str):
            if python_type is dt.datetime:
                # "…Z" (or an older "+00:00"): kept naive in UTC, as SQLite hands every datetime back.
                value = dt.datetime.fromisoformat(value)
                if value.tzinfo is not None:
                    value = as_utc(value).replace(tzinfo=None)
            elif python_type is dt.date:
                value = dt.date.fromisoformat(value)
            elif python_type is dt.time:
                value = dt.time.fromisoformat(value)
        out[attr.key] = value
    return out


def patch_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``patch`` entry's rows as {column: value} (JSON values, ``id`` included)."""
    columns = ["id", *(data.get("columns") or [])]
    return [dict(zip(columns, values, strict=False)) for values in data.get("rows") or []]


def patch_ids(data: dict[str, Any]) -> list[str]:
    return [str(values[0]) for values in data.get("rows") or [] if values]


def apply_patch(session: Session, mapper: Any, data: dict[str, Any]) -> None:
    """Set the listed columns of rows this cache has (one executemany); a row it lacks is left alone
    (every row is logged whole when created, so a cache that pulled in order has it). Columns this
    console doesn't know (a newer server) are ignored."""
    known = [c for c in data.get("columns") or [] if c in mapper.columns and c != "id"]
    rows = [_decode(mapper, r) for r in patch_rows(data)]
    rows = [r for r in rows if r.get("id") is not None]
    if not known or not rows:
        return
    table = mapper.local_table
    statement = (
        table.update().where(table.c.id == bindparam("_id")).values({c: bindparam(f"_{c}") for c in known})
    )
    session.execute(statement, [{"_id": r["id"], **{f"_{c}": r.get(c) for c in known}} for r in rows])


def apply_change(session: Session, entity: str, entity_id: str, op: str, data: dict[str, Any]) -> str | None:
    """Apply one pulled change to the cache (idempotent). Returns the customer id whose search
    document may have changed, if any."""
    mapper = _MAPPERS.get(entity)
    if mapper is None:
        return None  # a table this console doesn't know (a newer server): skip
    cls = mapper.class_
    if session.get_bind().dialect.name == "sqlite":
        # A change set arrives in table order, but a link (job type → business unit) may name a row
        # later in the same set: check references when the transaction commits, not row by row.
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
    if op == PATCH:
        apply_patch(session, mapper, data)
        return None
    if op == "delete":
        pk_cols = mapper.primary_key
        values = entity_id.split(":")
        session.execute(delete(cls).where(*[c == v for c, v in zip(pk_cols, values, strict=False)]))
    else:
        decoded = _decode(mapper, data)
        row = session.merge(cls(**decoded))
        if "updated_at" in decoded and row in session.dirty:
            # The server's stamp, even when it equals the cached one: left unmarked, the column's
            # onupdate would stamp this console's own clock and the row would differ from the server's
            # (found by the deterministic simulation, docs/faults.md).
            flag_modified(row, "updated_at")
        session.flush()
        for owner, link, owner_fk, other_fk, key in LINKS:
            if owner == entity and key in data:
                session.execute(delete(link).where(link.c[owner_fk] == entity_id))
                ids = data[key] or []
                if ids:
                    session.execute(link.insert(), [{owner_fk: entity_id, other_fk: i} for i in ids])
    if entity == "customers":
        return entity_id
    if entity in ("locations", "contact_methods"):
        return data.get("customer_id")
    return None
