"""Two consoles and a real server over loopback websockets (sync/client.py, sync/server.py): a manager's
setup save on one console reaches the other console live — its booking form's setup (models/setup_data.py
``load_setup``, what the booking controller reloads on ``setupChanged``) offers the new arrival window
without a restart. A CSR's console that saved a setup change (offline, say) is told the server refused
it (a rejected outcome naming the role: the Sync problems window lists it) and takes the server's rows
back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models.notify_templates import load_settings
from models.setup import ArrivalWindow
from models.setup_data import load_setup
from models.setup_edit import KINDS, list_records
from tests.integration.test_sync_loopback import _until
from tests.integration.test_sync_merge import Desk, _run
from tests.servers import two_console_world


@pytest.fixture
def world(tmp_path):
    with two_console_world(tmp_path, [("dana", "Dana Reyes", "csr"), ("lee", "Lee Park", "manager")]) as made:
        yield made


def _windows(desk) -> list[str]:
    with desk.cache.sessions() as s:
        return [w.name for w in load_setup(s).windows]


def test_a_managers_save_reaches_the_other_console_live_and_a_csrs_is_refused(world):
    async def scenario(url, sessions, caches):
        csr, manager = Desk(caches["a"], url, "Dana Reyes"), Desk(caches["b"], url, "Lee Park")
        await csr.start(url, "dana")
        await manager.start(url, "lee")
        await _until(lambda: _windows(csr) and _windows(manager), timeout=15)
        assert "Evening" not in _windows(csr)
        manager.writer.execute(
            "setup_save",
            {"kind": "arrival_window", "values": {"name": "Evening", "start": "18:00", "end": "21:00"}},
        )
        manager.client.wake()
        await _until(lambda: manager.client.pending() == 0)
        await _until(lambda: "Evening" in _windows(csr), timeout=10)  # live: no restart, no sync-now
        # The CSR's console applies its own setup change at once (offline work is never lost) …
        with csr.cache.sessions() as s:
            evening = s.scalar(select(ArrivalWindow).where(ArrivalWindow.name == "Evening"))
            seen = {"name": "Evening"}
        csr.writer.execute(
            "setup_save",
            {"kind": "arrival_window", "id": evening.id, "values": {"name": "Late"}, "seen": seen},
        )
        assert "Late" in _windows(csr)
        csr.client.wake()
        # … the server refuses it by role, the CSR is told, and the console takes the server's rows back.
        await _until(lambda: any(o.kind == "rejected" for o in csr.outcomes), timeout=10)
        refused = [o for o in csr.outcomes if o.kind == "rejected"][0]
        assert refused.name == "setup_save" and "role" in refused.receipt["errors"]
        await _until(lambda: "Evening" in _windows(csr) and "Late" not in _windows(csr), timeout=10)
        await csr.stop()
        await manager.stop()

    _run(world, scenario)


def test_the_further_kinds_reach_the_other_console_live(world):
    """Booking preferences (required fields) and a notification template saved on
    the manager's console are in the CSR's console's setup without a restart; three saves of one record in
    a row are all applied by the server (the echo race itself: tests/unit/test_setup_rebase.py)."""

    def required(desk) -> frozenset:
        with desk.cache.sessions() as s:
            return load_setup(s).required_fields

    def template(desk) -> str:
        with desk.cache.sessions() as s:
            return load_settings(s).template("reminder", "sms")

    async def scenario(url, sessions, caches):
        csr, manager = Desk(caches["a"], url, "Dana Reyes"), Desk(caches["b"], url, "Lee Park")
        await csr.start(url, "dana")
        await manager.start(url, "lee")
        await _until(lambda: _windows(csr) and _windows(manager), timeout=15)
        with manager.cache.sessions() as s:
            listing = list_records(s, KINDS["booking_preferences"])
            (pref_id, _label, _active, shown) = listing.rows[0] if listing.rows else ("", "", True, {})
        values = {"required_fields": "summary, tags"}
        if pref_id:
            args = {"kind": "booking_preferences", "id": pref_id, "values": values, "seen": shown}
        else:
            args = {"kind": "booking_preferences", "values": values}
        manager.writer.execute("setup_save", args)
        names = ["{company}: see you {window}.", "{company}: {window}, {customer}.", "{company}: {date}."]
        seen = template(manager)
        for text in names:  # three saves in a row, no waiting for the server between them
            manager.writer.execute(
                "setup_save",
                {
                    "kind": "notification_template",
                    "id": "reminder",
                    "values": {"sms": text},
                    "seen": {"sms": seen},
                },
            )
            manager.client.wake()
            seen = text
        await _until(lambda: manager.client.pending() == 0, timeout=15)
        await _until(lambda: required(csr) == {"summary", "tags"} and template(csr) == names[-1], timeout=10)
        assert not [o for o in manager.outcomes if o.kind == "rejected"]
        await csr.stop()
        await manager.stop()

    _run(world, scenario)
