"""`csr-server` over TLS (wss://): a console that trusts the server's CA signs in; one that doesn't, or
that speaks plain ws://, never gets as far as the hello. Certificates from trustme (a throw-away CA)."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid

import pytest
import trustme
import websockets
from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(tmp_path, ca):
    """(server SSLContext, SyncServer) over a store with the user dana."""
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    accounts = Accounts(sessions)
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    yield context, SyncServer(Applier(sessions), AccountsAuthenticator(accounts, token_secret(sessions)))
    engine.dispose()


def _client_context(ca: trustme.CA | None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca is not None:
        ca.configure_trust(context)
    return context


async def _serving(tls_server, scenario):
    context, server = tls_server
    endpoint = await server.serve("127.0.0.1", 0, ssl=context)
    try:
        return await scenario(endpoint.sockets[0].getsockname()[1])
    finally:
        endpoint.close()
        await endpoint.wait_closed()
        await server.aclose()


async def _hello_and_login(ws) -> dict:
    await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": str(uuid.uuid4())}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    await ws.send(json.dumps({"type": "login", "username": "dana", "password": PASSWORD}))
    return json.loads(await ws.recv())


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_console_trusting_the_ca_signs_in_over_wss(tls_server, ca, host) -> None:
    async def scenario(port: int) -> tuple[dict, str]:
        async with websockets.connect(f"wss://{host}:{port}", ssl=_client_context(ca)) as ws:
            answer = await _hello_and_login(ws)
            return answer, ws.transport.get_extra_info("ssl_object").version()

    answer, version = asyncio.run(_serving(tls_server, scenario))
    assert answer["type"] == "logged_in" and answer["user"]["username"] == "dana" and answer["token"]
    assert version in ("TLSv1.2", "TLSv1.3")


def test_a_console_not_trusting_the_ca_is_refused(tls_server) -> None:
    async def scenario(port: int) -> None:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with websockets.connect(f"wss://localhost:{port}", ssl=_client_context(None)):
                pass

    asyncio.run(_serving(tls_server, scenario))


def test_a_certificate_for_another_name_is_refused(tls_server, ca) -> None:
    async def scenario(port: int) -> None:
        with pytest.raises(ssl.SSLCertVerificationError):
            async with websockets.connect(
                f"wss://127.0.0.1:{port}", ssl=_client_context(ca), server_hostname="csr.example.com"
            ):
                pass

    asyncio.run(_serving(tls_server, scenario))


def test_plain_ws_to_a_tls_server_gets_nothing(tls_server) -> None:
    async def scenario(port: int) -> None:
        with pytest.raises(
            (websockets.InvalidHandshake, ConnectionError, EOFError, asyncio.TimeoutError, OSError)
        ):
            async with websockets.connect(f"ws://127.0.0.1:{port}", open_timeout=5):
                pass

    asyncio.run(_serving(tls_server, scenario))
