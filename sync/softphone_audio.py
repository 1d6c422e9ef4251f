"""The softphone's sound: call audio carried between pjsua2 and the PC's sound devices by PortAudio.

The pinned pjsua2 wheel has no sound-device backend (docs/phone.md), so pjsua2 always runs on its null
device — whose clock keeps driving the conference bridge — and the phone bridges each sound device
through a ``pjsua2.AudioMediaPort`` of its own (docs/research/phone-audio/README.md has the experiments):

    call ─► headset port.onFrameReceived ─► ByteRing ─► PortAudio output stream (the headset)
    call ◄─ microphone port.onFrameRequested ◄─ ByteRing ◄─ PortAudio input stream (the microphone)
    ring tone ─► ring port.onFrameReceived ─► ByteRing ─► PortAudio output stream (the ring device)

Threads: the ports' callbacks run on pjmedia's clock thread and the streams' on PortAudio's; both only
touch a ring (never pjsua2, never the channel), and never let an exception out. Every PortAudio call
(listing devices, checking a rate, opening and closing streams) is made on one worker thread (opening can
take a second; PortAudio is not thread-safe); what it has to say reaches the phone's one thread through
``messages`` and is told from there. pjsua2 objects (the ports) are made and dropped on
the phone's thread only, and dropped before ``libDestroy``.

Nothing here imports pjsua2 or sounddevice at module level: the phone passes them in.
"""

from __future__ import annotations

import ctypes
import os
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FRAME_MS = 20
SAMPLE_BYTES = 2  # PCM 16-bit mono
PORT_RATE = 16_000  # what the ports and streams ask for first; a device's own rate otherwise
_HW_SUFFIX = re.compile(r"\s*\((?:hw|plughw):\d+,\d+\)\s*$")

NO_PORTAUDIO = (
    "No sound on this PC: the PortAudio library is missing (Debian/Ubuntu: apt install libportaudio2). "
    "Calls connect, but nothing is heard."
)


def frame_bytes(rate: int) -> int:
    return rate * FRAME_MS // 1000 * SAMPLE_BYTES


class ByteRing:
    """PCM-16 FIFO between two threads (one writer, one reader) that keeps its latency near a target.

    The reader waits until the ring holds ``target`` bytes (primed), plays silence for what is missing
    on an underrun and waits again. Two clocks feed and drain it (pjmedia's timer and the sound card's
    crystal), so the fill drifts; and a sound server may pull in bursts. The fill's minimum over the
    last ``window`` reads is the latency that is really spare: when it stays above the target by a
    frame or more, the excess is dropped (``trimmed``). A ring that would pass ``cap`` drops its oldest.
    """

    def __init__(self, frame: int, *, target_frames: int = 2, cap_frames: int = 10, window: int = 50) -> None:
        self.frame = frame
        self.target = target_frames * frame
        self.cap = cap_frames * frame
        self.window = window
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.primed = False
        self.reads = 0
        self.low = 1 << 62  # the least fill seen in this window
        self.underruns = 0
        self.trimmed = 0  # bytes dropped to bring the latency back down
        self.overflowed = 0  # bytes dropped at the cap
        self.delivered = 0  # bytes handed to the reader that came from the writer (not padding)
        self.written = 0

    def clear(self) -> None:
        with self.lock:
            self.buf.clear()
            self.primed = False
            self.reads, self.low = 0, 1 << 62

    def write(self, data: bytes) -> None:
        with self.lock:
            self.buf += data
            self.written += len(data)
            over = len(self.buf) - self.cap
            if over > 0:
                over += over % SAMPLE_BYTES
                del self.buf[:over]
                self.overflowed += over

    def read(self, n: int) -> bytes:
        with self.lock:
            have = len(self.buf)
            if not self.primed:
                if have < max(self.target, n):
                    return bytes(n)
                self.primed = True
                # What piled up before the reader started (a sound server takes a moment to start
                # pulling) is latency nobody needs: start at the target.
                spare = have - max(self.target, n)
                spare -= spare % SAMPLE_BYTES
                if spare > 0:
                    del self.buf[:spare]
                    self.trimmed += spare
                    have -= spare
            self.low = min(self.low, have)
            self.reads += 1
            if self.reads >= self.window:
                spare = self.low - self.target
                if spare >= self.frame:
                    spare -= spare % SAMPLE_BYTES
                    del self.buf[:spare]
                    self.trimmed += spare
                    have -= spare
                self.reads, self.low = 0, 1 << 62
            if have < n:
                out = bytes(self.buf) + bytes(n - have)
                self.buf.clear()
                self.underruns += 1
                self.primed = False
                self.delivered += have
                return out
            out = bytes(self.buf[:n])
            del self.buf[:n]
            self.delivered += n
            return out

    def fill(self) -> int:
        with self.lock:
            return len(self.buf)

    def stats(self, rate: int) -> dict[str, Any]:
        ms = 1000 / (rate * SAMPLE_BYTES)
        with self.lock:
            return {
                "fill_ms": round(len(self.buf) * ms, 1),
                "underruns": self.underruns,
                "trimmed_ms": round(self.trimmed * ms, 1),
                "overflowed_ms": round(self.overflowed * ms, 1),
                "delivered_ms": round(self.delivered * ms),
            }


