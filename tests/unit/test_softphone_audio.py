"""The softphone's sound plumbing without a sound device: the ring between two clocks, device names,
reading pjsua2's frames, and what is said when PortAudio is missing (sync/softphone_audio.py)."""

from __future__ import annotations

import builtins
import importlib.util
import os
import threading

import pytest

from sync import softphone_audio as audio
from sync.softphone_audio import ByteRing, Device, find_device

FRAME = audio.frame_bytes(16_000)  # 20 ms at 16 kHz: 640 bytes


def _frame(n: int) -> bytes:
    return bytes([n % 251]) * FRAME


def test_the_reader_waits_for_the_target_then_plays_in_order():
    ring = ByteRing(FRAME, target_frames=2)
    ring.write(_frame(1))
    assert ring.read(FRAME) == bytes(FRAME)  # not primed: silence, nothing taken
    ring.write(_frame(2))
    assert ring.read(FRAME) == _frame(1)
    assert ring.read(FRAME) == _frame(2)
    assert ring.delivered == 2 * FRAME and ring.underruns == 0


def test_an_underrun_pads_with_silence_and_waits_for_the_target_again():
    ring = ByteRing(FRAME, target_frames=2)
    ring.write(_frame(1) + _frame(2))
    ring.read(FRAME)
    ring.write(b"\x05\x05" * 10)
    out = ring.read(2 * FRAME)  # asks for more than there is
    assert out[:FRAME] == _frame(2) and out[FRAME : FRAME + 20] == b"\x05" * 20
    assert out[FRAME + 20 :] == bytes(FRAME - 20)
    assert ring.underruns == 1
    ring.write(_frame(3))
    assert ring.read(FRAME) == bytes(FRAME)  # re-priming
    ring.write(_frame(4))
    assert ring.read(FRAME) == _frame(3)


def test_a_writer_faster_than_the_reader_is_trimmed_back_to_the_target():
    """pjmedia's clock a little ahead of the sound card's: the spare latency is dropped, not kept."""
    ring = ByteRing(FRAME, target_frames=2, cap_frames=50, window=50)
    for i in range(10):
        ring.write(_frame(i))
    for i in range(10, 400):
        ring.write(_frame(i))
        if i % 20:  # every 20th read is skipped: the reader runs 5 % slow
            ring.read(FRAME)
    assert ring.trimmed > 0
    assert ring.fill() <= 4 * FRAME  # the latency stays near its target (40 ms), never the cap
    assert ring.overflowed == 0


def test_a_bursty_reader_is_not_trimmed():
    """A sound server that pulls two blocks every 40 ms has no spare latency to drop."""
    ring = ByteRing(FRAME, target_frames=2, window=50)

    def burst(start: int, end: int) -> None:
        for i in range(start, end, 2):  # two frames written, then two read at once
            ring.write(_frame(i))
            ring.write(_frame(i + 1))
            ring.read(FRAME)
            ring.read(FRAME)

    ring.write(_frame(0) + _frame(1))
    burst(2, 400)  # settles
    settled = ring.trimmed
    burst(400, 1200)
    assert ring.trimmed == settled and ring.underruns == 0  # the margin it needs is kept
    assert ring.fill() <= 2 * FRAME


def test_a_backlog_from_before_the_reader_started_is_dropped_at_once():
    """The sound server took a while to start pulling: the reader starts at the target, not 180 ms late."""
    ring = ByteRing(FRAME, target_frames=2, cap_frames=10)
    for i in range(9):
        ring.write(_frame(i))
    assert ring.read(FRAME) == _frame(7)  # the newest two frames kept
    assert ring.fill() == FRAME and ring.trimmed == 7 * FRAME


def test_the_cap_drops_the_oldest_whole_samples():
    ring = ByteRing(FRAME, target_frames=1, cap_frames=2)
    for i in range(3):
        ring.write(_frame(i))
    assert ring.fill() == 2 * FRAME and ring.overflowed == FRAME
    assert ring.read(FRAME) == _frame(2)  # (priming keeps the target: frame 1 is trimmed)
    ring.write(b"\x01" * 3)  # what is dropped is whole samples: the head stays on a sample's start
    ring.write(b"\x02" * (2 * FRAME))
    assert ring.overflowed % 2 == 0 and ring.overflowed > FRAME


