"""Small helpers shared by the GUI tests."""

from __future__ import annotations


def show_active(qtbot, window) -> None:
    """Show a window and wait until it is exposed and active, as on a desk where the CSR uses it
    (shortcuts only reach an active window). pytest-qt's waitExposed/waitActive are context managers."""
    with qtbot.waitExposed(window):
        window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
