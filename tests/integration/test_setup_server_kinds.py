"""The setup screen's further kinds over a real loopback server (SQLite and PostgreSQL): a manager's save
of a technician's shifts, a notification template and the online booking settings is applied by the
server and reaches another console's pull; a CSR's is refused by role; a template with an unknown
placeholder is refused by the server too (a console that skipped the check changes nothing)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.notify_templates import load_settings
from models.setup import Technician
from models.setup_file import demo_setup_path, parse_setup, read_setup_text
from models.web_booking import load_web_settings
from sync.setup_sync import import_setup_logged
from tests.servers import role_store
from tests.unit.test_roles import Console, _serve


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with role_store(request, tmp_path) as (sessions, accounts):
        import_setup_logged(sessions, parse_setup(read_setup_text(demo_setup_path())))
        yield sessions, accounts


def test_new_kinds_over_the_wire(store):
    sessions, accounts = store
    with sessions() as s:
        ana = s.scalar(select(Technician).where(Technician.name == "Ana Delgado"))
        ana_id = ana.id
        sms = load_settings(s).template("confirmation", "sms")
    shifts = {
        "kind": "technician",
        "id": ana_id,
        "values": {"shifts": "mon 08:00-12:00\nwed 13:00-17:00"},
        "seen": {},
    }
    template = {
        "kind": "notification_template",
        "id": "confirmation",
        "values": {"sms": "{company}: {window}"},
        "seen": {"sms": sms},
    }
    bad_template = {**template, "values": {"sms": "{company}: {time}"}}
    online = {
        "kind": "online_booking",
        "id": "online_booking",
        "values": {"service_area_zips": "75201"},
        "seen": {},
    }

    async def scenario(url: str) -> None:
        manager = await Console.open(url, "manager1")
        csr = await Console.open(url, "csr1")
        refused = await csr.push("setup_save", template, seq=1)
        assert refused["receipts"][0]["status"] == "rejected" and "role" in refused["receipts"][0]["errors"]
        cursor = (await csr.ask({"type": "pull", "cursor": 0, "limit": 5000}))["cursor"]
        wrong = await manager.push("setup_save", bad_template, seq=1)
        assert wrong["receipts"][0]["status"] == "rejected"
        assert wrong["receipts"][0]["errors"]["sms"].startswith(
            "template confirmation.sms: unknown placeholder {time}"
        )
        for seq, args in enumerate((shifts, template, online), start=2):
            applied = await manager.push("setup_save", args, seq=seq)
            assert applied["receipts"][0]["status"] == "applied", applied
        pulled = await csr.ask({"type": "pull", "cursor": cursor, "limit": 500})
        entities = {(c["entity"], c["entity_id"]) for c in pulled["changes"]}
        assert {
            ("technicians", ana_id),
            ("company_settings", "notifications"),
            ("company_settings", "online_booking"),
        } <= entities
        for c in (manager, csr):
            await c.ws.close()

    _serve(sessions, accounts, scenario)
    with sessions() as s:
        assert [x["weekday"] for x in s.get(Technician, ana_id).shifts] == [0, 2]
        assert load_settings(s).template("confirmation", "sms") == "{company}: {window}"
        assert load_web_settings(s).service_area_zips == {"75201"}
