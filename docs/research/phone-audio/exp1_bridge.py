"""Q1: AudioMediaPort bridge under the null device, poll mode, two processes over loopback UDP.

usage: exp1_bridge.py callee PORT TONE_HZ SECONDS [PORT_RATE]
       exp1_bridge.py caller PORT TONE_HZ SECONDS [PORT_RATE]
Each side writes a sine of TONE_HZ into its port's onFrameRequested (-> call) and analyses what
arrives in onFrameReceived (<- call). Prints one JSON line of stats at the end.
"""
import gc
import json
import math
import sys
import threading
import time

import numpy as np
import pjsua2 as pj

role, port_no, tone_hz, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
PORT_RATE = int(sys.argv[5]) if len(sys.argv) > 5 else 16000
CODEC = sys.argv[6] if len(sys.argv) > 6 else ""  # e.g. PCMU/8000/1, speex/16000/1, G722/16000/1
MISUSE = sys.argv[7] if len(sys.argv) > 7 else ""  # "raise" | "pjcall": deliberate misuse in the media callback
PTIME_MS = 20
MAIN = threading.get_ident()


class Bridge(pj.AudioMediaPort):
    def __init__(self):
        super().__init__()
        self.req = 0
        self.rcv = 0
        self.req_threads = set()
        self.rcv_threads = set()
        self.req_t = []
        self.rcv_sizes = set()
        self.rcv_types = set()
        self.received = []  # int16 arrays
        self.phase = 0
        self.n = PORT_RATE * PTIME_MS // 1000
        self.cb_cost = 0.0
        self.rx_frame_rms = []

    def onFrameRequested(self, frame):  # conf bridge wants audio from us (-> remote)
        t0 = time.perf_counter()
        self.req += 1
        self.req_threads.add(threading.get_ident())
        self.req_t.append(time.monotonic())
        if MISUSE == "raise" and self.req == 100:
            raise RuntimeError("boom in onFrameRequested")
        if MISUSE == "pjcall" and self.req == 100:
            print("pjcall from media thread:", self.getPortId(), pj.Endpoint.instance().mediaActivePorts(), flush=True)
        i = np.arange(self.phase, self.phase + self.n)
        self.phase += self.n
        pcm = (8000 * np.sin(2 * math.pi * tone_hz * i / PORT_RATE)).astype("<i2").tobytes()
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(pcm)
        frame.size = len(pcm)
        self.cb_cost += time.perf_counter() - t0

    def onFrameReceived(self, frame):  # audio from the conf bridge (<- remote)
        t0 = time.perf_counter()
        self.rcv += 1
        self.rcv_threads.add(threading.get_ident())
        self.rcv_sizes.add(frame.size)
        self.rcv_types.add(frame.type)
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
            self.received.append(np.frombuffer(bytes(frame.buf), dtype="<i2"))
            self.rx_frame_rms.append(round(float(np.sqrt(np.mean(self.received[-1].astype(float) ** 2)))))
        self.cb_cost += time.perf_counter() - t0


bridge = None
calls = []


def attach(call):
    global bridge
    ci = call.getInfo()
    for i, mi in enumerate(ci.media):
        if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
            am = call.getAudioMedia(i)
            if bridge is None:
                bridge = Bridge()
                fmt = pj.MediaFormatAudio()
                fmt.init(pj.PJMEDIA_FORMAT_PCM, PORT_RATE, 1, PTIME_MS * 1000, 16)
                bridge.createPort(f"bridge-{role}", fmt)
                am.startTransmit(bridge)
                bridge.startTransmit(am)
                stats["attached_at"] = time.monotonic() - T0


class MyCall(pj.Call):
    def onCallState(self, prm):
        ci = self.getInfo()
        stats.setdefault("states", []).append(ci.stateText)

    def onCallMediaState(self, prm):
        stats["media_cb_thread_is_main"] = threading.get_ident() == MAIN
        attach(self)


class MyAcc(pj.Account):
    def onIncomingCall(self, prm):
        c = MyCall(self, prm.callId)
        calls.append(c)
        op = pj.CallOpParam()
        op.statusCode = 200
        c.answer(op)


