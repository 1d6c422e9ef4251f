"""A real csr-server endpoint and real console sync clients over loopback websockets: push exactly
once, pull into another console, bad frames answered without harm. (The `csr-server` command and the
console's log-in dialog come later in the server issue; these pieces are what they will wire up.)"""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.customers import Customer
from models.db import open_cache, open_server_db
from models.jobs import Job
from models.writer import LocalWriter
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.client import SyncClient
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
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)
    server_cache = type("ServerStore", (), {"sessions": sessions})()  # what copy_setup reads
    consoles = []
    for name in ("a", "b"):
        cache = open_cache(tmp_path / f"console-{name}.sqlite3")
        copy_setup(server_cache, cache)
        consoles.append(cache)
    yield ids, sessions, accounts, consoles
    for c in consoles:
        c.close()
    engine.dispose()


async def _login(url: str, client_id: str) -> str:
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": client_id}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "login", "username": "Dana", "password": PASSWORD}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "logged_in", answer
        return answer["token"]


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


def test_push_exactly_once_and_pull_into_another_console(world):
    ids, sessions, accounts, (cache_a, cache_b) = world
    writer = LocalWriter(cache_a.sessions, clock=lambda: NOW)

    async def scenario() -> None:
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        )
        ws_server = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{ws_server.sockets[0].getsockname()[1]}"
        try:
            client_a = SyncClient(cache_a, url, token=lambda: None)
            client_b = SyncClient(cache_b, url, token=lambda: None)
            token_a = await _login(url, client_a.client_id)
            token_b = await _login(url, client_b.client_id)
            client_a.token, client_b.token = (lambda: token_a), (lambda: token_b)
            tasks = [asyncio.create_task(client_a.run()), asyncio.create_task(client_b.run())]
            cid = writer.execute("create_customer", customer_args()).applied.entity_id
            with cache_a.sessions() as s:
                loc = s.get(Customer, cid).locations[0].id
            writer.execute(
                "book_job",
                {
                    "job": {
                        "customer_id": cid,
                        "location_id": loc,
                        "business_unit_id": ids.hvac,
                        "job_type_id": ids.ac_repair,
                        "campaign_id": ids.google,
                        "summary": "Warm air",
                    },
                    "appointment": {"day": TUESDAY.isoformat(), "arrival_window_id": ids.w8_12},
                },
            )
            client_a.wake()
            await _until(lambda: client_a.pending() == 0)
            # B is told by a poke and pulls the customer and the job into its cache.
            await _until(lambda: _count(cache_b, Job) == 1 and _count(cache_b, Customer) == 1)
            with cache_a.sessions() as a, cache_b.sessions() as b:
                assert a.scalar(select(Job.number)) == b.scalar(select(Job.number))
            # The ack was lost and the console sends the same changes again: nothing doubles.
            async with websockets.connect(url) as ws:
                await ws.send(
                    json.dumps(
                        {"type": "hello", "protocol": 1, "client_id": client_a.client_id, "token": token_a}
                    )
                )
                welcome = json.loads(await ws.recv())
                assert welcome["next_seq"] == 3
                # Bad input: answered, and the connection lives on.
                for frame in ("{not json", json.dumps({"type": "push", "mutations": []}), "x" * 2_000_000):
                    try:
                        await ws.send(frame)
                        reply = json.loads(await ws.recv())
                        assert reply["type"] == "error"
                    except websockets.ConnectionClosed:
                        assert len(frame) > 1_000_000  # over the frame limit: closed by the transport
                        break
            async with websockets.connect(url) as ws:
                await ws.send(json.dumps({"type": "hello", "protocol": 99, "client_id": "x"}))
                assert json.loads(await ws.recv())["code"] == "upgrade_required"
            async with websockets.connect(url) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "type": "hello",
                            "protocol": 1,
                            "client_id": client_a.client_id,
                            "token": token_a + "x",
                        }
                    )
                )
                assert json.loads(await ws.recv())["code"] == "token_invalid"
                await ws.send(json.dumps({"type": "pull", "cursor": 0}))
                assert json.loads(await ws.recv())["code"] == "not_authenticated"
            with sessions() as s:
                assert s.scalar(select(func.count()).select_from(Job)) == 1
                assert s.scalar(select(func.count()).select_from(Customer)) == 1
            client_a.stop()
            client_b.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        finally:
            ws_server.close()
            await ws_server.wait_closed()
            await server.aclose()

    asyncio.run(scenario())


def _count(cache, model) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_patch_entry_reaches_a_protocol_2_console_as_is_and_a_protocol_1_console_as_row_upserts(world):
    """The real endpoint: what each console's hello said decides whether a ``patch`` change-log entry
    (the notifications' compact state moves) travels as is or as one partial upsert per row."""
    _ids, sessions, accounts, _consoles = world
    from models.sync_tables import ChangeRow

    patch = {
        "columns": ["status", "error"],
        "rows": [["n1", "sent", ""], ["n2", "failed", "Invalid number."]],
    }
    with sessions.begin() as s:
        s.add(ChangeRow(entity="notifications", entity_id="", op="patch", data=patch))

    async def pull(url: str, protocol: int, token: str, client_id: str) -> list[dict]:
        async with websockets.connect(url) as ws:
            hello = {"type": "hello", "protocol": protocol, "client_id": client_id, "token": token}
            await ws.send(json.dumps(hello))
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ws.send(json.dumps({"type": "pull", "id": "p", "cursor": 0, "limit": 1000}))
            while (answer := json.loads(await ws.recv()))["type"] != "changes":
                pass
            return [c for c in answer["changes"] if c["entity"] == "notifications"]

    async def scenario() -> tuple[list[dict], list[dict]]:
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        )
        ws_server = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{ws_server.sockets[0].getsockname()[1]}"
        try:
            new = await pull(url, 2, await _login(url, "console-new"), "console-new")
            old = await pull(url, 1, await _login(url, "console-old"), "console-old")
            return new, old
        finally:
            ws_server.close()
            await ws_server.wait_closed()
            await server.aclose()

    new, old = asyncio.run(scenario())
    assert [(c["op"], c["data"]) for c in new] == [("patch", patch)]
    assert [(c["op"], c["entity_id"], c["data"]) for c in old] == [
        ("upsert", "n1", {"id": "n1", "status": "sent", "error": ""}),
        ("upsert", "n2", {"id": "n2", "status": "failed", "error": "Invalid number."}),
    ]
    assert new[0]["version"] == old[0]["version"] == old[1]["version"]
