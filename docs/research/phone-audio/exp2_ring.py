"""Q2c: the plain `type null` device csr_ring: output-only and input-only streams, separately.
usage: HOME=alsa_home exp2_ring.py out|in"""
import sys, time, faulthandler
import sounddevice as sd
faulthandler.dump_traceback_later(8, exit=True)
n = [0]
def cb(*a):
    n[0] += 1
kind = sys.argv[1]
S = sd.OutputStream if kind == "out" else sd.InputStream
t = time.monotonic()
s = S(device="csr_ring", samplerate=16000, channels=1, dtype="int16", blocksize=320, callback=cb)
print("opened", round(time.monotonic() - t, 3), flush=True)
s.start(); print("started", flush=True)
time.sleep(1)
print("callbacks in 1 s:", n[0], flush=True)
s.stop(); print("stopped", flush=True)
s.close(); print("closed", flush=True)
