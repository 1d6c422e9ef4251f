"""Calls through a real `csr-server run --http-port` process: signed webhooks in, live ``call``
messages out to signed-in consoles over real websockets, the claim (first wins, takeover on
confirmation, the first CSR told), and a bad signature refused with nothing stored."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
import websockets
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bench.headless import PASSWORD, ROOT, USERNAME, build_templates, clone
from models.calls import Call, CallClass, CallDirection
from sync.auth import Accounts

TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture
def server(tmp_path_factory, tmp_path):
    """A server with the demo setup, two CSRs (chaos, lee) and its webhooks on a free port."""
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db

    templates = build_templates(tmp_path_factory.getbasetemp() / "call-templates")
    db = clone(templates.server_db, tmp_path / "server.sqlite3")
    engine = open_server_db(str(db))
    Accounts(sessionmaker(engine)).add_user("lee", "Lee Chen", "csr", "lee password 1")
    engine.dispose()
    env = {**os.environ, "CSR_TWILIO_AUTH_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sync.server_cli",
            "--db",
            str(db),
            "--log-level",
            "WARNING",
            "run",
            "--port",
            "0",
            "--http-port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ws_url = proc.stdout.readline().split("listening on ")[1].strip()
        http_url = proc.stdout.readline().split("webhooks on ")[1].strip()
        yield ws_url, http_url, db
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def count_calls(db: Path) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Call.__table__)).scalar_one()
    finally:
        engine.dispose()


class Console:
    """A signed-in websocket session that remembers every ``call`` message it gets."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.calls: list[dict] = []
        self.answers: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def sign_in(cls, url: str, username: str, password: str) -> Console:
        ws = await websockets.connect(url)
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": os.urandom(8).hex()}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "login", "username": username, "password": password}))
        logged = json.loads(await ws.recv())
        assert logged["type"] == "logged_in", logged
        live = json.loads(await ws.recv())
        assert live["type"] == "live_calls"
        console = cls(ws)
        console.user_id = logged["user"]["id"]
        return console

    async def _read(self) -> None:
        async for frame in self.ws:
            msg = json.loads(frame)
            if msg["type"] == "call":
                self.calls.append(msg)
            elif msg["type"] != "poke":
                await self.answers.put(msg)

    async def request(self, message: dict) -> dict:
        await self.ws.send(json.dumps(message))
        return await asyncio.wait_for(self.answers.get(), 5)

    async def until(self, predicate, timeout: float = 5) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [m for m in self.calls if predicate(m)]
            if found:
                return found[-1]
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no such call message; got {self.calls}")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self.reader, return_exceptions=True)


def signed(url: str, params: dict[str, str], token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, params)}


def voice_params(call_sid: str, caller: str, dialed: str = "+12145550102") -> dict[str, str]:
    return {
        "CallSid": call_sid,
        "AccountSid": "AC" + "0" * 32,
        "From": caller,
        "To": dialed,
        "Direction": "inbound",
        "CallStatus": "ringing",
        "ApiVersion": "2010-04-01",
    }


def test_a_ringing_call_reaches_every_console_and_the_claim_is_decided_by_the_server(server):
    ws_url, http_url, db = server

    async def scenario() -> None:
        dana = await Console.sign_in(ws_url, USERNAME, PASSWORD)
        lee = await Console.sign_in(ws_url, "lee", "lee password 1")
        voice = f"{http_url}/telephony/twilio/voice"
        async with aiohttp.ClientSession() as http:
            params = voice_params("CA" + "1" * 32, "+14155550123")
            async with http.post(voice, data=params, headers=signed(voice, params)) as r:
                assert r.status == 200
                twiml = await r.text()
            assert (
                "<Dial" in twiml and ">lee</Client>" in twiml and f">{USERNAME}</Client>" in twiml
            )  # both ring
            ringing = await dana.until(lambda m: m["call"]["state"] == "Ringing")
            call = ringing["call"]
            assert call["from_number"] == "+14155550123" and call["campaign"] == "Google Ads"
            assert not call["unknown_campaign"] and call["agent_id"] is None
            await lee.until(lambda m: m["call"]["id"] == call["id"])

            claimed = await dana.request({"type": "claim_call", "id": "c1", "call_id": call["id"]})
            assert claimed["type"] == "claimed" and claimed["call"]["agent_id"] == dana.user_id
            seen = await lee.until(lambda m: m["call"]["agent_id"] == dana.user_id)
            assert seen["call"]["agent_name"] == "Chaos Monkey"

            refused = await lee.request({"type": "claim_call", "id": "c2", "call_id": call["id"]})
            assert refused["type"] == "error" and refused["code"] == "claim_refused"
            assert "take it over" in refused["message"]

            taken = await lee.request(
                {"type": "claim_call", "id": "c3", "call_id": call["id"], "takeover": True}
            )
            assert taken["type"] == "claimed" and taken["call"]["agent_id"] == lee.user_id
            told = await dana.until(lambda m: m["call"]["agent_id"] == lee.user_id)
            assert told["taken_from"] == dana.user_id  # the first CSR is told

            # The connection lives on after a refusal; an unknown call is a clear refusal too.
            unknown = await dana.request({"type": "claim_call", "id": "c4", "call_id": "nope"})
            assert unknown["code"] == "claim_refused"
        await dana.close()
        await lee.close()

    asyncio.run(scenario())
    assert count_calls(db) == 1


