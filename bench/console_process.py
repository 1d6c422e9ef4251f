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

With ``--floor-board`` (a supervisor, for `csr-bench floor`) it opens the floor board once online and
says ready when the board has its snapshot. Each change of a call on the board — ``SID:ring`` (the
call's row appears), ``SID:answer`` (it turns Talking), ``SID:end`` (it leaves) — is noted when the
floor message has been applied to the board's model (one more slot on ``floorMessage``, after the
floor controller's), and stamped ``painted`` once the calls table has repainted: the first paint
event of its viewport after that is delivered inside an event filter, and stamped when the table's
paintEvent has returned (``paint_began``: when that paint event began). The last line holds ``received``, ``paint_began``
and ``painted`` (key → time.time()).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    import faulthandler

    faulthandler.enable()  # a crash of the console leaves its threads' stacks in the bench's console.log
    p = argparse.ArgumentParser(prog="python -m bench.console_process")
    p.add_argument("cache", type=Path)
    p.add_argument("--url", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--profile", type=Path, required=True)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to get signed in and online")
    p.add_argument("--floor-board", action="store_true", help="open the floor board and time its repaints")
    p.add_argument("--trace", type=Path, help="one JSON line per call bubble when it has first painted")
    args = p.parse_args(argv)
    password = os.environ.get("CSR_BENCH_PASSWORD", "")
    started = time.perf_counter()

    import qasync
    from PySide6.QtWidgets import QApplication

    from console.app import configure_runtime
    from console.composition import Console
    from console.gc_guard import install as collect_on_ui_thread
    from console.settings import open_settings
    from console.theme import apply_theme

    configure_runtime()
    app = QApplication([])
    collect_on_ui_thread(app)  # as console/app.py does
    args.profile.mkdir(parents=True, exist_ok=True)
    settings = open_settings(args.profile)
    apply_theme(app, "light")
    console = Console.build(args.cache, settings)
    window = console.window
    window.resize(1920, 1080)  # a CSR's desk screen: the bubble strip shows what rings
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
    signal.connect(stamp)  # first: the message has reached the console's handlers
    signal.connect(console.calls.on_calls)  # the real handler (bubble, match)
    signal.connect(count)
    bubbles = (
        BubblePaints(console, args.trace) if args.trace is not None else None
    )  # kept: Qt holds it weakly
    if bubbles is not None:
        signal.connect(bubbles.watch)  # after it: the bubble exists

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
        board = None
        if args.floor_board:
            board = BoardTimer(console)
            while not board.ready():
                if time.monotonic() > deadline:
                    print(
                        json.dumps({"ready": False, "error": "the floor board got no snapshot"}), flush=True
                    )
                    return 1
                await asyncio.sleep(0.01)
        print(
            json.dumps(
                {"ready": True, "build_s": round(built, 3), "online_s": round(time.perf_counter() - t, 3)}
            ),
            flush=True,
        )
        from .uiprobe import Heartbeat, rss_mb

        beat = Heartbeat()  # how long the UI thread was blocked while the bench ran (ui_stall_max_ms)
        beat.start()
        await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our stdin
        beat.stop()

        print(
            json.dumps(
                {
                    "arrived": arrived,
                    "bubbles_max": most[0],
                    "rss_mb": rss_mb(),
                    "ui_stall_max_ms": round(beat.stall_max_ms, 1),
                    **(board.figures() if board is not None else {}),
                }
            ),
            flush=True,
        )
        await console.aclose()
        return 0

    with loop:
        code = loop.run_until_complete(run())
    console.shutdown()
    return code


class BubblePaints:
    """Writes one line per call bubble — {"provider_call_id", "call_id", "t": time.time(), "matches"} — when
    the bubble has painted **with its caller's match**: the screen pop as the CSR sees it. The console shows
    a new bubble at once with "Looking up…" and fills the caller when its match worker answers
    (console/calls_controller.py), so the stamp waits for both: the bubble's first paint pass has finished
    (its last label painted: bench/uiprobe.py Painted) and its caller label has painted a matched card. A
    match that answers before the first paint is stamped at the end of that pass; a later one when the
    caller label repaints with it."""

    def __init__(self, console: Any, path: Path) -> None:
        self.console = console
        # Opened once, line-buffered: a line costs the UI thread a write, not an open, and the clock is read
        # before the write.
        self.out = path.open("a", encoding="utf-8", buffering=1)
        self.watched: set[str] = set()
        self._filters: list[Any] = []

    def watch(self, calls: list[dict[str, Any]], *_args: Any) -> None:
        from .uiprobe import Painted

        for call in calls:
            call_id = str(call.get("id") or "")
            bubble = self.console.window.bubble_strip.call_bubble(call_id) if call_id else None
            if bubble is None or call_id in self.watched:
                continue
            self.watched.add(call_id)
            line = {"provider_call_id": call.get("provider_call_id", ""), "call_id": call_id}
            state = {"done": False, "pass": False, "caller": False}
            self._write(
                {**line, "kind": "created", "t": time.time()}
            )  # the bubble exists (not yet on screen)

            def matched(call_id: str = call_id) -> bool:
                card = self.console.calls.cards.get(call_id)
                return card is not None and not card.matching

            def stamp(call_id: str = call_id, line: dict[str, Any] = line, state: dict = state) -> None:
                t = time.time()
                state["done"] = True
                card = self.console.calls.cards.get(call_id)
                matches = len(card.match_ids) if card is not None else 0
                self._write({**line, "kind": "painted", "t": t, "matches": matches})

            def caller_painted(_t: float, state: dict = state, stamp: Any = stamp) -> None:
                state["caller"] = True
                if state["pass"]:
                    stamp()  # the match came after the first pass: this repaint put it on screen

            def pass_painted(
                _t: float, state: dict = state, matched: Any = matched, stamp: Any = stamp
            ) -> None:
                state["pass"] = True
                if state["caller"] and matched():
                    stamp()  # the match was there for the first pass: it closes here

            # A widget paints before its children: the last of the bubble's labels to paint closes the pass
            # in which the caller's name, the campaign and the status reached the screen.
            labels = [getattr(bubble, n, None) for n in ("caller_label", "detail_label", "status_label")]
            shown = [w for w in labels if w is not None and not w.isHidden()]
            last = shown[-1] if shown else bubble
            caller = getattr(bubble, "caller_label", None) or bubble
            self._filters.append(
                Painted(
                    caller,
                    caller_painted,
                    armed=lambda state=state, matched=matched: not state["done"] and matched(),
                )
            )
            if last is not caller:
                self._filters.append(
                    Painted(
                        last, pass_painted, armed=lambda state=state: not state["done"] and not state["pass"]
                    )
                )
            else:
                state["pass"] = True

    def _write(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record) + "\n")


