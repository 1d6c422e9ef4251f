"""The toolkit every intent handler uses: registration, argument checks that give clear errors,
and ids minted into the arguments (so the outbox carries them to the server)."""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .base import ID_LEN, new_id
from .customers import TagType
from .intent_schemas import check_intent_args
from .validation import ValidationFailed, max_length


@dataclass
class Applied:
    """What a handler did: the record it is about, and the customers whose search document (name,
    addresses, emails) changed and must be re-indexed — none for jobs and leads."""

    entity: str
    entity_id: str
    customers: list[str]
    warnings: dict[str, str]


Handler = Callable[[Session, dict[str, Any]], Applied]
HANDLERS: dict[str, Handler] = {}


def intent(name: str) -> Callable[[Handler], Handler]:
    """Register a handler under ``name``. Every caller (the console's LocalWriter, the server's Applier,
    one intent running another) gets the handler behind the argument check of models/intent_schemas.py:
    an unknown argument or a value of the wrong JSON type is refused before the handler runs."""

    def register(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def checked(session: Session, args: dict[str, Any]) -> Applied:
            check_intent_args(name, args)
            return fn(session, args)

        HANDLERS[name] = checked
        return checked

    return register


def require_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > ID_LEN:
        raise ValidationFailed({what: f"Missing or malformed {what.replace('_', ' ')}."})
    return value


def section(args: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object of the arguments, kept by reference so minted ids land in the outbox row."""
    value = args.get(key)
    if not isinstance(value, dict):
        raise ValidationFailed({key: f"Missing {key.replace('_', ' ')} details."})
    return value


def items(args: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = args.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValidationFailed({key: f"Malformed {key}."})
    return value


def own_id(raw: dict[str, Any], what: str) -> str:
    """The record's id: the caller's, or one minted now and written back into the arguments, so the
    outbox row carries it and the server creates the very same id."""
    if not raw.get("id"):
        raw["id"] = new_id()
    return require_id(raw["id"], what)


def pick(values: dict[str, Any], allowed: tuple[str, ...], model: type) -> dict[str, Any]:
    """Only known fields, each of the column's type (a wrong type is a clear error, not a crash)."""
    unknown = set(values) - set(allowed) - {"id", "customer_id", "location_id", "contacts"}
    if unknown:
        raise ValidationFailed({k: f"Unknown field '{k}'." for k in sorted(unknown)})
    out = {}
    for key in allowed:
        if key not in values:
            continue
        out[key] = typed(model, key, values[key])
    return out


def typed(model: type, key: str, value: Any) -> Any:
    column = model.__table__.c[key]
    try:
        expected = column.type.python_type
    except NotImplementedError:
        expected = object
    if value is None and column.nullable:
        return None
    if issubclass(expected, bool):
        ok = isinstance(value, bool)
    elif issubclass(expected, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif issubclass(expected, str) or issubclass(expected, enum.Enum):
        ok = isinstance(value, str)
        value = clean_text(value, key).strip() if ok else value
    else:
        ok = True
    if not ok:
        raise ValidationFailed({key: f"'{key}' has the wrong type of value."})
    return value


def get_row(session: Session, model: type, ident: str, label: str) -> Any:
    row = session.get(model, ident)
    if row is None:
        # Read on the console (its cache) and on the server (someone removed it meanwhile).
        raise ValidationFailed({"id": f"That {label} no longer exists (someone removed it)."})
    return row


TAG_NAMESPACE = uuid.UUID("6f1c7d2e-7a43-4c55-9a0e-3b7f5d2c1a90")


def tag_id(name: str) -> str:
    """A tag's id follows from its name, so a tag first typed on two consoles offline is one tag."""
    return uuid.uuid5(TAG_NAMESPACE, name.casefold()).hex


def tags_named(session: Session, names: Any) -> list[TagType]:
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationFailed({"tags": "Tags must be a list of names."})
    out: list[TagType] = []
    for raw in names:
        name = clean_text(raw, "tags").strip()
        if not name:
            continue
        if len(name) > (max_length(TagType, "name") or 60):
            raise ValidationFailed({"tags": f"The tag '{name[:20]}…' is too long."})
        tag = session.scalar(select(TagType).where(TagType.name == name))
        if tag is None:
            tag = session.get(TagType, tag_id(name)) or TagType(id=tag_id(name), name=name)
            session.add(tag)
        if tag not in out:
            out.append(tag)
    return out


def clean_text(value: str, field: str) -> str:
    """Text a database can store everywhere: no NUL characters, no lone surrogates."""
    if "\x00" in value:
        raise ValidationFailed({field: "The text contains a character that can't be stored."})
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationFailed({field: "The text contains a character that can't be stored."}) from exc
    return value
