"""The ring tone: while a call rings the phone loops a tone on the seat's ring device (the headset when
there is none); answer or hang-up stops it and the call's audio goes to the headset. A ring device this
PC lacks is told, and it rings on the headset.

What can be checked here: this pjsua2 wheel has no sound-device backend at all (no ALSA: it does not
link libasound, and an ALSA null PCM named in an asoundrc is not listed), so its device list is always
empty. The tests therefore check the phone's events with the null audio device (the tone really is
connected to the output slot of pjsua's conference bridge while ringing, and gone on answer) and the
not-found path with the real backend; a real ring device is checked by hand (docs/phone.md)."""

from __future__ import annotations

import asyncio

import pytest

from tests.sip.seats import Seat, seats

pytestmark = pytest.mark.usefixtures("phone_tools")


def _index(events, **fields):
    return next(i for i, e in enumerate(events) if all(e.get(k) == v for k, v in fields.items()))


def test_the_tone_plays_while_ringing_and_stops_on_answer_and_on_hang_up(kamailio, tmp_path):
    async def scenario():
        (caller,) = await seats(kamailio, tmp_path, "5550120")
        csr = Seat(kamailio, "1001", tmp_path)
        try:
            await csr.start(register=False)
            registered = csr.next("registration", timeout=10)
            csr.link.register({"registrar": kamailio.registrar, "user": "1001", "password": "pw-1001",
                               "output_device": "USB Headset", "ring_device": "Desk speaker"})  # fmt: skip
            assert (await registered)["state"] == "registered"
            # Null audio: no device is looked up (nothing is said about the names), all plays on the null device.
            assert not [e for e in csr.events if e["event"] == "device"]

            rings = csr.next("ring", ringing=True)
            incoming = csr.next("incoming")
            placed = await caller.do("call", to=csr.uri)
            leg = (await incoming)["call"]
            ring = await rings
            assert ring["call"] == leg and ring["device"] == "null audio device"
            assert ring["playing"] is True  # the tone is connected to the bridge's output slot

            stopped = csr.next("ring", ringing=False, call=leg)
            media = csr.next("media", call=leg)
            answered = caller.next("call", call=placed["call"], state="confirmed")
            await csr.do("answer", call=leg)
            await answered
            assert (await media)["output"] == "null audio device"
            await stopped
            # The ring stops before the call's audio is connected.
            assert _index(csr.events, event="ring", ringing=False) < _index(
                csr.events, event="media", call=leg
            )
            over = csr.next("call", call=leg, state="disconnected")
            await caller.do("hangup", call=placed["call"])
            await over

            # A caller who gives up while it rings: the tone stops too.
            await asyncio.sleep(0.3)  # pitfall 4
            rings = csr.next("ring", ringing=True)
            incoming = csr.next("incoming")
            placed = await caller.do("call", to=csr.uri)
            second = (await incoming)["call"]
            await rings
            stopped = csr.next("ring", ringing=False, call=second)
            await caller.do("hangup", call=placed["call"])
            await stopped
            assert (await csr.do("stats"))["calls"] == 0
        except BaseException:
            print("CSR", csr.events)
            raise
        finally:
            await csr.stop()
            await caller.stop()

    asyncio.run(scenario())


def test_a_ring_device_that_is_not_there_is_told_and_it_rings_on_the_headset(kamailio, tmp_path):
    """With the real audio backend (no --null-audio): the seat's ring device is not on this PC — told
    once with the devices found, the phone signs in, and a call rings on the headset (the system's
    default here; on this sound-card-less machine opening it fails, which is told too) and is answered."""

    async def scenario():
        (caller,) = await seats(kamailio, tmp_path, "5550121")
        csr = Seat(kamailio, "1001", tmp_path)
        csr.link.command = [c for c in csr.link.command if c != "--null-audio"]
        try:
            await csr.start(register=False)
            told = csr.next("device", kind="ring device")
            registered = csr.next("registration", timeout=10)
            csr.link.register({"registrar": kamailio.registrar, "user": "1001", "password": "pw-1001",
                               "ring_device": "CSR ring"})  # fmt: skip
            event = await told
            assert not event["found"]
            assert event["message"].startswith("The ring device “CSR ring” is not on this PC (found: ")
            assert event["message"].endswith("the phone rings on the headset.")
            assert (await registered)["state"] == "registered"

            rang = csr.link.wait_for(
                lambda e: (
                    (e["event"] == "ring" and e.get("ringing"))
                    or (
                        e["event"] == "device"
                        and e.get("kind") == "ring device"
                        and "could not ring" in e["message"]
                    )
                ),
                5,
            )
            incoming = csr.next("incoming")
            placed = await caller.do("call", to=csr.uri)
            leg = (await incoming)["call"]
            where = await rang
            if where["event"] == "ring":  # a PC with a sound card: it rings on the default output
                assert where["device"] == "the system's default"
            else:  # this machine: no sound device at all, said so
                assert where["message"].startswith("The phone could not ring on the system's default (")
            answered = caller.next("call", call=placed["call"], state="confirmed")
            await csr.do("answer", call=leg)
            assert (await answered)["code"] == 200
            await caller.do("hangup", call=placed["call"])
        except BaseException:
            print("CSR", csr.events)
            raise
        finally:
            await csr.stop()
            await caller.stop()

    asyncio.run(scenario())


def test_a_direct_seat_is_told_about_its_ring_device_too(tmp_path):
    """A direct seat (listen, no registrar) takes the seat's devices like a registered one."""
    from sync.phone_link import PhoneLink, phone_command

    async def scenario():
        events: list[dict] = []
        link = PhoneLink(phone_command(bind="127.0.0.1"), on_event=events.append,
                         stderr_path=str(tmp_path / "phone.log"))  # fmt: skip
        ready = link.wait_for(lambda e: e["event"] == "ready", 15)
        link.start()
        await ready
        try:
            told = link.wait_for(lambda e: e["event"] == "device" and e.get("kind") == "ring device", 10)
            listening = link.wait_for(lambda e: e["event"] == "registration", 10)
            link.listen("sip:dana@127.0.0.1:0", {"ring_device": "CSR ring"})
            assert (await told)["message"].startswith("The ring device “CSR ring” is not on this PC")
            assert (await listening)["state"] == "listening"
            assert link.registration["ring_device"] == "CSR ring"  # replayed after a restart
        finally:
            await link.stop()

    asyncio.run(scenario())
