"""A private PulseAudio for the sound tests and `csr-bench phone-sound`: clocked, named sound devices on a PC with no sound card.

Null sinks stand for the headsets' and the ring's speakers (their ``.monitor`` is what was played); a
second null sink per seat stands for its microphone: a tone is played into it, and its ``.monitor`` is
what the microphone hears. An ALSA config of ``type pulse`` PCMs names them as a CSR's PC would
(``csr_headset_a`` …), and PortAudio lists them (docs/research/phone-audio/README.md, Q2). Needs
Debian's ``pulseaudio``, ``pulseaudio-utils`` and ``libasound2-plugins`` (.ci/run installs them).
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import struct
import subprocess
import time
import wave
from pathlib import Path

RATE = 16_000
SINKS = ("a_spk", "a_mic", "b_spk", "b_mic", "ring_spk")
# ALSA PCM name → (playback sink, capture source); the names the phone lists and the seats choose.
PCMS = {
    "csr_headset_a": ("a_spk", "a_mic.monitor"),
    "csr_headset_b": ("b_spk", "b_mic.monitor"),
    "csr_ring": ("ring_spk", None),
}


def missing() -> str:
    """Why the private PulseAudio cannot run here ("" when it can)."""
    absent = [t for t in ("pulseaudio", "pactl", "paplay", "parec") if shutil.which(t) is None]
    if absent:
        return f"{', '.join(absent)} not installed (Debian: pulseaudio pulseaudio-utils)"
    if not Path("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so").exists() and not list(
        Path("/usr/lib").glob("*/alsa-lib/libasound_module_pcm_pulse.so")
    ):
        return "ALSA's pulse plugin not installed (Debian: libasound2-plugins)"
    try:
        import sounddevice  # noqa: F401
    except OSError:
        return "PortAudio not installed (Debian: libportaudio2)"
    return ""


def tone_wav(path: Path, hz: float, seconds: float, amplitude: int = 8000) -> Path:
    n = int(RATE * seconds)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(
            b"".join(
                struct.pack("<h", int(amplitude * math.sin(2 * math.pi * hz * i / RATE))) for i in range(n)
            )
        )
    return path


def tone_share(pcm: bytes, hz: float, rate: int = RATE) -> tuple[float, float]:
    """(the share of the signal's power at ``hz`` (±15 Hz), its RMS): Goertzel over a few bins."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    if not samples:
        return 0.0, 0.0
    total = sum(x * x for x in samples)
    rms = math.sqrt(total / len(samples))
    if total == 0:
        return 0.0, 0.0
    n = len(samples)
    # Hann window, then the power at a few bins around hz; Parseval for the window's total.
    win = [0.5 - 0.5 * math.cos(2 * math.pi * i / (n - 1)) for i in range(n)]
    xs = [x * w for x, w in zip(samples, win, strict=True)]
    total_w = sum(x * x for x in xs)
    power = 0.0
    step = rate / n
    k0 = hz / step
    for k in {round(k0 + d) for d in range(-int(15 / step) - 1, int(15 / step) + 2)}:
        coeff = 2 * math.cos(2 * math.pi * k / n)
        s1 = s2 = 0.0
        for x in xs:
            s1, s2 = x + coeff * s1 - s2, s1
        power += (s1 * s1 + s2 * s2 - coeff * s1 * s2) * (1 if k in (0, n // 2) else 2) / n
    return min(1.0, power / total_w), rms


class PrivatePulse:
    """``pulseaudio`` on a socket of its own, with the sinks above; stopped by ``stop()``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.runtime = folder / "pulse"
        self.runtime.mkdir(parents=True, exist_ok=True)
        os.chmod(self.runtime, 0o700)
        self.socket = self.runtime / "native"
        self.asoundrc = folder / "asoundrc"
        self.proc: subprocess.Popen[bytes] | None = None
        self.players: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment for a process that uses these devices (the phone) or this server."""
        return {
            "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{self.asoundrc}",
            "PULSE_SERVER": f"unix:{self.socket}",
            "XDG_RUNTIME_DIR": str(self.runtime),
        }

    def _tool_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start(self) -> PrivatePulse:
        args = [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
            "--disallow-exit", "--log-target=stderr", "--log-level=error",
            "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
        ]  # fmt: skip
        for sink in SINKS:
            args += ["-L", f"module-null-sink sink_name={sink} rate={RATE} channels=1"]
        log = open(self.folder / "pulse.log", "wb")  # noqa: SIM115 — kept open for the daemon's life
        self.proc = subprocess.Popen(args, env=self._tool_env(), stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pulseaudio stopped: {(self.folder / 'pulse.log').read_text()[-2000:]}")
            ok = subprocess.run(
                ["pactl", "list", "short", "sinks"], env=self._tool_env(), capture_output=True
            )
            if ok.returncode == 0 and all(s.encode() in ok.stdout for s in SINKS):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("pulseaudio did not come up in 15 s")
        server = f"unix:{self.socket}"
        lines = []
        for name, (sink, source) in PCMS.items():
            if source is None:
                # asym with no capture side: a speaker only, as PortAudio should list it
                lines.append(
                    f'pcm.{name} {{ type asym playback.pcm {{ type pulse server "{server}" device "{sink}" }} }}'
                )
            else:
                lines.append(
                    f"pcm.{name} {{ type asym"
                    f' playback.pcm {{ type pulse server "{server}" device "{sink}" }}'
                    f' capture.pcm {{ type pulse server "{server}" device "{source}" }} }}'
                )
        self.asoundrc.write_text("\n".join(lines) + "\n")
        return self

    def speak(self, mic_sink: str, hz: float, seconds: float = 60.0) -> None:
        """Play a tone into a seat's microphone (the sink whose monitor the seat records)."""
        wav = tone_wav(self.folder / f"tone-{hz:g}.wav", hz, seconds)
        self.players.append(
            subprocess.Popen(["paplay", f"--device={mic_sink}", str(wav)], env=self._tool_env())
        )

    def record(self, source: str, seconds: float) -> bytes:
        """What ``source`` (a sink's ``.monitor``: what was played there) carries for ``seconds``."""
        proc = subprocess.Popen(
            ["parec", f"--device={source}", f"--rate={RATE}", "--channels=1", "--format=s16le", "--raw",
             "--latency-msec=20"],
            env=self._tool_env(), stdout=subprocess.PIPE,
        )  # fmt: skip
        time.sleep(seconds)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
        return out

    def stop(self) -> None:
        for p in self.players:
            p.kill()
            p.wait()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