class BoardTimer:
    """Opens the floor board and notes when each call change reached its model and its screen."""

    def __init__(self, console: Any) -> None:
        from PySide6.QtCore import QCoreApplication, QEvent, QObject

        self.console = console
        self.board = console.floor.open_board()
        # The board's own first size (console/floor_controller.py), the calls given room for every row of
        # this load in view (a change to a row out of view is painted only when scrolled to).
        self.board.resize(1100, 700)
        self.board.splitter.setSizes([440, 160])
        self.received: dict[str, float] = {}
        self.painted: dict[str, float] = {}
        self.paint_began: dict[str, float] = {}
        self.snapshots = 0
        self.rows_max = 0
        self._pending: list[str] = []
        self._sids: dict[str, str] = {}
        self._states: dict[str, str] = {}
        timer = self

        class Paints(QObject):
            """On the viewport's paint event: let the view paint now, inside the filter, and stamp the end."""

            def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 - Qt's name
                if event.type() != QEvent.Type.Paint or not timer._pending:
                    return False
                batch, timer._pending = timer._pending, []
                began = time.time()
                for key in batch:
                    timer.paint_began.setdefault(key, began)
                watched.removeEventFilter(self)
                try:
                    QCoreApplication.sendEvent(watched, event)  # the table paints its rows here
                finally:
                    watched.installEventFilter(self)
                timer._stamp(batch)
                return True  # painted: not delivered twice

        self._filter = Paints(self.board)
        self.board.calls_view.viewport().installEventFilter(self._filter)
        console.sync.floorMessage.connect(self._on_floor)  # after the floor controller's slot

    def ready(self) -> bool:
        return self.snapshots > 0 and self.board.connected

    def _on_floor(self, message: dict[str, Any]) -> None:
        t = time.time()
        kind = message.get("type")
        if kind == "floor_snapshot":
            self.snapshots += 1
            for call in message.get("calls") or ():
                self._sids[call["id"]], self._states[call["id"]] = (
                    call.get("provider_call_id") or "",
                    call["state"],
                )
            return
        if kind != "floor_delta":
            return
        for call in message.get("calls") or ():
            cid, state = call["id"], call.get("state")
            before = self._states.get(cid)
            self._sids[cid], self._states[cid] = call.get("provider_call_id") or "", state
            if before is None:
                self._note(f"{self._sids[cid]}:ring", t)
            if state == "Talking" and before != "Talking":
                self._note(f"{self._sids[cid]}:answer", t)
        for cid in message.get("removed_calls") or ():
            if cid in self._states:
                self._states.pop(cid)
                self._note(f"{self._sids.pop(cid, '')}:end", t)
        self.rows_max = max(self.rows_max, self.board.calls_model.rowCount())

    def _note(self, key: str, t: float) -> None:
        if key not in self.received:
            self.received[key] = t
            self._pending.append(key)

    def _stamp(self, keys: list[str]) -> None:
        t = time.time()
        for key in keys:
            self.painted.setdefault(key, t)

    def figures(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "painted": self.painted,
            "paint_began": self.paint_began,
            "snapshots": self.snapshots,
            "board_rows_max": self.rows_max,
            "agents_rows": self.board.agents_model.rowCount(),
        }


if __name__ == "__main__":
    raise SystemExit(main())
