"""Q3: prototype bridge pjsua2 AudioMediaPort <-> ring buffers <-> sounddevice (PortAudio) streams.

usage: exp3_bridge.py PORT SECONDS DEVICE [RATE] [CODEC]
Runs as the CALLER against `exp1_bridge.py callee PORT 1000 ...` (which sends a 1 kHz tone and
analyses what it receives). Audio path here:
  call -> onFrameReceived -> play_ring -> OutputStream(DEVICE)      (remote voice to the headset)
  InputStream(DEVICE) -> cap_ring -> onFrameRequested -> call       (headset mic to the remote)
pjsua2 stays on the null device (its clock drives the port); no pjsua2 call ever happens on the
PortAudio thread, and the pjsua2 media thread only touches the rings.
"""
import gc
import json
import sys
import threading
import time

import numpy as np
import pjsua2 as pj
import sounddevice as sd

port_no, seconds, device = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
RATE = int(sys.argv[4]) if len(sys.argv) > 4 else 16000
CODEC = sys.argv[5] if len(sys.argv) > 5 else "PCMU/8000/1"
PTIME = 20
FRAME = RATE * PTIME // 1000
MAIN = threading.get_ident()


class Ring:
    """Bounded sample FIFO shared by two threads (one writer, one reader)."""

    def __init__(self, cap_samples, prime_samples):
        self.buf = np.zeros(cap_samples, dtype=np.int16)
        self.cap, self.prime = cap_samples, prime_samples
        self.r = self.w = 0  # absolute counters
        self.lock = threading.Lock()
        self.primed = False
        self.underruns = self.overflows = 0
        self.fill_samples = []  # fill level seen by the reader
        self.overflow_info = None

    def write(self, x):
        with self.lock:
            n = len(x)
            if self.w - self.r + n > self.cap:  # overflow: drop the oldest
                self.overflows += 1
                self.overflow_info = (n, self.w - self.r)
                self.r = self.w + n - self.cap
            idx = (np.arange(self.w, self.w + n)) % self.cap
            self.buf[idx] = x
            self.w += n

    def read(self, n):
        with self.lock:
            avail = self.w - self.r
            self.fill_samples.append(avail)
            if not self.primed:
                if avail < self.prime:
                    return np.zeros(n, dtype=np.int16)
                self.primed = True
            if avail < n:  # underrun: play what there is, pad, re-prime
                self.underruns += 1
                out = np.zeros(n, dtype=np.int16)
                out[:avail] = self.buf[np.arange(self.r, self.r + avail) % self.cap]
                self.r += avail
                self.primed = False
                return out
            out = self.buf[np.arange(self.r, self.r + n) % self.cap]
            self.r += n
            return out


play_ring = Ring(cap_samples=8 * FRAME, prime_samples=2 * FRAME)  # <=160 ms, start at 40 ms
cap_ring = Ring(cap_samples=8 * FRAME, prime_samples=1 * FRAME)
st = {"req": 0, "rcv": 0, "pa_out": 0, "pa_in": 0, "pj_cost": 0.0, "pa_cost": 0.0, "pa_status": set()}
heard = []  # what reached the headset (copy of output callback data) for analysis


class Bridge(pj.AudioMediaPort):
    def onFrameRequested(self, frame):
        t0 = time.perf_counter()
        try:
            st["req"] += 1
            pcm = cap_ring.read(FRAME).astype("<i2").tobytes()
            frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
            frame.buf = pj.ByteVector(pcm)
            frame.size = len(pcm)
        except Exception:  # never let an exception escape into pjsua2 (see FINDINGS)
            pass
        st["pj_cost"] += time.perf_counter() - t0

    def onFrameReceived(self, frame):
        t0 = time.perf_counter()
        try:
            st["rcv"] += 1
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
                play_ring.write(np.frombuffer(bytes(frame.buf), dtype="<i2"))
        except Exception:
            pass
        st["pj_cost"] += time.perf_counter() - t0


def out_cb(outdata, frames, t, status):
    t0 = time.perf_counter()
    st["pa_out"] += 1
    if status:
        st["pa_status"].add(str(status))
    x = play_ring.read(frames)
    outdata[:, 0] = x
    if x.any():
        heard.append(x.copy())
    st["pa_cost"] += time.perf_counter() - t0


def in_cb(indata, frames, t, status):
    t0 = time.perf_counter()
    st["pa_in"] += 1
    if status:
        st["pa_status"].add(str(status))
    cap_ring.write(indata[:, 0])
    st["pa_cost"] += time.perf_counter() - t0


