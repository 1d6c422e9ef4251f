"""Setup records edited over a real loopback server (sync/server.py): a CSR's or a supervisor's
``setup_save`` is refused (rejected receipt naming the role, nothing changed); a manager's is applied,
audited with who (from the session), before and after, and reaches every console's pull with the new
setup version; an admin's save of the same record from what it was before is refused as a conflict;
deleting a business unit with history is refused with the retire alternative."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bench.sync_bench import temporary_postgres
from models.db import open_server_db
from models.journal import AuditEntry
from models.setup import BusinessUnit, User
from models.setup_file import demo_setup_path, parse_setup, read_setup_text
from sync.auth import Accounts
from sync.setup_sync import import_setup_logged
from tests.unit.test_roles import PASSWORD, Console, _serve

ROLES = ("csr", "supervisor", "manager", "admin")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":
            url = stack.enter_context(temporary_postgres(request.getfixturevalue("postgres_url")))
        else:
            url = str(tmp_path / "server.sqlite3")
        engine = open_server_db(url)
        sessions = sessionmaker(engine, expire_on_commit=False)
        accounts = Accounts(sessions)
        for role in ROLES:
            accounts.add_user(f"{role}1", role.title(), role, PASSWORD)
        import_setup_logged(sessions, parse_setup(read_setup_text(demo_setup_path())))
        yield sessions, accounts
        engine.dispose()


def test_roles_conflict_and_pull_over_the_wire(store):
    sessions, accounts = store
    with sessions() as s:
        unit = s.scalar(select(BusinessUnit).where(BusinessUnit.name == "Drains & Sewer"))
        unit_id, trade = unit.id, unit.trade
    seen = {"trade": trade}

    async def scenario(url: str) -> None:
        manager = await Console.open(url, "manager1")
        admin = await Console.open(url, "admin1")
        csr = await Console.open(url, "csr1")
        supervisor = await Console.open(url, "supervisor1")
        save = {"kind": "business_unit", "id": unit_id, "values": {"trade": "Drains"}, "seen": seen}
        for who in (csr, supervisor):
            refused = await who.push("setup_save", save, seq=1)
            assert refused["receipts"][0]["status"] == "rejected", refused
            assert "role" in refused["receipts"][0]["errors"]
        cursor = (await csr.ask({"type": "pull", "cursor": 0, "limit": 5000}))["cursor"]
        applied = await manager.push("setup_save", save, seq=1)
        assert applied["receipts"][0]["status"] == "applied", applied
        # The admin edited the same record from what it was before the manager's save: a conflict.
        late = {**save, "values": {"trade": "Sewer"}}
        conflict = await admin.push("setup_save", late, seq=1)
        receipt = conflict["receipts"][0]
        assert receipt["status"] == "rejected"
        assert "Someone else changed business unit 'Drains & Sewer'" in receipt["errors"]["conflict"]
        assert "Trade is now 'Drains' (you saw 'Plumbing')" in receipt["errors"]["conflict"]
        gone = await admin.push("setup_delete", {"kind": "business_unit", "id": unit_id}, seq=2)
        assert gone["receipts"][0]["status"] == "rejected"
        assert "retire it instead" in gone["receipts"][0]["errors"]["id"]
        pulled = await csr.ask({"type": "pull", "cursor": cursor, "limit": 500})
        entities = {(c["entity"], c["entity_id"]) for c in pulled["changes"]}
        assert ("business_units", unit_id) in entities
        assert ("company_settings", "setup_version") in entities
        unit_change = [c for c in pulled["changes"] if c["entity"] == "business_units"][-1]
        assert unit_change["data"]["trade"] == "Drains"
        for c in (manager, admin, csr, supervisor):
            await c.ws.close()

    _serve(sessions, accounts, scenario)
    with sessions() as s:
        assert s.get(BusinessUnit, unit_id).trade == "Drains"
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity_id == unit_id)).all()
        manager_id = s.scalar(select(User.id).where(User.username == "manager1"))
    assert [(a.actor, a.action) for a in audit] == [(manager_id, "setup_save")]  # who: the session's user
    assert audit[0].details["seen"] == seen and audit[0].details["values"] == {"trade": "Drains"}
