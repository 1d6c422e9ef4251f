"""The demo's phone seat, wired as `csr-console --demo` wires it, with no registrar (no Kamailio): Dana has a
direct seat (sip:dana@127.0.0.1:<free port>, console/demo_server.add_demo_seat's kind), her console's
softphone listens there and says "Phone ready" once its transport is up; `csr-callsim --sip-direct` (the
demo's phone simulator) posts the signed voice webhook, reads the server's <Dial><Sip> and sends a real
INVITE straight to her address; the bubble rings, F2 claims it and answers the seat (200 OK at the
caller), Hold / Mute / Hang up act on the call, and the server's call record adds up."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from console.demo_server import free_udp_port
from models.calls import Call, CallState
from sync.phone_link import phone_command
from sync.phone_seats import set_seat
from tests.gui.helpers import until
from tests.gui.test_calls_console import CALLER, PASSWORD, TOKEN, TRACKING, running_server
from tests.tools import require_tool

pytest_plugins = ["tests.gui.conftest_sync"]


@pytest.fixture
def server(loop, tmp_path):
    require_tool("py:pjsua2")  # the phone's one dependency; no kamailio, no sipp
    yield from running_server(loop, tmp_path)


def test_the_demo_seat_rings_by_a_real_invite_and_f2_answers_without_a_registrar(
    qtbot, loop, server, desks, tmp_path
):
    url, webhooks, sessions, _customer_id, _campaign = server
    address = f"sip:dana@127.0.0.1:{free_udp_port()}"
    set_seat(sessions, "dana", {"sip_address": address, "registrar": "", "user": "dana"})

    async def scenario() -> None:
        a = desks("a")
        phone, bar = a.phone, a.phone.bar
        phone.command = phone_command(null_audio=True, bind="127.0.0.1")  # as console/app.py for --demo
        phone.stderr_path = str(tmp_path / "console-phone.log")
        a.window.show()
        await a.sync.sign_in_with(url, "dana", PASSWORD)
        # No registrar: ready once the softphone listens at the seat's address — and honest about it.
        await until(lambda: bar.status.text().startswith("Phone ready — dana"), 20)
        assert bar.status.text() == f"Phone ready — dana (direct at {address}, no registrar)"
        assert phone.registered and a.phone_presence.current() == ("registered", "")
        sim = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sync.callsim", "--url", webhooks, "--public-url", "http://127.0.0.1",
            "--count", "1", "--scenario", "inbound-answered", "--from", CALLER, "--to", TRACKING,
            "--odd-callers", "0", "--sip-direct", "--talk", "60",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "CSR_TWILIO_AUTH_TOKEN": TOKEN},
        )  # fmt: skip
        try:
            await until(lambda: a.window.bubble_strip.call_ids(), 20)
            call_id = a.window.bubble_strip.call_ids()[0]
            provider = a.calls.calls[call_id]["provider_call_id"]
            # The INVITE reached the seat straight, carrying the call's sid (X-CSR-Call-Sid).
            await until(lambda: any(v.get("provider_call_id") == provider for v in phone.legs.values()), 20)
            assert bar.answer.isEnabled() and "Ringing" in bar.status.text()

            confirmed = phone.wait_for(lambda e: e["event"] == "call" and e["state"] == "confirmed", 10)
            qtbot.keyClick(a.window.lookup.search, Qt.Key.Key_F2)  # one key: claim and answer
            assert (await confirmed)["code"] == 200
            await until(lambda: a.calls.cards[call_id].claimed_by_id == a.calls.me)
            await until(lambda: bar.hold.isEnabled() and bar.hangup.isEnabled())

            held = phone.wait_for(lambda e: e["event"] == "media" and e.get("hold") == "local", 10)
            qtbot.mouseClick(bar.hold, Qt.MouseButton.LeftButton)
            await held
            resumed = phone.wait_for(lambda e: e["event"] == "media" and e.get("hold") == "none", 10)
            bar.hold.setFocus()
            qtbot.keyClick(bar.hold, Qt.Key.Key_Space)
            await resumed
            qtbot.mouseClick(bar.mute, Qt.MouseButton.LeftButton)
            await until(lambda: phone.current() and phone.current().get("muted") is True)

            ended = phone.wait_for(lambda e: e["event"] == "call" and e["state"] == "disconnected", 10)
            qtbot.mouseClick(bar.hangup, Qt.MouseButton.LeftButton)
            await ended
            await until(lambda: not bar.hangup.isEnabled())
            out, err = await asyncio.wait_for(sim.communicate(), 60)
        finally:
            if sim.returncode is None:
                sim.kill()
                await sim.wait()
        assert sim.returncode == 0, (out + err).decode(errors="replace")[-3000:]
        summary = json.loads(out.decode().strip().splitlines()[-1])
        assert summary["answered"] == 1 and summary["unanswered"] == 0 and summary["failed"] == 0, summary

        def record() -> Call | None:
            with sessions() as s:
                return s.scalar(select(Call).where(Call.provider_call_id == provider))

        await until(lambda: record() is not None and record().state is CallState.ENDED, 10)
        assert record().answered_by == "dana" and record().answered_at is not None

    loop.run_until_complete(scenario())