bridge = None
calls = []


class MyCall(pj.Call):
    def onCallMediaState(self, prm):
        global bridge
        ci = self.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE and bridge is None:
                am = self.getAudioMedia(i)
                bridge = Bridge()
                fmt = pj.MediaFormatAudio()
                fmt.init(pj.PJMEDIA_FORMAT_PCM, RATE, 1, PTIME * 1000, 16)
                bridge.createPort("headset-bridge", fmt)
                am.startTransmit(bridge)
                bridge.startTransmit(am)


ep = pj.Endpoint()
ep.libCreate()
cfg = pj.EpConfig()
cfg.uaConfig.threadCnt = 0
cfg.uaConfig.mainThreadOnly = True
cfg.medConfig.threadCnt = 0
cfg.logConfig.level = 1
cfg.logConfig.consoleLevel = 1
ep.libInit(cfg)
ep.audDevManager().setNullDev()
tc = pj.TransportConfig()
tc.boundAddress = "127.0.0.1"
ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
ep.libStart()
for c in ep.codecEnum2():
    ep.codecSetPriority(c.codecId, 255 if c.codecId == CODEC else 0)
acc = pj.Account()
ac = pj.AccountConfig()
ac.idUri = "sip:bridge@127.0.0.1"
acc.create(ac)

t_open = time.monotonic()
out_s = sd.OutputStream(device=device, samplerate=RATE, channels=1, dtype="int16", blocksize=FRAME,
                        latency="low", callback=out_cb)
in_s = sd.InputStream(device=device, samplerate=RATE, channels=1, dtype="int16", blocksize=FRAME,
                      latency="low", callback=in_cb)
res = {"device": device, "rate": RATE, "codec": CODEC, "pa_out_latency_ms": round(out_s.latency * 1000, 1),
       "pa_in_latency_ms": round(in_s.latency * 1000, 1)}
out_s.start()
in_s.start()
res["streams_open_start_s"] = round(time.monotonic() - t_open, 2)
call = MyCall(acc)
calls.append(call)
call.makeCall(f"sip:x@127.0.0.1:{port_no}", pj.CallOpParam(True))
cpu0, t0 = time.process_time(), time.monotonic()
while time.monotonic() - t0 < seconds:
    ep.libHandleEvents(5)
res["cpu_pct_of_one_core"] = round(100 * (time.process_time() - cpu0) / seconds, 1)
out_s.stop(); in_s.stop(); out_s.close(); in_s.close()
bridge = None
gc.collect()
try:
    call.hangup(pj.CallOpParam(True))
except pj.Error:
    pass
for _ in range(20):
    ep.libHandleEvents(10)
res.update(pj_req=st["req"], pj_rcv=st["rcv"], pa_out_cb=st["pa_out"], pa_in_cb=st["pa_in"],
           pj_cb_ms_each=round(1000 * st["pj_cost"] / max(1, st["req"] + st["rcv"]), 3),
           pa_cb_ms_each=round(1000 * st["pa_cost"] / max(1, st["pa_out"] + st["pa_in"]), 4),
           pa_status=sorted(st["pa_status"]),
           play_underruns=play_ring.underruns, play_overflows=play_ring.overflows,
           cap_underruns=cap_ring.underruns, cap_overflows=cap_ring.overflows,
           cap_overflow_info=cap_ring.overflow_info, play_overflow_info=play_ring.overflow_info)
for name, ring in (("play", play_ring), ("cap", cap_ring)):
    f = np.array(ring.fill_samples[len(ring.fill_samples) // 4:] or [0])
    res[f"{name}_ring_fill_ms_mean"] = round(float(f.mean()) * 1000 / RATE, 1)
    res[f"{name}_ring_fill_ms_p95"] = round(float(np.percentile(f, 95)) * 1000 / RATE, 1)
if heard:
    x = np.concatenate(heard).astype(float)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(spec.argmax())
    res["headset_heard_ms"] = round(len(x) * 1000 / RATE)
    res["headset_peak_hz"] = round(float(np.fft.rfftfreq(len(x), 1 / RATE)[k]), 1)
    res["headset_peak_share"] = round(float((spec[max(k - 3, 0):k + 4] ** 2).sum() / (spec ** 2).sum()), 3)
print("STATS " + json.dumps(res), flush=True)
calls.clear()
call = None
gc.collect()
del acc
ep.libDestroy()
print("CLEAN_EXIT", flush=True)
