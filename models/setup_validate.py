"""Reading and checking a setup file: YAML text → SetupDoc, or SetupFileError with every problem.

The file is read with PyYAML's node tree (``yaml.compose``) so every value keeps its line. Checks run
in two passes: each record on its own (keys, types, times), then the file as a whole (duplicate
names, unknown references, tracking numbers on two campaigns, overlapping hours). All problems are
collected; the admin fixes the file once, not once per problem. Warnings (a job type no technician can
take, a tracking number on an inactive campaign) don't refuse the file.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import setup_fields as f
from .notify_setup import read_notifications
from .phone import format_phone
from .setup import CallType, Priority
from .setup_doc import (
    FORMAT_VERSION,
    REQUIRED_FIELD_CHOICES,
    WEEKDAY_NAMES,
    ArrivalWindowDef,
    BookingPreferencesDef,
    BusinessUnitDef,
    CallReasonDef,
    CampaignDef,
    CapacityDef,
    CategoryDef,
    CompanyDef,
    DefaultServiceDef,
    GroupDef,
    HoursDef,
    JobTypeDef,
    OnlineBookingDef,
    OnlineJobTypeDef,
    ServiceDef,
    SetupDoc,
    SetupFileError,
    ShiftDef,
    TagTypeDef,
    TechnicianDef,
    TrackingNumberDef,
)

K = f.Key
_BARE_COLOR = re.compile(r":\s+#[0-9a-fA-F]{6}\b")


def _named(max_len: int, **keys: K) -> dict[str, K]:
    # renamed_from lets a later file rename a record in place instead of retiring it and adding a new one.
    return {"name": K(f.text(max_len), required=True), **keys, "renamed_from": K(f.text(max_len))}


_TRACKING = f.Spec(
    "tracking_numbers",
    "tracking number",
    TrackingNumberDef,
    {
        "number": K(f.phone, required=True),
        "default_call_type": K(f.choice(CallType)),
        "label": K(f.text(80, empty_ok=True)),
    },
    label="number",
)
TRACKING_SPEC = _TRACKING  # the setup screen edits tracking numbers as records of their own
_SHIFT = f.Spec(
    "shifts",
    "shift on",
    ShiftDef,
    {
        "weekday": K(f.weekday, required=True),
        "start": K(f.clock, required=True),
        "end": K(f.clock, required=True),
    },
    label="weekday",
)
_DEFAULT_SERVICE = f.Spec(
    "default_services",
    "default service",
    DefaultServiceDef,
    {
        "code": K(f.text(30), required=True),
        "quantity": K(f.decimal(positive=True)),
    },
    label="code",
)

SECTIONS: dict[str, f.Spec] = {
    s.section: s
    for s in (
        f.Spec("business_unit_groups", "business unit group", GroupDef, _named(60)),
        f.Spec(
            "business_units",
            "business unit",
            BusinessUnitDef,
            _named(60, group=K(f.text(60), required=True), trade=K(f.text(30, empty_ok=True))),
        ),
        f.Spec(
            "services",
            "service",
            ServiceDef,
            {
                "code": K(f.text(30), required=True),
                "name": K(f.text(100), required=True),
                "price": K(f.decimal(positive=False)),
                "duration_minutes": K(f.integer(0, 1440)),
            },
            label="code",
        ),
        f.Spec(
            "job_types",
            "job type",
            JobTypeDef,
            _named(
                80,
                business_units=K(f.listing(f.text(60), "business unit"), required=True),
                priority=K(f.choice(Priority)),
                duration_minutes=K(f.integer(1, 1440)),
                skills=K(f.listing(f.text(40), "skill")),
                default_tags=K(f.listing(f.text(60), "tag")),
                summary_template=K(f.text(2000, empty_ok=True, one_line=False)),
                default_services=K(f.records(_DEFAULT_SERVICE)),
            ),
        ),
        f.Spec("campaign_categories", "campaign category", CategoryDef, _named(60)),
        f.Spec(
            "campaigns",
            "campaign",
            CampaignDef,
            _named(
                80,
                category=K(f.text(60, empty_ok=True)),
                active=K(f.boolean),
                monthly_cost=K(f.decimal(positive=False)),
                tracking_numbers=K(f.records(_TRACKING)),
            ),
        ),
        f.Spec("call_reasons", "call reason", CallReasonDef, _named(80, is_lead=K(f.boolean, required=True))),
        f.Spec("tag_types", "tag type", TagTypeDef, _named(60, color=K(f.color))),
        f.Spec(
            "arrival_windows",
            "arrival window",
            ArrivalWindowDef,
            _named(
                60,
                start=K(f.clock, required=True),
                end=K(f.clock, required=True),
                business_units=K(f.listing(f.text(60), "business unit")),
                same_day=K(f.boolean),
            ),
        ),
        f.Spec(
            "business_hours",
            "business hours",
            HoursDef,
            {
                "weekday": K(f.weekday, required=True),
                "opens": K(f.clock, required=True),
                "closes": K(f.clock, required=True),
            },
            label="weekday",
        ),
        f.Spec(
            "technicians",
            "technician",
            TechnicianDef,
            _named(
                80,
                business_unit=K(f.text(60), required=True),
                skills=K(f.listing(f.text(40), "skill")),
                shifts=K(f.records(_SHIFT)),
            ),
        ),
        f.Spec(
            "capacity",
            "capacity for group",
            CapacityDef,
            {
                "group": K(f.text(60), required=True),
                "bookable_percent": K(f.integer(0, 200)),
                "overbooking_warn_percent": K(f.integer(1, 100)),
            },
            label="group",
        ),
    )
}
COMPANY_SPEC = _COMPANY = f.Spec(
    "company",
    "company",
    CompanyDef,
    {"name": K(f.text(100), required=True), "time_zone": K(f.time_zone, required=True)},
)
PREFERENCES_SPEC = _PREFERENCES = f.Spec(
    "booking_preferences",
    "booking preferences",
    BookingPreferencesDef,
    {"required_fields": K(f.listing(f.one_of(REQUIRED_FIELD_CHOICES), "field"))},
)
_ONLINE_JOB_TYPE = f.Spec(
    "job_types",
    "online job type",
    OnlineJobTypeDef,
    {
        "job_type": K(f.text(80), required=True),
        "public_name": K(f.text(80)),
        "business_unit": K(f.text(60, empty_ok=True)),
    },
    label="job_type",
)
ONLINE_SPEC = _ONLINE = f.Spec(
    "online_booking",
    "online booking",
    OnlineBookingDef,
    {
        "enabled": K(f.boolean),
        "auto_book": K(f.boolean),
        "service_area_zips": K(f.listing(f.zip_code, "ZIP")),
        "job_types": K(f.records(_ONLINE_JOB_TYPE)),
        "capacity_share_percent": K(f.integer(0, 100)),
        "lead_time_hours": K(f.integer(0, 24 * 14)),
        "hold_minutes": K(f.integer(1, 60)),
        "allowed_origins": K(f.listing(f.origin, "origin")),
        "campaign": K(f.text(80)),
    },
)
TOP_KEYS = ("version", "company", *SECTIONS, "booking_preferences", "notifications", "online_booking")


def parse_setup(text: str) -> SetupDoc:
    """Read and check a setup file; raise SetupFileError listing every problem with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        # The commonest slip: an unquoted color inside {…}. YAML reads '#' as a comment and trips
        # over the line after it, so point at the color itself.
        for n in (line, line - 1):
            if 0 < n <= len(lines := text.splitlines()) and _BARE_COLOR.search(lines[n - 1]):
                raise SetupFileError(
                    [(n, 'a color must be in quotes, e.g. color: "#607d8b" (a bare # starts a comment)')]
                ) from exc
        hint = (
            " — indent with spaces, not tabs"
            if "\\t" in str(exc.problem) or "\t" in str(exc.problem)
            else " — check the indentation, and put text containing ': ' or ' #' in quotes"
        )
        raise SetupFileError([(line, f"this isn't valid YAML: {exc.problem}{hint}")]) from exc
    except yaml.YAMLError as exc:
        raise SetupFileError([(0, f"this isn't valid YAML: {exc}")]) from exc
    if root is None:
        raise SetupFileError([(1, "the file is empty; it needs at least 'version: 1' and a company")])
    if not isinstance(root, MappingNode):
        raise SetupFileError([(f.line_of(root), "the file must be a set of sections such as 'company:'")])
    ctx = f.Ctx(where="the file")
    top = _top_level(root, ctx)
    company = _single(top.get("company"), _COMPANY, ctx, root)
    prefs = _single(top.get("booking_preferences"), _PREFERENCES, ctx, None) or BookingPreferencesDef()
    online = _single(top.get("online_booking"), _ONLINE, ctx, None) or OnlineBookingDef()
    sections = {name: _section(top.get(name), spec, ctx) for name, spec in SECTIONS.items()}
    doc = SetupDoc(
        company=company or CompanyDef(name="", time_zone=""),
        booking_preferences=prefs,
        online_booking=online,
        **sections,
    )
    doc.notifications = read_notifications(
        top.get("notifications"),
        ctx,
        tuple(b.name for b in doc.business_units),
        tuple(j.name for j in doc.job_types),
    )
    _check_whole(doc, ctx)
    if not doc.business_units and not ctx.problems:
        # Records missing from a file are retired: a file without business units would retire the
        # whole company's setup in one import. That is never what an admin means.
        ctx.problems.append(
            (
                1,
                "the file has no business_units section; importing it would retire every "
                "business unit, job type and window — export the current setup and edit that",
            )
        )
    if ctx.problems:
        raise SetupFileError(ctx.problems)
    doc.warnings = _warnings(doc)
    return doc


