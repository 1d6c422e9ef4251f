"""Sound through real sound devices: the phone process (without --null-audio) plays the call into the
seat's headset and sends its microphone, rings on the ring device, and mutes for real.

The devices are a private PulseAudio's null sinks named by an ALSA config (tests/sip/pulse.py): clocked
like a sound card, so what the phone played is recorded from the sink's monitor, and a tone played into
a "microphone" sink is what the seat's microphone hears. Two real phone processes call each other
straight (direct seats over loopback, G.722). What crosses is checked by its spectrum."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from bench import pulse_lab as pulse
from sync.phone_link import PhoneLink, phone_command
from tests.tools import require_tool

pytestmark = pytest.mark.usefixtures("phone_tools")


@pytest.fixture
def sound(tmp_path, monkeypatch):
    """The private PulseAudio, its devices seen by the phone processes this test starts."""
    problem = pulse.missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {problem}")
        pytest.skip(problem)
    require_tool("py:sounddevice")
    server = pulse.PrivatePulse(tmp_path).start()
    for key, value in server.env.items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop()


class SoundSeat:
    """A direct seat (no registrar) on a phone process with sound."""

    def __init__(self, name: str, tmp_path) -> None:
        self.name = name
        self.events: list[dict] = []
        self.link = PhoneLink(phone_command(bind="127.0.0.1"), on_event=self.events.append,
                              stderr_path=str(tmp_path / f"phone-{name}.log"))  # fmt: skip
        self.uri = ""

    def next(self, event: str, timeout: float = 10.0, **fields):
        return self.link.wait_for(
            lambda e: e["event"] == event and all(e.get(k) == v for k, v in fields.items()), timeout
        )

    async def start(self, **devices: str) -> dict:
        ready = self.next("ready", 15)
        listed = self.next("devices", 15)
        self.link.start()
        await ready
        listing = await listed
        listening = self.next("registration")
        self.link.listen(f"sip:{self.name}@127.0.0.1:0", devices)
        event = await listening
        assert event["state"] == "listening", event
        self.uri = event["address"]
        return listing

    async def do(self, cmd: str, **fields) -> dict:
        answer = await self.link.request({"cmd": cmd, **fields})
        assert answer["event"] == "ok", answer
        return answer

    async def stop(self) -> None:
        await self.link.stop()


async def _record(server: pulse.PrivatePulse, source: str, seconds: float) -> bytes:
    return await asyncio.to_thread(server.record, source, seconds)


def _heard(pcm: bytes, hz: float) -> tuple[float, float]:
    return pulse.tone_share(pcm, hz)


async def _until_sound(server, source: str, hz: float, *, within: float = 8.0) -> tuple[float, float]:
    """Record ``source`` in short takes until ``hz`` dominates it (the streams take a moment to start)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    share = rms = 0.0
    while loop.time() < deadline:
        share, rms = _heard(await _record(server, source, 1.0), hz)
        if share > 0.9 and rms > 500:
            break
    return share, rms


@contextlib.asynccontextmanager
async def csr_and_caller(tmp_path, **csr_devices: str):
    """The CSR's seat "a" on ``csr_devices`` and the caller's seat "b" on headset B; their events shown
    when the test fails."""
    a, b = SoundSeat("a", tmp_path), SoundSeat("b", tmp_path)
    try:
        await a.start(**csr_devices)
        await b.start(input_device="csr_headset_b", output_device="csr_headset_b")
        yield a, b
    except BaseException:
        print("A", a.events)
        print("B", b.events)
        raise
    finally:
        await a.stop()
        await b.stop()


async def _place(a: SoundSeat, b: SoundSeat) -> tuple[str, dict]:
    """B calls A: A's leg id and B's ``call`` answer."""
    incoming = a.next("incoming")
    placed = await b.do("call", to=a.uri)
    return (await incoming)["call"], placed


async def _answer(a: SoundSeat, b: SoundSeat, leg: str, placed: dict) -> None:
    answered = b.next("call", call=placed["call"], state="confirmed")
    await a.do("answer", call=leg)
    await answered


HEADSET_A = {"input_device": "csr_headset_a", "output_device": "csr_headset_a"}


def test_the_phone_lists_this_pcs_sound_devices_by_name(sound, tmp_path):
    async def scenario():
        seat = SoundSeat("a", tmp_path)
        try:
            listing = await seat.start()
            assert listing["available"] is True
            assert {"csr_headset_a", "csr_headset_b", "csr_ring"} <= set(listing["outputs"])
            assert {"csr_headset_a", "csr_headset_b"} <= set(listing["inputs"])
            assert "csr_ring" not in listing["inputs"]  # playback only
            again = await seat.do("list_devices")
            assert again["outputs"] == listing["outputs"]
        finally:
            await seat.stop()

    asyncio.run(scenario())


