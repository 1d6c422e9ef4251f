"""Services and the company in the setup screen (models/setup_kind_company.py): the setup file's readers
and sentences; a service's code set once and unique; a service a job type adds can't be deleted (the job
types named), one nobody adds can; the company is one record whose name and time zone reach the booking
setup."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.setup import Service
from models.setup_data import load_setup
from models.setup_edit import KINDS, list_records
from models.setup_file import demo_setup_path, import_setup_file
from models.validation import ValidationFailed


@pytest.fixture
def setup_cache(cache):
    import_setup_file(cache, demo_setup_path())
    return cache


def _refused(writer, name: str, args: dict) -> dict[str, str]:
    with pytest.raises(ValidationFailed) as info:
        writer.execute(name, args)
    return info.value.errors


def _service_id(cache, code: str) -> str:
    with cache.sessions() as s:
        return s.scalar(select(Service.id).where(Service.code == code))


def test_services_by_the_files_rules(setup_cache, writer):
    with setup_cache.sessions() as s:
        rows = list_records(s, KINDS["service"]).rows
    diag = next(r for r in rows if r[3]["code"] == "HV-DIAG")
    assert diag[1] == "HV-DIAG · HVAC diagnostic" and diag[3]["price"].count(".") == 1
    new = {"kind": "service", "values": {"code": "NEW-1", "name": "Gutter check", "price": "$10"}}
    assert _refused(writer, "setup_save", new) == {
        "price": "'price' must be a number such as 89.50 (no $ or commas), not '$10'"
    }
    assert _refused(
        writer, "setup_save", {"kind": "service", "values": {"code": "hv-diag", "name": "Again"}}
    ) == {"code": "there is already a service with code 'HV-DIAG'"}
    ident = writer.execute("setup_save", {**new, "values": {**new["values"], "price": "10.50"}}).args["id"]
    with setup_cache.sessions() as s:
        assert float(s.get(Service, ident).price) == 10.5
    errors = _refused(
        writer, "setup_save", {"kind": "service", "id": ident, "values": {"code": "NEW-2"}, "seen": {}}
    )
    assert errors == {"code": "a service's code can't be changed once it is set"}
    errors = _refused(writer, "setup_delete", {"kind": "service", "id": _service_id(setup_cache, "HV-DIAG")})
    assert errors["id"].startswith("service 'HV-DIAG · HVAC diagnostic' can't be deleted: ")
    assert (
        "job types' default services refer to it — take it out of their default services first"
        in errors["id"]
    )
    writer.execute("setup_delete", {"kind": "service", "id": ident})  # nobody adds it
    with setup_cache.sessions() as s:
        assert s.get(Service, ident) is None


def test_the_company_is_one_record_checked_as_in_the_file(setup_cache, writer):
    with setup_cache.sessions() as s:
        (row,) = list_records(s, KINDS["company"]).rows
    assert row[0] == "company" and row[3]["time_zone"] == "America/Chicago"
    errors = _refused(
        writer,
        "setup_save",
        {"kind": "company", "id": "company", "values": {"time_zone": "America/Chicgo"}, "seen": {}},
    )
    assert errors["time_zone"].endswith("(did you mean 'America/Chicago'?)")
    writer.execute(
        "setup_save",
        {
            "kind": "company",
            "id": "company",
            "values": {"name": "Acme HVAC"},
            "seen": {"name": row[3]["name"]},
        },
    )
    with setup_cache.sessions() as s:
        setup = load_setup(s)
    assert (setup.company_name, setup.time_zone) == ("Acme HVAC", "America/Chicago")
    for name, args in (
        ("setup_save", {"kind": "company", "values": {"name": "Second"}}),
        ("setup_delete", {"kind": "company", "id": "company"}),
    ):
        assert _refused(writer, name, args)["id"].startswith("the company is one record")
