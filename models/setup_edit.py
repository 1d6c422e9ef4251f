"""Editing the company setup one record at a time (issue 19, the setup screens).

Each kind of record the setup screen edits is described once here (:data:`KINDS`): its table, its fields
and, for every field, the reader of the setup file (models/setup_validate.py ``SECTIONS``) — so a value
typed in the screen is checked by the very rule, with the very sentence, that checks it in a file. The
cross-record rules that the screen shares with the file (an arrival window ends after it starts, a
tracking number belongs to one campaign, a reference names an existing record) are the functions of
models/setup_validate.py too.

Three intents, each pushed like any other and applied by the server (which lets only managers and
admins push a ``setup_`` intent, sync/server_auth.py):

- ``setup_save {kind, id, values, seen}`` creates or changes a record. ``values`` are the fields as typed
  (text; ``true``/``false`` for a check box; names, comma-separated, for a list); ``seen`` the fields as
  the editor showed them. A field whose stored value is no longer what the manager saw means someone else
  changed the record meanwhile: the save is refused with who-sees-what (a conflict), nothing is written.
  The audit entry keeps who, when, ``seen`` (before) and ``values`` (after).
- ``setup_retire {kind, id, active}`` retires (or reactivates) a record: it stays in history and can't be
  chosen for new work.
- ``setup_delete {kind, id}`` removes a record nothing refers to; one that history refers to (a business
  unit with jobs) is refused with the reason and the retire alternative.

Every one bumps the setup version, so every console's booking form reloads the setup
(console/booking_controller.py) once the change reaches it through the change log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session
from yaml import Mark
from yaml.nodes import ScalarNode, SequenceNode

from . import setup_fields as f
from .base import Base
from .customers import TagType
from .intent_kit import Applied, get_row, intent, own_id, require_id
from .phone import format_phone
from .setup import (
    ArrivalWindow,
    BusinessUnit,
    BusinessUnitGroup,
    CallReason,
    Campaign,
    CampaignCategory,
    JobType,
    TrackingNumber,
)
from .setup_data import bump_setup_version
from .setup_validate import SECTIONS, TRACKING_SPEC, two_campaigns_problem, window_end_problem
from .validation import ValidationFailed

SETUP_EDIT_INTENTS = frozenset({"setup_save", "setup_retire", "setup_delete"})
_STR = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Field:
    """One field of the screen: its setup-file key (and so its reader), label and editor."""

    key: str
    label: str
    editor: str = "text"  # text | multiline | check | choice | list
    choices: tuple[str, ...] = ()  # for a "choice" editor (fixed choices)
    ref: str = ""  # the kind whose names a "choice" or "list" editor offers
    create_only: bool = False  # set when the record is created, never changed (tracking numbers)
    blank_is_none: bool = False  # an empty value means "not known" (a campaign's monthly cost)
    reader: Any = None  # a reader of its own (default: the setup file's reader of ``key``)
    node: Any = None  # typed text → the YAML node the reader reads (default: text, or a list of names)


@dataclass(frozen=True)
class Kind:
    """One kind of setup record, described once: the screen builds its list and form from this, the
    intents check and write through it."""

    name: str  # "business_unit"
    title: str  # "Business units"
    spec: f.Spec  # the setup file's reader for this kind
    model: type
    fields: tuple[Field, ...]
    read: Callable[[Any], dict[str, str]]  # row → the fields as the form shows them
    write: Callable[[Session, Any, dict[str, Any]], None]  # row, clean values → row
    retirable: bool = True
    # Why a kind that can't be retired isn't, and what to do instead (for Ctrl+R and a refused delete).
    keep_hint: str = ""
    delete_hint: str = ""  # a refused delete's alternative for such a kind (default: ``keep_hint``)
    label: Callable[[Any], str] | None = None  # the record's name in lists and sentences (default: spec's)
    only: Callable[[], Any] | None = None  # which rows of the table are this kind's (default: all)
    # Records that aren't rows of their own (the notification templates, kept in one company setting):
    # how to find one by id and list them all; such a fixed set can't be added to or deleted from.
    fetch: Callable[[Session, str], Any] | None = None
    rows: Callable[[Session], Any] | None = None
    creatable: bool = True
    stored_as: str = ""  # the id of the table row that holds such records (for laying saves over pulls)
    unique: str = "name"  # the field no two records share (a service: its code)
    # What refers to a record other than foreign keys (a service's code in job types' default services).
    used_by: Callable[[Session, Any], list[tuple[str, int]]] | None = None

    @property
    def noun(self) -> str:
        return self.spec.noun

    def label_of(self, row: Any) -> str:
        if self.label is not None:
            return self.label(row)
        return str(getattr(row, self.spec.label))


def _yes(value: bool) -> str:
    return "true" if value else "false"


def _names(rows: Any) -> str:
    return ", ".join(sorted(r.name for r in rows))


def _named(session: Session, model: type, name: str) -> Any:
    return session.scalar(select(model).where(func.lower(model.name) == name.casefold()))


def _refs(
    session: Session, model: type, names: list[str], key: str, who: str, noun: str, section: str
) -> list:
    """Rows named by a list field; an unknown name is refused with the setup file's sentence."""
    out = []
    for name in names:
        row = _named(session, model, name)
        if row is None:
            known = session.scalars(select(model.name)).all()
            raise ValidationFailed(
                {key: f"{who} names {noun} '{name}', which isn't in {section}{f.suggest(name, known)}"}
            )
        out.append(row)
    return out