def _top_level(root: MappingNode, ctx: f.Ctx) -> dict[str, Node]:
    top: dict[str, Node] = {}
    lines: dict[str, int] = {}
    for knode, vnode in root.value:
        key = knode.value if isinstance(knode, ScalarNode) else str(knode.value)
        if key in lines:
            ctx.add(knode, f"section '{key}' appears twice (first on line {lines[key]}); merge them")
        elif key not in TOP_KEYS:
            ctx.add(knode, f"unknown section '{key}'{f.suggest(key, TOP_KEYS)}")
        else:
            top[key], lines[key] = vnode, f.line_of(knode)
    version = top.get("version")
    if version is None:
        ctx.add(1, f"the file needs 'version: {FORMAT_VERSION}' at the top")
    elif not (isinstance(version, ScalarNode) and version.value.strip() == str(FORMAT_VERSION)):
        shown = version.value if isinstance(version, ScalarNode) else "?"
        ctx.add(version, f"this console reads setup files of version {FORMAT_VERSION}, not '{shown}'")
    return top


def _single(node: Node | None, spec: f.Spec, ctx: f.Ctx, root: MappingNode | None) -> Any | None:
    if node is None:
        if root is not None:
            ctx.add(f.line_of(root), f"the file needs a '{spec.section}' section")
        return None
    if f.is_null(node) and root is None:
        return None
    return f.read_record(node, spec, ctx, 0)


