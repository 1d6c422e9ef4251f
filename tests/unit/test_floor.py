"""The floor's agent states over a real store (sync/floor.py): the time in state survives a server
restart when the console comes back within the grace, an Offline CSR comes back Available, and the
call desk rings Available agents first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from sync.auth import Accounts
from sync.call_desk import CallDesk
from sync.floor import Floor

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_time_in_state_survives_a_restart_and_offline_resets_to_available(tmp_path):
    engine = open_server_db(str(tmp_path / "s.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    lee = Accounts(sessions).add_user("lee", "Lee Chen", "csr", "lee password 1")
    user = {"id": lee.id, "username": "lee", "display_name": "Lee Chen", "role": "csr"}
    clock = Clock()

    async def scenario() -> None:
        floor = Floor(sessions, offline_grace=15, clock=clock)
        await floor.connected(user)
        clock.now += timedelta(minutes=1)
        row, reasons = await floor.set_state(user, "Away", "Lunch")
        assert (row["state"], row["reason"], row["since"]) == ("Away", "Lunch", clock.now.isoformat())
        assert "Lunch" in reasons
        away_since = row["since"]
        clock.now += timedelta(minutes=5)
        again, _ = await floor.set_state(user, "Away", "Lunch")            # the same choice: since kept
        assert again["since"] == away_since

        # the server restarts (nobody disconnected cleanly); lee's console is back within the grace
        restarted = Floor(sessions, offline_grace=15, clock=clock)
        await restarted.ensure_loaded()
        assert restarted.agent_rows()[0]["state"] == "Away"                # within the grace: not Offline yet
        clock.now += timedelta(seconds=5)
        await restarted.connected(user)
        row = restarted.agent_rows()[0]
        assert (row["state"], row["since"]) == ("Away", away_since)

        # leaves; after the grace: Offline since they left; back later: Available, a new since
        clock.now += timedelta(minutes=1)
        await restarted.disconnected(user)
        left = clock.now
        clock.now += timedelta(seconds=16)
        row = restarted.agent_rows()[0]
        assert (row["state"], row["since"]) == ("Offline", left.isoformat())
        clock.now += timedelta(minutes=30)
        await restarted.connected(user)
        row = restarted.agent_rows()[0]
        assert (row["state"], row["reason"], row["since"]) == ("Available", "", clock.now.isoformat())
        assert restarted.available_usernames() == {"lee"}

    asyncio.run(scenario())
    engine.dispose()


def test_the_desk_rings_available_agents_first():
    desk = CallDesk(None, agents=lambda: ["ann", "bob", "cy", "dee"], available=lambda: {"cy", "bob"})
    assert desk.agents_to_ring() == ["bob", "cy", "ann", "dee"]
    assert CallDesk(None, agents=lambda: ["ann"]).agents_to_ring() == ["ann"]      # nobody Available: still rung
