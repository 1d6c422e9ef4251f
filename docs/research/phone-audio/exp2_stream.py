"""Q2b: open streams on the asoundrc devices, run callbacks, measure pacing / CPU / data.
usage: HOME=alsa_home exp2_stream.py DEVICE SECONDS"""
import os
import sys
import threading
import time

import numpy as np
import sounddevice as sd

dev, secs = sys.argv[1], float(sys.argv[2])
RATE, BLOCK = 16000, 320
MAIN = threading.get_ident()
st = {"out_cb": 0, "in_cb": 0, "threads": set(), "status": set(), "in_chunks": []}
phase = [0]


def out_cb(outdata, frames, t, status):
    st["out_cb"] += 1
    st["threads"].add(threading.get_ident() == MAIN)
    if status:
        st["status"].add(str(status))
    n = np.arange(phase[0], phase[0] + frames)
    phase[0] += frames
    outdata[:, 0] = (8000 * np.sin(2 * np.pi * 1000 * n / RATE)).astype(np.int16)


def in_cb(indata, frames, t, status):
    st["in_cb"] += 1
    if status:
        st["status"].add(str(status))
    st["in_chunks"].append(indata[:, 0].copy())


if os.path.exists("headset_out.raw"):
    os.remove("headset_out.raw")
cpu0, t0 = time.process_time(), time.monotonic()
res = {}
try:
    with sd.OutputStream(device=dev, samplerate=RATE, channels=1, dtype="int16", blocksize=BLOCK,
                         callback=out_cb, latency="low") as o, \
         sd.InputStream(device=dev, samplerate=RATE, channels=1, dtype="int16", blocksize=BLOCK,
                        callback=in_cb, latency="low") as i:
        res["out_latency_s"] = o.latency
        res["in_latency_s"] = i.latency
        time.sleep(secs)
except Exception as e:  # noqa: BLE001
    res["error"] = repr(e)
wall = time.monotonic() - t0
res.update(device=dev, wall_s=round(wall, 2), cpu_s=round(time.process_time() - cpu0, 3),
           out_cb=st["out_cb"], in_cb=st["in_cb"],
           expected_cb=round(wall * RATE / BLOCK), cb_on_main=sorted(st["threads"]), status=sorted(st["status"]))
if st["in_chunks"]:
    x = np.concatenate(st["in_chunks"]).astype(float)
    spec = np.abs(np.fft.rfft(x))
    res["in_samples"] = len(x)
    res["in_peak_hz"] = round(float(np.fft.rfftfreq(len(x), 1 / RATE)[spec.argmax()]), 1)
    res["in_rms"] = round(float(np.sqrt(np.mean(x ** 2))), 1)
if os.path.exists("headset_out.raw"):
    y = np.fromfile("headset_out.raw", dtype="<i2").astype(float)
    res["file_out_bytes"] = os.path.getsize("headset_out.raw")
    if len(y) > 100:
        res["file_out_peak_hz"] = round(float(np.fft.rfftfreq(len(y), 1 / RATE)[np.abs(np.fft.rfft(y)).argmax()]), 1)
print(res)
