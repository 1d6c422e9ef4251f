"""docs/protocol.md's reference tables, generated from the schemas the code validates with, so the
document cannot drift: every message a console may send (sync/protocol.py) and every intent's
arguments (models/intent_schemas.py).

    python -m sync.protocol_doc --check docs/protocol.md     # exit 1 when the tables are out of date
    python -m sync.protocol_doc --write docs/protocol.md     # rewrite them between their markers
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from models.intent_schemas import SCHEMAS

from .protocol import ClientMessage

MARKERS = {"messages": "<!-- generated:messages -->", "intents": "<!-- generated:intents -->"}


def _end(marker: str) -> str:
    return marker.replace("<!-- generated:", "<!-- /generated:")


def client_messages() -> list[type[BaseModel]]:
    """The message models a console may send, in the order of the protocol's union."""
    union = get_args(ClientMessage)[0]
    return list(get_args(union))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("``", "`").replace("|", "\\|")


def _wire_type(schema: dict[str, Any], defs: dict[str, Any], nullable: bool = True) -> str:
    """A property's JSON schema as a reader of the protocol says it: "string, 1–64 chars", "integer ≥ 1"."""
    if "$ref" in schema:
        return f"object `{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "const" in schema:
        return f'`"{schema["const"]}"`'
    if "enum" in schema:
        return " | ".join(f'`"{v}"`' for v in schema["enum"])
    if "anyOf" in schema:
        parts = [p for p in schema["anyOf"] if p.get("type") != "null"]
        text = " or ".join(_wire_type(p, defs) for p in parts)
        return f"{text} or null" if len(parts) < len(schema["anyOf"]) and nullable else text
    kind = schema.get("type")
    if kind == "string":
        return (
            "string"
            + _limits(schema.get("minLength"), schema.get("maxLength"), "chars")
            + (f", pattern `{schema['pattern']}`" if "pattern" in schema else "")
        )
    if kind == "integer" or kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        name = "integer" if kind == "integer" else "number"
        if low is not None and high is not None:
            return f"{name} {low}–{high}"
        if low is not None:
            return f"{name} ≥ {low}"
        return name
    if kind == "boolean":
        return "boolean"
    if kind == "array":
        items = _wire_type(schema.get("items", {}), defs) if schema.get("items") else "any"
        return f"list of {items}" + _limits(schema.get("minItems"), schema.get("maxItems"), "items")
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object: field → {_wire_type(schema['additionalProperties'], defs)}"
    if kind == "object":
        return "object"
    return "any"


def _limits(low: int | None, high: int | None, unit: str) -> str:
    if low is not None and high is not None:
        return f" ({low} {unit})" if low == high else f" ({low}–{high} {unit})"
    if high is not None:
        return f" (≤ {high} {unit})"
    if low is not None:
        return f" (≥ {low} {unit})"
    return ""


def _table(
    schema: dict[str, Any],
    defs: dict[str, Any],
    *,
    header: str,
    skip: tuple[str, ...] = (),
    declared_required: bool = False,
) -> list[str]:
    required = set(schema.get("required", ()))
    lines = [f"| {header} | type | required | meaning |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        if name in skip:
            continue
        needed = prop.get("required") is True if declared_required else name in required
        meaning = prop.get("description", "")
        if not declared_required and name not in required and prop.get("default") not in (None, [], {}):
            meaning = f"{meaning} Default `{_json(prop['default'])}`.".strip()
        # An intent's null is the same as leaving the argument out: its type is shown without it.
        kind = _wire_type(prop, defs, nullable=not declared_required)
        lines.append(f"| `{name}` | {_cell(kind)} | {'yes' if needed else ''} | {_cell(meaning)} |")
    return lines


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def messages_markdown() -> str:
    """One table per message type a console may send (each also takes an optional ``id``)."""
    out: list[str] = []
    nested: dict[str, Any] = {}
    for model in client_messages():
        schema = model.model_json_schema()
        defs = schema.get("$defs", {})
        nested.update(defs)
        kind = schema["properties"]["type"].get("const") or schema["properties"]["type"]["enum"][0]
        out += [f"#### `{kind}`", ""]
        if model.__doc__:
            out += [_cell(model.__doc__), ""]
        out += [*_table(schema, defs, header="field", skip=("type",)), ""]
    for name, schema in sorted(nested.items()):
        out += [f"#### `{name}`", ""]
        if schema.get("description"):
            out += [_cell(schema["description"]), ""]
        out += [*_table(schema, nested, header="field"), ""]
    return "\n".join(out).rstrip() + "\n"


def intents_markdown() -> str:
    """One table per intent (its ``args``), then one per nested section. "required" is what the handler
    insists on (it answers a missing value in its own words); unknown names are always refused."""
    out: list[str] = []
    nested: dict[str, Any] = {}
    for name, model in SCHEMAS.items():
        schema = model.model_json_schema()
        defs = schema.get("$defs", {})
        nested.update(defs)
        out += [f"#### `{name}`", ""]
        if model.__doc__:
            out += [_cell(model.__doc__), ""]
        out += [*_table(schema, defs, header="argument", declared_required=True), ""]
    for name, schema in sorted(nested.items()):
        out += [f"#### `{name}`", ""]
        if schema.get("description"):
            out += [_cell(schema["description"]), ""]
        out += [*_table(schema, nested, header="field", declared_required=True), ""]
    return "\n".join(out).rstrip() + "\n"


def render(document: str) -> str:
    """``document`` with the text between each pair of markers replaced by its generated tables."""
    generated = {"messages": messages_markdown(), "intents": intents_markdown()}
    for key, start in MARKERS.items():
        end = _end(start)
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if not pattern.search(document):
            raise ValueError(f"{start} … {end} not found")
        document = pattern.sub(
            lambda _m, k=key, s=start, e=end: f"{s}\n\n{generated[k]}\n{e}", document, count=1
        )
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sync.protocol_doc", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", metavar="FILE", help="exit 1 when FILE's generated tables are out of date")
    mode.add_argument("--write", metavar="FILE", help="rewrite FILE's generated tables")
    options = parser.parse_args(argv)
    path = Path(options.check or options.write)
    text = path.read_text(encoding="utf-8")
    fresh = render(text)
    if options.write:
        if fresh != text:
            path.write_text(fresh, encoding="utf-8")
        return 0
    if fresh != text:
        print(
            f"{path}: the generated tables are out of date; run python -m sync.protocol_doc --write {path}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