def _section(node: Node | None, spec: f.Spec, ctx: f.Ctx) -> list:
    if node is None or f.is_null(node):
        return []
    if not isinstance(node, SequenceNode):
        ctx.add(node, f"'{spec.section}' must be a list, each entry starting with '- '")
        return []
    out = [f.read_record(child, spec, ctx, i) for i, child in enumerate(node.value)]
    return [r for r in out if r is not None]


def _at(record: Any, key: str = "") -> int:
    return record.lines.get(key) or record.lines.get("", 0)


def _unique(ctx: f.Ctx, records: Iterable[Any], attr: str, noun: str) -> dict[str, Any]:
    """Records by name; a name given twice (ignoring case) is a problem at its second line."""
    out: dict[str, Any] = {}
    first: dict[str, Any] = {}
    for r in records:
        value = getattr(r, attr)
        if value is None:
            continue
        if value.casefold() in first:
            ctx.add(
                _at(r, attr),
                f"{noun} '{value}' is listed twice (first on line {_at(first[value.casefold()], attr)})",
            )
            continue
        first[value.casefold()] = r
        out[value] = r
    return out


def _renames(ctx: f.Ctx, records: list[Any], names: dict[str, Any], noun: str) -> None:
    for r in records:
        old = getattr(r, "renamed_from", None)
        if old and old in names and names[old] is not r:
            ctx.add(
                _at(r, "renamed_from"),
                f"{noun} '{r.name}' is renamed from '{old}', but '{old}' is "
                "also in the file; keep only one of them",
            )


