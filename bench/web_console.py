"""A real console process for `csr-bench web`: offscreen, over a cache marked as synced, signed in, the
Bookings inbox tab open. When pulled requests reach the inbox (console/inbox_controller.py re-reads them on
the sync's ``bookingRowsChanged``, and a new row resets the list's model), the newest new row is brought into view — the CSR looking at it — and one
line per request is written to the trace when the inbox's table has *finished* painting it:
{"name": contact name, "t": time.time()}. With ``--kind servicechannel`` (`csr-bench servicechannel`) it
follows the ServiceChannel work orders instead, each named by its inbox item id (the work order's id).

    QT_QPA_PLATFORM=offscreen CSR_BENCH_PASSWORD=… python -m bench.web_console CACHE --url ws://… \
        --user dana --profile DIR --trace trace.jsonl

Prints {"ready": true} once online; runs until its stdin is closed. Nothing in console/ is changed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.web_console")
    p.add_argument("cache", type=Path)
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--profile", type=Path, required=True)
    p.add_argument("--trace", type=Path, required=True)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--kind", choices=("web", "servicechannel"), default="web")
    args = p.parse_args(argv)
    password = os.environ.get("CSR_BENCH_PASSWORD", "")

    import qasync
    from PySide6.QtWidgets import QApplication

    from console.app import configure_runtime
    from console.composition import Console
    from console.gc_guard import install as collect_on_ui_thread
    from console.settings import open_settings
    from console.theme import apply_theme

    from .uiprobe import Painted

    configure_runtime()
    app = QApplication([])
    collect_on_ui_thread(app)
    args.profile.mkdir(parents=True, exist_ok=True)
    apply_theme(app, "light")
    console = Console.build(args.cache, open_settings(args.profile))
    window = console.window
    window.resize(1920, 1080)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window.show()
    inbox = console.inbox.inbox
    window.work_tabs.setCurrentWidget(inbox)
    view = inbox.view
    out = args.trace.open("a", encoding="utf-8", buffering=1)
    seen: set[str] = set()
    pending: list[str] = []

    def key(row: object) -> str:
        if args.kind == "servicechannel":
            return row.item_id if row.kind == "servicechannel" else ""  # type: ignore[attr-defined]
        name = row.contact_name  # type: ignore[attr-defined]
        return name if name.startswith("Bench ") else ""

    def listed() -> None:
        new = [(k, r) for r in inbox.model.rows() if (k := key(r)) and k not in seen]
        if not new:
            return
        for k, _r in new:
            seen.add(k)
            pending.append(k)
        view.scrollTo(inbox.model.index(inbox.model.row_of(new[-1][1].id), 0))

    def painted(_t: float) -> None:
        t = time.time()
        for name in pending:
            out.write(json.dumps({"name": name, "t": t}) + "\n")
        pending.clear()

    inbox.model.modelReset.connect(listed)
    probe = Painted(view.viewport(), painted, armed=lambda: bool(pending))  # kept: Qt holds it weakly

    async def run() -> int:
        ok = await console.sync.sign_in_with(args.url, args.user, password)
        deadline = time.monotonic() + args.timeout
        while ok and (console.sync.client is None or console.sync.client.status.state != "online"):
            if time.monotonic() > deadline:
                ok = False
                break
            await asyncio.sleep(0.01)
        print(json.dumps({"ready": bool(ok)}), flush=True)
        if ok:
            from .uiprobe import Heartbeat

            beat = Heartbeat()  # how long the UI thread was blocked while the bench ran (ui_stall_max_ms)
            beat.start()
            await loop.run_in_executor(None, sys.stdin.read)
            beat.stop()
            print(json.dumps({"ui_stall_max_ms": round(beat.stall_max_ms, 1)}), flush=True)
        await console.aclose()
        return 0 if ok else 1

    with loop:
        code = loop.run_until_complete(run())
    del probe
    console.shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
