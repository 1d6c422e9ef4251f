"""Per-field three-way merge of record edits, and the conflict records it leaves (sync rule 5).

An update intent carries ``changes = {field: [old, new]}``: ``old`` is what the CSR saw when editing.
On the console the edit simply applies (it is the CSR's own cache). On the server
(``session.info[THREE_WAY]``) each field is merged against the stored value:

- stored == old (nobody else touched it) or stored == new (same edit) → the new value applies;
- otherwise another CSR changed the same field differently → the stored value ("theirs") stays, and
  a :class:`Conflict` row records base / mine / theirs. The conflict travels to every console like any
  other row; either CSR resolves it with one click (``resolve_conflict``: keep mine / keep theirs).

Different fields of the same record never conflict: each is merged on its own.
"""

from __future__ import annotations

import datetime as dt
import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import flag_modified

from .base import ID_LEN, Base, IdMixin, new_id, utcnow
from .intent_kit import Applied, get_row, intent, require_id, typed
from .validation import ValidationFailed

THREE_WAY = "three_way_merge"  # session.info key the server sets (sync/apply.py)
ACTOR_NAME = "actor_name"  # session.info: who is writing, as people read it


class Conflict(IdMixin, Base):
    __tablename__ = "conflicts"
    entity: Mapped[str] = mapped_column(String(40))  # customers / locations / contact_methods
    entity_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    customer_id: Mapped[str] = mapped_column(String(ID_LEN), index=True)
    field: Mapped[str] = mapped_column(String(60))
    base: Mapped[Any] = mapped_column(JSON, nullable=True)  # what the CSR saw before editing
    mine: Mapped[Any] = mapped_column(JSON, nullable=True)  # the edit that lost the race
    theirs: Mapped[Any] = mapped_column(JSON, nullable=True)  # the stored value it met
    mine_by: Mapped[str] = mapped_column(String(100), default="")
    theirs_by: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(12), default="open")  # open / resolved
    resolution: Mapped[str] = mapped_column(String(12), default="")  # mine / theirs
    resolved_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)


