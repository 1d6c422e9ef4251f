"""Runs in a fresh console process (offscreen) over the benchmark cache: Ctrl+J → form ready,
Get availability (14 days), Book Job → job + appointment + outbox row durable. Prints one JSON object."""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)


def main() -> int:
    path, bookings = Path(sys.argv[1]), int(sys.argv[2])

    from PySide6.QtCore import QEventLoop, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from console.app import configure_runtime
    from console.composition import Console
    from console.settings import open_settings
    from console.theme import apply_theme

    configure_runtime()
    app = QApplication([])
    apply_theme(app, "light")
    console = Console.build(path, open_settings(Path(tempfile.mkdtemp(prefix="csr-bench-"))))
    window = console.window
    window.show()
    window.activateWindow()
    app.processEvents()
    # A CSR books seconds after start-up at the earliest: let the start-up reads (search prewarm)
    # finish first, and report how long they took.
    t = time.perf_counter()
    console.search.wait_prewarm(60)
    prewarm_s = time.perf_counter() - t
    form = console.booking.form
    setup = console.booking.setup
    rng = random.Random(11)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        top = conn.execute("SELECT max(rowid) FROM customers").fetchone()[0]
        customers = []
        while len(customers) < bookings:
            row = conn.execute("SELECT id FROM customers WHERE rowid = ? AND do_not_service = 0",
                               (rng.randrange(1, top + 1),)).fetchone()
            if row:
                customers.append(row[0])
    pairs = [(bu, jt) for bu in setup.business_units for jt in setup.job_types_for(bu.id)]
    ready, avail, save, avail_all, total = [], [], [], [], []
    mine: list[str] = []
    # "Saved" = the book_job transaction committed (synchronous=FULL: on disk). The panel refresh
    # that follows is measured separately as book_to_refreshed.
    execute = console.writer.execute

    def timed_execute(name, args):  # noqa: ANN001, ANN202
        t0 = time.perf_counter()
        try:
            return execute(name, args)
        finally:
            if name == "book_job":
                save.append((time.perf_counter() - t0) * 1000)

    console.writer.execute = timed_execute
    booked = 0
    for i, customer_id in enumerate(customers):
        console.customers.open_customer(customer_id)
        app.processEvents()
        window.lookup.search.setFocus()
        t = time.perf_counter()
        QTest.keyClick(window.lookup.search, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
        if not form.business_unit.hasFocus():
            print("Ctrl+J did not focus Business unit", file=sys.stderr)
            return 1
        ready.append((time.perf_counter() - t) * 1000)
        bu, jt = pairs[i % len(pairs)]
        form.business_unit.setCurrentIndex(form.business_unit.findData(bu.id))
        form.job_type.setCurrentIndex(form.job_type.findData(jt.id))
        form.campaign.setCurrentIndex(1 + i % (form.campaign.count() - 1))
        if not form.summary.toPlainText().strip():
            form.summary.setPlainText("Benchmark booking")
        t = time.perf_counter()
        console.booking.show_availability()
        avail.append((time.perf_counter() - t) * 1000)
        row = form.availability.first_fitting_row()
        if row < 0:
            continue
        form.availability_view.picked.emit(row)
        t = time.perf_counter()
        number = console.booking.book()
        total.append((time.perf_counter() - t) * 1000)
        if number is not None:
            mine.append(number)
        if number is None:
            print(f"booking refused: {form.errors_label.text()}", file=sys.stderr)
            return 1
        booked += 1
    # Every business unit's 14 days at once (what a dispatcher's overview would need).
    for _ in range(20):
        t = time.perf_counter()
        for bu in setup.business_units:
            jts = setup.job_types_for(bu.id)
            if jts:
                console.booking.slots(bu.id, jts[0].duration_minutes, jts[0].skills)
        avail_all.append((time.perf_counter() - t) * 1000)
    # Give the windows back, so the next run finds the same availability (jobs are never deleted).
    console.writer.execute = execute
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        ids = [r[0] for n in mine for r in conn.execute("SELECT id FROM jobs WHERE number = ?", (n,))]
    for job_id in ids:
        console.writer.execute("cancel_job", {"job_id": job_id, "reason": "csr-bench booking run"})
    console.shutdown()
    print(json.dumps({"bookings": booked, "save_top5_ms": [round(x, 1) for x in sorted(save)[-5:]], "save_p50_ms": pct(save, .5), "save_p99_ms": pct(save, .99),
                      "availability_p50_ms": pct(avail, .5), "availability_p99_ms": pct(avail, .99),
                      "availability_all_units_p99_ms": pct(avail_all, .99),
                      "form_ready_p50_ms": pct(ready, .5), "form_ready_p99_ms": pct(ready, .99),
                      "save_mean_ms": round(statistics.fmean(save), 2),
                      "book_to_refreshed_p99_ms": pct(total, .99), "waited_for_prewarm_s": round(prewarm_s, 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
