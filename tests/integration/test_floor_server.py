"""The supervisors' floor through a real `csr-server run --http-port` process and real websockets: a CSR
is refused the feed and other CSRs' scorecards; a supervisor gets the snapshot, then deltas on a signed
webhook and on agent state changes, KPIs every tick, a whole new snapshot after reconnecting; a stale
call is shown and closed; Available CSRs are rung first; a SyncClient re-subscribes after a reconnect."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import aiohttp
import pytest
import websockets
from sqlalchemy.orm import sessionmaker

from bench.headless import ROOT, build_templates, clone
from sync.auth import Accounts
from tests.integration.test_calls_server import TOKEN, signed, voice_params

STALE_MINUTES = 0.05  # 3 s


@pytest.fixture
def server(tmp_path_factory, tmp_path):
    """A server with the demo setup, a supervisor (sam) and two CSRs (lee, kim), webhooks on a free port."""
    from models.db import open_server_db

    templates = build_templates(tmp_path_factory.getbasetemp() / "call-templates")
    db = clone(templates.server_db, tmp_path / "server.sqlite3")
    engine = open_server_db(str(db))
    accounts = Accounts(sessionmaker(engine))
    accounts.add_user("sam", "Sam Super", "supervisor", "sam password 1")
    accounts.add_user("lee", "Lee Chen", "csr", "lee password 1")
    accounts.add_user("kim", "Kim Park", "csr", "kim password 1")
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
            "--stale-call-minutes",
            str(STALE_MINUTES),
            "--agent-offline-seconds",
            "0.5",
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


class Session:
    """A signed-in websocket: floor messages are collected, answers to requests queued."""

    def __init__(self, ws, user: dict) -> None:
        self.ws = ws
        self.user = user
        self.floor: list[tuple[float, dict]] = []
        self.mine: list[dict] = []  # my own agent state, as the server pushes it (no id)
        self.calls: list[dict] = []  # live calls as pushed (``call`` messages)
        self.answers: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())
        self.n = 0

    @classmethod
    async def sign_in(cls, url: str, username: str) -> Session:
        ws = await websockets.connect(url)
        await ws.send(
            json.dumps(
                {"type": "hello", "protocol": 1, "client_id": os.urandom(8).hex(), "agent_state": True}
            )
        )  # as consoles do: my own state pushed
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(
            json.dumps({"type": "login", "username": username, "password": f"{username} password 1"})
        )
        logged = json.loads(await ws.recv())
        assert logged["type"] == "logged_in", logged
        return cls(ws, logged["user"])

    async def _read(self) -> None:
        async for frame in self.ws:
            msg = json.loads(frame)
            if msg["type"] == "agent_state" and not msg.get("id"):
                self.mine.append(msg)
            elif msg["type"].startswith("floor_") and msg["type"] != "floor_unsubscribed":
                self.floor.append((time.monotonic(), msg))
                if msg.get("id"):
                    await self.answers.put(msg)
            elif msg["type"] == "call":
                self.calls.append(msg["call"])
            elif msg["type"] not in ("poke", "live_calls"):
                await self.answers.put(msg)

    async def request(self, message: dict) -> dict:
        self.n += 1
        await self.ws.send(json.dumps({**message, "id": f"r{self.n}"}))
        return await asyncio.wait_for(self.answers.get(), 10)

    async def until(self, predicate, timeout: float = 6) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            found = [m for _, m in self.floor if predicate(m)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no such floor message; got {[m for _, m in self.floor][-10:]}")
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self.reader, return_exceptions=True)


def delta_call(call_id: str, **facts):
    return lambda m: (
        m["type"] == "floor_delta"
        and any(
            c["id"] == call_id and all(c.get(k) == v for k, v in facts.items()) for c in m.get("calls") or []
        )
    )


def delta_agent(user_id: str, **facts):
    return lambda m: (
        m["type"] == "floor_delta"
        and any(
            a["user_id"] == user_id and all(a.get(k) == v for k, v in facts.items())
            for a in m.get("agents") or []
        )
    )


async def ring(http_url: str, sid: str, caller: str = "+14155550123") -> str:
    voice = f"{http_url}/telephony/twilio/voice"
    params = voice_params(sid, caller)
    async with (
        aiohttp.ClientSession() as http,
        http.post(voice, data=params, headers=signed(voice, params)) as r,
    ):
        assert r.status == 200
        return await r.text()


async def answer(http_url: str, sid: str, agent: str) -> None:
    """The status callback of the CSR's leg going in-progress: the call is answered by them."""
    status = f"{http_url}/telephony/twilio/status"
    params = {
        "CallSid": "CA" + os.urandom(16).hex(),
        "ParentCallSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+14155550123",
        "To": f"client:{agent}",
        "Direction": "outbound-dial",
        "CallStatus": "in-progress",
        "SequenceNumber": "1",
        "ApiVersion": "2010-04-01",
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(status, data=params, headers=signed(status, params)) as r,
    ):
        assert r.status == 200


