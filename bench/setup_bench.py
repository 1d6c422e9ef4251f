"""`csr-bench setup`: the manager's tools (issue 19).

- ``duplicate_scan_s_1m``: the whole cache scanned for possible duplicates (models/duplicate_scan.py)
  the way the console runs it — a scan process waited for on a database worker (console/db_worker.py)
  while a Qt UI thread keeps a 5 ms heartbeat (bench/uiprobe.py): ``ui_stall_max_ms`` is its longest
  late tick during the scan.
  The cache is only read (a read-only connection), so any seeded cache will do.
- ``merge_p99_ms``: ``merge_customers`` through the console's write path (LocalWriter: cache, search
  index, outbox and audit in one durable transaction) for a merged customer with 50 jobs, a location
  and a phone; one sample per merge, each on a pair of its own in a scratch cache.

``setup_save_to_other_console_p99_ms`` (a manager's setup save → another console's booking setup) is
bench/setup_save_bench.py.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from .stats import summary

JOBS_PER_MERGE = 50


def _scan(path: Path) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from console.db_worker import DbWorker
    from console.gc_guard import install as collect_on_ui_thread
    from models.duplicate_scan import scan_in_process

    from .uiprobe import Heartbeat

    app = QApplication.instance() or QApplication([])
    collector = collect_on_ui_thread(app)  # as the console does: garbage is collected on the UI thread
    worker = DbWorker(name="csr-dupscan")
    beat = Heartbeat()
    loop = QEventLoop()
    result: dict[str, Any] = {}

    def run() -> tuple[int, float]:
        t0 = time.perf_counter()
        rows = scan_in_process(path, should_stop=threading.Event().is_set)
        return len(rows), time.perf_counter() - t0

    def done(value: tuple[int, float]) -> None:
        result["pairs"], result["seconds"] = value
        loop.quit()

    def failed(exc: BaseException) -> None:
        result["error"] = repr(exc)
        loop.quit()

    beat.start()
    started = time.perf_counter()
    QTimer.singleShot(0, lambda: worker.submit(run, done=done, failed=failed))
    loop.exec()
    wall = time.perf_counter() - started
    beat.stop()
    collector.stop()
    worker.shutdown()
    QCoreApplication.processEvents()
    del app
    if "error" in result:
        raise RuntimeError(f"the duplicate scan failed: {result['error']}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        customers = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
    finally:
        conn.close()
    return {
        "duplicate_scan_customers": customers,
        # The key names the 1M cache; at another size it is the same measure on that many customers.
        "duplicate_scan_s_1m": round(wall, 2),
        "duplicate_scan_worker_s": round(result["seconds"], 2),
        "duplicate_scan_pairs": result["pairs"],
        "ui_stall_max_ms": round(beat.stall_max_ms, 1),
        "ui_heartbeat_ticks": len(beat.lags_ms),
    }


def _seed_pairs(sessions: Any, merges: int) -> list[tuple[str, str]]:
    """``merges`` pairs: the merged customer of each has a location, a phone and 50 jobs."""
    from models.base import new_id
    from models.customers import ContactMethod, Customer, Location
    from models.jobs import Job
    from models.setup import BusinessUnit, BusinessUnitGroup, Campaign

    pairs = []
    with sessions.begin() as s:
        group = BusinessUnitGroup(id=new_id(), name="HVAC")
        unit = BusinessUnit(id=new_id(), name="HVAC Service", group_id=group.id)
        campaign = Campaign(id=new_id(), name="Google")
        s.add_all([group, unit, campaign])
        s.flush()
        customers, locations, contacts, jobs = [], [], [], []
        for n in range(merges):
            keep, gone = new_id(), new_id()
            pairs.append((keep, gone))
            for cid, street in ((keep, f"{n} Main St"), (gone, f"{n} Oak Ave")):
                customers.append({"id": cid, "name": f"Customer {n}"})
                loc = new_id()
                locations.append(
                    {"id": loc, "customer_id": cid, "street": street, "city": "Dallas", "zip": "75201"}
                )
                digits = f"214555{n:04d}"
                contacts.append(
                    {
                        "id": new_id(),
                        "customer_id": cid,
                        "kind": "MobilePhone",
                        "value": "+1" + digits,
                        "digits": digits,
                        "digits_rev": digits[::-1],
                    }
                )
            jobs += [
                {
                    "id": new_id(),
                    "number": f"B{n}-{j}",
                    "customer_id": gone,
                    "location_id": locations[-1]["id"],
                    "business_unit_id": unit.id,
                    "campaign_id": campaign.id,
                }
                for j in range(JOBS_PER_MERGE)
            ]
        s.execute(insert(Customer), customers)
        s.execute(insert(Location), locations)
        s.execute(insert(ContactMethod), contacts)
        for start in range(0, len(jobs), 5000):
            s.execute(insert(Job), jobs[start : start + 5000])
    return pairs


def _merges(merges: int) -> dict[str, Any]:
    from models.db import open_cache
    from models.writer import LocalWriter

    with tempfile.TemporaryDirectory(prefix="csr-bench-merge-") as folder:
        cache = open_cache(Path(folder) / "cache.sqlite3")
        try:
            pairs = _seed_pairs(cache.sessions, merges)
            writer = LocalWriter(cache.sessions, actor="bench")
            samples = []
            for keep, gone in pairs:
                t0 = time.perf_counter()
                writer.execute("merge_customers", {"survivor_id": keep, "merged_id": gone})
                samples.append((time.perf_counter() - t0) * 1000)
        finally:
            cache.close()
    return {**summary("merge", samples), "merge_jobs_moved_each": JOBS_PER_MERGE}


def run_setup(scan_cache: Path, merges: int) -> dict[str, Any]:
    """The duplicate scan over ``scan_cache`` (read only) and ``merges`` timed merges."""
    return {**_scan(scan_cache), **_merges(merges)}