def _ref(
    ctx: f.Ctx, line: int, who: str, noun: str, name: str | None, known: dict[str, Any], section: str
) -> None:
    if name is not None and name not in known:
        ctx.add(line, f"{who} names {noun} '{name}', which isn't in {section}{f.suggest(name, known)}")


def _check_whole(doc: SetupDoc, ctx: f.Ctx) -> None:
    names: dict[str, dict[str, Any]] = {}
    for section, records in (
        ("business_unit_groups", doc.business_unit_groups),
        ("business_units", doc.business_units),
        ("job_types", doc.job_types),
        ("campaign_categories", doc.campaign_categories),
        ("campaigns", doc.campaigns),
        ("call_reasons", doc.call_reasons),
        ("tag_types", doc.tag_types),
        ("arrival_windows", doc.arrival_windows),
        ("technicians", doc.technicians),
    ):
        noun = SECTIONS[section].noun
        names[section] = _unique(ctx, records, "name", noun)
        _renames(ctx, records, names[section], noun)
    groups, units, tags = names["business_unit_groups"], names["business_units"], names["tag_types"]
    categories = names["campaign_categories"]
    services = _unique(ctx, doc.services, "code", "service code")
    for u in doc.business_units:
        _ref(
            ctx,
            _at(u, "group"),
            f"business unit '{u.name}'",
            "group",
            u.group,
            groups,
            "business_unit_groups",
        )
    for jt in doc.job_types:
        who = f"job type '{jt.name}'"
        if jt.business_units == []:
            ctx.add(_at(jt, "business_units"), f"{who} needs at least one business unit")
        for i, name in enumerate(jt.business_units or []):
            _ref(ctx, _at(jt, f"business_units[{i}]"), who, "business unit", name, units, "business_units")
        for i, name in enumerate(jt.default_tags or []):
            _ref(ctx, _at(jt, f"default_tags[{i}]"), who, "tag", name, tags, "tag_types")
        for ds in jt.default_services or []:
            if ds.code is not None and ds.code not in services:
                ctx.add(
                    _at(ds, "code"),
                    f"{who} adds service '{ds.code}', which isn't in the services "
                    f"catalog{f.suggest(ds.code, services)}",
                )
    _check_tracking_numbers(doc, ctx)
    _check_online_booking(doc, ctx)
    for c in doc.campaigns:
        if c.category:
            _ref(
                ctx,
                _at(c, "category"),
                f"campaign '{c.name}'",
                "category",
                c.category,
                categories,
                "campaign_categories",
            )
    for w in doc.arrival_windows:
        if (problem := window_end_problem(w.name, w.start, w.end)) is not None:
            ctx.add(_at(w, "end"), problem)
        for i, name in enumerate(w.business_units or []):
            _ref(
                ctx,
                _at(w, f"business_units[{i}]"),
                f"arrival window '{w.name}'",
                "business unit",
                name,
                units,
                "business_units",
            )
    check_hours(ctx, doc.business_hours)
    for t in doc.technicians:
        _ref(
            ctx,
            _at(t, "business_unit"),
            f"technician '{t.name}'",
            "business unit",
            t.business_unit,
            units,
            "business_units",
        )
        check_shifts(ctx, t.shifts or [], f"technician '{t.name}'")
    _unique(ctx, doc.capacity, "group", "capacity for group")
    for c in doc.capacity:
        _ref(ctx, _at(c, "group"), "capacity", "group", c.group, groups, "business_unit_groups")