def test_a_csr_is_refused_the_floor_and_other_csrs_scorecards(server):
    ws_url, _http_url, _db = server

    async def scenario() -> None:
        lee = await Session.sign_in(ws_url, "lee")
        kim = await Session.sign_in(ws_url, "kim")
        for message in (
            {"type": "subscribe_floor"},
            {"type": "close_stale_call", "call_id": "x"},
            {"type": "scorecard", "period": "today", "user_id": kim.user["id"]},
            {"type": "scorecard", "period": "week"},
        ):
            answer = await lee.request(message)
            assert answer["type"] == "error" and answer["code"] == "forbidden", (message, answer)
        own = await lee.request({"type": "scorecard", "period": "today", "user_id": lee.user["id"]})
        assert own["type"] == "scorecard_result" and [r["user_id"] for r in own["rows"]] == [lee.user["id"]]
        assert len(own["calls_per_hour"]) == 24 and own["abandoned"]["count"] == 0
        bad = await lee.request({"type": "scorecard", "period": "custom", "user_id": lee.user["id"]})
        assert bad["code"] == "bad_period"
        refused = await lee.request({"type": "set_agent_state", "state": "Away", "reason": "Nap"})
        assert refused["code"] == "bad_state" and "Lunch" in refused["message"]
        ok = await lee.request({"type": "set_agent_state", "state": "Away", "reason": "Lunch"})
        assert (
            ok["type"] == "agent_state"
            and ok["agent"]["state"] == "Away"
            and ok["agent"]["reason"] == "Lunch"
        )
        assert ok["away_reasons"] == ["Break", "Lunch", "Meeting", "Training", "Personal"]
        await lee.close()
        await kim.close()

    asyncio.run(scenario())


def test_a_csr_hears_their_own_state_at_sign_in_and_whenever_it_changes(server):
    """The console's state button never guesses: the server tells it at sign-in (with the away reasons),
    on every change it asked for, when a call makes it On call, and on each of the CSR's consoles."""
    ws_url, http_url, _db = server

    async def mine(session: Session, predicate, timeout: float = 6) -> dict:
        deadline = time.monotonic() + timeout
        while not any(predicate(m) for m in session.mine):
            assert time.monotonic() < deadline, session.mine
            await asyncio.sleep(0.02)
        return [m for m in session.mine if predicate(m)][-1]

    async def scenario() -> None:
        lee = await Session.sign_in(ws_url, "lee")
        first = await mine(lee, lambda m: m.get("away_reasons"))
        assert first["agent"]["state"] == "Available" and first["agent"]["user_id"] == lee.user["id"]
        assert first["away_reasons"] == ["Break", "Lunch", "Meeting", "Training", "Personal"]
        second = await Session.sign_in(ws_url, "lee")  # the same CSR on a second PC
        await lee.request({"type": "set_agent_state", "state": "Away", "reason": "Break"})
        pushed = await mine(second, lambda m: m["agent"]["state"] == "Away")
        assert pushed["agent"]["reason"] == "Break" and "away_reasons" not in pushed
        await lee.request({"type": "set_agent_state", "state": "Available"})
        sid = "CA" + "6" * 32
        await ring(http_url, sid)
        deadline = time.monotonic() + 6
        while not lee.calls:
            assert time.monotonic() < deadline, "the ringing call never reached Lee"
            await asyncio.sleep(0.02)
        claimed = await lee.request({"type": "claim_call", "call_id": lee.calls[-1]["id"]})
        assert claimed["type"] == "claimed", claimed
        await answer(http_url, sid, "lee")  # Lee's softphone picks up: On call

        on_call = await mine(lee, lambda m: m["agent"]["state"] == "On call")
        assert on_call["agent"]["call_id"] and on_call["agent"]["since"]
        await mine(second, lambda m: m["agent"]["state"] == "On call")
        kim = await Session.sign_in(ws_url, "kim")
        await mine(kim, lambda m: m.get("away_reasons"))
        await asyncio.sleep(0.3)
        assert {m["agent"]["user_id"] for m in kim.mine} == {kim.user["id"]}  # only one's own
        assert lee.floor == []  # and no floor feed
        for session in (lee, second, kim):
            await session.close()

    asyncio.run(scenario())


