"""A real console process for `csr-bench calls`: offscreen, over a cache marked as synced, signed in to a
server; it shows the calls the server sends as bubbles (console/calls_controller.py), which write the
CSR_CALL_TRACE lines the benchmark times.

    QT_QPA_PLATFORM=offscreen CSR_CALL_TRACE=trace.jsonl CSR_BENCH_PASSWORD=… \
        python -m bench.console_process CACHE --url ws://127.0.0.1:PORT --user dana --profile DIR

Prints one JSON line when it is signed in and online ({"ready": true, ...}); runs until its stdin is
closed, then prints one JSON line: when each call's first ``call`` message reached the console's
handlers (``arrived``: provider call id → time.time(), stamped before the bubble code runs), the most
bubbles shown at once, and the peak RSS. Nothing in console/ is changed: the stamp is one more slot on
the sync controller's ``callsArrived`` signal, connected ahead of the calls controller's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.console_process")
    p.add_argument("cache", type=Path)
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--profile", type=Path, required=True)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to get signed in and online")
    args = p.parse_args(argv)
    password = os.environ.get("CSR_BENCH_PASSWORD", "")
    started = time.perf_counter()

    import qasync
    from PySide6.QtWidgets import QApplication

    from console.app import configure_runtime
    from console.composition import Console
    from console.settings import open_settings
    from console.theme import apply_theme

    configure_runtime()
    app = QApplication([])
    args.profile.mkdir(parents=True, exist_ok=True)
    settings = open_settings(args.profile)
    apply_theme(app, "light")
    console = Console.build(args.cache, settings)
    window = console.window
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window.show()
    built = time.perf_counter() - started

    arrived: dict[str, float] = {}
    most = [0]

    def stamp(calls: list[dict[str, Any]], _taken_from: str = "", _full: bool = False) -> None:
        now = time.time()
        for call in calls:
            key = str(call.get("provider_call_id") or "")
            if key and key not in arrived:
                arrived[key] = now

    def count(*_args: Any) -> None:
        most[0] = max(most[0], len(console.calls.cards))

    signal = console.sync.callsArrived
    signal.disconnect(console.calls.on_calls)
    signal.connect(stamp)                       # first: the message has reached the console's handlers
    signal.connect(console.calls.on_calls)      # the real handler (bubble, match, trace line)
    signal.connect(count)

    async def run() -> int:
        t = time.perf_counter()
        ok = await console.sync.sign_in_with(args.url, args.user, password)
        if not ok:
            print(json.dumps({"ready": False, "error": "sign-in failed"}), flush=True)
            return 1
        deadline = time.monotonic() + args.timeout
        while console.sync.client is None or console.sync.client.status.state != "online":
            if time.monotonic() > deadline:
                state = console.sync.client.status.state if console.sync.client else "no client"
                print(json.dumps({"ready": False, "error": f"not online: {state}"}), flush=True)
                return 1
            await asyncio.sleep(0.01)
        print(json.dumps({"ready": True, "build_s": round(built, 3),
                          "online_s": round(time.perf_counter() - t, 3)}), flush=True)
        await loop.run_in_executor(None, sys.stdin.read)      # until the benchmark closes our stdin
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"arrived": arrived, "bubbles_max": most[0], "rss_mb": round(rss_mb, 1)}), flush=True)
        await console.aclose()
        return 0

    with loop:
        code = loop.run_until_complete(run())
    console.shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
