"""The softphone in the assembled console, with real SIP: a real server rings a bubble (signed webhook),
the phone company's leg (a second phone process) reaches the CSR's seat through Kamailio carrying the
call's sid, F2 claims the bubble and answers the seat in one key (the caller sees 200 OK), the bar's
Hold/Mute/Keypad act on the call, a kill -9 of the phone mid-call shows "Phone offline" while the console
lives on and the phone comes back signed in, and Answer / Hang up work from the bar."""

from __future__ import annotations

import asyncio
import os
import signal

import aiohttp
import pytest
from PySide6.QtCore import Qt

from models.phone import format_phone
from sync.phone_link import phone_command
from tests.gui.helpers import until
from tests.gui.test_calls_console import CALLER, PASSWORD, TRACKING, post, running_server
from tests.sip.seats import Seat
from tests.sip.sip_fixtures import start_kamailio
from tests.tools import require_tool

pytest_plugins = ["tests.gui.conftest_sync"]


@pytest.fixture
def kamailio(tmp_path):
    """Kamailio on loopback (as tests/sip's fixture); the phone needs the pjsua2 wheel too."""
    require_tool("py:pjsua2")
    k = start_kamailio(require_tool("kamailio"), tmp_path / "kamailio")
    yield k
    k.stop()


@pytest.fixture
def server(loop, tmp_path):
    yield from running_server(loop, tmp_path)


def inbound_leg(sid: str, **more: str) -> dict[str, str]:
    """The Twilio webhook fields of CALLER's inbound call to TRACKING."""
    return {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": CALLER, "To": TRACKING,
            "Direction": "inbound", "ApiVersion": "2010-04-01", **more}  # fmt: skip


async def signed_in(desks, url: str):
    """Dana's console, shown, signed in to the server and online."""
    a = desks("a")
    a.window.show()
    await a.sync.sign_in_with(url, "dana", PASSWORD)
    await until(lambda: a.window.sync_status.state == "online", 20)
    return a


async def phone_ready(desk, kamailio, log=None) -> None:
    """Start the console's phone (null audio) signed in as 1001 at Kamailio, and wait until it says so."""
    desk.phone.command = phone_command(null_audio=True, bind="127.0.0.1")
    if log is not None:
        desk.phone.stderr_path = str(log)
    desk.phone.start({"registrar": kamailio.registrar, "user": "1001", "password": "pw-1001"})
    await until(lambda: desk.phone.bar.status.text() == "Phone ready — 1001", 20)


def reported_phone_states(desk) -> list[tuple[str, str]]:
    """What the server acknowledged of this console's phone (the floor board's Phone column), in order."""
    told: list[tuple[str, str]] = []
    report = desk.sync.report_phone

    async def reporting(state: str, message: str = "") -> None:
        await report(state, message)
        told.append((state, message))

    desk.sync.report_phone = reporting
    return told


def give_dana_seat_1001(sessions, kamailio, monkeypatch, **more: str) -> None:
    """Dana's seat on the server (as `csr-server phone-seat set`): 1001 at Kamailio; no OS keyring here,
    so the console asks for the SIP password."""
    from sync.phone_seats import set_seat

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    set_seat(sessions, "dana", {"sip_address": kamailio.seat_uri("1001"), "registrar": kamailio.registrar,
                                "user": "1001", "transport": "udp", **more})  # fmt: skip


def password_dialog(desk):
    from PySide6.QtWidgets import QInputDialog

    return desk.window.findChild(QInputDialog, "phonePasswordDialog")