def test_a_supervisor_gets_the_snapshot_deltas_and_kpis_and_a_full_snapshot_after_reconnecting(server):
    ws_url, http_url, _db = server

    async def scenario() -> None:
        lee = await Session.sign_in(ws_url, "lee")
        sam = await Session.sign_in(ws_url, "sam")
        snap = await sam.request({"type": "subscribe_floor"})
        assert snap["type"] == "floor_snapshot" and snap["calls"] == []
        agents = {a["name"]: a for a in snap["agents"]}
        assert agents["Lee Chen"]["state"] == "Available" and agents["Kim Park"]["state"] == "Offline"
        assert agents["Lee Chen"]["since"].endswith("Z") and agents["Lee Chen"]["call_id"] is None
        assert {
            "calls_waiting",
            "longest_wait_s",
            "service_level_pct",
            "abandonment_pct",
            "booking_rate_pct",
            "callbacks_open",
            "callbacks_longest_wait_s",
            "day",
            "as_of",
        } <= set(snap["kpis"])

        # a signed webhook: the ringing call arrives as a delta, with the floor's extra facts
        await ring(http_url, "CA" + "5" * 32)
        added = await sam.until(lambda m: m["type"] == "floor_delta" and m.get("calls"))
        call = added["calls"][0]
        assert call["state"] in ("Ringing", "Queued") and call["stale"] is False and "customer_name" in call
        kpis = await sam.until(lambda m: m["type"] == "floor_kpis" and m["kpis"]["calls_waiting"] == 1)
        assert kpis["kpis"]["longest_wait_s"] >= 0

        # a claim shows who has it; an agent state change is a delta
        claimed = await lee.request({"type": "claim_call", "call_id": call["id"]})
        assert claimed["type"] == "claimed"
        await sam.until(delta_call(call["id"], agent_name="Lee Chen"))
        await lee.request({"type": "set_agent_state", "state": "Wrap-up"})
        wrap = await sam.until(delta_agent(lee.user["id"], state="Wrap-up"))
        since = next(a for a in wrap["agents"] if a["user_id"] == lee.user["id"])["since"]

        # a CSR who signs in and out: Available, then Offline after the grace
        kim = await Session.sign_in(ws_url, "kim")
        await sam.until(delta_agent(kim.user["id"], state="Available"))
        await kim.close()
        await sam.until(delta_agent(kim.user["id"], state="Offline"))

        # KPIs tick every second or so, the same for every subscriber
        start = len(sam.floor)
        await asyncio.sleep(3.2)
        stamps = [t for t, m in sam.floor[start:] if m["type"] == "floor_kpis"]
        assert 2 <= len(stamps) <= 5
        assert all(0.5 <= b - a <= 2.0 for a, b in zip(stamps, stamps[1:], strict=False))

        # reconnecting: a whole new snapshot, the same rows, the time in state kept
        await sam.close()
        sam = await Session.sign_in(ws_url, "sam")
        again = await sam.request({"type": "subscribe_floor"})
        assert again["type"] == "floor_snapshot"
        assert [c["id"] for c in again["calls"]] == [call["id"]] and again["calls"][0][
            "agent_id"
        ] == lee.user["id"]
        lee_row = next(a for a in again["agents"] if a["user_id"] == lee.user["id"])
        assert lee_row["state"] == "Wrap-up" and lee_row["since"] == since
        await sam.close()
        await lee.close()

    asyncio.run(scenario())


