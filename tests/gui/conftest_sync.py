"""Fixtures for assembled consoles on the qasync loop (sync and calls tests). Use with
``pytest_plugins = ["tests.gui.conftest_sync"]`` (pytest must import it as a plugin, not the test module)."""

from __future__ import annotations

import asyncio

import pytest
import qasync
from PySide6.QtCore import QCoreApplication, QEvent

from console.composition import Console
from console.settings import open_settings
from tests.unit.booking_setup import NOW


@pytest.fixture
def loop(qapp):
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    yield loop
    # Closing the loop stops its executor's QThreads (asyncio.to_thread runs there): a QThread still
    # running when the interpreter exits makes Qt abort the whole test process.
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture
def desks(qtbot, loop, tmp_path):
    """``desks(name)``: a console with its own cache and settings, at the tests' fixed NOW."""
    made = []

    def make(name: str) -> Console:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)  # a test may prepare the cache first (a console restarted)
        console = Console.build(folder / "cache.sqlite3", open_settings(folder), now_fn=lambda: NOW)
        made.append(console)
        return console

    yield make
    for console in made:
        # Stop syncing first (it runs on this loop), then the services, then the window.
        loop.run_until_complete(console.aclose())
        console.shutdown()
        console.window.close()
        console.window.deleteLater()
    # Delete the windows now, on this loop: left to a later test's loop, their timers (bubble strip,
    # floor board, agent state) could fire into widgets half torn down.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
