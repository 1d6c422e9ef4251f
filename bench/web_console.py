"""A real console process for `csr-bench web`: offscreen, over a cache marked as synced, signed in, the
Bookings inbox tab open. When pulled requests reach the inbox (console/inbox_controller.py re-reads them on
the sync's ``bookingRowsChanged``, and a new row resets the list's model), the newest new row is brought into view — the CSR looking at it — and one
line per request is written to the trace when the inbox's table has *finished* painting it:
{"name": contact name, "t": time.time()}.

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

    def listed() -> None:
        rows = inbox.model.rows()
        new = [r for r in rows if r.contact_name.startswith("Bench ") and r.contact_name not in seen]
        if not new:
            return
        for r in new:
            seen.add(r.contact_name)
            pending.append(r.contact_name)
        view.scrollTo(inbox.model.index(inbox.model.row_of(new[-1].id), 0))

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
            await loop.run_in_executor(None, sys.stdin.read)
        await console.aclose()
        return 0 if ok else 1

    with loop:
        code = loop.run_until_complete(run())
    del probe
    console.shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
