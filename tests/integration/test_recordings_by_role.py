"""Recordings and voicemails reach consoles only through the server, by role (docs/phone.md, sync/media.py):
real consoles over real websockets ask a real server, which fetches the file from a local stand-in of the
phone company's media host that answers only with the account's credentials (Twilio's "HTTP Basic
Authentication for media access"). A CSR hears their own call and the voicemail of a callback they took;
another CSR is refused with a sentence; a supervisor hears every call; the console never sees the URL."""

from __future__ import annotations

import asyncio
import base64

import pytest
from aiohttp import web
from sqlalchemy.orm import sessionmaker

from models.callbacks import Callback
from models.calls import Call, CallState
from models.db import open_cache, open_server_db
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.client import SyncClient, login
from sync.media import CHUNK_BYTES, NOT_ALLOWED, MediaFetcher
from sync.requests import RequestFailed
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.unit.booking_setup import NOW, build_setup

PASSWORD = "correct horse battery"
ACCOUNT, TOKEN = "AC" + "5" * 32, "media-token"
# Bigger than one piece, so the console asks for several.
CALL_AUDIO = b"RIFF" + bytes(range(256)) * ((CHUNK_BYTES * 2) // 256 + 7)
VOICEMAIL_AUDIO = b"ID3" + b"\x01voicemail" * 100


class MediaHost:
    """The phone company's media host: 401 without the account's credentials."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.refused = 0

    async def serve(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            self.refused += 1
            return web.Response(status=401, text="auth needed")
        self.requests.append(request.path)
        if request.path.endswith("RE1"):
            return web.Response(body=CALL_AUDIO, content_type="audio/x-wav")
        return web.Response(body=VOICEMAIL_AUDIO, content_type="audio/mpeg")


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
        "sam": accounts.add_user("sam", "Sam Ortiz", "supervisor", PASSWORD).id,
    }
    yield tmp_path, sessions, users
    engine.dispose()


def _calls(sessions, users, media_base: str) -> dict[str, str]:
    """Dana's answered call (recorded), a voicemail whose callback Lee took, a call without a recording."""
    with sessions.begin() as s:
        mine = Call(provider_call_id="CA1", from_number="+12145550101", state=CallState.ENDED,
                    started_at=NOW, agent_id=users["dana"], recording_url=f"{media_base}/Recordings/RE1")  # fmt: skip
        vm = Call(provider_call_id="CA2", from_number="+12145550102", state=CallState.ENDED, started_at=NOW,
                  routed_to="voicemail", recording_url=f"{media_base}/Recordings/RE2")  # fmt: skip
        silent = Call(provider_call_id="CA3", from_number="+12145550103", state=CallState.ENDED,
                      started_at=NOW, agent_id=users["dana"])  # fmt: skip
        s.add_all([mine, vm, silent])
        s.flush()
        s.add(Callback(id=vm.id, call_id=vm.id, phone=vm.from_number, voicemail=True, waiting_since=NOW,
                       status="claimed", claimed_by=users["lee"]))  # fmt: skip
        return {"mine": mine.id, "vm": vm.id, "silent": silent.id}


def test_recordings_come_through_the_server_for_those_who_may_hear_them(world):
    tmp_path, sessions, users = world
    host = MediaHost()

    async def main():
        app = web.Application()
        app.router.add_get("/{tail:.*}", host.serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        media_base = f"http://127.0.0.1:{runner.addresses[0][1]}/2010-04-01/Accounts/{ACCOUNT}"
        ids = _calls(sessions, users, media_base)
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(Accounts(sessions), token_secret(sessions), clock=lambda: NOW),
        )
        endpoint = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
        clients, tasks, caches, got = {}, [], [], {}
        try:
            # Without the phone company's account the server can't fetch: told so, nothing sent.
            for name in ("dana", "lee", "sam"):
                cache = open_cache(tmp_path / f"console-{name}.sqlite3")
                caches.append(cache)
                client = SyncClient(cache, url, token=lambda: None)
                token, _user = await login(url, client.client_id, name, PASSWORD)
                client.token = lambda token=token: token
                clients[name] = client
                tasks.append(asyncio.create_task(client.run()))
            for client in clients.values():
                for _ in range(1500):  # up to 30 s on a loaded machine
                    if client.requests._channel() is not None:
                        break
                    await asyncio.sleep(0.02)
            try:
                await clients["sam"].recording(ids["mine"])
            except RequestFailed as exc:
                got["no_account"] = exc
            server.media = MediaFetcher(ACCOUNT, TOKEN, frozenset({"127.0.0.1"}))
            got["dana_mine"] = await clients["dana"].recording(ids["mine"])
            got["sam_mine"] = await clients["sam"].recording(ids["mine"])
            got["lee_vm"] = await clients["lee"].recording(ids["vm"])
            got["sam_vm"] = await clients["sam"].recording(ids["vm"])
            for who, call in (("lee_mine", "mine"), ("dana_vm", "vm"), ("dana_silent", "silent")):
                try:
                    await clients[who.split("_")[0]].recording(ids[call])
                except RequestFailed as exc:
                    got[who] = exc
            # A URL on another host never gets the account's credentials.
            with sessions.begin() as s:
                s.get(Call, ids["silent"]).recording_url = "https://evil.example.com/steal"
            try:
                await clients["dana"].recording(ids["silent"])
            except RequestFailed as exc:
                got["elsewhere"] = exc
        finally:
            for client in clients.values():
                client.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), 5)
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()
            await runner.cleanup()
            for cache in caches:
                cache.close()
        return got

    got = asyncio.run(main())
    assert got["no_account"].code == "recording_unavailable"
    assert "--twilio-account-sid" in str(got["no_account"])
    assert got["dana_mine"] == (CALL_AUDIO, "audio/x-wav")  # in several pieces, whole
    assert got["sam_mine"] == (CALL_AUDIO, "audio/x-wav")  # a supervisor hears every call
    assert got["lee_vm"] == (VOICEMAIL_AUDIO, "audio/mpeg") == got["sam_vm"]  # Lee took its callback
    assert got["lee_mine"].code == "recording_refused" and str(got["lee_mine"]) == NOT_ALLOWED
    assert got["dana_vm"].code == "recording_refused"
    assert got["dana_silent"].code == "recording_unavailable" and "no recording" in str(got["dana_silent"])
    assert got["elsewhere"].code == "recording_unavailable"
    assert host.refused == 0  # the server always sent the credentials, and only to the media host
    # Each file was fetched once from the phone company, however many pieces and listeners.
    assert sorted(host.requests) == sorted({p for p in host.requests}) and len(host.requests) == 2