def _check_online_booking(doc: SetupDoc, ctx: f.Ctx) -> None:
    """Online job types, their business units and the campaign must exist in the file."""
    online = doc.online_booking
    job_types = {j.name.casefold(): j for j in doc.job_types if j.name}
    units = {u.name.casefold() for u in doc.business_units if u.name}
    for o in online.job_types:
        if not o.job_type:
            continue
        jt = job_types.get(o.job_type.casefold())
        if jt is None:
            ctx.add(
                _at(o, "job_type"),
                f"online booking names job type '{o.job_type}', which the file doesn't have",
            )
            continue
        if o.business_unit:
            if o.business_unit.casefold() not in units:
                ctx.add(
                    _at(o, "business_unit"),
                    f"online booking names business unit '{o.business_unit}', which the file doesn't have",
                )
            elif o.business_unit.casefold() not in {b.casefold() for b in jt.business_units or ()}:
                ctx.add(
                    _at(o, "business_unit"),
                    f"job type '{jt.name}' isn't booked in business unit '{o.business_unit}'",
                )
    campaigns = {c.name.casefold() for c in doc.campaigns if c.name}
    if online.enabled and online.campaign and online.campaign.casefold() not in campaigns:
        ctx.add(
            _at(online, "campaign") or _at(online),
            f"online booking's campaign '{online.campaign}' is not in campaigns; add it (e.g. '- name: {online.campaign}')",
        )
    if online.enabled and not online.job_types:
        ctx.add(_at(online), "online booking is enabled but lists no job_types customers may book")


def window_end_problem(name: str | None, start: Any, end: Any) -> str | None:
    """An arrival window must end after it starts, the same day (the setup file and the setup screen)."""
    if start is None or end is None or end > start:
        return None
    return f"arrival window '{name}' ends at {end:%H:%M}, " + (
        f"before it starts at {start:%H:%M} — windows can't cross midnight"
        if end < start
        else "the moment it starts; it needs some length"
    )


def two_campaigns_problem(shown: str, first: str, second: str) -> str:
    """A tracking number belongs to one campaign (the setup file and the setup screen)."""
    return f"tracking number {shown} is used by two campaigns: {first} and {second}"


def _check_tracking_numbers(doc: SetupDoc, ctx: f.Ctx) -> None:
    owner: dict[str, tuple[str, int]] = {}
    for c in doc.campaigns:
        for tn in c.tracking_numbers or []:
            if tn.number is None:
                continue
            shown = format_phone(tn.number)
            if tn.number not in owner:
                owner[tn.number] = (c.name, _at(tn, "number"))
            elif owner[tn.number][0] == c.name:
                ctx.add(
                    _at(tn, "number"),
                    f"tracking number {shown} is listed twice in campaign "
                    f"'{c.name}' (first on line {owner[tn.number][1]})",
                )
            else:
                ctx.add(_at(tn, "number"), two_campaigns_problem(shown, owner[tn.number][0], c.name))


_HOURS_TEXT = {
    "cross": "business hours for {day} close at {end}, before they open at {start} — business hours can't "
    "cross midnight",
    "zero": "business hours for {day} open and close at {start}",
    "overlap": "business hours for {day} overlap: {a} and {b}",
}
_SHIFT_TEXT = {
    "cross": "{who} has a {day} shift that ends at {end}, before it starts at {start} — shifts can't cross "
    "midnight",
    "zero": "{who} has a {day} shift that starts and ends at {start}",
    "overlap": "{who} has overlapping {day} shifts: {a} and {b}",
}


