"""The phone process through Kamailio: ring → answer → hold/resume → DTMF → transfer → hang-up."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.sip.seats import Seat, seats

pytestmark = pytest.mark.usefixtures("phone_tools")


def test_ring_answer_hold_dtmf_mute_transfer_hangup(kamailio, tmp_path):
    async def scenario():
        csr, other, caller = await seats(kamailio, tmp_path, "1001", "1002", "5550100")
        try:
            ringing = csr.next("incoming")
            early = caller.next("call", state="early")
            placed = await caller.do("call", to=csr.uri)
            incoming = await ringing
            assert incoming["remote"].endswith("5550100@127.0.0.1>")
            theirs = placed["call"]
            assert (await early)["code"] == 180

            answered = caller.next("call", call=theirs, state="confirmed")
            await csr.do("answer", call=incoming["call"])
            assert (await answered)["code"] == 200  # the caller saw 200 OK

            held = caller.next("media", call=theirs, hold="remote")
            # The CSR's own side too: a resume sent before its hold re-INVITE completed is refused
            # (PJ_EINVALIDOP) — seen on a loaded machine.
            held_here = csr.next("media", call=incoming["call"], hold="local")
            await csr.do("hold", call=incoming["call"])
            await asyncio.gather(held, held_here)
            resumed = caller.next("media", call=theirs, hold="none")
            resumed_here = csr.next("media", call=incoming["call"], hold="none")
            await csr.do("resume", call=incoming["call"])
            await asyncio.gather(resumed, resumed_here)  # digits sent before this are lost (loaded CI)

            digits = [caller.next("dtmf", call=theirs, digit=d) for d in "5#"]
            await csr.do("dtmf", call=incoming["call"], digits="5#")
            await asyncio.gather(*digits)

            muted = csr.next("muted", call=incoming["call"], muted=True)
            await csr.do("mute", call=incoming["call"])
            await muted

            # Blind transfer to the second seat: the caller follows the REFER and the CSR's leg ends.
            rings_other = other.next("incoming", timeout=10)
            followed = caller.next("transferred", call=theirs)
            csr_done = csr.next("call", call=incoming["call"], state="disconnected", timeout=10)
            await csr.do("transfer", call=incoming["call"], to=other.uri)
            new_call = (await followed)["new_call"]
            second = await rings_other
            connected = caller.next("call", call=new_call, state="confirmed")
            await other.do("answer", call=second["call"])
            await connected
            await csr_done

            over = caller.next("call", call=new_call, state="disconnected")
            await other.do("hangup", call=second["call"])
            await over
        except BaseException:
            print("CSR", csr.events, "\nCALLER", caller.events)
            raise
        finally:
            for s in (csr, other, caller):
                await s.stop()

    asyncio.run(scenario())


def test_kill_9_mid_call_goes_offline_and_comes_back_registered(kamailio, tmp_path):
    async def scenario():
        csr, caller = await seats(kamailio, tmp_path, "1001", "5550101")
        try:
            ringing = csr.next("incoming")
            placed = await caller.do("call", to=csr.uri)
            incoming = await ringing
            answered = caller.next("call", call=placed["call"], state="confirmed")
            await csr.do("answer", call=incoming["call"])
            await answered

            first_pid = csr.link.pid
            back = csr.next("registration", state="registered", timeout=15)
            os.kill(first_pid, signal.SIGKILL)
            await back
            assert any(s == "offline" and "Phone offline" in m for s, m in csr.states), csr.states
            assert csr.link.state == "online" and csr.link.pid != first_pid
            assert csr.link.restarts == 1

            # The restarted phone takes the next call.
            await caller.do("hangup", call=placed["call"])
            await asyncio.sleep(0.3)
            ringing = csr.next("incoming")
            await caller.do("call", to=csr.uri)
            assert (await ringing)["call"]
        finally:
            await csr.stop()
            await caller.stop()

    asyncio.run(scenario())


def test_wrong_password_is_told_once_and_never_retried(kamailio, tmp_path):
    async def scenario():
        seat = Seat(kamailio, "1001", tmp_path, password="not-the-password")
        try:
            refused = await seat.start()
            assert refused["state"] == "auth_failed" and refused["code"] == 401
            assert "refused the SIP password for 1001" in refused["message"]
            sent = kamailio.count("REGISTER 1001")
            await asyncio.sleep(3)
            assert kamailio.count("REGISTER 1001") == sent <= 2  # no retry storm
            assert [e for e in seat.events if e["event"] == "registration"] == [refused]
            assert seat.link.state == "online"
        finally:
            await seat.stop()

    asyncio.run(scenario())


def test_a_registrar_that_does_not_answer_is_told(kamailio, tmp_path):
    async def scenario():
        seat = Seat(kamailio, "1001", tmp_path)
        try:
            await seat.start(register=False)
            told = seat.next("registration", timeout=10)
            seat.link.register({"registrar": "sip:127.0.0.1:9", "user": "1001", "password": "x"})
            event = await told
            assert event["state"] == "unreachable"
            assert "sip:127.0.0.1:9 is not answering" in event["message"]
        finally:
            await seat.stop()

    asyncio.run(scenario())


def test_malformed_uri_is_a_clear_error_and_the_phone_lives_on(kamailio, tmp_path):
    async def scenario():
        (seat,) = await seats(kamailio, tmp_path, "1001")
        try:
            answer = await seat.link.request({"cmd": "call", "to": "sip:not a uri"})
            assert answer["event"] == "error"
            assert "is not a SIP address" in answer["message"]
            bad_registrar = await seat.link.request(
                {"cmd": "register", "registrar": "http://x", "user": "1", "password": "p"}
            )
            assert "registrar “http://x” is not a SIP address" in bad_registrar["message"]
            nothing = await seat.link.request({"cmd": "answer", "call": "c99"})
            assert "no call c99" in nothing["message"]
            stats = await seat.do("stats")
            assert stats["calls"] == 0 and stats["rss_mb"] < 60
        finally:
            await seat.stop()

    asyncio.run(scenario())


def test_a_seat_already_on_a_call_answers_busy(kamailio, tmp_path):
    async def scenario():
        csr, first, second = await seats(kamailio, tmp_path, "1001", "5550102", "5550103")
        try:
            ringing = csr.next("incoming")
            placed = await first.do("call", to=csr.uri)
            incoming = await ringing
            confirmed = first.next("call", call=placed["call"], state="confirmed")
            await csr.do("answer", call=incoming["call"])
            await confirmed

            told = csr.next("busy")
            over = second.next("call", state="disconnected")
            refused = await second.do("call", to=csr.uri)
            ended = await over
            assert ended["call"] == refused["call"]
            assert ended["code"] == 486
            assert (await told)["remote"].endswith("5550103@127.0.0.1>")
        finally:
            for s in (csr, first, second):
                await s.stop()

    asyncio.run(scenario())


def test_warm_transfer_consult_then_complete(kamailio, tmp_path):
    """The CSR holds the caller, consults a second seat, then joins the caller to it (REFER/Replaces)."""

    async def scenario():
        csr, other, caller = await seats(kamailio, tmp_path, "1001", "1002", "5550104")
        try:
            ringing = csr.next("incoming")
            placed = await caller.do("call", to=csr.uri)
            first = (await ringing)["call"]
            up = caller.next("call", call=placed["call"], state="confirmed")
            await csr.do("answer", call=first)
            await up

            held = caller.next("media", call=placed["call"], hold="remote")
            await csr.do("hold", call=first)
            await held
            rings_other = other.next("incoming")
            consult = (await csr.do("call", to=other.uri))["call"]
            theirs = (await rings_other)["call"]
            talking = csr.next("call", call=consult, state="confirmed")
            await other.do("answer", call=theirs)
            await talking

            followed = caller.next("transferred", call=placed["call"], timeout=10)
            joined = other.next("replaced", call=theirs, timeout=10)
            first_done = csr.next("call", call=first, state="disconnected", timeout=10)
            consult_done = csr.next("call", call=consult, state="disconnected", timeout=10)
            await csr.do("complete_transfer", call=first, other=consult)
            new_call = (await followed)["new_call"]
            assert (await joined)["remote"].endswith("5550104@127.0.0.1>")
            await asyncio.gather(first_done, consult_done)
            stats = await csr.do("stats")
            assert stats["calls"] == 0  # the CSR is free; caller and second seat talk
            over = other.next("call", state="disconnected", timeout=10)
            await caller.do("hangup", call=new_call)
            await over
        finally:
            for s in (csr, other, caller):
                await s.stop()

    asyncio.run(scenario())


def test_a_seat_device_that_is_not_there_is_told_and_the_default_used(kamailio, tmp_path):
    """The seat names a headset this PC lacks (this machine has no sound card at all): a clear message,
    and the phone still signs in (with real audio, not the null device)."""

    async def scenario():
        seat = Seat(kamailio, "1001", tmp_path)
        seat.link.command = [c for c in seat.link.command if c != "--null-audio"]
        try:
            await seat.start(register=False)
            told = seat.next("device", kind="headset")
            registered = seat.next("registration", timeout=10)
            seat.link.register({"registrar": kamailio.registrar, "user": "1001", "password": "pw-1001",
                                "output_device": "USB Headset"})  # fmt: skip
            event = await told
            assert not event["found"] and "The headset “USB Headset” is not on this PC" in event["message"]
            assert (await registered)["state"] == "registered"
        finally:
            await seat.stop()

    asyncio.run(scenario())