def test_f2_claims_and_answers_then_hold_mute_keypad_kill9_and_hang_up(
    qtbot, loop, server, desks, kamailio, tmp_path
):
    url, webhooks, _sessions, _customer_id, _campaign = server
    sid = "CA" + "6" * 32
    leg = inbound_leg(sid)

    async def scenario() -> None:
        a = await signed_in(desks, url)
        carrier = Seat(kamailio, "5550100", tmp_path)  # the phone company's side of <Dial><Sip>
        await carrier.start()
        phone, bar = a.phone, a.phone.bar
        told = reported_phone_states(a)
        try:
            await phone_ready(a, kamailio, tmp_path / "console-phone.log")
            assert bar.isVisible() and not bar.answer.isEnabled() and not bar.hangup.isEnabled()
            await until(lambda: told and told[-1] == ("registered", ""))

            async with aiohttp.ClientSession() as http:
                await post(http, webhooks, "/telephony/twilio/voice", {**leg, "CallStatus": "ringing"})
            await until(lambda: a.window.bubble_strip.call_ids())
            call_id = a.window.bubble_strip.call_ids()[0]
            placed = await carrier.do("call", to=kamailio.seat_uri("1001"), headers={"X-CSR-Call-Sid": sid})
            theirs = placed["call"]
            await until(lambda: any(v.get("provider_call_id") == sid for v in phone.legs.values()))
            assert bar.answer.isEnabled() and "Ringing" in bar.status.text()
            # The bar names the caller as the bubble does, not the carrier's SIP address.
            assert format_phone(CALLER) in bar.status.text() and "sip:" not in bar.status.text()

            answered = carrier.next("call", call=theirs, state="confirmed")
            qtbot.keyClick(a.window.lookup.search, Qt.Key.Key_F2)  # one key: claim and answer
            assert (await answered)["code"] == 200
            await until(lambda: a.calls.cards[call_id].claimed_by_id == a.calls.me)
            await until(lambda: bar.hold.isEnabled())

            held = carrier.next("media", call=theirs, hold="remote")
            qtbot.mouseClick(bar.hold, Qt.MouseButton.LeftButton)
            await held
            await until(lambda: bar.hold.isChecked())
            resumed = carrier.next("media", call=theirs, hold="none")
            bar.hold.setFocus()
            qtbot.keyClick(bar.hold, Qt.Key.Key_Space)  # the keyboard reaches it too
            await resumed

            qtbot.mouseClick(bar.mute, Qt.MouseButton.LeftButton)
            await until(lambda: phone.current() and phone.current().get("muted") is True)

            tone = carrier.next("dtmf", call=theirs, digit="7")
            qtbot.mouseClick(bar.keypad, Qt.MouseButton.LeftButton)
            assert bar.entry.hasFocus() and bar.entry.accessibleName() == "Keypad digits"
            qtbot.keyClicks(bar.entry, "7")
            await tone
            qtbot.keyClick(bar.entry, Qt.Key.Key_Escape)
            assert not bar.entry.isVisible()

            # kill -9 mid-call: the console lives on, says so, and the phone comes back signed in.
            first = phone.link.pid
            os.kill(first, signal.SIGKILL)
            await until(lambda: bar.status.text().startswith("Phone offline"), 10)
            assert not bar.hangup.isEnabled() and a.window.isVisible()
            await until(lambda: bar.status.text() == "Phone ready — 1001", 20)
            assert phone.link.pid != first
            # the server heard it go offline (with the CSR's sentence) and come back
            crashed = [m for s, m in told if s == "offline"]
            assert crashed and any(m.startswith("Phone offline") for m in crashed), told
            await until(lambda: told[-1] == ("registered", ""))
            await carrier.do("hangup", call=theirs)

            # Answer and Hang up from the bar (a call with no bubble, e.g. an internal one).
            ringing = carrier.next("call", state="early", timeout=10)
            second = (await carrier.do("call", to=kamailio.seat_uri("1001")))["call"]
            await ringing
            await until(lambda: bar.answer.isEnabled())
            connected = carrier.next("call", call=second, state="confirmed")
            qtbot.mouseClick(bar.answer, Qt.MouseButton.LeftButton)
            await connected
            await until(lambda: bar.hangup.isEnabled() and bar.hold.isEnabled())
            over = carrier.next("call", call=second, state="disconnected")
            qtbot.mouseClick(bar.hangup, Qt.MouseButton.LeftButton)
            await over
            await until(lambda: not bar.hangup.isEnabled())
            for w in (bar.answer, bar.hold, bar.mute, bar.transfer, bar.keypad, bar.hangup):
                assert w.accessibleName() and w.objectName().startswith("phone")
                assert w.focusPolicy() & Qt.FocusPolicy.TabFocus
        finally:
            await carrier.stop()

    loop.run_until_complete(scenario())


