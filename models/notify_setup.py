"""The setup file's ``notifications:`` section (docs/setup-file.md, docs/notifications.md): read with
line numbers, checked (an unknown placeholder refuses the file, with its line), and written back.

```yaml
notifications:
  company_phone: (972) 555-0100
  quiet_hours: {start: "21:00", end: "08:00"}     # the customer's local time
  reminder: {hours_before: 24, exclude_business_units: [Plumbing], exclude_job_types: [Estimate]}
  skip_confirmation_within_minutes: 120           # no confirmation for a window starting that soon
  rate_per_second: 10                             # texts per second per sender; 0: no limit
  templates:
    confirmation: {sms: "{company}: see you {window}. Reply C to confirm."}
```
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from . import setup_fields as f
from .notify_templates import TEMPLATE_KINDS, TEMPLATE_PARTS, check_settings_value, check_template

SECTION = "notifications"
_KEYS = (
    "enabled",
    "company_phone",
    "quiet_hours",
    "reminder",
    "skip_confirmation_within_minutes",
    "rate_per_second",
    "templates",
)
# The section's own rules, said the same by the file and the setup screen (models/setup_kind_templates.py).
QUIET_BOTH = "quiet_hours needs both start and end"
REMINDER_ONE = "give the reminder either hours_before or day_before_at, not both"


def _pairs(node: Node, where: str, ctx: f.Ctx) -> list[tuple[str, Node, Node]]:
    if not isinstance(node, MappingNode):
        ctx.add(node, f"'{where}' must be a block of keys")
        return []
    return [(k.value if isinstance(k, ScalarNode) else "?", k, v) for k, v in node.value]


def _read(reader: f.Reader, node: Node, key: str, ctx: f.Ctx) -> Any:
    try:
        return reader(node, key, ctx)
    except f.Bad as exc:
        ctx.add(node, str(exc))
        return None


def read_notifications(
    node: Node | None,
    ctx: f.Ctx,
    business_units: tuple[str, ...] | None = None,
    job_types: tuple[str, ...] | None = None,
) -> dict[str, Any] | None:
    """The section as the JSON value stored in ``company_settings``; None when absent. Problems go
    to ``ctx`` with their lines. ``business_units`` / ``job_types``: the file's names, which the
    reminder's exclusions must name."""
    if node is None or f.is_null(node):
        return None
    out: dict[str, Any] = {"enabled": True}
    for key, knode, vnode in _pairs(node, SECTION, ctx):
        if key not in _KEYS:
            ctx.add(knode, f"unknown key '{key}' in notifications{f.suggest(key, _KEYS)}")
        elif key == "enabled":
            out[key] = _read(f.boolean, vnode, key, ctx)
        elif key == "company_phone":
            raw = _read(f.text(40), vnode, key, ctx)
            out[key] = raw or ""
        elif key == "rate_per_second":
            out[key] = _read(f.integer(0, 1000), vnode, key, ctx)
        elif key == "skip_confirmation_within_minutes":
            out[key] = _read(f.integer(0, 7 * 24 * 60), vnode, key, ctx)
        elif key == "quiet_hours":
            hours = {}
            for k, kn, vn in _pairs(vnode, key, ctx):
                if k not in ("start", "end"):
                    ctx.add(kn, f"unknown key '{k}' in quiet_hours (start, end)")
                elif (t := _read(f.clock, vn, k, ctx)) is not None:
                    hours[k] = t.strftime("%H:%M")
            if len(hours) == 1:
                ctx.add(vnode, QUIET_BOTH)
            out[key] = hours
        elif key == "reminder":
            reminder: dict[str, Any] = {}
            for k, kn, vn in _pairs(vnode, key, ctx):
                if k == "hours_before":
                    reminder[k] = _read(f.integer(1, 168), vn, k, ctx)
                elif k == "day_before_at":
                    t = _read(f.clock, vn, k, ctx)
                    reminder[k] = t.strftime("%H:%M") if t else None
                elif k in ("exclude_business_units", "exclude_job_types"):
                    noun = "business unit" if k == "exclude_business_units" else "job type"
                    names = _read(f.listing(f.text(60), noun), vn, k, ctx) or []
                    known = business_units if k == "exclude_business_units" else job_types
                    if known is not None:
                        folded = {n.casefold() for n in known}
                        for child in vn.value if isinstance(vn, SequenceNode) else []:
                            name = child.value if isinstance(child, ScalarNode) else ""
                            if name and name.casefold() not in folded:
                                ctx.add(
                                    child,
                                    f"reminder {k}: no {noun} '{name}' in this file{f.suggest(name, known)}",
                                )
                    reminder[k] = names
                else:
                    ctx.add(
                        kn,
                        f"unknown key '{k}' in reminder (hours_before or day_before_at, "
                        "exclude_business_units, exclude_job_types)",
                    )
            if "hours_before" in reminder and "day_before_at" in reminder:
                ctx.add(vnode, REMINDER_ONE)
            out[key] = reminder
        elif key == "templates":
            out[key] = _templates(vnode, ctx)
    if not ctx.problems:
        for where, message in check_settings_value(out):
            ctx.add(node, f"notifications {where}: {message}")
    return out


def _templates(node: Node, ctx: f.Ctx) -> dict[str, dict[str, str]]:
    templates: dict[str, dict[str, str]] = {}
    for kind, kn, vn in _pairs(node, "templates", ctx):
        if kind not in TEMPLATE_KINDS:
            ctx.add(
                kn,
                f"'{kind}' is not a message{f.suggest(kind, TEMPLATE_KINDS)}; the messages are "
                + ", ".join(TEMPLATE_KINDS),
            )
            continue
        parts: dict[str, str] = {}
        for part, pn, tn in _pairs(vn, f"templates.{kind}", ctx):
            if part not in TEMPLATE_PARTS:
                ctx.add(pn, f"'{part}' is not a part of a message; the parts are {', '.join(TEMPLATE_PARTS)}")
                continue
            text = _read(f.text(2000, one_line=part != "email"), tn, part, ctx)
            if text is None:
                continue
            why = check_template(text)
            if why:
                ctx.add(tn, f"template {kind}.{part}: {why}")
            parts[part] = text
        templates[kind] = parts
    return templates


def export_node(value: dict[str, Any] | None) -> Node | None:
    """The stored value as a YAML node for the exported file (None: no section)."""
    if not value:
        return None
    plain = {k: v for k, v in value.items() if v not in (None, {}, "")}
    return yaml.compose(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True, width=1000))