def _plain(value: Any) -> Any:
    """A column value as JSON carries it (for comparing and storing)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def _same(a: Any, b: Any) -> bool:
    a, b = _plain(a), _plain(b)
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    if isinstance(a, float) or isinstance(b, float):
        try:
            return a is not None and b is not None and abs(float(a) - float(b)) < 1e-9
        except (TypeError, ValueError):
            return False
    return a == b


def merge_changes(
    session: Session, row: Any, customer_id: str, changes: Any, allowed: tuple[str, ...]
) -> dict[str, Any]:
    """The values of ``changes`` ({field: [old, new]}) that should be written to ``row``; on the
    server, fields another CSR changed differently stay as stored and become conflicts."""
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed({"changes": "Nothing to change."})
    values: dict[str, Any] = {}
    for key, pair in changes.items():
        if key not in allowed:
            raise ValidationFailed({key: f"Unknown field '{key}'."})
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValidationFailed({key: "A change must carry the old and the new value."})
        values[key] = typed(type(row), key, pair[1])
    if not session.info.get(THREE_WAY):
        return values
    kept: dict[str, Any] = {}
    table = type(row).__tablename__
    for key, new in values.items():
        stored, old = getattr(row, key), changes[key][0]
        if _same(stored, old) or _same(stored, new):
            kept[key] = new
            continue
        session.add(
            Conflict(
                id=new_id(),
                entity=table,
                entity_id=row.id,
                customer_id=customer_id,
                field=key,
                base=_plain(old),
                mine=_plain(new),
                theirs=_plain(stored),
                mine_by=str(session.info.get(ACTOR_NAME, ""))[:100],
                theirs_by=_last_writer(session, row.id),
            )
        )
        # The row is sent back to every console even if no other field changes, so the console
        # whose optimistic edit lost shows the stored value again (and the conflict beside it).
        flag_modified(row, key)
    return kept


def merge_tags(session: Session, row: Any, new: Any, old: Any) -> Any:
    """Tags merge as a set, never as a conflict: the server keeps what others added meanwhile and
    applies what this CSR added and removed relative to what they saw (``old_tags``)."""
    if not session.info.get(THREE_WAY) or old is None or not isinstance(new, list):
        return new
    if not all(isinstance(t, str) for t in new):
        return new  # tags_named refuses it with a clear message
    stored = [t.name for t in row.tags]
    seen, wanted = {t.casefold() for t in old}, {t.casefold() for t in new}
    removed = seen - wanted
    out = [t for t in stored if t.casefold() not in removed]
    have = {t.casefold() for t in out}
    out += [t for t in new if t.casefold() not in seen and t.casefold() not in have]
    if {t.casefold() for t in out} != {t.casefold() for t in new}:
        flag_modified(row, "updated_at")  # the merged set differs from the console's: send it back
    return out


def _last_writer(session: Session, entity_id: str) -> str:
    from .journal import AuditEntry

    actor = session.scalar(
        select(AuditEntry.actor)
        .where(AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    )
    if not actor:
        return ""
    from .setup import User

    user = session.get(User, actor)
    return (user.display_name if user else actor)[:100]


def open_conflicts(session: Session, customer_id: str) -> list[Conflict]:
    return list(
        session.scalars(
            select(Conflict)
            .where(Conflict.customer_id == customer_id, Conflict.status == "open")
            .order_by(Conflict.created_at)
        )
    )


_ENTITY_MODELS = {"customers": "Customer", "locations": "Location", "contact_methods": "ContactMethod"}


@intent("resolve_conflict")
def resolve_conflict(session: Session, args: dict[str, Any]) -> Applied:
    """{conflict_id, choice: "mine" | "theirs"}: keep one value; the conflict closes for everyone."""
    from . import customers

    conflict = get_row(session, Conflict, require_id(args.get("conflict_id"), "conflict_id"), "conflict")
    choice = args.get("choice")
    if choice not in ("mine", "theirs"):
        raise ValidationFailed({"choice": "Choose 'mine' or 'theirs'."})
    if conflict.status != "open":
        # Already settled (perhaps by the other CSR): nothing more to do, and not an error.
        return Applied("conflict", conflict.id, [], {"conflict": "This clash was already settled."})
    model = getattr(customers, _ENTITY_MODELS.get(conflict.entity, ""), None)
    if model is None:
        raise ValidationFailed({"conflict": "This clash is about a record this console doesn't know."})
    row = session.get(model, conflict.entity_id)
    touched: list[str] = []
    if choice == "mine" and row is not None:
        value = typed(model, conflict.field, conflict.mine)
        if conflict.entity == "contact_methods" and conflict.field == "value":
            from .validation import check_contact

            fields = {
                k: _plain(getattr(row, k)) for k in ("kind", "value", "memo", "notifications", "do_not_text")
            }
            normalized, report = check_contact(fields | {"value": value})
            report.raise_if_errors()
            value = normalized["value"]
        setattr(row, conflict.field, value)
        if conflict.entity != "contact_methods":
            touched = [conflict.customer_id]
        _refresh_keys(row)
    conflict.status, conflict.resolution = "resolved", choice
    conflict.resolved_by = str(session.info.get(ACTOR_NAME, args.get("actor", "")))[:100]
    conflict.resolved_at = session.info.get("now") or utcnow()
    return Applied("conflict", conflict.id, touched or [conflict.customer_id], {})


def _refresh_keys(row: Any) -> None:
    """Derived lookup keys follow the value that was kept (address key, phone digits)."""
    from .address import address_key
    from .customers import ContactMethod, Location

    if isinstance(row, Location):
        row.address_key = address_key(row.street, row.unit, row.zip)
    elif isinstance(row, ContactMethod):
        from .intents import _set_phone_keys

        _set_phone_keys(row)
