"""Runs in a fresh console process (offscreen, 1366×768) over the benchmark cache and books like a CSR,
with real key and mouse events into the real window (bench/uiprobe.py times what reaches the screen):

- ``form_ready``: Ctrl+J → the form bound and its Business unit focused;
- ``availability``: Ctrl+G → the availability list has *painted* the 14 days of windows;
- ``book_click_to_confirmed``: a mouse click on Book Job → the job is durable in the cache (its write,
  synchronous=FULL, committed on the booking worker) **and** the status bar has painted "Job N booked";
- ``ui_stall_max_ms``: the longest the UI thread was blocked over the whole run (a 5 ms QTimer heartbeat).

Prints one JSON object (keys from bench/stats.py)."""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    path, bookings = Path(sys.argv[1]), int(sys.argv[2])

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
    collect_on_ui_thread(app)
    apply_theme(app, "light")
    console = Console.build(path, open_settings(Path(tempfile.mkdtemp(prefix="csr-bench-"))))
    window = console.window
    window.resize(1366, 768)
    window.show()
    window.activateWindow()
    app.processEvents()
    # A CSR books seconds after start-up at the earliest: let the start-up reads (search prewarm) finish.
    t = time.perf_counter()
    console.search.wait_prewarm(60)
    prewarm_s = time.perf_counter() - t
    form = console.booking.form
    setup = console.booking.setup
    rng = random.Random(11)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        top = conn.execute("SELECT max(rowid) FROM customers").fetchone()[0]
        customers: list[str] = []
        while len(customers) < bookings:
            row = conn.execute(
                "SELECT id FROM customers WHERE rowid = ? AND do_not_service = 0",
                (rng.randrange(1, top + 1),),
            ).fetchone()
            if row:
                customers.append(row[0])
    pairs = [(bu, jt) for bu in setup.business_units for jt in setup.job_types_for(bu.id)]

    wait = QEventLoop()
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(wait.quit)
    state: dict = {}

    def until(predicate, timeout: float = 10.0) -> bool:  # noqa: ANN001
        """Run the real event loop until ``predicate()``; the heartbeat keeps ticking meanwhile."""
        deadline = time.perf_counter() + timeout
        while not predicate():
            if time.perf_counter() > deadline:
                return False
            timer.start(1)
            wait.exec()
        return True

    # Stamps: the availability list painted with rows; the status bar painted with the booking's message.
    Painted(
        form.availability_view.viewport(),
        lambda t: state.__setitem__("slots_painted", t),
        armed=lambda: (
            "slots_painted" not in state
            and form.availability.rowCount() > 0
            and state.get("awaiting") == "slots"
        ),
    )
    status = window.statusBar()
    Painted(
        status,
        lambda t: state.__setitem__("status_painted", t),
        armed=lambda: (
            "status_painted" not in state
            and state.get("awaiting") == "booked"
            and status.currentMessage().startswith("Job ")
        ),
    )
    numbers: list = []
    console.booking.bookFinished.connect(
        lambda n: (numbers.append(n), state.__setitem__("durable", time.perf_counter()))
    )

    heartbeat = Heartbeat()
    heartbeat.start()
    ready, avail, click = [], [], []
    refused = 0
    for i, customer_id in enumerate(customers):
        opened: list = []
        console.customers.open_customer(customer_id, then=opened.append)  # read on its worker
        if not until(lambda opened=opened: bool(opened)):
            print("the customer did not open", file=sys.stderr)
            return 1
        window.lookup.search.setFocus()
        t = time.perf_counter()
        QTest.keyClick(window.lookup.search, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
        if not until(lambda: form.business_unit.hasFocus()):
            print("Ctrl+J did not focus Business unit", file=sys.stderr)
            return 1
        ready.append((time.perf_counter() - t) * 1000)
        bu, jt = pairs[i % len(pairs)]
        form.business_unit.setCurrentIndex(form.business_unit.findData(bu.id))
        form.job_type.setCurrentIndex(form.job_type.findData(jt.id))
        form.campaign.setCurrentIndex(1 + i % (form.campaign.count() - 1))
        if not form.summary.toPlainText().strip():
            form.summary.setPlainText("Benchmark booking")
        state.clear()
        state["awaiting"] = "slots"
        form.business_unit.setFocus()
        t = time.perf_counter()
        QTest.keyClick(form.business_unit, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
        if not until(lambda: "slots_painted" in state):
            print("the availability list never painted", file=sys.stderr)
            return 1
        avail.append((state["slots_painted"] - t) * 1000)
        row = form.availability.first_fitting_row()
        if row < 0:
            refused += 1
            continue
        form.availability_view.picked.emit(row)
        state.clear()
        state["awaiting"] = "booked"
        numbers.clear()
        t = time.perf_counter()
        QTest.mouseClick(form.book_button, Qt.MouseButton.LeftButton)
        if not until(lambda: numbers and (numbers[0] is None or "status_painted" in state)):
            print(f"no confirmation: {form.errors_label.text()}", file=sys.stderr)
            return 1
        if numbers[0] is None:
            refused += 1
            continue
        click.append((max(state["durable"], state["status_painted"]) - t) * 1000)
        # Given back at once (not timed): every booking of the run finds the same availability. Written
        # on the booking worker, as the console writes: on the UI thread, the heartbeat would count this
        # benchmark's own fsync as the console's stall.
        given: list = []
        console.booking.worker.submit(
            _give_back, path, console.writer, numbers[0], done=given.append, failed=given.append
        )
        if not until(lambda given=given: bool(given), timeout=60) or isinstance(given[0], BaseException):
            print(f"the booking could not be given back: {given}", file=sys.stderr)
            return 1
    heartbeat.stop()
    stall = heartbeat.stall_max_ms
    console.shutdown()
    print(
        json.dumps(
            {
                "bookings": len(click),
                "no_window_or_refused": refused,
                **summary("book_click_to_confirmed", click),
                **summary("availability", avail),
                **summary("form_ready", ready),
                "ui_stall_max_ms": round(stall, 1),
                "ui_stalls_over_50ms": heartbeat.stalls[:10],
                "rss_mb": rss_mb(),
                "waited_for_prewarm_s": round(prewarm_s, 2),
            }
        )
    )
    return 0


def _give_back(path: Path, writer: object, number: str) -> None:
    """Cancel a benchmark booking (on the booking worker thread)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        job_id = conn.execute("SELECT id FROM jobs WHERE number = ?", (number,)).fetchone()[0]
    writer.execute("cancel_job", {"job_id": job_id, "reason": "csr-bench booking run"})


if __name__ == "__main__":
    raise SystemExit(main())