stats = {"role": role, "tone_hz": tone_hz, "port_rate": PORT_RATE}
T0 = time.monotonic()
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
stats["dev_count"] = ep.audDevManager().getDevCount()
tc = pj.TransportConfig()
tc.port = port_no if role == "callee" else 0
tc.boundAddress = "127.0.0.1"
ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tc)
ep.libStart()
stats["codecs"] = [c.codecId for c in ep.codecEnum2()]
if CODEC:
    for cid in stats["codecs"]:
        ep.codecSetPriority(cid, 255 if cid == CODEC else 0)
acc_cfg = pj.AccountConfig()
acc_cfg.idUri = f"sip:{role}@127.0.0.1"
acc = MyAcc()
acc.create(acc_cfg)

if role == "caller":
    c = MyCall(acc)
    calls.append(c)
    c.makeCall(f"sip:x@127.0.0.1:{port_no}", pj.CallOpParam(True))

cpu0 = time.process_time()
deadline = time.monotonic() + seconds
polls = 0
churns = 0
while time.monotonic() < deadline:
    ep.libHandleEvents(5)
    polls += 1
    if MISUSE == "churn" and bridge is not None and polls % 20 == 0:
        # drop the port mid-call (media thread is running) and attach a fresh one
        old = bridge
        bridge = None
        del old
        gc.collect()
        for cc in calls:
            attach(cc)
        churns += 1
stats["churns"] = churns
stats["cpu_s"] = round(time.process_time() - cpu0, 3)
stats["wall_s"] = seconds
stats["polls"] = polls

try:
    for c in calls:
        ci = c.getInfo()
        for i, mi in enumerate(ci.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO:
                si = c.getStreamInfo(i)
                stats["codec"] = f"{si.codecName}/{si.codecClockRate}"
except pj.Error as e:
    stats["codec_err"] = e.reason

if bridge is not None:
    b = bridge
    stats["req_calls"] = b.req
    stats["rcv_calls"] = b.rcv
    stats["req_threads_main"] = [t == MAIN for t in b.req_threads]
    stats["rcv_threads_main"] = [t == MAIN for t in b.rcv_threads]
    stats["rcv_frame_sizes"] = sorted(b.rcv_sizes)
    stats["rcv_frame_types"] = sorted(b.rcv_types)
    if len(b.req_t) > 10:
        d = np.diff(b.req_t[5:]) * 1000
        stats["req_interval_ms"] = {"mean": round(float(d.mean()), 2), "min": round(float(d.min()), 2),
                                    "max": round(float(d.max()), 2)}
    stats["cb_cost_ms_total"] = round(b.cb_cost * 1000, 1)
    if b.received:
        x = np.concatenate(b.received).astype(float)
        x = x[len(x) // 4: 3 * len(x) // 4]  # middle half: skip start-up and the hang-up
        stats["rx_frame_rms_every10"] = b.rx_frame_rms[::10]
        np.save(f"rx_{role}.npy", np.concatenate(b.received))
        rms = float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0
        stats["rx_samples"] = int(len(x))
        stats["rx_rms"] = round(rms, 1)
        if len(x) > 1000:
            spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
            freqs = np.fft.rfftfreq(len(x), 1 / PORT_RATE)
            k = int(spec.argmax())
            stats["rx_peak_hz"] = round(float(freqs[k]), 1)
            stats["rx_peak_energy_share"] = round(float((spec[max(k - 3, 0):k + 4] ** 2).sum() / (spec ** 2).sum()), 3)
    # tear down in order: stop transmit, drop the port, hang up, destroy
    bridge = None
    del b
for c in calls:
    try:
        c.hangup(pj.CallOpParam(True))
    except pj.Error:
        pass
for _ in range(20):
    ep.libHandleEvents(10)
print("STATS " + json.dumps(stats), flush=True)
calls.clear()
c = cc = None
import gc
gc.collect()
del acc
ep.libDestroy()
print("CLEAN_EXIT", flush=True)
