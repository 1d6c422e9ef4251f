"""SIPp's built-in UAC places 50 calls in a row through Kamailio to a seat the console answers."""

from __future__ import annotations

import asyncio

import pytest

from tests.sip.seats import seats
from tests.sip.sip_fixtures import free_port
from tests.tools import require_tool

pytestmark = pytest.mark.usefixtures("phone_tools")
CALLS = 50


def sipp_uac(sipp: str, kamailio, user: str, calls: int, tmp_path) -> list[str]:
    """SIPp calling ``user`` ``calls`` times, one at a time, 4 a second at most (the phone frees a
    call's media sockets ~0.5 s after it ends: back-to-back calls exhaust them — docs/phone.md)."""
    return [
        sipp, f"127.0.0.1:{kamailio.port}", "-sn", "uac", "-s", user, "-i", "127.0.0.1",
        "-p", str(free_port()), "-m", str(calls), "-l", "1", "-r", "4", "-d", "100",
        "-nostdin", "-timeout", f"{calls + 30}s", "-timeout_error", "-trace_err",
        "-error_file", str(tmp_path / "sipp-errors.log"),
    ]  # fmt: skip


def test_sipp_fifty_calls_in_a_row_all_answered(kamailio, tmp_path):
    sipp = require_tool("sipp")

    async def scenario():
        (csr,) = await seats(kamailio, tmp_path, "1001")
        answered: list[str] = []
        confirmed: list[str] = []

        def on_event(event):
            csr.events.append(event)
            if event["event"] == "incoming":
                csr.link.send({"cmd": "answer", "call": event["call"]})
                answered.append(event["call"])
            elif event["event"] == "call" and event["state"] == "confirmed":
                confirmed.append(event["call"])

        csr.link.on_event = on_event
        try:
            proc = await asyncio.create_subprocess_exec(
                *sipp_uac(sipp, kamailio, "1001", CALLS, tmp_path),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                cwd=tmp_path,
            )
            _, err = await asyncio.wait_for(proc.communicate(), CALLS + 60)
            assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
            assert len(answered) == len(confirmed) == CALLS
            assert not [e for e in csr.events if e["event"] == "error"]
            stats = await csr.do("stats")
            assert stats["calls"] == 0  # every call ended and was dropped
        finally:
            await csr.stop()

    asyncio.run(scenario())
