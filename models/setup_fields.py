"""Readers for the values of a setup file, one per kind of value (name, time, phone, …).

Each reader gets the YAML node as written and either returns the clean value or raises ``Bad`` with a
sentence for the admin; `setup_validate` attaches the node's line. Readers use the text as typed
(``node.value``), never YAML's guess at its type: YAML 1.1 reads an unquoted 12:30 as the number 750
and ``No`` as false, and a setup file must mean what the admin typed.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .phone import InvalidPhone, parse_phone
from .setup_doc import WEEKDAY_NAMES, WEEKDAYS, Problem

_NULL = "tag:yaml.org,2002:null"
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_TRUE, _FALSE = {"true", "yes", "on"}, {"false", "no", "off"}


class Bad(Exception):
    """A value that can't be used; the message is for the admin."""


def line_of(node: Node) -> int:
    return node.start_mark.line + 1


def suggest(word: str, choices: Iterable[str]) -> str:
    """ " (did you mean 'x'?)" for the closest choice, or "" when nothing is close."""
    choices = list(choices)
    folded = {c.casefold(): c for c in choices}
    if word.casefold() in folded:
        return f" (did you mean '{folded[word.casefold()]}'?)"
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


@dataclass
class Ctx:
    """Where problems go, and the record being read (for messages such as "in job type 'X'")."""

    problems: list[Problem] = field(default_factory=list)
    where: str = "the file"

    def add(self, at: Node | int, message: str) -> None:
        line = at if isinstance(at, int) else line_of(at)
        if (line, message) not in self.problems:
            self.problems.append((line, message))

    def at(self, where: str) -> Ctx:
        return Ctx(self.problems, where)


Reader = Callable[[Node, str, Ctx], Any]  # (node, key, ctx) → value, or raise Bad


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL and node.style is None


def scalar(node: Node, key: str) -> str:
    if not isinstance(node, ScalarNode):
        raise Bad(f"'{key}' must be a single value, not a list or a block of keys")
    return node.value.strip()


def text(max_len: int, *, empty_ok: bool = False, one_line: bool = True) -> Reader:
    def read(node: Node, key: str, ctx: Ctx) -> str:
        if is_null(node):
            if empty_ok:
                return ""
            raise Bad(f"'{key}' needs a value")
        value = scalar(node, key)
        if not value and not empty_ok:
            raise Bad(f"'{key}' needs a value")
        if one_line and "\n" in value:
            raise Bad(f"'{key}' must fit on one line")
        if len(value) > max_len:
            raise Bad(f"'{key}' is too long ({len(value)} characters; at most {max_len})")
        return value

    return read


def integer(lo: int, hi: int) -> Reader:
    def read(node: Node, key: str, ctx: Ctx) -> int:
        raw = scalar(node, key)
        if not _INT.match(raw):
            raise Bad(f"'{key}' must be a whole number, not '{raw}'")
        value = int(raw)
        if not lo <= value <= hi:
            raise Bad(f"'{key}' must be between {lo} and {hi}, not {value}")
        return value

    return read


def decimal(*, positive: bool, places: int = 2) -> Reader:
    def read(node: Node, key: str, ctx: Ctx) -> Decimal:
        raw = scalar(node, key)
        if not _NUMBER.match(raw):
            raise Bad(f"'{key}' must be a number such as 89.50 (no $ or commas), not '{raw}'")
        value = Decimal(raw)  # the pattern admits only plain decimals
        if positive and value <= 0:
            raise Bad(f"'{key}' must be more than 0")
        if -value.as_tuple().exponent > places:  # type: ignore[operator]
            raise Bad(f"'{key}' has more than {places} decimals: {raw}")
        if value >= 10**8:
            raise Bad(f"'{key}' is too large: {raw}")
        return value

    return read


def boolean(node: Node, key: str, ctx: Ctx) -> bool:
    raw = scalar(node, key).lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise Bad(f"'{key}' must be true or false, not '{node.value}'")


def clock(node: Node, key: str, ctx: Ctx) -> time:
    raw = scalar(node, key)
    m = _TIME.match(raw)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise Bad(f"'{raw}' is not a time (use HH:MM)")
    return time(int(m[1]), int(m[2]))


def weekday(node: Node, key: str, ctx: Ctx) -> int:
    raw = scalar(node, key).lower()
    for i, (short, full) in enumerate(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True)):
        if raw in (short, full.lower()):
            return i
    raise Bad(
        f"'{node.value}' is not a weekday (use mon, tue, wed, thu, fri, sat or sun)"
        + suggest(raw[:3], WEEKDAYS)
    )


def color(node: Node, key: str, ctx: Ctx) -> str:
    if is_null(node):
        # An unquoted #rrggbb is a YAML comment, so the value arrives empty: say so.
        raise Bad(
            f"'{key}' needs a value; write it in quotes, e.g. {key}: \"#607d8b\" (a bare # starts a comment)"
        )
    raw = scalar(node, key)
    if not _COLOR.match(raw):
        raise Bad(f'\'{raw}\' is not a color (use "#rrggbb", e.g. "#607d8b")')
    return raw.lower()


def choice(enum_cls: type[enum.Enum]) -> Reader:
    """One of an enum's values; case, spaces and underscores don't matter ("not lead" → NotLead)."""

    def squash(s: str) -> str:
        return re.sub(r"[\s_-]+", "", s).casefold()

    def read(node: Node, key: str, ctx: Ctx) -> enum.Enum:
        raw = scalar(node, key)
        for member in enum_cls:
            if squash(raw) == squash(str(member.value)):
                return member
        names = [str(m.value) for m in enum_cls]
        raise Bad(f"'{key}' must be one of {', '.join(names)}, not '{raw}'{suggest(raw, names)}")

    return read