# --- reading a pjsua2 frame -------------------------------------------------------------------------
def _vector_bytes_fast(vector: Any) -> bytes:
    """The bytes of a SWIG ``std::vector<unsigned char>`` read straight from its storage (libstdc++'s
    layout: begin, end, capacity pointers), ~2 µs against ~450 µs for iterating it from Python."""
    address = int(vector.this)
    begin = ctypes.c_void_p.from_address(address).value
    end = ctypes.c_void_p.from_address(address + ctypes.sizeof(ctypes.c_void_p)).value
    if not begin or not end or end <= begin:
        return b""
    return ctypes.string_at(begin, end - begin)


def _vector_bytes_slow(vector: Any) -> bytes:
    return bytes(vector)


def vector_reader(pj: Any) -> Callable[[Any], bytes]:
    """The fast reader when it gives exactly what iterating gives on this build (checked once on
    vectors of several sizes), else the slow one."""
    try:
        for size in (0, 1, 320, 640, 1920, 4096):
            data = os.urandom(size)
            vector = pj.ByteVector(data)
            if _vector_bytes_fast(vector) != data or vector.size() != size:
                return _vector_bytes_slow
    except Exception:  # noqa: BLE001 — any surprise: the safe way
        return _vector_bytes_slow
    return _vector_bytes_fast


# --- devices ---------------------------------------------------------------------------------------
@dataclass
class Device:
    index: int
    name: str
    inputs: int
    outputs: int
    rate: float


def _plain(name: str) -> str:
    """A device's name without ALSA's card numbers, which move when a USB headset is plugged elsewhere."""
    return _HW_SUFFIX.sub("", name).strip()


def find_device(devices: list[Device], wanted: str, *, output: bool) -> Device | None:
    """The device named ``wanted`` that can play (``output``) or record: the exact name first, then the
    same name with other ALSA card numbers, then the name without regard to case."""
    usable = [d for d in devices if (d.outputs if output else d.inputs) > 0]
    for same in (
        lambda d: d.name == wanted,
        lambda d: _plain(d.name) == _plain(wanted),
        lambda d: _plain(d.name).casefold() == _plain(wanted).casefold(),
    ):
        hit = next((d for d in usable if same(d)), None)
        if hit is not None:
            return hit
    return None


@dataclass
class Route:
    """One direction to one sound device: the ring between the port and the stream, and the stream."""

    role: str  # "headset", "microphone" or "ring"
    output: bool
    device: Device | None = None  # None: the system's default
    label: str = ""  # how it is named to the CSR
    rate: int = PORT_RATE
    ring: ByteRing = field(default_factory=lambda: ByteRing(frame_bytes(PORT_RATE)))
    stream: Any = None  # opened and closed on the worker only
    stream_key: tuple[int | None, int] | None = None  # the device and rate the stream was opened at
    wanted: bool = False  # should be running (the phone's thread's wish; the worker follows it)
    callbacks: int = 0
    status_flags: int = 0


