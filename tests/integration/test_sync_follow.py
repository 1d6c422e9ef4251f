"""Pokes that carry their commit's changes (sync/pull_cache.py PullCache.poke, sync/client.py _follow): a
console that is up to date applies them without pulling; pokes chain without gaps; a console standing
anywhere else pulls as before. Real server, real websockets, real SQLite caches."""

from __future__ import annotations

import asyncio
import json

import websockets
from sqlalchemy import select

from models.customers import Customer
from models.writer import LocalWriter
from sync.apply import Applier, current_version
from sync.auth import token_secret
from sync.client import SyncClient
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.integration.test_sync_loopback import _login, _until, world  # noqa: F401 - the fixture
from tests.unit.booking_setup import NOW
from tests.unit.conftest import customer_args


def test_an_up_to_date_console_applies_a_pokes_changes_without_pulling(world):  # noqa: F811
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
            pulls = []
            real_pull = client_b.puller.pull

            async def counted_pull(ws):
                pulls.append(client_b.cursor())
                await real_pull(ws)

            client_b.puller.pull = counted_pull
            # A raw listener sees every poke as it goes out.
            listener = await websockets.connect(url)
            await listener.send(
                json.dumps({"type": "hello", "protocol": 1, "client_id": "listener-1", "token": token_b})
            )
            assert json.loads(await listener.recv())["type"] == "welcome"
            tasks = [asyncio.create_task(client_a.run()), asyncio.create_task(client_b.run())]
            await _until(lambda: client_b.status.state == "online" and client_a.status.state == "online")
            await asyncio.sleep(0.3)  # the sign-in commits' pokes have been followed or pulled
            pulled_before = len(pulls)
            names = []
            for i in range(3):
                args = customer_args()
                args["customer"]["name"] = f"Follow Me {i}"
                names.append(args["customer"]["name"])
                writer.execute("create_customer", args)
                client_a.wake()
                await _until(lambda: client_a.pending() == 0)
            with sessions() as s:
                newest = current_version(s)
            await _until(lambda: client_b.cursor() == newest)
            with cache_b.sessions() as s:
                assert sorted(s.scalars(select(Customer.name).where(Customer.name.in_(names)))) == names
            assert len(pulls) == pulled_before  # every change came with its poke

            pokes = []
            while True:
                try:
                    msg = json.loads(await asyncio.wait_for(listener.recv(), 0.5))
                except TimeoutError:
                    break
                if msg["type"] == "poke":
                    pokes.append(msg)
            carrying = [p for p in pokes if "changes" in p]
            assert carrying, pokes
            for p in carrying:
                versions = [c["version"] for c in p["changes"]]
                assert versions == sorted(versions) and p["after"] < versions[0]
                assert versions[-1] == p["server_version"]
            # Consecutive pokes chain: each starts where the one before ended (no commit skipped).
            for before, after in zip(pokes, pokes[1:], strict=False):
                if "after" in after:
                    assert after["after"] == before["server_version"]
            await listener.close()
            client_a.stop()
            client_b.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        finally:
            ws_server.close()
            await ws_server.wait_closed()
            await server.aclose()

    asyncio.run(scenario())


def test_a_poke_for_another_cursor_is_not_applied_and_the_console_pulls(world):  # noqa: F811
    ids, sessions, accounts, (cache_a, cache_b) = world
    client = SyncClient(cache_b, "ws://127.0.0.1:9", token=lambda: None)
    change = {
        "version": 7,
        "entity": "customers",
        "entity_id": "c-follow",
        "op": "upsert",
        "data": {"id": "c-follow", "name": "Not Mine"},
    }

    async def scenario() -> tuple[bool, int]:
        applied = await client.puller.follow([change], after=5, cursor=7)  # this cache stands at 0
        return applied, client.cursor()

    applied, cursor = asyncio.run(scenario())
    assert applied is False and cursor == 0
    with cache_b.sessions() as s:
        assert s.get(Customer, "c-follow") is None
