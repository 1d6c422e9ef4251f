"""The floor's agent states over a real store (sync/floor.py): the time in state survives a server
restart when the console comes back within the grace, an Offline CSR comes back Available, and the
call desk rings Available agents first."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from models.timeutil import utc_iso
from sync.auth import Accounts
from sync.call_desk import CallDesk
from sync.floor import Floor

T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def store_with_lee(tmp_path):
    """A server store with one CSR, Lee: (engine, sessions, the user row, the user as a connection has it)."""
    engine = open_server_db(str(tmp_path / "s.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    lee = Accounts(sessions).add_user("lee", "Lee Chen", "csr", "lee password 1")
    return engine, sessions, lee, {"id": lee.id, "username": "lee", "display_name": "Lee Chen", "role": "csr"}


def test_time_in_state_survives_a_restart_and_offline_resets_to_available(tmp_path):
    engine, sessions, lee, user = store_with_lee(tmp_path)
    clock = Clock()

    async def scenario() -> None:
        floor = Floor(sessions, offline_grace=15, clock=clock)
        await floor.connected(user)
        clock.now += timedelta(minutes=1)
        row, reasons = await floor.set_state(user, "Away", "Lunch")
        assert (row["state"], row["reason"], row["since"]) == ("Away", "Lunch", utc_iso(clock.now))
        assert "Lunch" in reasons
        away_since = row["since"]
        clock.now += timedelta(minutes=5)
        again, _ = await floor.set_state(user, "Away", "Lunch")  # the same choice: since kept
        assert again["since"] == away_since

        # the server restarts (nobody disconnected cleanly); lee's console is back within the grace
        restarted = Floor(sessions, offline_grace=15, clock=clock)
        await restarted.ensure_loaded()
        assert restarted.agent_rows()[0]["state"] == "Away"  # within the grace: not Offline yet
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
        assert (row["state"], row["since"]) == ("Offline", utc_iso(left))
        clock.now += timedelta(minutes=30)
        await restarted.connected(user)
        row = restarted.agent_rows()[0]
        assert (row["state"], row["reason"], row["since"]) == ("Available", "", utc_iso(clock.now))
        assert restarted.available_usernames() == {"lee"}

    asyncio.run(scenario())
    engine.dispose()


def test_the_desk_rings_available_agents_first():
    desk = CallDesk(None, agents=lambda: ["ann", "bob", "cy", "dee"], available=lambda: {"cy", "bob"})
    assert desk.agents_to_ring() == ["bob", "cy", "ann", "dee"]
    assert CallDesk(None, agents=lambda: ["ann"]).agents_to_ring() == ["ann"]  # nobody Available: still rung


def test_committed_calls_reach_the_floor_at_once_and_a_slower_read_never_brings_an_ended_call_back(tmp_path):
    import threading

    engine, sessions, lee, user = store_with_lee(tmp_path)
    clock = Clock()
    call = {
        "id": "c1",
        "state": "Ringing",
        "direction": "Inbound",
        "from_number": "+12145550134",
        "customer_id": "k1",
        "customer_name": "Maria Garcia",
        "campaign": "Radio",
        "agent_id": None,
        "agent_name": "",
        "started_at": T0.isoformat(),
        "answered_at": None,
        "ended_at": None,
        "closed": False,
    }

    async def scenario() -> None:
        floor = Floor(sessions, clock=clock)
        await floor.connected(user)
        sent: list[str] = []
        floor._broadcast = sent.append  # what the subscribers would get

        floor.calls_committed([call])  # rings: on the floor now, no read of the store
        delta = json.loads(sent[-1])
        assert delta["type"] == "floor_delta" and delta["calls"][0]["customer_name"] == "Maria Garcia"
        assert delta["calls"][0]["stale"] is False
        floor.calls_committed([call])  # the same row again: nothing to send
        assert len(sent) == 1

        picked_up = {**call, "state": "Talking", "answered_by": "lee", "answered_at": T0.isoformat()}
        floor.calls_committed([picked_up])  # Lee's softphone answered; nobody claimed it
        assert json.loads(sent[-1])["calls"][0]["answered_by_name"] == "Lee Chen"
        answered = {
            **call,
            "state": "Talking",
            "agent_id": lee.id,
            "agent_name": "Lee Chen",
            "answered_at": (T0 + timedelta(seconds=8)).isoformat(),
        }
        floor.calls_committed([answered])  # Lee is On call in the same delta
        delta = json.loads(sent[-1])
        assert delta["calls"][0]["state"] == "Talking" and delta["calls"][0]["answered_by_name"] == ""
        assert [(a["state"], a["call_id"]) for a in delta["agents"]] == [("On call", "c1")]

        # A tick's read of the store began before the call ended and saw it Talking; the end
        # committed meanwhile wins: the call leaves and does not come back.
        gate = threading.Event()
        stale_view = {"c1": {**answered, "stale": False, "last_event_at": utc_iso(T0)}}

        def slow_read(now, kpis):
            gate.wait(5)
            return dict(stale_view), None, 0.0

        floor._read = slow_read
        tick = asyncio.create_task(floor.refresh())
        await asyncio.sleep(0.05)
        floor.calls_committed(
            [{**answered, "state": "Ended", "ended_at": (T0 + timedelta(seconds=90)).isoformat()}]
        )
        assert json.loads(sent[-1])["removed_calls"] == ["c1"]
        before = len(sent)
        gate.set()
        await tick
        assert "c1" not in floor._calls
        assert not any("c1" in json.dumps(json.loads(m).get("calls") or []) for m in sent[before:])
        assert floor.agent_rows()[0]["state"] == "Available"

    asyncio.run(scenario())
    engine.dispose()
