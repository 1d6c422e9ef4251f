"""A real console process for `initial_sync_*` (bench/initial_sync.py): offscreen, on a new empty cache,
it signs in to the server and copies the company's records (the initial sync) while a UI-thread heartbeat
(bench/uiprobe.py) measures how late the Qt event loop runs. Prints one JSON line.

    QT_QPA_PLATFORM=offscreen CSR_BENCH_PASSWORD=… python -m bench.initial_console CACHE URL USER PROFILE
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    cache, url, user, profile = (argv or sys.argv[1:])[:4]
    import qasync
    from PySide6.QtWidgets import QApplication

    from console.app import configure_runtime
    from console.composition import Console
    from console.gc_guard import install as collect_on_ui_thread
    from console.settings import open_settings
    from console.theme import apply_theme

    from .stats import summary
    from .uiprobe import Heartbeat, rss_mb

    configure_runtime()
    app = QApplication([])
    collect_on_ui_thread(app)
    Path(profile).mkdir(parents=True, exist_ok=True)
    apply_theme(app, "light")
    console = Console.build(Path(cache), open_settings(Path(profile)))
    console.window.resize(1366, 768)
    console.window.show()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    progress: list = []

    async def run() -> dict:
        heartbeat = Heartbeat()
        t0 = time.perf_counter()
        heartbeat.start()
        if not await console.sync.sign_in_with(url, user, os.environ.get("CSR_BENCH_PASSWORD", "")):
            return {"error": "sign-in failed"}
        console.sync.client.on_initial = _chain(console.sync.client.on_initial, progress.append)
        while console.sync.client is None or console.sync.client.status.state != "online":
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - t0
        heartbeat.stop()
        done = next((p for p in progress if p.finished), None)
        rows = progress[-1].rows_done if progress else 0
        await console.aclose()
        return {
            "rows": rows,
            "seconds": round(elapsed, 2),
            "initial_sync_rows_per_s": round(rows / elapsed),
            "finished": bool(done),
            **(done.timings if done else {}),
            **summary("initial_sync_ui_lag", heartbeat.lags_ms),
            "ui_stall_max_ms": round(heartbeat.stall_max_ms, 1),
            "ui_stalls_over_50ms": heartbeat.stalls[:10],
            "rss_mb": rss_mb(),
        }

    with loop:
        out = loop.run_until_complete(run())
    console.shutdown()
    print(json.dumps(out), flush=True)
    return 0 if "error" not in out else 1


def _chain(first, second):  # noqa: ANN001, ANN202
    def both(value) -> None:  # noqa: ANN001
        first(value)
        second(value)

    return both


if __name__ == "__main__":
    raise SystemExit(main())
