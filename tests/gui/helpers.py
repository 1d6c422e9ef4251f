"""Small helpers shared by the GUI tests."""

from __future__ import annotations

import asyncio


def show_active(qtbot, window) -> None:
    """Show a window and wait until it is exposed and active, as on a desk where the CSR uses it
    (shortcuts only reach an active window). pytest-qt's waitExposed/waitActive are context managers."""
    with qtbot.waitExposed(window):
        window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)


async def until(predicate, timeout: float = 10.0) -> None:
    """Wait on the running (qasync) loop until ``predicate()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)
