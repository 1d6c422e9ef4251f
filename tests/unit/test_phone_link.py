"""The phone supervisor with a phone process that cannot start: "Phone offline" with its reason, tried
again with backoff, and stop() ends it all (no pjsua2 needed: a stand-in process says what a real
phone says when its library is missing)."""

from __future__ import annotations

import asyncio
import sys

from sync.phone_link import PhoneLink

FAILS = (
    "import os, json; os.write(1, (json.dumps({'event': 'fatal', 'message': "
    "'The phone could not start: No module named pjsua2'}) + '\\n').encode()); raise SystemExit(1)"
)


def test_a_phone_that_cannot_start_is_offline_with_its_reason_and_retried():
    states: list[tuple[str, str]] = []

    async def scenario():
        link = PhoneLink(
            [sys.executable, "-c", FAILS], on_state=lambda s, m: states.append((s, m)), backoff=(0.1,)
        )
        link.start()
        for _ in range(200):
            if link.restarts >= 2:
                break
            await asyncio.sleep(0.05)
        assert link.send({"cmd": "stats"}) is None or link.state != "online"  # never online
        with_reason = [m for s, m in states if s == "offline"]
        await link.stop()
        return link, with_reason

    link, offline = asyncio.run(scenario())
    assert link.restarts >= 2 and link.state == "stopped"
    assert (
        offline[0]
        == "Phone offline — The phone could not start: No module named pjsua2; restarting in 0.1 s."
    )