def one_of(choices: tuple[str, ...]) -> Reader:
    def read(node: Node, key: str, ctx: Ctx) -> str:
        raw = scalar(node, key)
        if raw.lower() in choices:
            return raw.lower()
        raise Bad(f"'{raw}' can't be used here; choose from {', '.join(choices)}{suggest(raw, choices)}")

    return read


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(node: Node, key: str, ctx: Ctx) -> str:
    raw = scalar(node, key)
    zones = _zones()
    if not zones:
        raise Bad("this computer has no time zone database; install the tzdata package")
    # Checked against the list, not just ZoneInfo(raw): on Windows and macOS a wrongly cased name
    # opens from the case-insensitive disk and then fails on every other computer.
    if raw not in zones:
        raise Bad(
            f"'{raw}' is not a time zone (use an IANA name such as America/Chicago)" + suggest(raw, zones)
        )
    ZoneInfo(raw)
    return raw


def phone(node: Node, key: str, ctx: Ctx) -> str:
    raw = scalar(node, key)
    try:
        return parse_phone(raw).e164
    except InvalidPhone as exc:
        raise Bad(f"tracking number '{raw}' can't be used: {exc}") from exc


def zip_code(node: Node, key: str, ctx: Ctx) -> str:
    raw = scalar(node, key)
    if not re.fullmatch(r"\d{5}", raw):
        raise Bad(f"'{raw}' is not a 5-digit ZIP code (put ZIPs in quotes: \"02134\")")
    return raw


def origin(node: Node, key: str, ctx: Ctx) -> str:
    raw = scalar(node, key).rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", raw):
        raise Bad(f"'{raw}' is not a web origin (scheme and host only, e.g. https://www.example.com)")
    return raw.lower()


def listing(item: Reader, noun: str) -> Reader:
    """A YAML list of values; an item given twice is reported at its second line."""

    def read(node: Node, key: str, ctx: Ctx) -> list:
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise Bad(f"'{key}' must be a list, e.g. {key}: [first, second]")
        out: list = []
        seen: dict[Any, int] = {}
        for child in node.value:
            try:
                value = item(child, key, ctx)
            except Bad as exc:
                ctx.add(child, str(exc))
                continue
            folded = value.casefold() if isinstance(value, str) else value
            if folded in seen:
                ctx.add(child, f"{ctx.where} lists {noun} '{value}' twice (first on line {seen[folded]})")
                continue
            seen[folded] = line_of(child)
            out.append(value)
        return out

    return read


@dataclass(frozen=True)
class Key:
    read: Reader
    required: bool = False


@dataclass(frozen=True)
class Spec:
    """How to read one kind of record: its keys, its class, and how to name it in messages."""

    section: str  # the YAML key of its list, e.g. "tag_types"
    noun: str  # how an admin calls one, e.g. "tag type"
    cls: type
    keys: dict[str, Key]
    label: str = "name"  # the key whose value names the record in messages

    def describe(self, node: MappingNode, index: int, parent: str = "") -> str:
        for k, v in node.value:
            if (
                isinstance(k, ScalarNode)
                and k.value == self.label
                and isinstance(v, ScalarNode)
                and v.value.strip()
            ):
                name = f"{self.noun} '{v.value.strip()}'"
                break
        else:
            name = f"{self.noun} #{index + 1}"
        return f"{name} of {parent}" if parent else name


def read_record(node: Node, spec: Spec, ctx: Ctx, index: int, parent: str = "") -> Any | None:
    """One record (a YAML mapping) → an instance of ``spec.cls``; problems go to ``ctx``.

    A record with problems is still returned (bad values as None) so later checks such as unknown
    references can run and the admin sees every problem in one go.
    """
    if not isinstance(node, MappingNode):
        ctx.add(node, f"each entry of {spec.section} must be a block of 'key: value' lines")
        return None
    where = spec.describe(node, index, parent)
    inner = ctx.at(where)
    values: dict[str, Any] = {}
    lines = {"": line_of(node)}
    seen: dict[str, int] = {}
    for knode, vnode in node.value:
        key = knode.value if isinstance(knode, ScalarNode) else str(knode.value)
        if key in seen:
            ctx.add(knode, f"'{key}' is given twice in {where} (first on line {seen[key]})")
            continue
        seen[key] = line_of(knode)
        spec_key = spec.keys.get(key)
        if spec_key is None:
            ctx.add(knode, f"unknown key '{key}' in {where}{suggest(key, spec.keys)}")
            continue
        lines[key] = line_of(vnode)
        if isinstance(vnode, SequenceNode):
            lines.update({f"{key}[{i}]": line_of(child) for i, child in enumerate(vnode.value)})
        try:
            values[key] = spec_key.read(vnode, key, inner)
        except Bad as exc:
            ctx.add(vnode, str(exc))
    for key, spec_key in spec.keys.items():
        if spec_key.required and key not in values:
            if key not in seen:
                ctx.add(node, f"{where} needs '{key}'")
            values[key] = None
    return spec.cls(**values, lines=lines)


def records(spec: Spec) -> Reader:
    """A YAML list of records (tracking numbers inside a campaign, shifts inside a technician…)."""

    def read(node: Node, key: str, ctx: Ctx) -> list:
        if is_null(node):
            return []
        if not isinstance(node, SequenceNode):
            raise Bad(f"'{key}' must be a list, each entry starting with '- '")
        out = [read_record(child, spec, ctx, i, ctx.where) for i, child in enumerate(node.value)]
        return [r for r in out if r is not None]

    return read
