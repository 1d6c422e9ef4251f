"""Q3 (CPU time, not wall: the box is loaded): faster ways to move 640 bytes between MediaFrame.buf (SWIG ByteVector) and Python."""
import array, time, timeit
import numpy as np
import pjsua2 as pj
pcm = (np.arange(320) % 100).astype("<i2").tobytes()
f = pj.MediaFrame(); f.buf = pj.ByteVector(pcm); f.size = len(pcm)
bv = f.buf  # one copy out of the frame
N = 300
cands = {
    "bytes(f.buf)": lambda: bytes(f.buf),
    "f.buf (property copy only)": lambda: f.buf,
    "bytes(bv)  [bv cached]": lambda: bytes(bv),
    "bytes(tuple(bv))": lambda: bytes(tuple(bv)),
    "bytes(list(bv))": lambda: bytes(list(bv)),
    "np.fromiter(bv,u8,640)": lambda: np.fromiter(bv, np.uint8, 640),
    "array('B', bv)": lambda: array.array("B", bv),
    "bv[0:640] slice": lambda: bv[0:640],
    "ByteVector(bytes)": lambda: pj.ByteVector(pcm),
    "ByteVector(list)": lambda: pj.ByteVector(list(pcm)),
}
for name, fn in cands.items():
    try:
        us = timeit.timeit(fn, number=N, timer=time.process_time) / N * 1e6
        print(f"{name:30s} {us:9.1f} us   type={type(fn()).__name__}")
    except Exception as e:
        print(name, "ERR", e)