def test_a_stale_call_is_shown_and_a_supervisor_closes_it(server):
    ws_url, http_url, _db = server

    async def scenario() -> None:
        sam = await Session.sign_in(ws_url, "sam")
        await sam.request({"type": "subscribe_floor"})
        await ring(http_url, "CA" + "6" * 32)
        added = await sam.until(lambda m: m["type"] == "floor_delta" and m.get("calls"))
        call_id = added["calls"][0]["id"]
        early = await sam.request({"type": "close_stale_call", "call_id": call_id})
        assert (
            early["type"] == "error"
            and early["code"] == "close_refused"
            and "isn't stale" in early["message"]
        )
        await sam.until(delta_call(call_id, stale=True), timeout=STALE_MINUTES * 60 + 4)
        closed = await sam.request({"type": "close_stale_call", "call_id": call_id})
        assert closed["type"] == "stale_closed", closed
        assert closed["call"]["state"] == "Ended" and closed["call"]["classification"] == "Abandoned"
        await sam.until(lambda m: m["type"] == "floor_delta" and call_id in (m.get("removed_calls") or []))
        twice = await sam.request({"type": "close_stale_call", "call_id": call_id})
        assert twice["code"] == "close_refused" and "already ended" in twice["message"]
        unknown = await sam.request({"type": "close_stale_call", "call_id": "nope"})
        assert unknown["code"] == "close_refused"
        await sam.close()

    asyncio.run(scenario())

    from sqlalchemy import create_engine, select

    from models.calls import Call, CallEvent

    engine = create_engine(f"sqlite:///{_db}")
    try:
        with engine.connect() as conn:
            end_reason = conn.execute(select(Call.__table__.c.end_reason)).scalar_one()
            keys = list(conn.execute(select(CallEvent.__table__.c.provider_key)).scalars())
    finally:
        engine.dispose()
    assert end_reason == "closed-stale" and any(k.startswith("closed-stale:") for k in keys)


def test_available_csrs_are_rung_first(server):
    ws_url, http_url, _db = server

    async def scenario() -> None:
        lee = await Session.sign_in(ws_url, "lee")
        kim = await Session.sign_in(ws_url, "kim")
        await lee.request({"type": "set_agent_state", "state": "Away", "reason": "Break"})
        twiml = await ring(http_url, "CA" + "7" * 32)
        assert twiml.index(">kim</Client>") < twiml.index(">lee</Client>")  # Away still rings, last
        await lee.request({"type": "set_agent_state", "state": "Available"})
        await kim.request({"type": "set_agent_state", "state": "Wrap-up"})
        twiml = await ring(http_url, "CA" + "8" * 32)
        assert twiml.index(">lee</Client>") < twiml.index(">kim</Client>")
        await lee.close()
        await kim.close()

    asyncio.run(scenario())