def test_two_threads_lose_nothing_below_the_cap():
    ring = ByteRing(2, target_frames=1, cap_frames=10_000_000, window=1 << 40)  # no trimming
    total = 200_000
    got = bytearray()

    def writer():
        for i in range(0, total, 2):
            ring.write(bytes([(i // 2) % 256, 0]))

    t = threading.Thread(target=writer)
    t.start()
    while len(got) < total:
        n = ring.fill()  # all there is: nothing to trim at priming, no gap
        got += ring.read(n) if n >= 2 else b""
    t.join()
    assert bytes(got[::2]) == bytes((i % 256) for i in range(total // 2))


DEVICES = [
    Device(0, "HDA Intel PCH: ALC892 Analog (hw:0,0)", 2, 2, 48000.0),
    Device(1, "Jabra EVOLVE 20: USB Audio (hw:2,0)", 1, 2, 48000.0),
    Device(2, "Desk speaker", 0, 2, 44100.0),
    Device(3, "pulse", 32, 32, 44100.0),
]


def test_a_device_is_found_by_name_direction_and_across_card_numbers():
    assert find_device(DEVICES, "Desk speaker", output=True).index == 2
    assert find_device(DEVICES, "Desk speaker", output=False) is None  # it records nothing
    # The USB headset plugged into another port since the seat was set: another card number.
    assert find_device(DEVICES, "Jabra EVOLVE 20: USB Audio (hw:1,0)", output=False).index == 1
    assert find_device(DEVICES, "jabra evolve 20: usb audio", output=True).index == 1
    assert find_device(DEVICES, "Jabra", output=True) is None  # no guessing from a fragment


def test_frames_are_read_fast_and_exactly_from_pjsua2():
    if importlib.util.find_spec("pjsua2") is None:
        pytest.skip("pjsua2 is not installed")
    import pjsua2 as pj

    read = audio.vector_reader(pj)
    assert read is audio._vector_bytes_fast  # this build's vector layout was recognised
    for size in (0, 2, 640, 1920):
        data = os.urandom(size)
        assert read(pj.ByteVector(data)) == data


def test_a_reader_that_does_not_match_falls_back_to_the_slow_way(monkeypatch):
    if importlib.util.find_spec("pjsua2") is None:
        pytest.skip("pjsua2 is not installed")
    import pjsua2 as pj

    monkeypatch.setattr(audio, "_vector_bytes_fast", lambda v: b"wrong")
    assert audio.vector_reader(pj) is audio._vector_bytes_slow


def test_no_portaudio_is_said_in_a_sentence(monkeypatch):
    real_import = builtins.__import__

    def no_portaudio(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    sd, why = audio.load_sounddevice()
    assert sd is None and why == audio.NO_PORTAUDIO
    assert "apt install libportaudio2" in why


class FakePortAudio:
    """Stands in for sounddevice: records the thread of every call into it."""

    def __init__(self) -> None:
        self.threads: list[tuple[str, str]] = []
        fake = self

        class Stream:
            def __init__(self, **kwargs) -> None:
                fake.note("open " + ("out" if self.output else "in"))
                self.kwargs, self.latency = kwargs, 0.04

            def start(self) -> None:
                fake.note("start")

            def stop(self) -> None:
                fake.note("stop")

            def close(self) -> None:
                fake.note("close")

        class RawOutputStream(Stream):
            output = True

        class RawInputStream(Stream):
            output = False

        self.RawOutputStream, self.RawInputStream = RawOutputStream, RawInputStream

    def note(self, what: str) -> None:
        self.threads.append((what, threading.current_thread().name))

    def query_devices(self, kind=None):
        self.note("query")
        devices = [
            {"name": "USB Headset", "max_input_channels": 1, "max_output_channels": 2, "default_samplerate": 48000.0},
            {"name": "Desk speaker", "max_input_channels": 0, "max_output_channels": 2, "default_samplerate": 44100.0},
        ]  # fmt: skip
        return devices[1] if kind else devices

    def check_output_settings(self, **kwargs) -> None:
        self.note("check out")
        if kwargs["device"] == 1:
            raise ValueError("Invalid sample rate")  # the speaker plays at 44.1 kHz only

    def check_input_settings(self, **kwargs) -> None:
        self.note("check in")

    def _terminate(self) -> None:
        self.note("terminate")

    def _initialize(self) -> None:
        self.note("initialize")


def test_every_portaudio_call_is_made_on_the_sound_worker():
    """PortAudio is not thread-safe: listing, rate checks, rescans and streams all on one thread."""
    fake = FakePortAudio()
    sound = audio.Sound(fake)
    try:
        assert sound.listing()["outputs"] == ["USB Headset", "Desk speaker"]
        events = sound.choose("USB Headset", "USB Headset", "Desk speaker")
        assert [e["found"] for e in events] == [True, True, True]
        assert sound.ring_apart and sound.routes["ring"].rate == 44100  # its own rate, not 16 kHz
        assert sound.routes["headset"].rate == audio.PORT_RATE
        sound.rescan()
        sound.want("headset", True)
        sound.want("ring", True)
        opened = [sound.messages.get(timeout=5) for _ in range(2)]
        assert sorted(m[1]["role"] for m in opened) == ["headset", "ring"]
        assert sound.routes["ring"].stream.kwargs["samplerate"] == 44100
        sound.want("ring", False)
    finally:
        sound.close()
    whats = [w for w, _ in fake.threads]
    assert {"query", "check out", "check in", "terminate", "open out", "start", "stop", "close"} <= set(whats)
    assert {t for _, t in fake.threads} == {"phone-sound"}, fake.threads
