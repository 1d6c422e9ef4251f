"""`csr-bench phone`: the softphone in a real console, through Kamailio, call after call.

Kamailio (tests/sip/kamailio.cfg) on loopback; a real console (Console.build, offscreen Qt, qasync) whose
PhoneController runs the phone process signed in as seat 1001; a second phone process plays the phone
company and calls the seat ``calls`` times, one at a time, 0.2 s apart (a phone frees a call's media
sockets ~0.5 s after it ends; back-to-back calls exhaust them — docs/phone.md).

- ``invite_to_ringing_bubble``: the caller's phone stamps the INVITE as it sends it → the console paints
  the ringing call in the phone bar beside the bubbles (a paint event of its status label).
- ``answer_key_to_200ok``: the CSR's key on the focused Answer control (the same ``_answer`` F2 takes
  after asking the server for the claim) → the caller's phone stamps the 200 OK as it reads it.
- ``calls_failed``: calls that did not ring, connect or end within 10 s each.
- ``phone_rss_mb``: the console's phone process after the run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .sip_lab import find_kamailio, start_kamailio
from .stats import summary

GAP_S = 0.2
STEP_TIMEOUT_S = 10.0


def run_phone(calls: int) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_API", "pyside6")
    binary = find_kamailio()
    if binary is None:
        raise SystemExit("csr-bench phone: kamailio is not installed (apt-get install kamailio)")
    import qasync
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from console.composition import Console
    from console.settings import open_settings
    from sync.phone_link import PhoneLink, phone_command

    app = QApplication.instance() or QApplication([])
    loop = qasync.QEventLoop(app, already_running=False)
    asyncio.set_event_loop(loop)
    folder = Path(tempfile.mkdtemp(prefix="csr-bench-phone-"))
    kamailio = start_kamailio(binary, folder / "kamailio")
    console = Console.build(folder / "cache.sqlite3", open_settings(folder))
    window, phone = console.window, console.phone
    assert phone is not None
    window.show()

    class PaintStamp(QObject):
        """Stamps the first paint of the status label after it started saying "Ringing"."""

        def __init__(self) -> None:
            super().__init__()
            self.painted: asyncio.Future[float] | None = None

        def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
            if (
                event.type() == QEvent.Type.Paint
                and self.painted is not None
                and not self.painted.done()
                and phone.bar.status.text().startswith("Ringing")
            ):
                self.painted.set_result(time.time())
            return False

    stamp = PaintStamp()
    phone.bar.status.installEventFilter(stamp)
    carrier = PhoneLink(
        phone_command(null_audio=True, bind="127.0.0.1"), stderr_path=str(folder / "carrier.log")
    )
    ring_ms: list[float] = []
    answer_ms: list[float] = []
    failed = 0
    out: dict[str, Any] = {}

    async def one_call() -> None:
        nonlocal failed
        stamp.painted = loop.create_future()
        calling = carrier.wait_for(lambda e: e["event"] == "call" and e["state"] == "calling", STEP_TIMEOUT_S)
        ok = carrier.wait_for(
            lambda e: e["event"] == "call" and e["state"] in ("connecting", "confirmed") and e["code"] == 200,
            STEP_TIMEOUT_S,
        )
        ended = carrier.wait_for(
            lambda e: e["event"] == "call" and e["state"] == "disconnected", STEP_TIMEOUT_S
        )
        try:
            carrier.send({"cmd": "call", "to": kamailio.seat_uri("1001")})
            invite_at = (await calling)["t"]
            painted_at = await asyncio.wait_for(stamp.painted, STEP_TIMEOUT_S)
            ring_ms.append((painted_at - invite_at) * 1000)
            phone.bar.answer.setFocus()
            pressed_at = time.time()
            QTest.keyClick(phone.bar.answer, " ")  # Space presses the focused Answer
            ok_at = (await ok)["t"]
            answer_ms.append((ok_at - pressed_at) * 1000)
            call = (await ok)["call"]
            carrier.send({"cmd": "hangup", "call": call})
            await ended
            deadline = time.monotonic() + STEP_TIMEOUT_S
            while phone.legs and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        except TimeoutError:
            failed += 1
            for fut in (calling, ok, ended):
                fut.cancel()
        await asyncio.sleep(GAP_S)

    async def scenario() -> None:
        ready = carrier.wait_for(lambda e: e["event"] == "ready", 20)
        carrier.start()
        await ready
        registered = carrier.wait_for(lambda e: e["event"] == "registration", 10)
        carrier.register({"registrar": kamailio.registrar, "user": "5550100", "password": "pw-5550100"})
        assert (await registered)["state"] == "registered"
        phone.command = phone_command(null_audio=True, bind="127.0.0.1")
        phone.stderr_path = str(folder / "phone.log")
        phone.start({"registrar": kamailio.registrar, "user": "1001", "password": "pw-1001"})
        deadline = time.monotonic() + 20
        while not phone.registered:
            if time.monotonic() > deadline:
                raise SystemExit("csr-bench phone: the console's phone did not sign in")
            await asyncio.sleep(0.05)
        from .uiprobe import Heartbeat

        beat = Heartbeat()  # how long the console's UI thread was blocked during the calls
        beat.start()
        started = time.monotonic()
        for _ in range(calls):
            await one_call()
        out["seconds"] = round(time.monotonic() - started, 1)
        beat.stop()
        out["ui_stall_max_ms"] = round(beat.stall_max_ms, 1)
        stats = await phone.link.request({"cmd": "stats"})
        out["phone_rss_mb"] = stats.get("rss_mb")

    try:
        loop.run_until_complete(scenario())
    finally:
        loop.run_until_complete(carrier.stop())
        loop.run_until_complete(console.aclose())
        console.shutdown()
        window.close()
        kamailio.stop()
        loop.close()
    return {
        "calls": calls,
        "calls_failed": failed,
        **summary("invite_to_ringing_bubble", ring_ms),
        **summary("answer_key_to_200ok", answer_ms),
        **out,
        "gap_between_calls_s": GAP_S,
    }
