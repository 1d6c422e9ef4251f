"""Runs customer lookups on one worker thread with its own SQLite connection (STYLE.md #9).

Typing fires a search per keystroke; the worker skips any request older than the newest one,
so a fast typist never queues stale queries and the UI thread never touches the big tables.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from models.search import CustomerSearch, load_rows, prewarm

log = logging.getLogger(__name__)
FIRST_ROWS = 40  # hydrated with the ids so the first screenful paints at once; the rest on a view's demand


class _Worker(QObject):
    done = Signal(int, str, object, object, object)  # generation, query, ids, reasons, rows
    failed = Signal(int, str, str)
    rows = Signal(object)  # {customer id: result row}, re-read after a change
    hydrated = Signal(object, object)  # the ids asked for, {customer id: result row} of those still here
    hydrateFailed = Signal(str)

    def __init__(self, connect: Callable[[], sqlite3.Connection], region: str) -> None:
        super().__init__()
        self._connect = connect
        self._region = region
        self._search: CustomerSearch | None = None
        self.latest = 0  # written by the UI thread; an int store is atomic under the GIL

    @Slot(int, str)
    def run(self, generation: int, query: str) -> None:
        if generation < self.latest:
            return
        try:
            if self._search is None:
                self._search = CustomerSearch(self._connect(), self._region)
            result = self._search.search(query)
            rows = load_rows(self._search.conn, result.ids[:FIRST_ROWS]) if generation >= self.latest else {}
        except sqlite3.Error as exc:
            self.failed.emit(generation, query, f"Search failed: {exc}")
            return
        self.done.emit(generation, query, result.ids, result.reasons, rows)

    @Slot(object)
    def reload(self, ids: list) -> None:
        try:
            if self._search is None:
                self._search = CustomerSearch(self._connect(), self._region)
            rows = load_rows(self._search.conn, ids)
        except sqlite3.Error as exc:
            log.warning("result rows could not be re-read: %s", exc)
            return
        self.rows.emit(rows)

    @Slot(object)
    def hydrate(self, ids: list) -> None:
        """Rows past the first screenful, as a view scrolls to them."""
        try:
            if self._search is None:
                self._search = CustomerSearch(self._connect(), self._region)
            rows = load_rows(self._search.conn, ids)
        except sqlite3.Error as exc:
            log.warning("result rows could not be read: %s", exc)
            self.hydrateFailed.emit(f"Search failed: {exc}")
            return
        self.hydrated.emit(ids, rows)

    @Slot()
    def close(self) -> None:
        if self._search is not None:
            self._search.conn.close()
            self._search = None


class SearchService(QObject):
    """UI-thread facade: ``search(text)`` in, ``resultsReady`` out (only for the newest query)."""

    resultsReady = Signal(str, object, object, object)  # query, ids, reasons, first rows
    searchFailed = Signal(str)
    rowsReloaded = Signal(object)  # {customer id: result row} after ``reload_rows``
    rowsLoaded = Signal(object, object)  # the ids asked by ``load_rows``, {customer id: result row}
    _request = Signal(int, str)
    _reload = Signal(object)
    _hydrate = Signal(object)
    _close = Signal()

    def __init__(
        self, connect: Callable[[], sqlite3.Connection], region: str = "US", parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._generation = 0
        self._connect = connect
        self._stop = threading.Event()
        self._prewarm: threading.Thread | None = None
        self._thread = QThread()
        self._thread.setObjectName("search-worker")
        self._worker = _Worker(connect, region)
        self._worker.moveToThread(self._thread)
        self._request.connect(self._worker.run)
        self._close.connect(self._worker.close)
        self._reload.connect(self._worker.reload)
        self._worker.rows.connect(self.rowsReloaded)
        self._hydrate.connect(self._worker.hydrate)
        self._worker.hydrated.connect(self.rowsLoaded)
        self._worker.hydrateFailed.connect(self.searchFailed)
        self._worker.done.connect(self._on_done)
        self._worker.failed.connect(self._on_failed)
        self._thread.start()

    def search(self, text: str) -> None:
        self._generation += 1
        self._worker.latest = self._generation
        self._request.emit(self._generation, text)

    def reload_rows(self, ids: list[str]) -> None:
        """Re-read these customers' result rows on the worker (they changed); ``rowsReloaded`` brings them."""
        if ids:
            self._reload.emit(list(ids))

    def load_rows(self, ids: list[str]) -> None:
        """Read these result rows on the worker (a view scrolled to them); ``rowsLoaded`` brings them."""
        if ids:
            self._hydrate.emit(list(ids))

    @Slot(int, str, object, object, object)
    def _on_done(self, generation: int, query: str, ids: list, reasons: dict, rows: dict) -> None:
        if generation == self._generation:
            self.resultsReady.emit(query, ids, reasons, rows)

    @Slot(int, str, str)
    def _on_failed(self, generation: int, _query: str, message: str) -> None:
        if generation == self._generation:
            self.searchFailed.emit(message)

    def start_prewarm(self) -> None:
        """Read the search indexes into the OS cache on a plain thread (sequential I/O, GIL released
        by SQLite), so the first lookups after a reboot don't wait for the disk."""
        if self._prewarm is not None:
            return

        def run() -> None:
            conn = self._connect()
            try:
                prewarm(conn, should_stop=self._stop.is_set)
            finally:
                conn.close()

        self._prewarm = threading.Thread(target=run, name="search-prewarm", daemon=True)
        self._prewarm.start()

    def wait_prewarm(self, timeout: float) -> None:
        if self._prewarm is not None:
            self._prewarm.join(timeout)

    def shutdown(self) -> None:
        """Close the worker's connection on its own thread, then stop the thread."""
        self._stop.set()
        if self._prewarm is not None:
            self._prewarm.join(10)
        if self._thread.isRunning():
            self._close.emit()
            self._thread.quit()
            self._thread.wait(5000)