def _write_business_unit(session: Session, row: BusinessUnit, v: dict[str, Any]) -> None:
    if "group" in v:
        group = _refs(
            session, BusinessUnitGroup, [v["group"]], "group", _who(row, v), "group", "business_unit_groups"
        )
        row.group_id = group[0].id
    for key in ("name", "trade"):
        if key in v:
            setattr(row, key, v[key])


def _write_job_type(session: Session, row: JobType, v: dict[str, Any]) -> None:
    for key in ("name", "priority", "duration_minutes", "summary_template"):
        if key in v:
            setattr(row, key, v[key])
    if "business_units" in v:
        if not v["business_units"]:
            raise ValidationFailed({"business_units": f"{_who(row, v)} needs at least one business unit"})
        row.business_units = _refs(
            session,
            BusinessUnit,
            v["business_units"],
            "business_units",
            _who(row, v),
            "business unit",
            "business_units",
        )


def _write_campaign(session: Session, row: Campaign, v: dict[str, Any]) -> None:
    for key in ("name", "monthly_cost"):
        if key in v:
            setattr(row, key, v[key])
    if "category" in v:
        row.category_id = (
            _refs(
                session,
                CampaignCategory,
                [v["category"]],
                "category",
                _who(row, v),
                "category",
                "campaign_categories",
            )[0].id
            if v["category"]
            else None
        )


def _write_tracking_number(session: Session, row: TrackingNumber, v: dict[str, Any]) -> None:
    if "number" in v:
        other = session.scalar(select(TrackingNumber).where(TrackingNumber.number == v["number"]))
        if other is not None and other is not row:
            raise ValidationFailed(
                {
                    "number": two_campaigns_problem(
                        format_phone(v["number"]), other.campaign.name, v.get("campaign") or ""
                    )
                }
            )
        row.number = v["number"]
    if "campaign" in v:
        row.campaign_id = _refs(
            session, Campaign, [v["campaign"]], "campaign", "tracking number", "campaign", "campaigns"
        )[0].id
    for key in ("default_call_type", "label"):
        if key in v:
            setattr(row, key, v[key])


def _write_call_reason(session: Session, row: CallReason, v: dict[str, Any]) -> None:
    for key in ("name", "is_lead"):
        if key in v:
            setattr(row, key, v[key])


