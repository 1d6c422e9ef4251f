"""What a benchmark run inside a real console process uses to time what a CSR sees (Qt; imported only in
the console processes the benches start):

- :class:`Painted`: the moment a widget has *finished* painting — its paint event is delivered inside an
  event filter (the widget paints there) and the clock is read when that returns;
- :class:`Heartbeat`: a 5 ms QTimer on the UI thread whose late ticks say how long the thread was busy
  (``ui_stall_max_ms``, and the lag samples behind ``…_ui_lag_p99_ms``);
- :func:`rss_mb`: this process's own peak resident memory.
"""

from __future__ import annotations

import os
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


class StallTracer:
    """With CSR_BENCH_TRACE_STALLS=1: a thread that, once the UI thread has not ticked for
    ``after_ms``, samples the UI thread's Python stack every 20 ms; a stall over 50 ms is printed to
    stderr with its length and its samples — what held the thread, for ``ui_stall_max_ms``. Python
    code: it samples while the UI thread is in Python (the GIL switches every 5 ms) or in C++ that
    released the GIL; C++ that keeps the GIL shows as the Python frame that called it."""

    def __init__(self, beat: Heartbeat, after_ms: float = 40.0) -> None:
        import threading

        self.beat, self.after_s = beat, after_ms / 1000
        self.ui_thread = threading.get_ident()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._watch, name="stall-tracer", daemon=True)
        self.samples: dict[float, list[str]] = {}  # a stall's last tick → the stacks sampled in it

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()

    def _watch(self) -> None:
        import sys
        import traceback

        sampled = 0.0
        while not self.stopped.wait(0.005):
            last = self.beat.last_tick
            now = time.perf_counter()
            if last and now - last > self.after_s and now - sampled > 0.02:  # every 20 ms of a stall
                sampled = now
                frame = sys._current_frames().get(self.ui_thread)
                stack = "".join(traceback.format_stack(frame, limit=25)) if frame is not None else "?"
                self.samples.setdefault(last, []).append(f"  [{1000 * (now - last):.0f} ms in]\n{stack}")

    def tell(self, last: float, lag_ms: float) -> None:
        """The stall that began at ``last`` ended after ``lag_ms``: print what the samples caught."""
        import sys

        caught = self.samples.pop(last, [])
        print(
            f"--- UI stall {lag_ms:.0f} ms (at {last - self.beat.started:.2f} s), {len(caught)} samples:\n"
            + "".join(caught),
            file=sys.stderr,
            flush=True,
        )


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
        self.started = 0.0  # time.perf_counter() at start (the tracer's reference)
        self.last_tick = 0.0  # time.perf_counter() of the latest tick (read by StallTracer)
        self._tracer: StallTracer | None = None
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.lags_ms.clear()
        self.stall_max_ms = 0.0
        self.stalls.clear()
        self._started = self.started = self.last_tick = time.perf_counter()
        self._clock.start()
        self._timer.start()
        if os.environ.get("CSR_BENCH_TRACE_STALLS") == "1":
            self._tracer = StallTracer(self)
            self._tracer.start()

    def stop(self) -> None:
        self._timer.stop()
        if self._tracer is not None:
            self._tracer.stop()

    def _tick(self) -> None:
        gap = self._clock.nsecsElapsed() / 1e6
        self._clock.restart()
        previous, self.last_tick = self.last_tick, time.perf_counter()
        lag = max(0.0, gap - self.interval_ms)
        self.lags_ms.append(lag)
        self.stall_max_ms = max(self.stall_max_ms, lag)
        if lag > 50:
            self.stalls.append((round(time.perf_counter() - self._started, 2), round(lag, 1)))
            if self._tracer is not None:
                self._tracer.tell(previous, lag)
        elif self._tracer is not None:
            self._tracer.samples.pop(previous, None)


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
