"""Python's cyclic garbage collector, run on the UI thread only.

Left automatic, a collection starts in whichever thread happens to allocate when a threshold is
crossed — often an ``asyncio.to_thread`` worker (the search, the sync client's reads). If the garbage
holds a QObject of the UI thread (a widget's timer, a qasync timer of a finished coroutine), Qt
deletes it from the worker thread: its timer stays in the UI thread's timer list and the next timer
pass calls into freed memory (a crash in ``QTimerInfoList::activateTimers``). This is the well-known
PyQt/PySide recipe: turn automatic collection off and collect, by generation and only when the
thresholds say so, from a timer on the UI thread. Reference counting still frees everything that
is not in a cycle at once; only cycles wait up to one interval.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """``install(app)`` once; ``check()`` collects what the thresholds ask for (also callable by hand)."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS) -> None:
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        self.frozen = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)

    def start(self) -> None:
        gc.disable()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()

    def check(self) -> int:
        if not self.frozen:
            # Everything alive at the first tick is start-up's (modules, setup, widgets) and lives as long
            # as the console: kept out of every later collection, a full collection no longer walks it
            # (~120k objects: 42 ms per full collection on the UI thread before, ~0 after).
            self.frozen = True
            gc.freeze()
        return collect_due(self.thresholds)


def collect_due(thresholds: tuple[int, int, int] | None = None) -> int:
    """Collect the generations whose counts passed their thresholds (what automatic collection would
    have done by now), on the calling thread; the number of objects freed."""
    first, second, third = gc.get_count()
    limits = thresholds or gc.get_threshold()
    if third > limits[2]:
        return gc.collect(2)
    if second > limits[1]:
        return gc.collect(1)
    if first > limits[0]:
        return gc.collect(0)
    return 0


def install(parent: QObject) -> MainThreadCollector:
    """Collect on the UI thread from now on (the collector lives as long as ``parent``)."""
    collector = MainThreadCollector(parent)
    collector.start()
    return collector
