"""Record what reached the fake headset speaker (pulse null sink monitor) for SECONDS; report the tone.
usage: HOME=alsa_pulse_home exp2_monitor.py SECONDS"""
import sys
import numpy as np
import sounddevice as sd
secs = float(sys.argv[1])
x = sd.rec(int(16000 * secs), samplerate=16000, channels=1, dtype="int16", device="csr_spk_monitor", blocking=True)[:, 0].astype(float)
act = x[np.abs(x) > 0]
res = {"monitor_s": secs, "nonzero_ms": round(len(act) / 16)}
if len(act) > 1000:
    spec = np.abs(np.fft.rfft(act * np.hanning(len(act))))
    k = int(spec.argmax())
    res.update(peak_hz=round(float(np.fft.rfftfreq(len(act), 1 / 16000)[k]), 1),
               peak_share=round(float((spec[max(k - 3, 0):k + 4] ** 2).sum() / (spec ** 2).sum()), 3),
               rms=round(float(np.sqrt(np.mean(act ** 2))), 1))
print("MONITOR", res, flush=True)
