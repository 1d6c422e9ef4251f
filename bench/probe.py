"""Runs inside a fresh console process (offscreen): measures start-up to interactive, then types into the
real `customerSearch` widget with real key events and times each keystroke until the results view has
*finished painting* the results for that text (bench/uiprobe.py Painted); a UI-thread heartbeat reports
the longest stall; finally peak RSS. Prints one JSON object (keys from bench/stats.py)."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    path, started, keystrokes = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    typed: list[str] = json.loads(sys.stdin.read())

    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from console.app import configure_runtime
    from console.composition import Console
    from console.gc_guard import install as collect_on_ui_thread
    from console.settings import open_settings
    from console.theme import apply_theme

    from .stats import summary
    from .uiprobe import Heartbeat, Painted, rss_mb

    configure_runtime()
    app = QApplication([])
    collect_on_ui_thread(app)  # as console/app.py does
    profile = Path(tempfile.mkdtemp(prefix="csr-bench-"))
    settings = open_settings(profile)
    apply_theme(app, "light")
    console = Console.build(path, settings)
    window = console.window
    window.resize(1366, 768)
    window.show()
    lookup = window.lookup

    state = {"awaited": None, "painted_at": 0.0}
    wait = QEventLoop()

    def painted(t: float) -> None:
        state["painted_at"], state["awaited"] = t, None
        wait.quit()

    # Armed only while a typed text's results are in the model: the paint that shows them is the one timed.
    Painted(
        lookup.results.viewport(),
        painted,
        armed=lambda: state["awaited"] is not None and lookup.model.query == state["awaited"],
    )
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(wait.quit)

    def wait_results(text: str, after: float, timeout: float = 5.0) -> float | None:
        state["awaited"] = text
        timer.start(int(timeout * 1000))
        wait.exec()  # a real event loop: the search worker gets the GIL as in the console
        timer.stop()
        ok = state["awaited"] is None and state["painted_at"] > after
        state["awaited"] = None
        return state["painted_at"] if ok else None

    # Interactive = window shown and a first lookup answered and painted.
    window.focus_search()
    t = time.perf_counter()
    QTest.keyClicks(lookup.search, "smith")
    done = wait_results("smith", t, timeout=30)
    startup = time.time() - started
    if done is None:
        print("first search never painted", file=sys.stderr)
        return 1

    heartbeat = Heartbeat()
    heartbeat.start()
    times: list[float] = []
    missed = 0
    while len(times) < keystrokes:
        for query in typed:
            if len(times) >= keystrokes:
                break
            QTest.keyClick(lookup.search, Qt.Key.Key_Escape)  # Esc clears the search, as a CSR does
            app.processEvents()
            for ch in query:
                t = time.perf_counter()
                QTest.keyClick(lookup.search, ch)
                text = lookup.search.text()
                if not text.strip():
                    continue
                at = wait_results(text, t)
                if at is None:
                    missed += 1
                    continue
                times.append((at - t) * 1000)
    heartbeat.stop()
    console.shutdown()
    print(
        json.dumps(
            {
                **summary("keystroke_to_paint", times),
                "keystrokes": len(times),
                "keystrokes_missed": missed,
                "ui_stall_max_ms": round(heartbeat.stall_max_ms, 1),
                "ui_stalls_over_50ms": heartbeat.stalls[:10],
                "startup_to_interactive_s": round(startup, 3),
                "rss_mb": rss_mb(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
