"""What a benchmark run inside a real console process uses to time what a CSR sees (Qt; imported only in
the console processes the benches start):

- :class:`Painted`: the moment a widget has *finished* painting — its paint event is delivered inside an
  event filter (the widget paints there) and the clock is read when that returns;
- :class:`Heartbeat`: a 5 ms QTimer on the UI thread whose late ticks say how long the thread was busy
  (``ui_stall_max_ms``, and the lag samples behind ``…_ui_lag_p99_ms``);
- :func:`rss_mb`: this process's own peak resident memory.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QObject, QTimer


class Painted(QObject):
    """Calls ``on_painted(t_after_paint)`` after each paint of ``widget`` while ``armed`` returns True."""

    def __init__(
        self, widget: Any, on_painted: Callable[[float], None], armed: Callable[[], bool] = lambda: True
    ) -> None:
        super().__init__(widget)
        self.widget = widget
        self.on_painted = on_painted
        self.armed = armed
        widget.installEventFilter(self)

    def eventFilter(self, watched: Any, event: Any) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.Paint or not self.armed():
            return False
        watched.removeEventFilter(self)
        try:
            QCoreApplication.sendEvent(watched, event)  # the widget paints here
        finally:
            watched.installEventFilter(self)
        self.on_painted(time.perf_counter())
        return True  # painted: not delivered twice


class Heartbeat(QObject):
    """A timer on the UI thread every ``interval_ms``; a tick that comes late means the thread was busy.
    ``lags_ms``: each tick's delay past its due time; ``stall_max_ms``: the longest gap between ticks
    less the interval."""

    def __init__(self, interval_ms: int = 5) -> None:
        super().__init__()
        self.interval_ms = interval_ms
        self.lags_ms: list[float] = []
        self.stall_max_ms = 0.0
        self.stalls: list[tuple[float, float]] = []  # (seconds since start, ms) of each tick > 50 ms late
        self._started = 0.0
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.lags_ms.clear()
        self.stall_max_ms = 0.0
        self.stalls.clear()
        self._started = time.perf_counter()
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        gap = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        lag = max(0.0, gap - self.interval_ms)
        self.lags_ms.append(lag)
        self.stall_max_ms = max(self.stall_max_ms, lag)
        if lag > 50:
            self.stalls.append((round(time.perf_counter() - self._started, 2), round(lag, 1)))


def rss_mb() -> float:
    """Peak resident memory of this process's own address space (Linux: VmHWM).

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries the parent's peak over a fork + exec into the
    child's ru_maxrss, so a console started by a bench that had just seeded a 1M cache (≈600 MB in the
    bench process) reported the seeder's peak as its own — the 617 MB of a fresh clone's first run."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # not Linux: the best known