def test_a_call_carries_sound_both_ways_mutes_and_holds_for_real(sound, tmp_path):
    async def scenario():
        sound.speak("a_mic", 440)  # what CSR A says
        sound.speak("b_mic", 1000)  # what the caller says
        async with csr_and_caller(tmp_path, **HEADSET_A) as (a, b):
            assert [e for e in a.events if e["event"] == "device" and not e["found"]] == []

            # It rings on the headset (no ring device), and the ring is really played there.
            rings = a.next("ring", ringing=True)
            leg, placed = await _place(a, b)
            ring = await rings
            assert ring["device"] == "csr_headset_a" and ring["playing"] is True
            share, _ = _heard(await _record(sound, "a_spk.monitor", 1.0), 440)
            share480, _ = _heard(await _record(sound, "a_spk.monitor", 1.0), 480)
            assert share + share480 > 0.3, (share, share480)  # the 440+480 Hz ring (with its pauses)

            media = a.next("media", call=leg)
            await _answer(a, b, leg, placed)
            assert (await media)["output"] == "csr_headset_a"

            # The caller's voice reaches A's headset; A's microphone reaches the caller.
            share, rms = await _until_sound(sound, "a_spk.monitor", 1000)
            assert share > 0.9 and rms > 500, (share, rms)
            share, rms = await _until_sound(sound, "b_spk.monitor", 440)
            assert share > 0.9 and rms > 500, (share, rms)

            # Mute: the caller hears nothing of A; A still hears the caller.
            await a.do("mute", call=leg)
            await asyncio.sleep(0.3)
            _, rms = _heard(await _record(sound, "b_spk.monitor", 1.0), 440)
            assert rms < 50, rms
            share, rms = _heard(await _record(sound, "a_spk.monitor", 1.0), 1000)
            assert share > 0.9 and rms > 500, (share, rms)
            await a.do("unmute", call=leg)
            share, rms = await _until_sound(sound, "b_spk.monitor", 440)
            assert share > 0.9 and rms > 500, (share, rms)

            # Hold: silence both ways; resume: sound again.
            held = a.next("media", call=leg, hold="local")
            await a.do("hold", call=leg)
            await held
            await asyncio.sleep(0.3)
            _, rms = _heard(await _record(sound, "a_spk.monitor", 1.0), 1000)
            assert rms < 50, rms
            resumed = a.next("media", call=leg, hold="none")
            await a.do("resume", call=leg)
            await resumed
            share, rms = await _until_sound(sound, "a_spk.monitor", 1000)
            assert share > 0.9 and rms > 500, (share, rms)

            stats = (await a.do("stats"))["sound"]
            assert stats["headset"]["open"] and stats["microphone"]["open"], stats
            assert stats["headset"]["rate"] == 16000
            assert stats["headset"]["fill_ms"] <= 120, stats  # the latency is kept down

            over = a.next("call", call=leg, state="disconnected")
            await b.do("hangup", call=placed["call"])
            await over
            for _ in range(50):  # no call: the headset and the microphone are closed
                stats = (await a.do("stats"))["sound"]
                if not stats["headset"]["open"] and not stats["microphone"]["open"]:
                    break
                await asyncio.sleep(0.1)
            assert not stats["headset"]["open"] and not stats["microphone"]["open"], stats

    asyncio.run(scenario())


def test_the_ring_device_rings_and_the_headset_carries_the_call(sound, tmp_path):
    async def scenario():
        sound.speak("b_mic", 1000)
        async with csr_and_caller(tmp_path, **HEADSET_A, ring_device="csr_ring") as (a, b):
            rings = a.next("ring", ringing=True)
            leg, placed = await _place(a, b)
            ring = await rings
            assert ring["device"] == "csr_ring" and ring["playing"] is True
            ring_pcm, headset_pcm = await asyncio.gather(
                _record(sound, "ring_spk.monitor", 2.0), _record(sound, "a_spk.monitor", 2.0)
            )
            low, rms = _heard(ring_pcm, 440)
            high, _ = _heard(ring_pcm, 480)
            assert low + high > 0.8 and rms > 300, (low, high, rms)
            assert _heard(headset_pcm, 440)[1] < 50  # the headset is quiet while the speaker rings

            stopped = a.next("ring", ringing=False, call=leg)
            await _answer(a, b, leg, placed)
            await stopped
            share, rms = await _until_sound(sound, "a_spk.monitor", 1000)
            assert share > 0.9 and rms > 500, (share, rms)
            _, rms = _heard(await _record(sound, "ring_spk.monitor", 1.0), 440)
            assert rms < 50, rms  # the ring stopped
            assert not (await a.do("stats"))["sound"]["ring"]["open"]
            await b.do("hangup", call=placed["call"])

    asyncio.run(scenario())


def test_devices_switched_during_a_call_take_the_call_with_them(sound, tmp_path):
    """``set_devices`` mid-call: the call's sound moves to the other device at once."""

    async def scenario():
        sound.speak("b_mic", 1000)
        async with csr_and_caller(tmp_path, **HEADSET_A) as (a, b):
            leg, placed = await _place(a, b)
            await _answer(a, b, leg, placed)
            share, _ = await _until_sound(sound, "a_spk.monitor", 1000)
            assert share > 0.9
            # "csr_ring" has no microphone: told, and the system's default is used for it.
            told = a.next("device", kind="microphone")
            done = await a.do("set_devices", output_device="csr_ring", input_device="csr_ring")
            assert done["output"] == "csr_ring"
            assert (await told)["message"].startswith("The microphone “csr_ring” records nothing")
            share, rms = await _until_sound(sound, "ring_spk.monitor", 1000)
            assert share > 0.9 and rms > 500, (share, rms)
            _, rms = _heard(await _record(sound, "a_spk.monitor", 1.0), 1000)
            assert rms < 50, rms
            await b.do("hangup", call=placed["call"])

    asyncio.run(scenario())
