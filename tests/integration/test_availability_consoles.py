"""Availability over a real loopback server (sync/client.py, sync/server.py): a manager's time off on one
console changes Get Availability on a second console as soon as the row has travelled; a CSR's attempt
is refused by the server (rejected, with the reason) and the CSR's own console converges back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.availability import AvailabilityEntry, load_rules
from models.capacity import availability, booked_slots, find_slot
from models.db import open_cache, open_server_db
from models.setup_data import load_setup
from sync.auth import Accounts
from tests.integration.test_sync_loopback import PASSWORD, _until
from tests.integration.test_sync_merge import Desk, _run
from tests.unit.booking_setup import NOW, TUESDAY, build_setup


@pytest.fixture
def world(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        ids = build_setup(s)
    accounts = Accounts(sessions)
    accounts.add_user("dana", "Dana Reyes", "manager", PASSWORD)
    accounts.add_user("sam", "Sam Ortiz", "csr", PASSWORD)
    caches = {name: open_cache(tmp_path / f"console-{name}.sqlite3") for name in ("a", "b")}
    yield sessions, accounts, caches, ids
    for c in caches.values():
        c.close()
    engine.dispose()


def _capacity(desk, ids) -> int | None:
    """Get Availability's figure for HVAC, 8–12 on Tuesday, as this console computes it from its cache."""
    with desk.cache.sessions() as s:
        setup = load_setup(s)
        if setup.business_unit(ids.hvac) is None:
            return None
        booked = booked_slots(s, setup, TUESDAY, TUESDAY)
        rules = load_rules(s, TUESDAY, TUESDAY)
    slots = availability(setup, ids.hvac, 120, ("HVAC",), booked, [TUESDAY], NOW, rules)
    slot = find_slot(slots, TUESDAY, ids.w8_12)
    return slot.capacity if slot else None


def _entries(desk) -> int:
    with desk.cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(AvailabilityEntry))


def test_time_off_on_one_console_changes_availability_on_another(world):
    sessions, accounts, caches, ids = world

    async def scenario(url, server_sessions, caches):
        manager, csr = Desk(caches["a"], url, "Dana Reyes"), Desk(caches["b"], url, "Sam Ortiz")
        await manager.start(url, "dana")
        await csr.start(url, "sam")
        await _until(lambda: _capacity(csr, ids) == 720 and _capacity(manager, ids) == 720, timeout=15)
        # A CSR may not give anyone time off: applied on their cache at once, refused by the server…
        csr.writer.execute("add_time_off", {"technician_id": ids.tech_bob, "day": TUESDAY.isoformat()})
        assert _capacity(csr, ids) == 480
        csr.client.wake()
        await _until(lambda: csr.client.pending() == 0, timeout=15)
        await _until(lambda: any(o.name == "add_time_off" for o in csr.outcomes), timeout=15)
        refused = [o for o in csr.outcomes if o.kind == "rejected" and o.name == "add_time_off"]
        assert refused and "role" in refused[0].receipt["errors"], csr.outcomes
        # …and the CSR's console takes the server's rows back: no entry, capacity as before.
        await _until(lambda: _entries(csr) == 0 and _capacity(csr, ids) == 720, timeout=15)
        # The manager gives Ann Tuesday off: the CSR's Get Availability shows it once the row arrives.
        manager.writer.execute(
            "add_time_off", {"technician_id": ids.tech_ann, "day": TUESDAY.isoformat(), "note": "Jury duty"}
        )
        manager.client.wake()
        await _until(lambda: manager.client.pending() == 0, timeout=15)
        await _until(lambda: _capacity(csr, ids) == 480, timeout=15)
        with server_sessions() as s:
            entry = s.scalars(select(AvailabilityEntry)).one()
            assert entry.created_by == "Dana Reyes" and entry.note == "Jury duty"
        await manager.stop()
        await csr.stop()

    _run((sessions, accounts, caches), scenario)