def test_a_bad_signature_is_refused_and_nothing_is_stored_or_shown(server):
    ws_url, http_url, db = server

    async def scenario() -> None:
        dana = await Console.sign_in(ws_url, USERNAME, PASSWORD)
        voice = f"{http_url}/telephony/twilio/voice"
        params = voice_params("CA" + "2" * 32, "+14155550123")
        async with aiohttp.ClientSession() as http:
            for headers in (
                {},
                signed(voice, params, token="not-the-token"),
                signed(voice.replace("voice", "status"), params),
            ):
                async with http.post(voice, data=params, headers=headers) as r:
                    assert r.status == 403
        await asyncio.sleep(0.2)
        assert dana.calls == []
        await dana.close()

    asyncio.run(scenario())
    assert count_calls(db) == 0


def test_simulated_calls_with_duplicated_and_reordered_callbacks_all_end_stored_once(server):
    """csr-callsim against the real server: every call recorded once, every one ended."""
    from sync.callsim import SimOptions, run

    ws_url, http_url, db = server

    async def scenario() -> dict:
        dana = await Console.sign_in(ws_url, USERNAME, PASSWORD)
        result = await run(
            SimOptions(
                url=http_url,
                auth_token=TOKEN,
                rate=200,
                count=30,
                speed=200,
                seed=7,
                agents=[USERNAME],
                chaos=0.3,
                tracking=["+12145550101", "+19725550104"],
            )
        )
        await asyncio.sleep(0.3)
        await dana.close()
        return result

    result = asyncio.run(scenario())
    assert result["calls"] == 30 and result["failed"] == 0
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            calls = conn.execute(select(Call.__table__.c.state, Call.__table__.c.provider_call_id)).all()
    finally:
        engine.dispose()
    assert len(calls) == 30 and len({c.provider_call_id for c in calls}) == 30
    assert {c.state for c in calls} == {"Ended"}
    # The callback queue (docs/phone.md): exactly one item for each call that ended Abandoned with a caller
    # number, opened with the call, in the change log consoles pull — duplicated and reordered callbacks too.
    from models.callbacks import Callback
    from models.sync_tables import ChangeRow

    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            c = Call.__table__.c
            owed = set(
                conn.execute(
                    select(c.id).where(
                        c.classification == CallClass.ABANDONED,
                        c.from_number != "",
                        c.direction == CallDirection.INBOUND,
                    )
                ).scalars()
            )
            items = list(conn.execute(select(Callback.__table__.c.call_id)).scalars())
            logged = set(
                conn.execute(
                    select(ChangeRow.__table__.c.entity_id).where(ChangeRow.__table__.c.entity == "callbacks")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert owed and sorted(items) == sorted(owed) and logged == owed


def test_the_live_calls_a_console_gets_when_it_signs_in(server):
    ws_url, http_url, db = server

    async def scenario() -> None:
        voice = f"{http_url}/telephony/twilio/voice"
        params = voice_params("CA" + "3" * 32, "anonymous", dialed="+19995550000")
        async with (
            aiohttp.ClientSession() as http,
            http.post(voice, data=params, headers=signed(voice, params)) as r,
        ):
            assert r.status == 200
        ws = await websockets.connect(ws_url)
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": "late-console"}))
        await ws.recv()
        await ws.send(json.dumps({"type": "login", "username": USERNAME, "password": PASSWORD}))
        await ws.recv()
        live = json.loads(await ws.recv())
        await ws.close()
        assert live["type"] == "live_calls" and len(live["calls"]) == 1
        call = live["calls"][0]
        assert call["from_number"] == "" and call["unknown_campaign"]
        assert call["state"] == "Queued"  # nobody was signed in: the caller waits
        started = datetime.fromisoformat(call["started_at"])
        assert started.tzinfo is not None and abs((datetime.now(UTC) - started).total_seconds()) < 60

    asyncio.run(scenario())


def test_a_burst_of_500_calls_is_recorded_whole(server):
    """500 voice webhooks at once (100 connections) against the real store: every one answered 200,
    every call stored once."""
    ws_url, http_url, db = server
    voice = f"{http_url}/telephony/twilio/voice"

    async def scenario() -> list[int]:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:

            async def one(i: int) -> int:
                params = voice_params(f"CA{i:032d}", f"+1415555{i % 10000:04d}")
                async with http.post(voice, data=params, headers=signed(voice, params)) as r:
                    return r.status

            return list(await asyncio.gather(*(one(i) for i in range(500))))

    statuses = asyncio.run(scenario())
    assert statuses == [200] * 500
    assert count_calls(db) == 500
