"""The callback queue over real websockets (docs/phone.md "Callback queue"): an Abandoned call's item,
opened by the server as the call ends, reaches two consoles through the ordinary pull; both CSRs take it
at once; the server lets exactly one have it and the other is told (a refused change, kept as a sync
problem) and its cache shows who has it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.call_store import record_events
from models.callbacks import Callback
from models.calls import CallEventKind, NeutralEvent
from models.db import open_cache, open_server_db
from models.setup import User
from models.sync_tables import SyncProblem
from models.writer import LocalWriter
from sync.apply import Applier, lock_change_log
from sync.auth import Accounts, token_secret
from sync.call_desk import _log_changes
from sync.changes import ChangeCollector
from sync.client import Outcome, SyncClient, login
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.test_sync_apply import copy_setup

PASSWORD = "correct horse battery"


@pytest.fixture
def world(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    accounts = Accounts(sessions)
    users = {
        "dana": accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD).id,
        "lee": accounts.add_user("lee", "Lee Chen", "csr", PASSWORD).id,
    }
    store = type("ServerStore", (), {"sessions": sessions})()
    caches = {}
    for name in users:
        cache = open_cache(tmp_path / f"console-{name}.sqlite3")
        copy_setup(store, cache)
        with cache.sessions.begin() as s:  # the signed-in users, as a console's first sync brings them
            for uname, uid in users.items():
                if s.get(User, uid) is None:
                    s.add(User(id=uid, username=uname, display_name=uname.title(), role="csr"))
        caches[name] = cache
    yield sessions, accounts, users, caches
    for c in caches.values():
        c.close()
    engine.dispose()


def _abandoned_call(sessions) -> str:
    """The phone system says a caller rang and hung up unanswered, as sync/call_desk.py stores it."""
    events = [
        NeutralEvent("twilio", "CA9", f"CA9:{k}", k, NOW + timedelta(seconds=s), from_number="+12145550177")
        for k, s in ((CallEventKind.OFFERED, 0), (CallEventKind.ENDED, 45))
    ]
    with sessions.begin() as session:
        lock_change_log(session)
        collector = ChangeCollector(session)
        call = record_events(session, events).calls[0]
        _log_changes(session, collector)
        return call.id


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def _claimer(cache, item_id: str) -> str | None:
    with cache.sessions() as s:
        row = s.get(Callback, item_id)
        return None if row is None else (row.claimed_by or "")


def test_two_consoles_claim_the_same_callback_one_wins_the_other_is_told(world):
    sessions, accounts, users, caches = world
    item_id = _abandoned_call(sessions)
    told: dict[str, list[Outcome]] = {name: [] for name in caches}

    async def scenario(url: str) -> None:
        clients, tasks = {}, []
        for name, cache in caches.items():
            client = SyncClient(cache, url, token=lambda: None, on_outcomes=told[name].extend)
            token, _user = await login(url, client.client_id, name, PASSWORD)
            client.token = lambda token=token: token
            clients[name] = client
            tasks.append(asyncio.create_task(client.run()))
        # The server opened the item as the call ended; both consoles pull it.
        await _until(lambda: all(_claimer(c, item_id) == "" for c in caches.values()))
        for name, cache in caches.items():  # both CSRs take it (each cache says "mine" at once)
            LocalWriter(cache.sessions, clock=lambda: NOW).execute(
                "claim_callback", {"callback_id": item_id, "user_id": users[name]}
            )
            assert _claimer(cache, item_id) == users[name]
        for client in clients.values():
            client.wake()  # the console's writer wakes its pusher the same way
        await _until(lambda: all(c.pending() == 0 for c in clients.values()) and sum(map(len, told.values())))
        with sessions() as s:
            winner = s.get(Callback, item_id).claimed_by
        loser = next(n for n in caches if users[n] != winner)
        await _until(lambda: _claimer(caches[loser], item_id) == winner)  # its cache restored
        for client in clients.values():
            client.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)

    async def main() -> None:
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        )
        endpoint = await server.serve("127.0.0.1", 0)
        try:
            await scenario(f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}")
        finally:
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()

    asyncio.run(main())
    with sessions() as s:
        winner = s.get(Callback, item_id).claimed_by
    assert winner in users.values()
    winner_name = next(n for n, uid in users.items() if uid == winner)
    loser_name = next(n for n in users if n != winner_name)
    assert told[winner_name] == []
    [refused] = told[loser_name]
    assert refused.kind == "rejected" and refused.name == "claim_callback"
    assert "already took this callback" in " ".join(refused.receipt["errors"].values())
    with caches[loser_name].sessions() as s:  # told durably: the sync problem stays until acknowledged
        assert s.scalar(select(func.count()).select_from(SyncProblem)) == 1
        assert s.get(Callback, item_id).claimed_by == winner


def test_a_claim_left_by_a_csr_who_signed_out_goes_back_to_the_queue(world):
    """The server's sweeper (sync/callback_sweeper.py): Dana takes the item, then closes her console; five
    minutes later the item is open again on Lee's console (pulled through the change log); a claim
    older than the company's limit goes back too, with its CSR still online."""
    from datetime import datetime

    from sync.callback_sweeper import CallbackSweeper
    from sync.phone_seats import set_phone_settings

    sessions, accounts, users, caches = world
    item_id = _abandoned_call(sessions)
    clock = [NOW]
    set_phone_settings(sessions, callback_claim_minutes=0)  # first: only leaving releases

    async def scenario(server, url: str) -> dict:
        clients, tasks = {}, {}
        for name, cache in caches.items():
            client = SyncClient(cache, url, token=lambda: None)
            token, _user = await login(url, client.client_id, name, PASSWORD)
            client.token = lambda token=token: token
            clients[name] = client
            tasks[name] = asyncio.create_task(client.run())
        await _until(lambda: all(_claimer(c, item_id) == "" for c in caches.values()), 30)
        LocalWriter(caches["dana"].sessions, clock=lambda: NOW).execute(
            "claim_callback", {"callback_id": item_id, "user_id": users["dana"]}
        )
        clients["dana"].wake()
        await _until(lambda: _claimer(caches["lee"], item_id) == users["dana"], 30)
        sweeper = CallbackSweeper(sessions, server, clock=lambda: clock[0])
        out = {"online": await sweeper.sweep_once()}  # Dana is here: her claim stays
        clients["dana"].stop()
        await asyncio.wait_for(tasks.pop("dana"), 5)
        await _until(lambda: server.floor.away_since(users["dana"]) is not None, 30)
        left_at: datetime = server.floor.away_since(users["dana"])
        clock[0] = left_at + timedelta(minutes=4)
        out["four_minutes"] = await sweeper.sweep_once()
        clock[0] = left_at + timedelta(minutes=5)
        out["five_minutes"] = await sweeper.sweep_once()
        await _until(lambda: _claimer(caches["lee"], item_id) == "", 30)  # open again, on Lee's console
        # By age, with its CSR online: Lee takes it; past the company's limit it goes back.
        set_phone_settings(sessions, callback_claim_minutes=10)
        LocalWriter(caches["lee"].sessions, clock=lambda: clock[0]).execute(
            "claim_callback", {"callback_id": item_id, "user_id": users["lee"]}
        )
        clients["lee"].wake()
        await _until(lambda: clients["lee"].pending() == 0, 30)
        with sessions() as s:
            claimed_at = s.get(Callback, item_id).claimed_at
        clock[0] = claimed_at.replace(tzinfo=clock[0].tzinfo) + timedelta(minutes=10)
        out["too_old"] = await sweeper.sweep_once()
        await _until(lambda: _claimer(caches["lee"], item_id) == "", 30)
        for client in clients.values():
            client.stop()
        await asyncio.wait_for(asyncio.gather(*tasks.values()), 5)
        return out

    async def main() -> dict:
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
            agent_offline_seconds=0.1,
        )
        endpoint = await server.serve("127.0.0.1", 0)
        try:
            return await scenario(server, f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}")
        finally:
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()

    out = asyncio.run(main())
    assert out["online"] == {} and out["four_minutes"] == {}
    assert out["five_minutes"] == {item_id: "signed_out"}
    assert out["too_old"] == {item_id: "too_old"}
    with sessions() as s:
        item = s.get(Callback, item_id)
    assert item.status == "open" and item.claimed_by is None