def _write_arrival_window(session: Session, row: ArrivalWindow, v: dict[str, Any]) -> None:
    for key in ("name", "start", "end", "same_day"):
        if key in v:
            setattr(row, key, v[key])
    problem = window_end_problem(row.name, row.start, row.end)
    if problem is not None:
        raise ValidationFailed({"end": problem})
    if "business_units" in v:
        row.business_units = _refs(
            session,
            BusinessUnit,
            v["business_units"],
            "business_units",
            _who(row, v),
            "business unit",
            "business_units",
        )


def _who(row: Any, v: dict[str, Any]) -> str:
    return f"{_KIND_OF[type(row)].noun} '{v.get('name') or getattr(row, 'name', '')}'"


def _clock(t: Any) -> str:
    return f"{t:%H:%M}" if t is not None else ""


_BU, _JT, _CA = SECTIONS["business_units"], SECTIONS["job_types"], SECTIONS["campaigns"]
KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "business_unit",
            "Business units",
            _BU,
            BusinessUnit,
            (
                Field("name", "Name"),
                Field("group", "Group", "choice", ref="business_unit_group"),
                Field("trade", "Trade"),
            ),
            lambda r: {"name": r.name, "group": r.group.name if r.group else "", "trade": r.trade or ""},
            _write_business_unit,
        ),
        Kind(
            "job_type",
            "Job types",
            _JT,
            JobType,
            (
                Field("name", "Name"),
                Field("business_units", "Business units", "list", ref="business_unit"),
                Field("priority", "Priority", "choice", choices=("Low", "Normal", "High", "Urgent")),
                Field("duration_minutes", "Duration (minutes)"),
                Field("summary_template", "Summary template", "multiline"),
            ),
            lambda r: {
                "name": r.name,
                "business_units": _names(r.business_units),
                "priority": str(getattr(r.priority, "value", r.priority)),
                "duration_minutes": str(r.duration_minutes),
                "summary_template": r.summary_template or "",
            },
            _write_job_type,
        ),
        Kind(
            "campaign",
            "Campaigns",
            _CA,
            Campaign,
            (
                Field("name", "Name"),
                Field("category", "Category", "choice", ref="campaign_category"),
                Field("monthly_cost", "Monthly cost ($)", blank_is_none=True),
            ),
            lambda r: {
                "name": r.name,
                "category": r.category.name if r.category else "",
                "monthly_cost": "" if r.monthly_cost is None else f"{Decimal(str(r.monthly_cost)):.2f}",
            },
            _write_campaign,
        ),
        Kind(
            "tracking_number",
            "Tracking numbers",
            TRACKING_SPEC,
            TrackingNumber,
            (
                Field("number", "Number", create_only=True),
                Field("campaign", "Campaign", "choice", ref="campaign", create_only=True),
                Field("default_call_type", "Default call type", "choice", choices=("Lead", "NotLead")),
                Field("label", "Label"),
            ),
            lambda r: {
                "number": format_phone(r.number),
                "campaign": r.campaign.name if r.campaign else "",
                "default_call_type": str(getattr(r.default_call_type, "value", r.default_call_type)),
                "label": r.label or "",
            },
            _write_tracking_number,
            retirable=False,
            keep_hint="a tracking number isn't retired on its own — retire its campaign, or stop it at the "
            "phone provider",
            delete_hint="a tracking number is never deleted — retire its campaign instead",
        ),
        Kind(
            "call_reason",
            "Call reasons",
            SECTIONS["call_reasons"],
            CallReason,
            (Field("name", "Name"), Field("is_lead", "Is a lead", "check")),
            lambda r: {"name": r.name, "is_lead": _yes(r.is_lead)},
            _write_call_reason,
        ),
        Kind(
            "arrival_window",
            "Arrival windows",
            SECTIONS["arrival_windows"],
            ArrivalWindow,
            (
                Field("name", "Name"),
                Field("start", "Starts (HH:MM)"),
                Field("end", "Ends (HH:MM)"),
                Field("same_day", "Bookable the same day", "check"),
                Field("business_units", "Business units (none: all)", "list", ref="business_unit"),
            ),
            lambda r: {
                "name": r.name,
                "start": _clock(r.start),
                "end": _clock(r.end),
                "same_day": _yes(r.same_day),
                "business_units": _names(r.business_units),
            },
            _write_arrival_window,
        ),
    )
}
_KIND_OF = {k.model: k for k in KINDS.values()}
REF_MODELS: dict[str, type] = {
    "business_unit_group": BusinessUnitGroup,
    "campaign_category": CampaignCategory,
    "business_unit": BusinessUnit,
    "campaign": Campaign,
    "tag_type": TagType,
}


