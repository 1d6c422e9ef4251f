"""Runs inside a fresh console process (offscreen): measures start-up to interactive, then types
into the real `customerSearch` widget and times each keystroke until the results view has painted
the results for that text; finally reports peak RSS. Prints one JSON object."""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    path, started, keystrokes = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    typed: list[str] = json.loads(sys.stdin.read())

    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from console.app import configure_runtime
    from console.composition import Console
    from console.settings import open_settings
    from console.theme import apply_theme

    configure_runtime()
    app = QApplication([])
    profile = Path(tempfile.mkdtemp(prefix="csr-bench-"))
    settings = open_settings(profile)
    apply_theme(app, "light")
    console = Console.build(path, settings)
    window = console.window
    window.show()
    lookup = window.lookup

    class PaintSpy(QObject):
        """Ends a nested event loop when the results view paints the results for the awaited text.

        Waiting in a real event loop (not a busy processEvents loop) leaves the GIL to the search
        worker exactly as the console's own idle loop does.
        """

        def __init__(self) -> None:
            super().__init__()
            self.painted_at = 0.0
            self.awaited: str | None = None
            self.loop = QEventLoop()

        def eventFilter(self, obj, event):  # noqa: ANN001, N802
            if event.type() == QEvent.Type.Paint and self.awaited is not None \
                    and lookup.model.query == self.awaited:
                self.painted_at = time.perf_counter()
                self.awaited = None
                self.loop.quit()
            return False

    spy = PaintSpy()
    lookup.results.viewport().installEventFilter(spy)
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(spy.loop.quit)

    def wait_results(text: str, after: float, timeout: float = 5.0) -> float | None:
        if lookup.model.query == text and spy.painted_at > after:
            return spy.painted_at
        spy.awaited = text
        timer.start(int(timeout * 1000))
        spy.loop.exec()
        timer.stop()
        return spy.painted_at if spy.painted_at > after and spy.awaited is None else None

    # Interactive = window shown and a first lookup answered and painted.
    window.focus_search()
    t = time.perf_counter()
    QTest.keyClicks(lookup.search, "smith")
    done = wait_results("smith", t, timeout=30)
    startup = time.time() - started
    if done is None:
        print("first search never painted", file=sys.stderr)
        return 1

    times: list[float] = []
    for query in typed:
        if len(times) >= keystrokes:
            break
        lookup.search.clear()
        app.processEvents()
        for ch in query:
            t = time.perf_counter()
            QTest.keyClick(lookup.search, ch)
            text = lookup.search.text()
            if not text.strip():
                continue
            painted = wait_results(text, t)
            if painted is None:
                print(f"no paint for {text!r}", file=sys.stderr)
                return 1
            times.append((painted - t) * 1000)
    times.sort()
    p = lambda q: times[min(len(times) - 1, int(round(q * (len(times) - 1))))]  # noqa: E731
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.shutdown()
    print(json.dumps({"keystroke_to_paint_p50_ms": round(p(0.5), 2), "keystroke_to_paint_p99_ms": round(p(0.99), 2),
                      "keystrokes": len(times), "startup_to_interactive_s": round(startup, 3),
                      "rss_mb": round(rss_mb, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
