"""Q3: per-frame Python cost of the bridge's conversions (single thread, no contention)."""
import time, timeit
import numpy as np
import pjsua2 as pj
pcm = (np.arange(320) % 100).astype("<i2").tobytes()  # one 20 ms frame at 16 kHz
f = pj.MediaFrame(); f.buf = pj.ByteVector(pcm); f.size = len(pcm)
N = 2000
def to_pj():
    fr = pj.MediaFrame(); fr.type = pj.PJMEDIA_FRAME_TYPE_AUDIO; fr.buf = pj.ByteVector(pcm); fr.size = len(pcm)
def from_pj():
    np.frombuffer(bytes(f.buf), dtype="<i2")
ring = np.zeros(2560, np.int16)
def ring_rw():
    idx = np.arange(100, 420) % 2560; ring[idx] = 1; ring[idx].copy()
for name, fn in (("bytes->MediaFrame.buf (ByteVector)", to_pj), ("MediaFrame.buf->numpy", from_pj), ("numpy ring write+read", ring_rw)):
    us = timeit.timeit(fn, number=N, timer=time.process_time) / N * 1e6
    print(f"{name}: {us:.1f} us/frame -> {us * 50 / 1e4:.3f} % of one core at 50 frames/s")
