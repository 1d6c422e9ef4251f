"""Connections per remote address on `csr-server`: one address can't hold more than the limit; the
one over it is closed with 1008 and a reason, and a freed place can be taken again."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from sync.address_limit import AddressLimit, is_loopback, peer_address
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator


def test_counting_per_address() -> None:
    limit = AddressLimit(2)
    assert limit.acquire("10.0.0.5") and limit.acquire("10.0.0.5") and not limit.acquire("10.0.0.5")
    assert limit.acquire("10.0.0.6")  # another address has its own count
    limit.release("10.0.0.5")
    assert limit.acquire("10.0.0.5") and not limit.acquire("10.0.0.5")
    for _ in range(2):
        limit.release("10.0.0.5")
    limit.release("10.0.0.6")
    assert limit.open == {}  # nothing left behind for closed addresses


def test_loopback_and_zero_are_not_limited() -> None:
    assert all(AddressLimit(1).acquire("127.0.0.1") for _ in range(5))
    assert all(AddressLimit(1).acquire("::1") for _ in range(5))
    assert all(AddressLimit(0).acquire("10.0.0.5") for _ in range(5))
    strict = AddressLimit(1, exempt_loopback=False)
    assert strict.acquire("127.0.0.1") and not strict.acquire("127.0.0.1")
    with pytest.raises(ValueError):
        AddressLimit(-1)


@pytest.mark.parametrize(
    ("remote", "address", "loopback"),
    [
        (("127.0.0.1", 5000), "127.0.0.1", True),
        (("::1", 5000, 0, 0), "::1", True),
        (("fe80::1%eth0", 1, 0, 2), "fe80::1%eth0", False),
        (("203.0.113.9", 1), "203.0.113.9", False),
        (None, "?", False),
        ("", "?", False),
    ],
)
def test_peer_address(remote, address, loopback) -> None:
    assert peer_address(remote) == address and is_loopback(address) is loopback


def test_the_connection_over_the_limit_is_closed_with_a_reason(tmp_path) -> None:
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    server = SyncServer(
        Applier(sessions),
        AccountsAuthenticator(Accounts(sessions), token_secret(sessions)),
        max_connections_per_address=2,
    )
    assert server.address_limit.limit == 2
    server.address_limit.exempt_loopback = False  # the test can only connect from loopback

    async def welcomed(ws) -> bool:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": str(uuid.uuid4())}))
        return json.loads(await ws.recv())["type"] == "welcome"

    async def scenario() -> None:
        endpoint = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
        try:
            first, second = await websockets.connect(url), await websockets.connect(url)
            assert await welcomed(first) and await welcomed(second)
            async with websockets.connect(url) as third:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await welcomed(third)
                assert closed.value.rcvd.code == 1008
                assert closed.value.rcvd.reason == "too many connections from this address"
            await first.close()
            for _ in range(100):  # the server notices the close
                if server.address_limit.open.get("127.0.0.1") == 1:
                    break
                await asyncio.sleep(0.02)
            async with websockets.connect(url) as again:
                assert await welcomed(again)
            await second.close()
        finally:
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()
        assert server.address_limit.open == {}

    asyncio.run(scenario())
    engine.dispose()