def test_the_seat_comes_from_the_server_and_a_wrong_password_is_asked_again(
    qtbot, loop, server, desks, kamailio, tmp_path, monkeypatch
):
    url, _webhooks, sessions, _customer_id, _campaign = server
    give_dana_seat_1001(sessions, kamailio, monkeypatch)

    def dialog():
        return password_dialog(a)

    async def scenario() -> None:
        nonlocal a
        a = desks("a")
        a.phone.command = phone_command(null_audio=True, bind="127.0.0.1")
        a.phone.stderr_path = str(tmp_path / "console-phone.log")
        a.window.show()
        await a.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: dialog() is not None and dialog().isVisible(), 10)
        assert "SIP password for 1001 at " + kamailio.registrar in dialog().labelText()
        dialog().setTextValue("wrong")
        dialog().accept()
        await until(lambda: dialog() is not None and "refused the SIP password" in dialog().labelText(), 15)
        assert a.phone.bar.status.text().startswith("The registrar refused the SIP password for 1001")
        dialog().setTextValue("pw-1001")
        dialog().accept()
        await until(lambda: a.phone.bar.status.text() == "Phone ready — 1001", 15)
        assert a.phone.secrets.memory == {f"1001@{kamailio.registrar}": "pw-1001"}  # this session only

    a = None
    loop.run_until_complete(scenario())


def test_warm_transfer_from_the_bar_consult_then_complete(qtbot, loop, desks, kamailio, tmp_path):
    async def scenario() -> None:
        a = desks("a")
        a.window.show()
        carrier, colleague = Seat(kamailio, "5550105", tmp_path), Seat(kamailio, "1002", tmp_path)
        await carrier.start()
        await colleague.start()
        phone, bar = a.phone, a.phone.bar
        try:
            await phone_ready(a, kamailio)
            ringing = carrier.next("call", state="early", timeout=10)
            theirs = (await carrier.do("call", to=kamailio.seat_uri("1001")))["call"]
            await ringing
            await until(lambda: bar.answer.isEnabled())
            qtbot.mouseClick(bar.answer, Qt.MouseButton.LeftButton)
            await until(lambda: bar.consult.isEnabled())
            assert not bar.complete.isEnabled() and not bar.back.isEnabled()

            rings = colleague.next("incoming", timeout=10)
            held = carrier.next("media", call=theirs, hold="remote")
            qtbot.mouseClick(bar.consult, Qt.MouseButton.LeftButton)
            assert bar.entry.hasFocus() and bar.entry.accessibleName() == "Consult"
            qtbot.keyClicks(bar.entry, "1002")
            qtbot.keyClick(bar.entry, Qt.Key.Key_Return)
            await held  # the caller waits on hold while the CSR consults
            consulted = await rings
            await colleague.do("answer", call=consulted["call"])
            await until(lambda: bar.complete.isEnabled() and bar.back.isEnabled())

            moved = carrier.next("transferred", call=theirs, timeout=10)
            joined = colleague.next("replaced", call=consulted["call"], timeout=10)
            qtbot.mouseClick(bar.complete, Qt.MouseButton.LeftButton)
            new_call = (await moved)["new_call"]
            await joined
            await until(lambda: not phone.legs and not bar.hangup.isEnabled(), 10)
            assert phone.consulting is None
            await carrier.do("hangup", call=new_call)
        finally:
            await carrier.stop()
            await colleague.stop()

    loop.run_until_complete(scenario())


