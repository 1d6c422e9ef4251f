"""A guard that fails a test on any SQL statement run on the GUI thread (docs/ui-thread.md), for any test
file to import:

    from tests.gui.ui_thread_guard import no_sql_on_ui_thread
    with no_sql_on_ui_thread(console.cache):
        ...  # drive the console with real key events

or take the ``ui_thread_sql`` fixture (tests/gui/conftest.py), which hands out the same context manager.

It watches three ways in: a SQLAlchemy ``before_cursor_execute`` listener on the cache's engine, a
``set_trace_callback`` on any plain sqlite3 connection named, and one on every sqlite3 connection opened
while it watches (``sqlite3.connect`` is wrapped: the search worker's and any raw connection a controller
might open). A statement counts when ``threading.current_thread() is threading.main_thread()``.
"""

from __future__ import annotations

import sqlite3
import threading
import traceback
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


class UiThreadSql:
    """Records every SQL statement run on the GUI thread while ``watching()``, with where it came from."""

    def __init__(self, cache: Any, *raw: sqlite3.Connection) -> None:
        self.engine = cache.engine
        self.raw = raw
        self.hits: list[str] = []
        self._opened: weakref.WeakSet[Any] = weakref.WeakSet()

    def _check(self, statement: str) -> None:
        if threading.current_thread() is threading.main_thread():
            # The project's own frames say who asked (SQLAlchemy's and Qt's say nothing useful).
            frames = [f for f in traceback.extract_stack()[:-2] if "site-packages" not in f.filename]
            stack = "".join(traceback.format_list(frames[-8:]))
            self.hits.append(f"{' '.join(str(statement).split())[:100]}\n{stack}")

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self._check(statement)

    @contextmanager
    def watching(self) -> Iterator[UiThreadSql]:
        real_connect = sqlite3.connect

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            conn = real_connect(*args, **kwargs)
            try:
                conn.set_trace_callback(self._check)
                self._opened.add(conn)
            except (AttributeError, TypeError):  # a connection class without tracing or weak references
                pass
            return conn

        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        for conn in self.raw:
            conn.set_trace_callback(self._check)
        sqlite3.connect = connect  # type: ignore[assignment]
        try:
            yield self
        finally:
            sqlite3.connect = real_connect  # type: ignore[assignment]
            event.remove(self.engine, "before_cursor_execute", self._on_execute)
            for conn in [*self.raw, *list(self._opened)]:
                try:
                    conn.set_trace_callback(None)
                except sqlite3.ProgrammingError:  # closed meanwhile
                    pass

    def report(self) -> str:
        return (
            f"{len(self.hits)} SQL statements on the UI thread; the first:\n{self.hits[0]}"
            if self.hits
            else ""
        )


@contextmanager
def no_sql_on_ui_thread(cache: Any, *raw: sqlite3.Connection) -> Iterator[UiThreadSql]:
    """Fails (AssertionError) at the end of the block if any SQL ran on the GUI thread inside it."""
    guard = UiThreadSql(cache, *raw)
    with guard.watching():
        yield guard
    assert not guard.hits, guard.report()