def check_hours(ctx: f.Ctx, hours: Iterable[Any]) -> None:
    """Business hours: each closes after it opens, none overlap on a day (the file's and the screen's rule)."""
    _check_spans(ctx, [(h, h.weekday, h.opens, h.closes) for h in hours], "closes", _HOURS_TEXT)


def check_shifts(ctx: f.Ctx, shifts: Iterable[Any], who: str) -> None:
    """A technician's shifts: each ends after it starts, none overlap (the file's and the screen's rule)."""
    _check_spans(ctx, [(s, s.weekday, s.start, s.end) for s in shifts], "end", _SHIFT_TEXT, who=who)


def _check_spans(
    ctx: f.Ctx, spans: list[tuple[Any, int, Any, Any]], end_key: str, text: dict[str, str], who: str = ""
) -> None:
    """Business hours or shifts: each ends after it starts, and none overlap on the same day."""
    by_day: dict[int, list[tuple[Any, Any, Any]]] = defaultdict(list)
    for record, day, start, end in spans:
        if day is None or start is None or end is None:
            continue
        if end <= start:
            kind = "cross" if end < start else "zero"
            ctx.add(
                _at(record, end_key),
                text[kind].format(
                    who=who, day=WEEKDAY_NAMES[day], start=f"{start:%H:%M}", end=f"{end:%H:%M}"
                ),
            )
            continue
        by_day[day].append((start, end, record))
    for day, items in by_day.items():
        items.sort(key=lambda x: (x[0], x[1]))
        for (s1, e1, _r1), (s2, e2, r2) in zip(items, items[1:], strict=False):
            if s2 < e1:
                ctx.add(
                    _at(r2),
                    text["overlap"].format(
                        who=who,
                        day=WEEKDAY_NAMES[day],
                        a=f"{s1:%H:%M}–{e1:%H:%M}",
                        b=f"{s2:%H:%M}–{e2:%H:%M}",
                    ),
                )


def _warnings(doc: SetupDoc) -> list[tuple[int, str]]:
    """Things that won't break the import but will surprise a CSR: a job type nobody can be sent to, a
    tracking number still on a retired campaign."""
    return _retired_numbers(doc) + _unstaffed_job_types(doc)


def _retired_numbers(doc: SetupDoc) -> list[tuple[int, str]]:
    """A retired campaign keeps its tracking numbers (they are never given to another campaign), but a
    call to one still pops with that campaign and its jobs are booked with it: the admin should know."""
    out = []
    for c in doc.campaigns:
        if c.active:
            continue
        for tn in c.tracking_numbers or []:
            if tn.number is not None:
                out.append(
                    (
                        _at(tn, "number"),
                        f"tracking number {format_phone(tn.number)} belongs to campaign "
                        f"'{c.name}', which is inactive: calls to it are still credited "
                        "to that campaign (CSRs are warned when they book one) — "
                        "reactivate the campaign, or stop the number at the phone "
                        "provider",
                    )
                )
    return out


def _unstaffed_job_types(doc: SetupDoc) -> list[tuple[int, str]]:
    if not doc.technicians:
        return []
    group_of = {u.name: u.group for u in doc.business_units}
    skills_by_group: dict[str, list[set[str]]] = defaultdict(list)
    for t in doc.technicians:
        skills_by_group[group_of.get(t.business_unit, "")].append(set(t.skills))
    out = []
    for jt in doc.job_types:
        need = set(jt.skills)
        groups = sorted({group_of[u] for u in jt.business_units})
        if need and not any(need <= have for g in groups for have in skills_by_group[g]):
            out.append(
                (
                    _at(jt, "skills"),
                    f"no technician in {' or '.join(groups)} has all the skills job "
                    f"type '{jt.name}' needs ({', '.join(sorted(need))}), so it "
                    "can't be booked yet",
                )
            )
    return out