def test_a_click_to_call_ringing_the_seat_is_answered_by_itself(qtbot, loop, desks, kamailio, tmp_path):
    async def scenario() -> None:
        a = desks("a")
        a.window.show()
        carrier = Seat(kamailio, "5550106", tmp_path)  # the phone company, ringing the seat first
        await carrier.start()
        phone, bar = a.phone, a.phone.bar
        try:
            await phone_ready(a, kamailio)
            # A call nobody asked for keeps ringing (the X-CSR-Dial of a click-to-call from elsewhere).
            ringing = carrier.next("call", state="early", timeout=10)
            stray = await carrier.do(
                "call", to=kamailio.seat_uri("1001"), headers={"X-CSR-Dial": "+12145550177"}
            )
            await ringing
            await asyncio.sleep(0.3)
            assert bar.answer.isEnabled() and not phone.answer_sent_at
            await carrier.do("hangup", call=stray["call"])
            await until(lambda: not phone.legs)
            await asyncio.sleep(0.3)

            a.window.customer_panel.callContactRequested.emit("+12145550177", "")  # the CSR clicked Call
            answered = carrier.next("call", state="confirmed", timeout=10)
            placed = await carrier.do(
                "call", to=kamailio.seat_uri("1001"), headers={"X-CSR-Dial": "+12145550177"}
            )
            assert (await answered)["call"] == placed["call"]  # answered with no key pressed
            await until(lambda: bar.hangup.isEnabled() and bar.hold.isEnabled())
            await carrier.do("hangup", call=placed["call"])
        finally:
            await carrier.stop()

    loop.run_until_complete(scenario())


def test_answered_on_the_softphone_is_claimed_when_the_company_says_so(
    qtbot, loop, server, desks, kamailio, tmp_path
):
    from sync.phone_seats import set_phone_settings

    url, webhooks, sessions, _customer_id, _campaign = server
    set_phone_settings(sessions, auto_claim=True)
    sid = "CA" + "4" * 32
    leg = inbound_leg(sid, CallStatus="ringing")

    async def scenario() -> None:
        a = await signed_in(desks, url)
        assert a.phone.auto_claim is True
        carrier = Seat(kamailio, "5550107", tmp_path)
        await carrier.start()
        bar = a.phone.bar
        try:
            await phone_ready(a, kamailio)
            async with aiohttp.ClientSession() as http:
                await post(http, webhooks, "/telephony/twilio/voice", leg)
            await until(lambda: a.window.bubble_strip.call_ids())
            call_id = a.window.bubble_strip.call_ids()[0]
            placed = await carrier.do("call", to=kamailio.seat_uri("1001"), headers={"X-CSR-Call-Sid": sid})
            await until(lambda: bar.answer.isEnabled())
            answered = carrier.next("call", call=placed["call"], state="confirmed")
            qtbot.mouseClick(bar.answer, Qt.MouseButton.LeftButton)  # not the bubble, not F2
            await answered
            await until(lambda: a.calls.cards[call_id].claimed_by_id == a.calls.me, 10)
            await carrier.do("hangup", call=placed["call"])
        finally:
            await carrier.stop()

    loop.run_until_complete(scenario())


def test_a_seat_ring_device_this_pc_lacks_is_told_in_the_status_line(
    qtbot, loop, server, desks, kamailio, tmp_path, monkeypatch
):
    """The server's seat names a ring device: the console passes it to the phone (real audio backend,
    not the null device), which has no such device — the CSR reads why in the status line, and the seat
    still signs in (it rings on the headset)."""
    url, _webhooks, sessions, _customer_id, _campaign = server
    give_dana_seat_1001(sessions, kamailio, monkeypatch, ring_device="CSR ring")

    async def scenario() -> None:
        a = desks("a")
        a.phone.command = phone_command(null_audio=False, bind="127.0.0.1")
        a.phone.stderr_path = str(tmp_path / "console-phone.log")
        a.window.show()
        told = []
        a.phone.errorOccurred.connect(told.append)
        await a.sync.sign_in_with(url, "dana", PASSWORD)

        def dialog():
            return password_dialog(a)

        await until(lambda: dialog() is not None and dialog().isVisible(), 10)
        dialog().setTextValue("pw-1001")
        dialog().accept()
        await until(lambda: a.phone.bar.status.text() == "Phone ready — 1001", 15)
        await until(lambda: any("The ring device “CSR ring” is not on this PC" in t for t in told), 5)
        shown = a.window.statusBar().currentMessage()
        assert shown.startswith("The ring device “CSR ring” is not on this PC (found: ")
        assert shown.endswith("the phone rings on the headset.")

    loop.run_until_complete(scenario())
