"""`csr-callsim --sip-direct` (the demo's phone simulator) against a real server, with no registrar and no
Kamailio: Dana's seat is direct (sip:dana@127.0.0.1:<port>), her phone process listens there; the server's
TwiML rings her <Sip>, the simulator's own phone sends the INVITE straight to that address carrying the
call's sid. Two calls overlap: the first is answered, the second reaches a seat already on a call and gets
486 Busy Here — each call's record adds up."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from console.demo_server import free_udp_port
from models.calls import Call, CallState
from models.db import open_server_db
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.call_desk import CallDesk
from sync.ingress import make_app, start_ingress
from sync.phone_link import PhoneLink, phone_command
from sync.phone_seats import set_seat
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.integration.test_calls_server import Console
from tests.unit.booking_setup import build_setup

pytestmark = pytest.mark.usefixtures("phone_tools")
TOKEN = "sip-direct-auth-token"
PASSWORD = "correct horse battery"


def test_callsim_sip_direct_rings_a_seat_with_no_registrar_and_a_busy_seat_answers_486(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    Accounts(sessions).add_user("dana", "Dana Reyes", "csr", PASSWORD)
    address = f"sip:dana@127.0.0.1:{free_udp_port()}"
    set_seat(sessions, "dana", {"sip_address": address, "registrar": "", "user": "dana"})

    async def scenario() -> None:
        srv = SyncServer(Applier(sessions), AccountsAuthenticator(Accounts(sessions), token_secret(sessions)))
        srv.attach_calls(CallDesk(sessions, agents=srv.signed_in_agents))
        endpoint = await srv.serve("127.0.0.1", 0)
        runner, port = await start_ingress(make_app(srv.calls, TOKEN, "http://127.0.0.1"), "127.0.0.1", 0)
        events: list[dict] = []
        link = PhoneLink(
            phone_command(null_audio=True, bind="127.0.0.1"),
            on_event=events.append,
            backoff=(0.2,),
            stderr_path=str(tmp_path / "phone-dana.log"),
        )
        console = None
        try:
            console = await Console.sign_in(
                f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}", "dana", PASSWORD
            )
            ready = link.wait_for(lambda e: e["event"] == "ready", 15)
            link.start()
            await ready
            listening = link.wait_for(lambda e: e["event"] == "registration", 10)
            link.listen(address)
            event = await listening
            assert event["state"] == "listening" and event["address"] == address, event

            def answer(event):  # Dana answers the call that rings; the phone itself refuses a second
                events.append(event)
                if event["event"] == "incoming":
                    link.send({"cmd": "answer", "call": event["call"]})

            link.on_event = answer
            sim = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "sync.callsim", "--url", f"http://127.0.0.1:{port}",
                "--public-url", "http://127.0.0.1", "--count", "2", "--rate", "1", "--seed", "3",
                "--scenario", "inbound-answered", "--odd-callers", "0", "--sip-direct", "--talk", "4",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "CSR_TWILIO_AUTH_TOKEN": TOKEN},
            )  # fmt: skip
            out, err = await asyncio.wait_for(sim.communicate(), 90)
            assert sim.returncode == 0, (out + err).decode(errors="replace")[-3000:]
            summary = json.loads(out.decode().strip().splitlines()[-1])
            assert summary["calls"] == 2 and summary["failed"] == 0, summary
            assert summary["answered"] == 1 and summary["unanswered"] == 1, summary
            rung = [e for e in events if e["event"] == "incoming"]
            busy = [e for e in events if e["event"] == "busy"]
            assert len(rung) == 1 and len(busy) == 1, [e["event"] for e in events]

            def calls() -> list[Call]:
                with sessions() as s:
                    return list(s.scalars(select(Call)))

            deadline = asyncio.get_running_loop().time() + 10
            while not (len(calls()) == 2 and all(c.state is CallState.ENDED for c in calls())):
                assert asyncio.get_running_loop().time() < deadline, [
                    (c.state, c.answered_by) for c in calls()
                ]
                await asyncio.sleep(0.1)
            answered = [c for c in calls() if c.answered_by]
            assert len(answered) == 1 and answered[0].answered_by == "dana"
            assert answered[0].provider_call_id == rung[0]["provider_call_id"]  # the sid came in the INVITE
            assert answered[0].duration_seconds >= 1
        finally:
            if console is not None:
                await console.close()
            await link.stop()
            await runner.cleanup()
            endpoint.close()
            await endpoint.wait_closed()
            await srv.aclose()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()


def test_a_direct_seat_whose_port_is_taken_says_so_and_the_phone_lives_on(tmp_path):
    import socket

    async def scenario() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
            squatter.bind(("127.0.0.1", 0))
            port = squatter.getsockname()[1]
            link = PhoneLink(
                phone_command(null_audio=True, bind="127.0.0.1"),
                backoff=(0.2,),
                stderr_path=str(tmp_path / "phone.log"),
            )
            try:
                ready = link.wait_for(lambda e: e["event"] == "ready", 15)
                link.start()
                await ready
                told = link.wait_for(lambda e: e["event"] == "registration", 10)
                refused = link.wait_for(lambda e: e["event"] == "error", 10)
                link.listen(f"sip:dana@127.0.0.1:{port}")
                event = await told
                assert event["state"] == "failed", event  # not "listening": the seat is not Ready
                assert f"could not listen at 127.0.0.1:{port}" in event["message"], event
                assert "another program may hold that port" in (await refused)["message"]
                stats = await link.request({"cmd": "stats"})
                assert stats["event"] == "ok" and link.restarts == 0  # no crash
            finally:
                await link.stop()

    asyncio.run(scenario())