class Sound:
    """The seat's sound devices and the streams that play and record them (see the module's doc)."""

    def __init__(self, sd: Any) -> None:
        self.sd = sd
        self.messages: queue.SimpleQueue[tuple[str, dict[str, Any]]] = queue.SimpleQueue()
        self.jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.routes = {
            "headset": Route("headset", True, label="the system's default"),
            "microphone": Route("microphone", False, label="the system's default"),
            "ring": Route("ring", True),
        }
        self.ring_apart = False  # the ring device is not the headset
        self.worker = threading.Thread(target=self._work, name="phone-sound", daemon=True)
        self.worker.start()

    def _on_worker(self, job: Callable[[], Any], default: Any, timeout: float = 10.0) -> Any:
        """Run ``job`` on the worker and wait for its result (``default`` if it takes longer): every
        PortAudio call is made on that one thread, never beside a stream being opened or closed."""
        done = threading.Event()
        box: list[Any] = [default]

        def run() -> None:
            try:
                box[0] = job()
            finally:
                done.set()

        self.jobs.put(run)
        done.wait(timeout)
        return box[0]

    # --- the device list --------------------------------------------------------------------------
    def devices(self) -> list[Device]:
        return self._on_worker(self._query, [])

    def _query(self) -> list[Device]:
        return [
            Device(
                i,
                str(d["name"]),
                int(d["max_input_channels"]),
                int(d["max_output_channels"]),
                float(d["default_samplerate"]),
            )  # fmt: skip
            for i, d in enumerate(self.sd.query_devices())
        ]

    def rescan(self) -> None:
        """Have PortAudio look for devices again (a headset plugged in since start)."""

        def job() -> None:
            if any(r.stream is not None for r in self.routes.values()):
                return  # never under a running stream: the list stays as it is
            self.sd._terminate()  # noqa: SLF001 — sounddevice's documented way to re-enumerate
            self.sd._initialize()  # noqa: SLF001

        self._on_worker(job, None)

    def listing(self) -> dict[str, Any]:
        devices = self.devices()
        return {
            "available": True,
            "inputs": [d.name for d in devices if d.inputs > 0],
            "outputs": [d.name for d in devices if d.outputs > 0],
            "message": "" if devices else "This PC has no sound device: calls connect, but nothing is heard.",
        }

    def choose(self, microphone: str, headset: str, ring: str) -> list[dict[str, Any]]:
        """Take the seat's devices by name; one ``device`` event per name, found or not."""
        events: list[dict[str, Any]] = []
        devices = self.devices()
        names = ", ".join(dict.fromkeys(d.name for d in devices)) or "none"
        chosen: dict[str, Device | None] = {}
        for role, wanted, output, kind, instead in (
            ("microphone", microphone, False, "microphone", "the phone uses the system's default"),
            ("headset", headset, True, "headset", "the phone uses the system's default"),
            ("ring", ring, True, "ring device", "the phone rings on the headset"),
        ):
            device = find_device(devices, wanted, output=output) if wanted else None
            chosen[role] = device
            if not wanted:
                continue
            if device is None and find_device(devices, wanted, output=not output) is not None:
                can = (
                    "records nothing (a speaker only)" if not output else "plays nothing (a microphone only)"
                )
                message = f"The {kind} “{wanted}” {can}; {instead}."
                events.append({"kind": kind, "found": False, "message": message})
            elif device is None:
                message = f"The {kind} “{wanted}” is not on this PC (found: {names}); {instead}."
                events.append({"kind": kind, "found": False, "message": message})
            else:
                events.append({"kind": kind, "found": True, "name": device.name, "message": ""})
        for role in ("microphone", "headset"):
            self.routes[role].device = chosen[role]
            self.routes[role].label = chosen[role].name if chosen[role] else "the system's default"
        ring_device = chosen["ring"]
        headset_device = chosen["headset"]
        self.ring_apart = ring_device is not None and (
            headset_device is None or ring_device.index != headset_device.index
        )
        self.routes["ring"].device = ring_device if self.ring_apart else None
        self.routes["ring"].label = ring_device.name if self.ring_apart and ring_device else ""
        rates = self._on_worker(lambda: {role: self._rate(r) for role, r in self.routes.items()}, {})
        for role, route in self.routes.items():
            route.rate = rates.get(role, PORT_RATE)
            self.jobs.put(lambda route=route: self._follow(route))  # a running stream moves over
        return events

    def _rate(self, route: Route) -> int:
        """The port's rate for this device: 16 kHz when the device takes it, else the device's own
        (the conference bridge converts)."""
        index = route.device.index if route.device else None
        try:
            check = self.sd.check_output_settings if route.output else self.sd.check_input_settings
            check(device=index, samplerate=PORT_RATE, channels=1, dtype="int16")
            return PORT_RATE
        except Exception:  # noqa: BLE001 — PortAudioError or ValueError: not at 16 kHz (or not at all)
            if route.device is not None:
                return int(route.device.rate)
            try:
                info = self.sd.query_devices(kind="output" if route.output else "input")
                return int(info["default_samplerate"])
            except Exception:  # noqa: BLE001
                return PORT_RATE

    # --- streams (the phone's thread asks; the worker does) ----------------------------------------
    def want(self, role: str, running: bool) -> None:
        route = self.routes[role]
        if route.wanted == running:
            return
        route.wanted = running
        if running:
            route.ring = ByteRing(frame_bytes(route.rate), target_frames=2)
        self.jobs.put(lambda: self._follow(route))

    def playing(self, role: str) -> bool:
        """Sound the device has taken from its ring (not silence made up for an empty ring)."""
        route = self.routes[role]
        return route.stream is not None and route.ring.delivered > 0

    @staticmethod
    def _key(route: Route) -> tuple[int | None, int]:
        return (route.device.index if route.device else None, route.rate)

    def _follow(self, route: Route) -> None:
        """Bring the route's stream to what the phone's thread wants now (on the worker)."""
        if route.stream is not None and (not route.wanted or route.stream_key != self._key(route)):
            self._close(route)
        if route.wanted and route.stream is None:
            self._open(route)

    def _open(self, route: Route) -> None:
        sd = self.sd
        size = frame_bytes(route.rate)

        if route.output:

            def callback(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
                try:
                    route.callbacks += 1
                    if status:
                        route.status_flags += 1
                    outdata[:] = route.ring.read(len(outdata))
                except Exception:  # noqa: BLE001 — never into PortAudio's thread
                    pass

            kind = sd.RawOutputStream
        else:

            def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:  # type: ignore[misc]
                try:
                    route.callbacks += 1
                    if status:
                        route.status_flags += 1
                    route.ring.write(bytes(indata))
                except Exception:  # noqa: BLE001
                    pass

            kind = sd.RawInputStream
        key = self._key(route)
        try:
            stream = kind(
                device=key[0],
                samplerate=route.rate,
                channels=1,
                dtype="int16",
                blocksize=size // SAMPLE_BYTES,
                latency="low",
                callback=callback,
            )
            stream.start()
        except Exception as exc:  # noqa: BLE001 — PortAudioError, ValueError: told, the call goes on
            self.messages.put(("failed", {"role": route.role, "label": route.label, "reason": str(exc)}))
            route.wanted = False
            return
        route.stream, route.stream_key = stream, key
        self.messages.put(("opened", {"role": route.role, "label": route.label, "rate": route.rate}))

    def _close(self, route: Route) -> None:
        stream, route.stream = route.stream, None
        try:
            stream.stop()
            stream.close()
        except Exception as exc:  # noqa: BLE001
            self.messages.put(("failed", {"role": route.role, "label": route.label, "reason": str(exc)}))

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception as exc:  # noqa: BLE001 — the worker lives on
                self.messages.put(("failed", {"role": "?", "label": "?", "reason": repr(exc)}))

    def close(self, timeout: float = 5.0) -> None:
        """Stop every stream and the worker (the phone is leaving)."""
        for route in self.routes.values():
            route.wanted = False
            self.jobs.put(lambda route=route: self._follow(route))
        self.jobs.put(None)
        self.worker.join(timeout)

    def stats(self) -> dict[str, Any]:
        return {
            role: {
                "device": route.label or "(the headset)",
                "rate": route.rate,
                "open": route.stream is not None,
                "stream_latency_ms": _latency_ms(route.stream),
                "callbacks": route.callbacks,
                "status_flags": route.status_flags,
                **route.ring.stats(route.rate),
            }
            for role, route in self.routes.items()
        }


def _latency_ms(stream: Any) -> float | None:
    """PortAudio's own latency for the stream (its buffer at the device), in ms."""
    try:
        return None if stream is None else round(float(stream.latency) * 1000, 1)
    except Exception:  # noqa: BLE001 — closed under us
        return None


def load_sounddevice() -> tuple[Any, str]:
    """sounddevice (PortAudio) or the sentence that says why there is no sound."""
    try:
        import sounddevice
    except ImportError:
        return (
            None,
            "No sound on this PC: the sounddevice package is missing. Calls connect, but nothing is heard.",
        )
    except OSError:  # sounddevice raises OSError when libportaudio is not found
        return None, NO_PORTAUDIO
    return sounddevice, ""


def make_port_class(pj: Any) -> type:
    """An ``AudioMediaPort`` that moves frames between the conference bridge and one ring."""
    read_vector = vector_reader(pj)
    audio_type = pj.PJMEDIA_FRAME_TYPE_AUDIO

    class RingPort(pj.AudioMediaPort):
        def __init__(self, route: Route) -> None:
            super().__init__()
            self.route = route
            self.size = frame_bytes(route.rate)

        def onFrameReceived(self, frame: Any) -> None:  # noqa: N802 — the bridge pushes to us
            try:
                if self.route.output and frame.type == audio_type and frame.size:
                    self.route.ring.write(read_vector(frame.buf))
            except Exception:  # noqa: BLE001 — an exception out of here aborts the phone at exit
                pass

        def onFrameRequested(self, frame: Any) -> None:  # noqa: N802 — the bridge pulls from us
            try:
                if self.route.output:
                    return
                pcm = self.route.ring.read(self.size)
                frame.type = audio_type
                frame.buf = pj.ByteVector(pcm)
                frame.size = len(pcm)
            except Exception:  # noqa: BLE001
                pass

    return RingPort
