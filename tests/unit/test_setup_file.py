"""The setup file: the demo parses, bad files are refused with the right line and nothing imported,
import/export round trips, idempotent re-import, retire and rename, and `csr-console setup`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest
from sqlalchemy import select

import models.setup_file as setup_file
from console.setup_cli import run_setup_command
from models.customers import TagType
from models.db import Cache, open_cache
from models.phone import parse_phone
from models.setup import BusinessUnit, Campaign, CompanySetting, JobType, TrackingNumber
from models.setup_file import (
    SetupFileError,
    demo_setup_path,
    export_setup,
    import_setup,
    import_setup_file,
    parse_setup,
)

ROOT = Path(__file__).resolve().parents[2]
MARK = "# !"  # ends the line a bad-input case expects its problem on

BASE = """\
version: 1
company:
  name: Test Co
  time_zone: America/Chicago
business_unit_groups:
  - name: HVAC
business_units:
  - {name: HVAC Service, group: HVAC}
services:
  - {code: HV-DIAG, name: Diagnostic, price: 89.00}
tag_types:
  - {name: VIP, color: "#c62828"}
job_types:
  - name: AC Not Cooling
    business_units: [HVAC Service]
    priority: High
    default_services: [{code: HV-DIAG}]
campaigns:
  - name: Yard signs
    tracking_numbers:
      - {number: (972) 555-0104}
  - name: Van wrap
    tracking_numbers:
      - {number: (972) 555-0105}
call_reasons:
  - {name: Wrong number, is_lead: false}
arrival_windows:
  - {name: 8-12, start: "08:00", end: "12:00"}
business_hours:
  - {weekday: mon, opens: "07:00", closes: "19:00"}
technicians:
  - name: Marcus Bell
    business_unit: HVAC Service
    shifts:
      - {weekday: mon, start: "07:00", end: "16:00"}
