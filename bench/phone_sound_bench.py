"""`csr-bench phone-sound`: the softphone's sound bridge during a long call, on clocked sound devices.

A private PulseAudio (bench/pulse_lab.py: null sinks as speakers, a tone played into a null sink as each
microphone) gives two seats named devices on a machine with no sound card. Two real phone processes
(`csr-console phone`, with sound) call each other straight over loopback; the CSR's seat hears the
caller's 1 kHz and sends its own 440 Hz. For ``seconds`` the CSR's phone is asked for its sound figures
every ``interval`` s.

- ``headset_fill`` / ``microphone_fill``: how much sound waits in the bridge's ring on its way to the
  headset / to the call, sampled — the latency the bridge adds on top of PortAudio's buffer
  (``*_stream_latency_ms``, PortAudio's own figure for the open stream).
- ``*_underruns``, ``*_trimmed_ms``, ``*_overflowed_ms``: gaps played as silence, latency dropped to keep
  the ring at its target (two clocks drift), sound dropped at the ring's cap.
- ``csr_phone_cpu_pct_of_core``: the CSR's phone process over the measured call (pjsua2, codec, bridge);
  ``csr_phone_rss_mb``: its memory at the end, PortAudio loaded and both streams open.
- ``heard_*_share``: the share of the tone in what each side's speaker played in the last 2 s (≥ 0.9:
  the sound still crosses cleanly at the end).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .stats import summary


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_phone_sound(seconds: float = 60.0, interval: float = 0.04) -> dict[str, Any]:
    from . import pulse_lab

    problem = pulse_lab.missing()
    if problem:
        raise SystemExit(f"csr-bench phone-sound: {problem}")
    folder = Path(tempfile.mkdtemp(prefix="csr-bench-phone-sound-"))
    server = pulse_lab.PrivatePulse(folder).start()
    os.environ.update(server.env)
    try:
        return asyncio.run(_scenario(server, folder, seconds, interval))
    finally:
        server.stop()


async def _scenario(server: Any, folder: Path, seconds: float, interval: float) -> dict[str, Any]:
    from sync.phone_link import PhoneLink, phone_command

    from . import pulse_lab

    links: dict[str, PhoneLink] = {}
    uris: dict[str, str] = {}
    server.speak("a_mic", 440, seconds + 30)
    server.speak("b_mic", 1000, seconds + 30)
    try:
        for name in ("a", "b"):
            link = PhoneLink(phone_command(bind="127.0.0.1"), stderr_path=str(folder / f"phone-{name}.log"))
            links[name] = link
            ready = link.wait_for(lambda e: e["event"] == "ready", 15)
            link.start()
            await ready
            listening = link.wait_for(lambda e: e["event"] == "registration", 10)
            link.listen(
                f"sip:{name}@127.0.0.1:0",
                {"input_device": f"csr_headset_{name}", "output_device": f"csr_headset_{name}"},
            )
            uris[name] = (await listening)["address"]
        a, b = links["a"], links["b"]
        incoming = a.wait_for(lambda e: e["event"] == "incoming", 10)
        placed = await b.request({"cmd": "call", "to": uris["a"]})
        leg = (await incoming)["call"]
        confirmed = b.wait_for(lambda e: e["event"] == "call" and e.get("state") == "confirmed", 10)
        await a.request({"cmd": "answer", "call": leg})
        await confirmed
        await asyncio.sleep(2.0)  # the streams start (a sound server can take a moment)

        pid = (await a.request({"cmd": "stats"}))["pid"]
        headset, microphone = [], []
        cpu0, t0 = _cpu_s(pid), time.monotonic()
        first = (await a.request({"cmd": "stats"}))["sound"]
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            sound = (await a.request({"cmd": "stats"}))["sound"]
            headset.append(sound["headset"]["fill_ms"])
            microphone.append(sound["microphone"]["fill_ms"])
            await asyncio.sleep(interval)
        cpu = (_cpu_s(pid) - cpu0) / (time.monotonic() - t0)
        last_stats = await a.request({"cmd": "stats"})
        last, rss_mb = last_stats["sound"], last_stats["rss_mb"]
        heard_a, heard_b = await asyncio.gather(
            asyncio.to_thread(server.record, "a_spk.monitor", 2.0),
            asyncio.to_thread(server.record, "b_spk.monitor", 2.0),
        )
        await b.request({"cmd": "hangup", "call": placed["call"]})
    finally:
        for link in links.values():
            await link.stop()

    def grew(role: str, key: str) -> float:
        return round(last[role][key] - first[role][key], 1)

    out: dict[str, Any] = {"seconds": seconds, "interval_s": interval, "rate": last["headset"]["rate"]}
    out |= summary("headset_fill", headset)
    out |= summary("microphone_fill", microphone)
    out |= {
        "headset_stream_latency_ms": last["headset"]["stream_latency_ms"],
        "microphone_stream_latency_ms": last["microphone"]["stream_latency_ms"],
        "headset_underruns": grew("headset", "underruns"),
        "microphone_underruns": grew("microphone", "underruns"),
        "headset_trimmed_ms": grew("headset", "trimmed_ms"),
        "microphone_trimmed_ms": grew("microphone", "trimmed_ms"),
        "headset_overflowed_ms": grew("headset", "overflowed_ms"),
        "microphone_overflowed_ms": grew("microphone", "overflowed_ms"),
        "headset_status_flags": grew("headset", "status_flags"),
        "microphone_status_flags": grew("microphone", "status_flags"),
        "csr_phone_cpu_pct_of_core": round(100 * cpu, 1),
        "csr_phone_rss_mb": rss_mb,
        "heard_by_csr_1000hz_share": round(pulse_lab.tone_share(heard_a, 1000)[0], 3),
        "heard_by_caller_440hz_share": round(pulse_lab.tone_share(heard_b, 440)[0], 3),
        "load_after": round(os.getloadavg()[0], 2),
    }
    return out
