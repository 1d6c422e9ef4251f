"""What the server decides, not the message (issue 12): a connection's console id can't be swapped, who
booked a job comes from the session, job-number prefixes are registered so two consoles never mint
the same number (a clash still happening keeps the booking under a new number and says so), and a
push too large for one frame is split by bytes instead of being resent forever.

Real csr-server endpoint, real sync clients and caches over loopback websockets."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.customers import Customer, Note
from models.db import open_cache, open_server_db
from models.jobs import Job
from models.journal import ClientState, OutboxEntry, ensure_client
from models.sync_tables import JobPrefix, SyncProblem
from models.writer import LocalWriter
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.client import Outcome, SyncClient, login
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.unit.booking_setup import NOW, TUESDAY, build_setup
from tests.unit.conftest import customer_args
from tests.unit.test_sync_apply import copy_setup

PASSWORD = "correct horse battery"


@pytest.fixture
def world(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        ids = build_setup(s)
    accounts = Accounts(sessions)
    users = {
        "dana": accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD).id,
        "sam": accounts.add_user("sam", "Sam Ortiz", "supervisor", PASSWORD).id,
    }
    store = type("ServerStore", (), {"sessions": sessions})()
    consoles = []
    for name in ("a", "b"):
        cache = open_cache(tmp_path / f"console-{name}.sqlite3")
        copy_setup(store, cache)
        consoles.append(cache)
    yield ids, sessions, accounts, users, consoles
    for c in consoles:
        c.close()
    engine.dispose()


def _run(world, scenario) -> None:
    ids, sessions, accounts, users, consoles = world

    async def main() -> None:
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        )
        endpoint = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
        try:
            await scenario(url)
        finally:
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()

    asyncio.run(main())


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def _book(writer: LocalWriter, cache, ids, number: str | None = None, **job) -> str:
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with cache.sessions() as s:
        loc = s.get(Customer, cid).locations[0].id
    args = {
        "customer_id": cid,
        "location_id": loc,
        "business_unit_id": ids.hvac,
        "job_type_id": ids.ac_repair,
        "campaign_id": ids.google,
        "summary": "Warm air",
        **job,
    }
    if number:
        args["number"] = number
    return writer.execute(
        "book_job", {"job": args, "appointment": {"day": TUESDAY.isoformat(), "arrival_window_id": ids.w8_12}}
    ).applied.entity_id


def test_a_connection_cannot_swap_its_console_id(world):
    _ids, _sessions, _accounts, _users, (cache_a, _b) = world

    async def scenario(url: str) -> None:
        client = SyncClient(cache_a, url, token=lambda: None)
        token, _user = await login(url, client.client_id, "dana", PASSWORD)
        async with websockets.connect(url) as ws:
            await ws.send(
                json.dumps({"type": "hello", "protocol": 1, "client_id": client.client_id, "token": token})
            )
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ws.send(
                json.dumps({"type": "hello", "id": "h2", "protocol": 1, "client_id": "another-console"})
            )
            answer = json.loads(await ws.recv())
            assert (answer["type"], answer["code"], answer.get("id")) == ("error", "client_changed", "h2")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
        # The id stays bound to the account that first used it.
        with pytest.raises(Exception, match="belongs to another user"):
            await login(url, client.client_id, "sam", PASSWORD)

    _run(world, scenario)


def test_who_booked_comes_from_the_session_not_the_message(world):
    ids, sessions, _accounts, users, (cache_a, _b) = world
    writer = LocalWriter(cache_a.sessions, clock=lambda: NOW)
    forged = _book(writer, cache_a, ids, booked_by_id=None)
    plain = _book(writer, cache_a, ids, number=None)
    with cache_a.sessions.begin() as s:  # a CSR's console claims the supervisor booked the first job
        entry = s.scalars(
            select(OutboxEntry).where(OutboxEntry.name == "book_job").order_by(OutboxEntry.seq)
        ).first()
        args = dict(entry.args)
        args["job"] = {**args["job"], "booked_by_id": users["sam"]}
        entry.args = args
    told: list[Outcome] = []

    async def scenario(url: str) -> None:
        client = SyncClient(cache_a, url, token=lambda: None, on_outcomes=told.extend)
        token, _user = await login(url, client.client_id, "dana", PASSWORD)
        client.token = lambda: token
        task = asyncio.create_task(client.run())
        await _until(lambda: client.pending() == 0 and client.status.state == "online")
        client.stop()
        await asyncio.wait_for(task, 5)

    _run(world, scenario)
    with sessions() as s:
        assert s.get(Job, forged) is None  # refused
        assert s.get(Job, plain).booked_by_id == users["dana"]  # credited from the session
    assert [o.kind for o in told] == ["rejected"]
    assert "credited to the user signed in" in next(iter(told[0].receipt["errors"].values()))
    with cache_a.sessions() as s:
        assert s.get(Job, forged) is None  # restored from the server
        assert s.get(Job, plain).booked_by_id == users["dana"]


def test_prefixes_are_registered_and_a_clash_keeps_the_booking_under_a_new_number(world):
    ids, sessions, _accounts, _users, (cache_a, cache_b) = world
    # Two consoles that never reached the server minted the same provisional prefix and booked.
    jobs = {}
    for name, cache in (("a", cache_a), ("b", cache_b)):
        with cache.sessions.begin() as s:
            ensure_client(s).job_prefix = "KQ7"
        jobs[name] = _book(LocalWriter(cache.sessions, clock=lambda: NOW), cache, ids)
    told: dict[str, list[Outcome]] = {"a": [], "b": []}

    async def scenario(url: str) -> None:
        for name, cache in (("a", cache_a), ("b", cache_b)):  # a first, then b
            client = SyncClient(cache, url, token=lambda: None, on_outcomes=told[name].extend)
            token, _user = await login(url, client.client_id, "dana" if name == "a" else "sam", PASSWORD)
            client.token = lambda token=token: token
            task = asyncio.create_task(client.run())
            await _until(lambda client=client: client.pending() == 0 and client.status.state == "online")
            client.stop()
            await asyncio.wait_for(task, 5)

    _run(world, scenario)
    with sessions() as s:
        numbers = {name: s.get(Job, job_id).number for name, job_id in jobs.items()}
        owners = dict(s.execute(select(JobPrefix.prefix, JobPrefix.client_id)).all())
    assert numbers["a"] == "KQ7-1001"  # a's provisional prefix became a's
    assert numbers["b"] != "KQ7-1001" and not numbers["b"].startswith("KQ7-")  # kept, renumbered
    assert told["a"] == [] and [o.kind for o in told["b"]] == ["renumbered"]
    assert "KQ7-1001" in told["b"][0].receipt["result"]["warnings"]["number"]
    with cache_b.sessions() as s:
        assert s.get(Job, jobs["b"]).number == numbers["b"]  # the cache has the new number
        state = s.scalar(select(ClientState))
        assert (
            state.prefix_confirmed
            and state.job_prefix != "KQ7"
            and owners[state.job_prefix] == state.client_id
        )
        assert s.scalar(select(func.count()).select_from(SyncProblem)) == 1
    # b's next booking uses its registered prefix: no clash possible any more.
    _book(LocalWriter(cache_b.sessions, clock=lambda: NOW), cache_b, ids)
    with cache_b.sessions() as s:
        newest = s.scalars(select(Job.number).order_by(Job.created_at.desc())).first()
    assert newest.startswith(state.job_prefix + "-")


def test_a_push_larger_than_one_frame_is_split_by_bytes(world):
    ids, sessions, _accounts, _users, (cache_a, _b) = world
    writer = LocalWriter(cache_a.sessions, clock=lambda: NOW)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    for n in range(300):  # ~1.5 MB of notes: 300 mutations, far under the 500 count
        writer.execute("add_note", {"note": {"customer_id": cid, "text": f"{n} " + "é" * 2_400}})

    async def scenario(url: str) -> None:
        client = SyncClient(cache_a, url, token=lambda: None)
        token, _user = await login(url, client.client_id, "dana", PASSWORD)
        client.token = lambda: token
        task = asyncio.create_task(client.run())
        await _until(lambda: client.pending() == 0, timeout=30)
        client.stop()
        await asyncio.wait_for(task, 5)

    _run(world, scenario)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Note)) == 300