"""
SETUP_TABLES = (
    "company_settings",
    "business_unit_groups",
    "business_units",
    "services",
    "tag_types",
    "job_types",
    "job_type_business_units",
    "campaign_categories",
    "campaigns",
    "tracking_numbers",
    "call_reasons",
    "arrival_windows",
    "arrival_window_business_units",
    "business_hours",
    "technicians",
    "capacity_settings",
    "booking_preferences",
)


def edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def marked_line(text: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith(MARK))


def rows(cache: Cache) -> dict[str, list[tuple]]:
    """Every setup row as stored (ids and timestamps included; not the setup version, a random token)."""
    with sqlite3.connect(cache.path) as conn:
        return {
            t: sorted((r for r in conn.execute(f"SELECT * FROM {t}") if r[0] != "setup_version"), key=repr)
            for t in SETUP_TABLES
        }


def data(cache: Cache) -> dict[str, list[tuple]]:
    """The setup as data: ids replaced by what they name, timestamps dropped — comparable across caches."""
    with sqlite3.connect(cache.path) as conn:
        label: dict[str, str] = {}
        for table in SETUP_TABLES:
            cols = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")]
            if "id" in cols:
                key = next((k for k in ("name", "code", "number", "key") if k in cols), None)
                for row in conn.execute(f"SELECT * FROM {table}"):
                    rec = dict(zip(cols, row, strict=True))
                    label[rec["id"]] = f"{table}:{rec[key] if key else sorted(rec.items())}"
        out = {}
        for table in SETUP_TABLES:
            cur = conn.execute(f"SELECT * FROM {table}")
            cols = [d[0] for d in cur.description]
            out[table] = sorted(
                (
                    tuple(
                        _labelled(v, label) if isinstance(v, str) else v
                        for c, v in zip(cols, row, strict=True)
                        if c not in ("id", "created_at", "updated_at")
                    )
                    for row in cur
                    if row[0] != "setup_version"
                ),
                key=repr,
            )
        return out


def _labelled(value: str, label: dict[str, str]) -> str:
    """An id → what it names; ids inside a JSON setting (online booking's job types) too."""
    if value in label:
        return label[value]
    if value.startswith("{"):
        for key, name in label.items():
            value = value.replace(key, name)
    return value


def load(cache: Cache, text: str, tmp_path: Path, name: str = "setup.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return import_setup_file(cache, path)


def exported(cache: Cache) -> str:
    with cache.sessions() as session:
        return export_setup(session)


@pytest.fixture(scope="module")
def empty_cache(tmp_path_factory) -> Cache:
    c = open_cache(tmp_path_factory.mktemp("empty") / "c.db")
    yield c
    c.close()


# ---------------------------------------------------------------------------------------- the demo


def test_demo_file_is_a_realistic_valid_setup() -> None:
    from models.demo import TAGS

    doc = parse_setup(demo_setup_path().read_text(encoding="utf-8"))
    assert doc.company.name == "Lone Star Home Services" and doc.company.time_zone == "America/Chicago"
    assert [g.name for g in doc.business_unit_groups] == ["HVAC", "Plumbing", "Electrical"]
    assert len(doc.business_units) == 5 and len(doc.services) >= 18 and len(doc.job_types) >= 12
    assert {"Google Local Services", "Yard signs", "Van wrap", "Referral"} <= {c.name for c in doc.campaigns}
    assert all(
        c.tracking_numbers for c in doc.campaigns if c.name not in ("Web Scheduler", "ServiceChannel")
    )  # online requests and work orders come without a phone number
    numbers = [t.number for c in doc.campaigns for t in c.tracking_numbers]
    assert len(numbers) == len(set(numbers)) and all(parse_phone(n).e164 == n for n in numbers)
    assert set(TAGS) <= {t.name for t in doc.tag_types}  # coexists with models/demo.py's tags
    assert {r.is_lead for r in doc.call_reasons} == {True, False}
    assert len(doc.arrival_windows) == 7 and any(w.business_units for w in doc.arrival_windows)
    assert len(doc.technicians) >= 15 and all(t.shifts for t in doc.technicians)
    assert {c.group for c in doc.capacity} == {"HVAC", "Plumbing", "Electrical"}
    assert doc.booking_preferences.required_fields == ["summary"]
    # Every job type has a technician with its skills; the one warning is the retired campaign's number,
    # kept on purpose so it is never given to another campaign.
    assert [m for _line, m in doc.warnings] == [
        "tracking number (972) 555-0109 belongs to campaign 'Spring home show', which is inactive: calls to it "
        "are still credited to that campaign (CSRs are warned when they book one) — reactivate the campaign, "
        "or stop the number at the phone provider"
    ]
    assert all(j.default_services and j.summary_template for j in doc.job_types)


def test_demo_imports_into_what_the_booking_form_reads(tmp_path) -> None:
    from models import setup_data  # a plain import: an import error must fail, not skip

    cache = open_cache(tmp_path / "c.db")
    import_setup_file(cache, demo_setup_path())
    with cache.sessions() as session:
        setup = setup_data.load_setup(session)
    cache.close()
    assert setup.time_zone == "America/Chicago" and setup.company_name == "Lone Star Home Services"
    assert setup.required_fields == frozenset({"summary"})
    assert len(setup.campaigns) == 9  # the retired home show isn't offered
    marcus = next(t for t in setup.technicians if t.name == "Marcus Bell")
    assert marcus.shifts[0] == ((time(7), time(16)),) and 4 not in marcus.shifts  # no Friday
    drain = next(j for j in setup.job_types if j.name == "Drain Clog")
    assert len(drain.business_unit_ids) == 2 and drain.default_services == (("DR-SINK", 1.0),)


# -------------------------------------------------------------------------------------- bad input

UNIT = "{name: HVAC Service, group: HVAC}"
WINDOW = '{name: 8-12, start: "08:00", end: "12:00"}'
HOURS = '{weekday: mon, opens: "07:00", closes: "19:00"}'
SHIFT = '{weekday: mon, start: "07:00", end: "16:00"}'
# case → (the end of a line of BASE, what replaces it, the problem expected on the edited line)
BAD = {
    "unknown key": (
        '{name: VIP, color: "#c62828"}',
        '{name: VIP, colour: "#c62828"}',
        "unknown key 'colour' in tag type 'VIP' (did you mean 'color'?)",
    ),
    "number on two campaigns": (
        "{number: (972) 555-0105}",
        "{number: 972.555.0104}",
        "tracking number (972) 555-0104 is used by two campaigns: Yard signs and Van wrap",
    ),
    "number twice in a campaign": (
        "{number: (972) 555-0104}",
        "{number: (972) 555-0104}\n      - {number: '+19725550104'}",
        "tracking number (972) 555-0104 is listed twice in campaign 'Yard signs'",
    ),
    "window across midnight": (
        WINDOW,
        WINDOW + '\n  - {name: Evening, start: "18:00", end: "01:00"}',
        "arrival window 'Evening' ends at 01:00, before it starts at 18:00 — windows can't cross midnight",
    ),
    "bad time": (WINDOW, WINDOW.replace("08:00", "25:00"), "'25:00' is not a time (use HH:MM)"),
    "unknown business unit": (
        "business_units: [HVAC Service]",
        "business_units: [HVAC Servce]",
        "job type 'AC Not Cooling' names business unit 'HVAC Servce', which isn't in "
        "business_units (did you mean 'HVAC Service'?)",
    ),
    "duplicate name": (
        UNIT,
        UNIT + "\n  - {name: hvac service, group: HVAC}",
        "business unit 'hvac service' is listed twice (first on line 8)",
    ),
    "service not in catalog": (
        "[{code: HV-DIAG}]",
        "[{code: HV-DIAGG}]",
        "job type 'AC Not Cooling' adds service 'HV-DIAGG', which isn't in the "
        "services catalog (did you mean 'HV-DIAG'?)",
    ),
    "shift ends before it starts": (
        SHIFT,
        SHIFT.replace('"07:00", end: "16:00"', '"16:00", end: "07:00"'),
        "technician 'Marcus Bell' has a Monday shift that ends at 07:00, before "
        "it starts at 16:00 — shifts can't cross midnight",
    ),
    "overlapping hours": (
        HOURS,
        HOURS + '\n  - {weekday: Monday, opens: "18:00", closes: "20:00"}',
        "business hours for Monday overlap: 07:00–19:00 and 18:00–20:00",
    ),
    "invalid phone": (
        "{number: (972) 555-0105}",
        "{number: 972-555-01}",
        "tracking number '972-555-01' can't be used: A phone number needs more digits",
    ),
    "unknown time zone": (
        "time_zone: America/Chicago",
        "time_zone: America/Chicgo",
        "'America/Chicgo' is not a time zone (use an IANA name such as America/Chicago) "
        "(did you mean 'America/Chicago'?)",
    ),
    "missing required key": (
        "- name: AC Not Cooling\n    business_units: [HVAC Service]",
        "- name: AC Not Cooling",
        "job type 'AC Not Cooling' needs 'business_units'",
    ),
    "unknown group": (
        UNIT,
        UNIT.replace("group: HVAC", "group: Heating"),
        "business unit 'HVAC Service' names group 'Heating', which isn't in business_unit_groups",
    ),
    "bad priority": (
        "priority: High",
        "priority: Hgh",
        "'priority' must be one of Low, Normal, High, Urgent, not 'Hgh' (did you mean 'High'?)",
    ),
    "bad price": (
        "price: 89.00}",
        "price: $89}",
        "'price' must be a number such as 89.50 (no $ or commas), not '$89'",
    ),
    "bad boolean": ("is_lead: false}", "is_lead: maybe}", "'is_lead' must be true or false, not 'maybe'"),
    "unquoted color": (
        'color: "#c62828"}',
        "color: #c62828}",  # YAML itself trips on the next line
        'a color must be in quotes, e.g. color: "#607d8b" (a bare # starts a comment)',
    ),
    "key twice": (
        "  name: Test Co",
        "  name: Test Co\n  name: Other Co",
        "'name' is given twice in company 'Test Co' (first on line 3)",
    ),
    "unknown section": (SHIFT, SHIFT + "\ncolours: []", "unknown section 'colours'"),
    "wrong version": ("version: 1", "version: 2", "reads setup files of version 1, not '2'"),
    "tab indentation": (
        "  time_zone: America/Chicago",
        "\ttime_zone: America/Chicago",
        "this isn't valid YAML",
    ),
    "rename clash": (
        "  - name: Van wrap",
        "  - name: Van wrap\n    renamed_from: Yard signs",
        "campaign 'Van wrap' is renamed from 'Yard signs', but 'Yard signs' is also in the file",
    ),
}


def bad(*cases: str) -> str:
    """BASE with these cases' edits, each edited line marked with MARK."""
    text = BASE
    for case in cases:
        old, new, _message = BAD[case]
        text = edit(old, new + "  " + MARK, text)
    return text


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_file_is_refused_with_the_line_and_nothing_is_imported(case, empty_cache, tmp_path) -> None:
    text, message = bad(case), BAD[case][2]
    line = marked_line(text)
    with pytest.raises(SetupFileError) as err:
        parse_setup(text)
    assert any(n == line and message in m for n, m in err.value.problems), err.value.problems
    with pytest.raises(SetupFileError):
        load(empty_cache, text, tmp_path)
    assert all(not r for r in rows(empty_cache).values())


def test_every_problem_is_reported_at_once() -> None:
    cases = ("unknown key", "unknown business unit", "service not in catalog", "invalid phone", "bad time")
    text = bad(*cases)
    with pytest.raises(SetupFileError) as err:
        parse_setup(text)
    marked = [i for i, line in enumerate(text.splitlines(), 1) if line.endswith(MARK)]
    assert [line for line, _ in err.value.problems] == marked
    assert all(BAD[c][2] in m for c, (_, m) in zip(cases, err.value.problems, strict=True))
    assert err.value.lines("s.yaml")[0] == f"s.yaml:{marked[0]}: {BAD['unknown key'][2]}"


def test_missing_version_empty_file_and_non_utf8(tmp_path, empty_cache) -> None:
    with pytest.raises(SetupFileError, match=r"line 1: the file needs 'version: 1'"):
        parse_setup(edit("version: 1\n", ""))
    with pytest.raises(SetupFileError, match="the file is empty"):
        parse_setup("# nothing yet\n")
    path = tmp_path / "latin1.yaml"
    path.write_bytes(edit("Test Co", "Caf\xe9 Co").encode("latin-1"))
    with pytest.raises(SetupFileError) as err:
        import_setup_file(empty_cache, path)
    assert err.value.problems[0][0] == 3 and "UTF-8" in err.value.problems[0][1]


def test_values_are_read_as_typed_not_as_yaml_guesses() -> None:
    # YAML 1.1 would read 12:30 as the number 750, `No` as false and 2145550100 as an int.
    text = edit(WINDOW, "{name: No, start: 8:00, end: 12:30}").replace("(972) 555-0105", "9725550105")
    doc = parse_setup(text)
    window = doc.arrival_windows[0]
    assert (window.name, window.start, window.end, window.business_units) == ("No", time(8), time(12, 30), [])
    assert doc.campaigns[1].tracking_numbers[0].number == "+19725550105"


# ------------------------------------------------------------------------------ import and export


def test_reimport_changes_nothing(tmp_path) -> None:
    cache = open_cache(tmp_path / "c.db")
    first = import_setup_file(cache, demo_setup_path())
    assert first.changed and first["job_types"].created == 13 and first["tracking_numbers"].created == 9
    before = rows(cache)
    again = import_setup_file(cache, demo_setup_path())
    assert not again.changed and again["technicians"].unchanged == 18
    assert rows(cache) == before  # not even an updated_at moved
    cache.close()


def test_round_trips(tmp_path) -> None:
    a, b = open_cache(tmp_path / "a.db"), open_cache(tmp_path / "b.db")
    import_setup_file(a, demo_setup_path())
    text = exported(a)
    assert "Spring home show" in text and "active: false" in text  # retired, number still taken
    assert not load(a, text, tmp_path).changed  # import → export → import: same data
    load(b, text, tmp_path)
    assert data(b) == data(a)
    assert exported(b) == text  # export → parse → export: same text
    a.close()
    b.close()


def test_export_of_a_cache_without_setup_says_so(empty_cache) -> None:
    with empty_cache.sessions() as session, pytest.raises(LookupError, match="no setup yet"):
        export_setup(session)


def test_demo_tag_types_are_upserted_by_name(tmp_path) -> None:
    from models.demo import TAGS

    cache = open_cache(tmp_path / "c.db")
    with cache.sessions.begin() as session:  # as models/demo.py seeds them
        session.add_all(TagType(id=f"{i:032x}", name=name, color="#607d8b") for i, name in enumerate(TAGS))
    summary = import_setup_file(cache, demo_setup_path())
    assert (summary["tag_types"].created, summary["tag_types"].updated) == (2, 10)
    with cache.sessions() as session:
        tags = {t.name: t for t in session.scalars(select(TagType))}
    assert len(tags) == 12 and tags["VIP"].id == f"{0:032x}" and tags["VIP"].color == "#c62828"
    cache.close()


def test_retire_and_rename(tmp_path) -> None:
    cache = open_cache(tmp_path / "c.db")
    load(cache, BASE, tmp_path)
    with cache.sessions() as session:
        ids = {c.name: c.id for c in session.scalars(select(Campaign))}
    # Van wrap, its tracking number and the 8-12 window leave the file; the service is dropped.
    later = edit("  - name: Van wrap\n    tracking_numbers:\n      - {number: (972) 555-0105}\n", "")
    later = edit('  - {name: 8-12, start: "08:00", end: "12:00"}\n', "", later)
    later = edit("    default_services: [{code: HV-DIAG}]\n", "", later).replace(
        "  - {code: HV-DIAG, name: Diagnostic, price: 89.00}\n", ""
    )
    summary = load(cache, later, tmp_path)
    assert summary["campaigns"].retired == 1 and summary["arrival_windows"].retired == 1
    assert summary["services"].retired == 1
    with cache.sessions() as session:
        van = session.get(Campaign, ids["Van wrap"])
        assert van.active is False and [t.number for t in van.tracking_numbers] == ["+19725550105"]
    text = exported(cache)
    assert "- name: Van wrap" in text and "(972) 555-0105" in text and "8-12" not in text

    # Giving the retired campaign's number to another campaign is refused; nothing changes.
    before = rows(cache)
    reuse = edit(
        "      - {number: (972) 555-0104}\n",
        "      - {number: (972) 555-0104}\n      - {number: (972) 555-0105}  " + MARK + "\n",
        later,
    )
    with pytest.raises(SetupFileError) as err:
        load(cache, reuse.replace("name: Test Co", "name: Renamed Co"), tmp_path)
    assert err.value.problems == [
        (
            marked_line(reuse),
            "tracking number (972) 555-0105 belongs to campaign "
            "'Van wrap' in this cache; a tracking number is never moved to another "
            "campaign (to rename a campaign, use renamed_from)",
        )
    ]
    assert rows(cache) == before

    # renamed_from keeps the record (and its numbers); listing a retired campaign again revives it.
    renamed = edit("  - name: Yard signs\n", "  - name: Yard signs 2026\n    renamed_from: Yard signs\n")
    summary = load(cache, renamed, tmp_path)
    assert (summary["campaigns"].created, summary["campaigns"].updated) == (0, 2)
    with cache.sessions() as session:
        campaigns = {c.name: c for c in session.scalars(select(Campaign))}
        assert campaigns["Yard signs 2026"].id == ids["Yard signs"] and campaigns["Van wrap"].active
        assert (
            session.scalar(select(TrackingNumber.campaign_id).where(TrackingNumber.number == "+19725550104"))
            == ids["Yard signs"]
        )
    cache.close()


def test_a_number_dropped_from_an_active_campaign_stays_with_a_note(tmp_path) -> None:
    cache = open_cache(tmp_path / "c.db")
    two = edit("{number: (972) 555-0104}", "{number: (972) 555-0104}\n      - {number: (214) 555-0100}")
    load(cache, two, tmp_path)
    summary = load(cache, BASE, tmp_path)
    assert not summary.changed
    assert summary.notes == [
        "tracking number (214) 555-0100 is no longer in the file; it stays with "
        "campaign 'Yard signs' (tracking numbers are never deleted or reused; retire "
        "the campaign to stop using it)"
    ]
    cache.close()


def test_a_tracking_number_on_an_inactive_campaign_is_flagged_on_its_line(tmp_path, capsys) -> None:
    text = edit(
        "  - name: Van wrap\n    tracking_numbers:\n      - {number: (972) 555-0105}",
        f"  - name: Van wrap\n    active: false\n    tracking_numbers:\n      - {{number: (972) 555-0105}}  {MARK}",
    )
    doc = parse_setup(text)
    assert [line for line, _m in doc.warnings] == [marked_line(text)]
    assert (
        "tracking number (972) 555-0105 belongs to campaign 'Van wrap', which is inactive"
        in doc.warnings[0][1]
    )
    assert parse_setup(BASE).warnings == []  # numbers on active campaigns: nothing to say
    path = tmp_path / "setup.yaml"
    path.write_text(text, encoding="utf-8")
    assert run_setup_command(["import", str(path), "--cache", str(tmp_path / "c.db")]) == 0  # imported,
    assert (
        "(972) 555-0105 belongs to campaign 'Van wrap', which is inactive" in capsys.readouterr().err
    )  # told


def test_nothing_is_half_imported_when_the_import_fails_midway(tmp_path, monkeypatch) -> None:
    fresh = open_cache(tmp_path / "fresh.db")
    cache = open_cache(tmp_path / "c.db")
    load(cache, BASE, tmp_path)
    before = rows(cache)

    def disk_gone(*_args) -> None:  # after company, units, job types, campaigns were written
        raise OSError("disk I/O error")

    monkeypatch.setattr(setup_file, "_business_hours", disk_gone)
    changed = edit(UNIT, UNIT + "\n  - {name: HVAC Install, group: HVAC}").replace("Test Co", "Renamed Co")
    for target in (cache, fresh):
        with pytest.raises(OSError, match="disk I/O"):
            load(target, changed, tmp_path)
    assert rows(cache) == before
    assert all(not r for r in rows(fresh).values())
    with cache.sessions() as session:
        assert session.get(CompanySetting, "company").value["name"] == "Test Co"
        assert session.scalar(select(BusinessUnit).where(BusinessUnit.name == "HVAC Install")) is None
    cache.close()
    fresh.close()


def test_import_setup_uses_the_callers_transaction(tmp_path) -> None:
    cache = open_cache(tmp_path / "c.db")
    with cache.sessions() as session:
        import_setup(session, parse_setup(BASE))
        assert session.scalar(select(JobType.name)) == "AC Not Cooling"  # visible inside…
        session.rollback()
    assert all(not r for r in rows(cache).values())  # …gone after rollback
    cache.close()


# --------------------------------------------------------------------------------------------- CLI


def test_cli_import_and_export(tmp_path, capsys) -> None:
    cache_path = tmp_path / "c.db"
    assert run_setup_command(["import", str(demo_setup_path()), "--cache", str(cache_path)]) == 0
    out = capsys.readouterr().out
    assert "imported setup for Lone Star Home Services" in out and "  job types: 13 (13 new)" in out
    assert run_setup_command(["import", str(demo_setup_path()), "--cache", str(cache_path)]) == 0
    assert "nothing to change" in capsys.readouterr().out
    target = tmp_path / "out.yaml"
    assert run_setup_command(["export", str(target), "--cache", str(cache_path)]) == 0
    cache = open_cache(cache_path)
    assert target.read_text(encoding="utf-8") == exported(cache)
    cache.close()
    capsys.readouterr()
    assert run_setup_command(["export", "-", "--cache", str(cache_path)]) == 0
    assert capsys.readouterr().out == target.read_text(encoding="utf-8")


def test_cli_refuses_a_bad_file_without_touching_the_cache(tmp_path, capsys) -> None:
    text, message = bad("number on two campaigns"), BAD["number on two campaigns"][2]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    cache_path = tmp_path / "c.db"
    assert run_setup_command(["import", str(path), "--cache", str(cache_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{path}:{marked_line(text)}: {message}",
        f"{path}: refused (1 problem); nothing was imported.",
    ]
    assert not cache_path.exists()
    assert run_setup_command(["import", str(tmp_path / "missing.yaml"), "--cache", str(cache_path)]) == 1
    assert "can't read" in capsys.readouterr().err


def test_cli_dry_run_saves_nothing(tmp_path, capsys) -> None:
    cache_path = tmp_path / "c.db"
    assert run_setup_command(["import", str(demo_setup_path()), "--cache", str(cache_path), "--dry-run"]) == 0
    assert "would import (dry run, nothing saved)" in capsys.readouterr().out
    cache = open_cache(cache_path)
    assert all(not r for r in rows(cache).values())
    cache.close()


def test_cli_cache_errors_exit_2(tmp_path, capsys) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    assert run_setup_command(["import", str(demo_setup_path()), "--cache", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "The customer cache file is damaged." in err and "move the file aside" in err
    assert run_setup_command(["export", str(tmp_path / "o.yaml"), "--cache", str(tmp_path / "none.db")]) == 2
    assert "there is no customer cache" in capsys.readouterr().err
    open_cache(tmp_path / "empty.db").close()
    assert run_setup_command(["export", str(tmp_path / "o.yaml"), "--cache", str(tmp_path / "empty.db")]) == 1
    assert "no setup yet" in capsys.readouterr().err
    assert run_setup_command(["frobnicate"]) == 2


def test_cli_stays_free_of_qt_and_shares_the_default_cache_path() -> None:
    code = (
        "import sys, console.setup_cli\n"
        "sys.exit(1 if any(m.split('.')[0] in ('PySide6', 'shiboken6') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
    from console.settings import default_cache_path
    from console.setup_cli import default_cache_path as cli_default

    assert cli_default() == default_cache_path()


def test_setup_version_changes_only_with_the_setup(cache: Cache, tmp_path: Path) -> None:
    """Consoles reuse loaded setup data until an import changes it (models.setup_data.load_setup)."""
    from models.setup_data import load_setup

    load(cache, BASE, tmp_path)
    with cache.sessions() as s:
        first = load_setup(s)
        assert load_setup(s) is first  # reused, not read again
    load(cache, BASE, tmp_path, "same.yaml")  # nothing changed: same version
    with cache.sessions() as s:
        assert load_setup(s) is first
    load(cache, edit("AC Not Cooling", "AC Not Cooling Down"), tmp_path, "renamed.yaml")
    with cache.sessions() as s:
        fresh = load_setup(s)
    assert fresh is not first and "AC Not Cooling Down" in {j.name for j in fresh.job_types}


def test_a_file_without_business_units_is_refused_not_retiring_everything(
    cache: Cache, tmp_path: Path
) -> None:
    from console.setup_cli import run_setup_command

    path = tmp_path / "company_only.yaml"
    path.write_text("version: 1\ncompany:\n  name: Acme\n  time_zone: America/Chicago\n", encoding="utf-8")
    code = run_setup_command(["import", str(path), "--cache", str(cache.path.with_name("other.sqlite3"))])
    assert code == 1