def test_the_sync_client_subscribes_and_resubscribes_after_a_reconnect(server, tmp_path_factory, tmp_path):
    from models.db import open_cache
    from sync.client import RequestFailed, SyncClient, login

    ws_url, _http_url, _db = server
    templates = build_templates(tmp_path_factory.getbasetemp() / "call-templates")

    async def scenario() -> None:
        caches, tasks = [], []
        try:
            clients = {}
            floor: list[dict] = []
            mine: dict[str, list[dict]] = {"sam": [], "lee": []}  # agent_state, through on_floor too
            for name in ("sam", "lee"):
                cache = open_cache(clone(templates.console_cache, tmp_path / f"{name}.sqlite3"))
                caches.append(cache)
                token, user = await login(ws_url, os.urandom(8).hex(), name, f"{name} password 1")
                client = SyncClient(
                    cache,
                    ws_url,
                    token=lambda t=token: t,
                    backoff=(0.05, 0.2),
                    on_floor=lambda m, n=name: (
                        mine[n] if m["type"] == "agent_state" else floor if n == "sam" else []
                    ).append(m),
                )
                client.user = user
                clients[name] = client
                tasks.append(asyncio.create_task(client.run()))
            sam, lee = clients["sam"], clients["lee"]
            deadline = time.monotonic() + 30
            while not all(c.status.state == "online" for c in clients.values()):
                assert time.monotonic() < deadline, [c.status for c in clients.values()]
                await asyncio.sleep(0.05)

            with pytest.raises(RequestFailed) as refused:
                await lee.subscribe_floor()
            assert refused.value.code == "forbidden"
            with pytest.raises(RequestFailed) as refused:
                await lee.scorecard("week")
            assert refused.value.code == "forbidden"
            own = await lee.scorecard("week", user_id=lee.user["id"])
            assert [r["user_id"] for r in own["rows"]] == [lee.user["id"]]
            away = await lee.set_agent_state("Away", "Meeting")
            assert away["agent"]["state"] == "Away"
            assert (
                mine["lee"][0]["agent"]["state"] == "Available" and mine["lee"][0]["away_reasons"]
            )  # sign-in
            assert mine["lee"][-1] == away and not mine["sam"][1:]  # the answer too; nobody else's
            assert not any(m["type"] == "agent_state" for m in floor)
            with pytest.raises(RequestFailed) as refused:
                await lee.close_stale_call("nope")
            assert refused.value.code == "forbidden"

            snapshot = await sam.subscribe_floor()
            assert snapshot["type"] == "floor_snapshot" and floor[0] == snapshot  # on_floor has it too
            everyone = await sam.scorecard("month")
            assert everyone["type"] == "scorecard_result" and len(everyone["calls_per_hour"]) == 24
            lee_row = next(a for a in snapshot["agents"] if a["user_id"] == lee.user["id"])
            assert (lee_row["state"], lee_row["reason"]) == ("Away", "Meeting")

            await sam._channel.ws.close()  # the network drops
            deadline = time.monotonic() + 10
            while sum(m["type"] == "floor_snapshot" for m in floor) < 2:
                assert time.monotonic() < deadline, [m["type"] for m in floor]
                await asyncio.sleep(0.05)
            second = max(i for i, m in enumerate(floor) if m["type"] == "floor_snapshot")
            assert floor[second]["agents"] and "kpis" in floor[second]
            await lee.set_agent_state("Available")  # deltas flow on the new connection
            deadline = time.monotonic() + 5
            while not any(
                m["type"] == "floor_delta"
                and any(
                    a["user_id"] == lee.user["id"] and a["state"] == "Available"
                    for a in m.get("agents") or []
                )
                for m in floor[second + 1 :]
            ):
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        finally:
            for client in clients.values():
                client.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            for cache in caches:
                cache.close()

    asyncio.run(scenario())


def test_a_csrs_phone_offline_reaches_the_floor_board_and_leaves_with_them(server):
    """The console reports its softphone (docs/phone.md): a supervisor's board sees "registered", then
    "offline" with the CSR's sentence, and no phone once the CSR's console is gone; a bad state is refused."""
    ws_url, _http_url, _db = server

    async def scenario() -> None:
        sam = await Session.sign_in(ws_url, "sam")
        snapshot = await sam.request({"type": "subscribe_floor"})
        assert snapshot["type"] == "floor_snapshot"
        lee = await Session.sign_in(ws_url, "lee")
        uid = lee.user["id"]
        ok = await lee.request({"type": "phone_state", "state": "registered"})
        assert ok["type"] == "phone_state_set" and ok["agent"]["phone"] == "registered"
        await sam.until(delta_agent(uid, phone="registered"))
        why = "Phone offline — it crashed; restarting in 0.5 s."
        await lee.request({"type": "phone_state", "state": "offline", "message": why})
        row = await sam.until(delta_agent(uid, phone="offline"))
        assert next(a for a in row["agents"] if a["user_id"] == uid)["phone_message"] == why
        bad = await lee.request({"type": "phone_state", "state": "exploded"})
        assert bad["type"] == "error" and bad["code"] == "bad_message"
        await lee.request({"type": "phone_state", "state": "none"})  # the seat was taken away
        await sam.until(lambda m: m["type"] == "floor_delta" and any(
            a["user_id"] == uid and "phone" not in a for a in m.get("agents") or []))  # fmt: skip
        await lee.request({"type": "phone_state", "state": "offline", "message": why})
        await sam.until(delta_agent(uid, phone="offline"))
        await lee.close()  # the console left: Offline, and its phone is no longer news
        await sam.until(lambda m: m["type"] == "floor_delta" and any(
            a["user_id"] == uid and a["state"] == "Offline" and "phone" not in a
            for a in m.get("agents") or []))  # fmt: skip
        await sam.close()

    asyncio.run(scenario())