# -- reading a typed value with the setup file's reader ---------------------------------------------------
def _node(fld: Field, text: str) -> Any:
    if fld.node is not None:
        return fld.node(text)
    if fld.editor == "list":
        items = [part.strip() for part in text.split(",") if part.strip()]
        # Each item carries a mark (its place in the list, as a "line"): the list reader names where an
        # item repeated first stood, and a node without one made it fail.
        return SequenceNode(
            "tag:yaml.org,2002:seq",
            [ScalarNode(_STR, item, typed_mark(i), typed_mark(i)) for i, item in enumerate(items)],
            typed_mark(0),
            typed_mark(0),
        )
    return ScalarNode(_STR, text, typed_mark(0), typed_mark(0))


def typed_mark(index: int) -> Mark:
    """Where a typed value stands, for the readers that name a line (the Nth item or line, from 1)."""
    return Mark("typed", 0, index, 0, None, None)


def check_values(kind: Kind, values: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The typed values, read by the setup file's readers: clean values, or ValidationFailed with the
    file's sentence for each field (every problem at once)."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    fields = {fl.key: fl for fl in kind.fields}
    for key, raw in values.items():
        fld = fields.get(key)
        if fld is None:
            errors[key] = f"'{key}' is not a field of a {kind.noun}{f.suggest(key, fields)}"
            continue
        if not isinstance(raw, str):
            errors[key] = f"'{key}' must be text."
            continue
        if fld.create_only and not creating:
            continue  # shown, not changed (checked below against the stored value)
        if fld.blank_is_none and not raw.strip():
            clean[key] = None
            continue
        ctx = f.Ctx(where=f"{kind.noun} '{values.get('name', '')}'")
        spec_key = kind.spec.keys.get(key)
        reader = fld.reader or (spec_key.read if spec_key is not None else f.text(80))  # a number's campaign
        try:
            value = reader(_node(fld, raw.strip()), key, ctx)
        except f.Bad as exc:
            errors[key] = str(exc)
            continue
        if ctx.problems:  # a list reader reports its items' problems here
            errors[key] = ctx.problems[0][1]
            continue
        clean[key] = value
    if creating:
        for key, fld in fields.items():
            spec_key = kind.spec.keys.get(key)
            required = fld.create_only or (spec_key is not None and spec_key.required)
            if required and not values.get(key) and key not in errors:
                errors[key] = f"{kind.noun} needs '{key}'"
    if errors:
        raise ValidationFailed(errors)
    return clean


def _kind(args: dict[str, Any]) -> Kind:
    kind = KINDS.get(str(args.get("kind") or ""))
    if kind is None:
        raise ValidationFailed({"kind": f"Unknown kind of setup record '{args.get('kind')}'."})
    return kind


def _fetch(session: Session, kind: Kind, ident: str) -> Any:
    return kind.fetch(session, ident) if kind.fetch is not None else session.get(kind.model, ident)


def _fixed_set(session: Session, kind: Kind, ident: str) -> None:
    """Refuse adding to or deleting from a kind whose records are a fixed set."""
    if not kind.creatable:
        raise ValidationFailed({"id": kind.keep_hint or f"a {kind.noun} can't be added or deleted"})


def _unique_name(session: Session, kind: Kind, row: Any, clean: dict[str, Any]) -> None:
    key = kind.unique
    name = clean.get(key) if key else None
    if name is None:
        return
    column = getattr(kind.model, key)
    other = session.scalar(select(kind.model).where(func.lower(column) == name.casefold()))
    if other is not None and other is not row:
        said = "named" if key == "name" else f"with {key}"
        raise ValidationFailed({key: f"there is already a {kind.noun} {said} '{getattr(other, key)}'"})


@intent("setup_save")
def setup_save(session: Session, args: dict[str, Any]) -> Applied:
    kind = _kind(args)
    values = args.get("values")
    if not isinstance(values, dict):
        raise ValidationFailed({"values": "Missing the record's fields."})
    ident = own_id(args, "id")
    row = _fetch(session, kind, ident)
    creating = row is None
    if creating:
        _fixed_set(session, kind, ident)
    if not creating:
        seen = args.get("seen") or {}
        now = kind.read(row)
        changed = [k for k, old in seen.items() if k in now and now[k] != old]
        if changed:
            labels = {fl.key: fl.label for fl in kind.fields}
            what = "; ".join(f"{labels.get(k, k)} is now '{now[k]}' (you saw '{seen[k]}')" for k in changed)
            raise ValidationFailed(
                {
                    "conflict": f"Someone else changed {kind.noun} '{kind.label_of(row)}' meanwhile: {what}. "
                    "Your change was not saved — reopen the record and make it again."
                }
            )
        for fl in kind.fields:
            if fl.create_only and fl.key in values and values[fl.key].strip() != now[fl.key]:
                raise ValidationFailed(
                    {fl.key: f"a {kind.noun}'s {fl.label.lower()} can't be changed once it is set"}
                )
    clean = check_values(kind, values, creating)
    with session.no_autoflush:  # the row is checked whole before it is written
        if creating:
            row = kind.model(id=ident)
        _unique_name(session, kind, row, clean)
        kind.write(session, row, clean)
    if creating:
        session.add(row)
    bump_setup_version(session)
    session.flush()
    return Applied(kind.model.__tablename__, kind.stored_as or ident, [], {})


def save_target(args: dict[str, Any]) -> tuple[str, str] | None:
    """The (table, id) a queued ``setup_save`` changes, for laying it over a pulled copy of the row."""
    kind = KINDS.get(str(args.get("kind") or ""))
    ident = args.get("id")
    if kind is None or not isinstance(ident, str) or not isinstance(args.get("values"), dict):
        return None
    return kind.model.__tablename__, kind.stored_as or ident


def reapply_save(session: Session, args: dict[str, Any]) -> bool:
    """Lay this console's own save again over a pulled copy of its record that predates it (the server's
    echo of an earlier save). Without it the cache showed the older value for a moment, and a save made
    then was refused by this console as a conflict with its own earlier save. No conflict check: the save
    was checked when it was made, and the server judges it again. One that no longer fits the pulled
    record changes nothing here (the server's answer settles it)."""
    kind = KINDS[str(args["kind"])]
    row = _fetch(session, kind, args["id"])
    if row is None:
        return False
    try:
        with session.begin_nested(), session.no_autoflush:
            kind.write(session, row, check_values(kind, args["values"], creating=False))
    except ValidationFailed:
        return False
    return True


@intent("setup_retire")
def setup_retire(session: Session, args: dict[str, Any]) -> Applied:
    kind = _kind(args)
    ident = require_id(args.get("id"), "id")
    row = (
        _fetch(session, kind, ident)
        if kind.fetch is not None
        else get_row(session, kind.model, ident, kind.noun)
    )
    if not kind.retirable:
        raise ValidationFailed({"id": kind.keep_hint or f"a {kind.noun} can't be retired"})
    active = args.get("active", False)
    if not isinstance(active, bool):
        raise ValidationFailed({"active": "'active' must be true or false."})
    row.active = active
    bump_setup_version(session)
    return Applied(kind.model.__tablename__, row.id, [], {})


def referrers(session: Session, kind: Kind, ident: str) -> list[tuple[str, int]]:
    """What refers to a record: (table, rows) for every table with a foreign key to it."""
    target = kind.model.__table__
    out = []
    for table in Base.metadata.sorted_tables:
        if table is target:
            continue
        for column in table.columns:
            if any(fk.column.table is target for fk in column.foreign_keys):
                n = session.scalar(select(func.count()).select_from(table).where(column == ident)) or 0
                if n:
                    out.append((_table_words(table), n))
    return out


def _table_words(table: Table) -> str:
    name = table.name
    for suffix in ("_business_units",):
        if name.endswith(suffix):  # a link table: the records that list it
            name = name[: -len(suffix)] + "s"
    return name.replace("_", " ")


@intent("setup_delete")
def setup_delete(session: Session, args: dict[str, Any]) -> Applied:
    kind = _kind(args)
    _fixed_set(session, kind, str(args.get("id") or ""))
    row = get_row(session, kind.model, require_id(args.get("id"), "id"), kind.noun)
    used = referrers(session, kind, row.id) + (kind.used_by(session, row) if kind.used_by else [])
    if used:
        said = ", ".join(f"{n:,} {table}" for table, n in used)
        alternative = (
            "retire it instead (Ctrl+R): it stays in their history and can't be chosen for new work"
            if kind.retirable
            else kind.delete_hint or kind.keep_hint
        )
        raise ValidationFailed(
            {"id": f"{kind.noun} '{kind.label_of(row)}' can't be deleted: {said} refer to it — {alternative}"}
        )
    session.delete(row)
    bump_setup_version(session)
    return Applied(kind.model.__tablename__, row.id, [], {})


@dataclass
class Listing:
    """A kind's records for the screen (read on a database worker)."""

    rows: list[tuple[str, str, bool, dict[str, str]]] = field(
        default_factory=list
    )  # id, label, active, fields
    choices: dict[str, list[str]] = field(default_factory=dict)  # ref kind → names


def list_records(session: Session, kind: Kind) -> Listing:
    out = Listing()
    query = select(kind.model)
    if kind.only is not None:
        query = query.where(kind.only())
    for row in kind.rows(session) if kind.rows is not None else session.scalars(query):
        out.rows.append((row.id, kind.label_of(row), bool(getattr(row, "active", True)), kind.read(row)))
    out.rows.sort(key=lambda r: r[1].casefold())
    for fl in kind.fields:
        if fl.ref:
            model = REF_MODELS[fl.ref]
            query = select(model.name)
            if hasattr(model, "active"):
                query = query.where(model.active.is_(True))
            out.choices[fl.ref] = sorted(session.scalars(query).all(), key=str.casefold)
    return out


# The kinds of models/setup_kinds_more.py (groups, categories, tag types, technicians, capacity, hours,
# booking preferences), the notification templates (models/setup_kind_templates.py) and the online
# booking settings (models/setup_kind_online.py), services and the company (models/setup_kind_company.py)
# use the
# Field and Kind above, so they join KINDS here, after them.
from .setup_kind_company import COMPANY_KIND, SERVICE_KIND  # noqa: E402
from .setup_kind_online import ONLINE_KIND  # noqa: E402
from .setup_kind_templates import NOTIFY_SETTINGS_KIND, TEMPLATE_KIND  # noqa: E402
from .setup_kinds_more import MORE_KINDS, extend_job_type  # noqa: E402

KINDS["job_type"] = extend_job_type(KINDS["job_type"])
_KIND_OF[JobType] = KINDS["job_type"]

for _more in (*MORE_KINDS, SERVICE_KIND, TEMPLATE_KIND, NOTIFY_SETTINGS_KIND, ONLINE_KIND, COMPANY_KIND):
    KINDS[_more.name] = _more
    _KIND_OF[_more.model] = _more
