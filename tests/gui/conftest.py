"""The GUI suite leaves nothing running behind it (STYLE #12): when the last GUI test has finished, no
top-level widget, QTimer or QThread made by the tests may still be alive — a leaked one fires into a later
test's half-torn-down objects (the timer crash of session 4) or keeps the process from exiting cleanly."""

from __future__ import annotations

import gc

import pytest


def _alive() -> dict[str, list[str]]:
    from PySide6.QtCore import QCoreApplication, QEvent, QThread, QTimer
    from PySide6.QtWidgets import QApplication

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # only deletions: no stray callbacks
    gc.collect()
    app = QApplication.instance()
    widgets = [f"{type(w).__name__}({w.objectName()})" for w in (app.topLevelWidgets() if app else [])]
    timers, threads = [], []
    for obj in gc.get_objects():
        try:
            if isinstance(obj, QTimer) and obj.isActive():
                timers.append(
                    f"QTimer({obj.objectName()} every {obj.interval()} ms, parent {type(obj.parent()).__name__})"
                )
            elif isinstance(obj, QThread) and obj.isRunning() and obj is not QThread.currentThread():
                threads.append(f"{type(obj).__name__}({obj.objectName()})")
        except (RuntimeError, ReferenceError):  # a wrapper whose object is gone: not alive
            continue
    return {"top-level widgets": widgets, "active QTimers": timers, "running QThreads": threads}


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_alive(request):
    yield
    if request.session.testsfailed:
        return  # the failures say more than a leak report would
    alive = {kind: items for kind, items in _alive().items() if items}
    assert not alive, f"the GUI tests left these alive: {alive}"


@pytest.fixture
def ui_thread_sql():
    """``with ui_thread_sql(console.cache): ...`` fails the test on any SQL run on the GUI thread inside
    the block (tests/gui/ui_thread_guard.py; importable directly too)."""
    from tests.gui.ui_thread_guard import no_sql_on_ui_thread

    return no_sql_on_ui_thread
