"""Does the pjsua2 wheel release the GIL inside libHandleEvents()? A Python thread counts while the
main thread sits in libHandleEvents(1000)."""
import threading, time
import pjsua2 as pj
ep = pj.Endpoint(); ep.libCreate()
cfg = pj.EpConfig(); cfg.uaConfig.threadCnt = 0; cfg.uaConfig.mainThreadOnly = True; cfg.medConfig.threadCnt = 0
cfg.logConfig.level = 0; cfg.logConfig.consoleLevel = 0
ep.libInit(cfg); ep.audDevManager().setNullDev(); ep.libStart()
n = [0]; stop = [False]
def spin():
    while not stop[0]:
        n[0] += 1
t = threading.Thread(target=spin); t.start()
time.sleep(0.2)
a = n[0]; t0 = time.monotonic(); ep.libHandleEvents(1000); dt = time.monotonic() - t0; b = n[0]
time.sleep(0.5); c = n[0]
stop[0] = True; t.join()
print(f"libHandleEvents(1000) took {dt:.2f}s; counter advanced {b-a} during it, {c-b} in 0.5 s of time.sleep")
ep.libDestroy()
