"""`csr-callsim` in SIP mode against a real server: the server's TwiML rings Dana's SIP seat with
<Dial><Sip>, the simulator places a real INVITE through Kamailio carrying the call's sid, Dana's phone
process rings with that sid (the console would tie it to the bubble), answers, and the signed status
callbacks that follow make the server's call record add up: answered by Dana, ended."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.calls import Call, CallState
from models.db import open_server_db
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.call_desk import CallDesk
from sync.ingress import make_app, start_ingress
from sync.phone_seats import set_seat
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.integration.test_calls_server import Console
from tests.sip.seats import Seat
from tests.unit.booking_setup import build_setup

pytestmark = pytest.mark.usefixtures("phone_tools")
TOKEN = "sip-test-auth-token"
PASSWORD = "correct horse battery"
CALLS = 3


def test_callsim_sip_mode_rings_the_seat_for_real_and_the_call_record_adds_up(kamailio, tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    Accounts(sessions).add_user("dana", "Dana Reyes", "csr", PASSWORD)
    set_seat(sessions, "dana", {"sip_address": kamailio.seat_uri("1001"), "registrar": kamailio.registrar,
                                "user": "1001"})  # fmt: skip

    async def scenario() -> None:
        srv = SyncServer(Applier(sessions), AccountsAuthenticator(Accounts(sessions), token_secret(sessions)))
        srv.attach_calls(CallDesk(sessions, agents=srv.signed_in_agents))
        endpoint = await srv.serve("127.0.0.1", 0)
        runner, port = await start_ingress(make_app(srv.calls, TOKEN, "http://127.0.0.1"), "127.0.0.1", 0)
        seat = Seat(kamailio, "1001", tmp_path)
        console = None
        try:
            console = await Console.sign_in(
                f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}", "dana", PASSWORD
            )
            await seat.start()
            rung: list[dict] = []

            def answer(event):  # Dana presses F2 on every call that rings
                seat.events.append(event)
                if event["event"] == "incoming":
                    rung.append(event)
                    seat.link.send({"cmd": "answer", "call": event["call"]})

            seat.link.on_event = answer
            sim = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sync.callsim", "--url", f"http://127.0.0.1:{port}",
                "--public-url", "http://127.0.0.1", "--count", str(CALLS), "--seed", "7",
                "--sip-registrar", kamailio.registrar, "--talk", "1.2",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "CSR_TWILIO_AUTH_TOKEN": TOKEN, "CSR_CALLSIM_SIP_PASSWORD": "pw-carrier"},
            )  # fmt: skip
            out, err = await asyncio.wait_for(sim.communicate(), 120)
            assert sim.returncode == 0, (out + err).decode(errors="replace")[-3000:]
            assert '"answered": 3' in out.decode() and '"failed": 0' in out.decode()
            assert len(rung) == CALLS and kamailio.count("INVITE 1001 from carrier") == CALLS
            with sessions() as s:
                calls = s.scalars(select(Call)).all()
            assert len(calls) == CALLS
            assert {c.provider_call_id for c in calls} == {e["provider_call_id"] for e in rung}  # the header
            assert all(c.state is CallState.ENDED and c.answered_by == "dana" for c in calls), [
                (c.state, c.answered_by, c.end_reason, c.answered_at) for c in calls
            ]
            assert all(c.answered_at is not None and c.duration_seconds >= 1 for c in calls), [
                (c.answered_at, c.ended_at, c.duration_seconds) for c in calls
            ]
            await console.until(
                lambda m: m["call"]["state"] == "Ended" and m["call"]["answered_by"] == "dana"
            )
        finally:
            if console is not None:
                await console.close()
            await seat.stop()
            await runner.cleanup()
            endpoint.close()
            await endpoint.wait_closed()
            await srv.aclose()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
