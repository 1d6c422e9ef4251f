"""Closing a dialog or a window hands the keyboard back to where the CSR was.

Qt delivers the window's shortcuts (Ctrl+J, F2, …) only while one of the console's windows is active.
When a dialog closes, a window manager (and the offscreen platform) may activate no window at all: the
next Ctrl+J then does nothing, and a ringing call is missed. One keeper per main window watches focus
application-wide — through Qt's focus signals, not an event filter on every event — and when the
window that had the keyboard closes without another of ours taking it, activates the window it was
opened over (a modal dialog still open wins), on the widget that had focus there, else the fallback.
"""

from __future__ import annotations

from collections.abc import Callable

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QWindow
from PySide6.QtWidgets import QApplication, QWidget

# Windows that take the keyboard as a window of their own; menus, popups and tooltips don't count.
_WINDOW_TYPES = (Qt.WindowType.Window, Qt.WindowType.Dialog, Qt.WindowType.Sheet, Qt.WindowType.Tool)


def _alive(widget: QWidget | None) -> bool:
    return widget is not None and shiboken6.isValid(widget)


def _usable(widget: QWidget | None, window: QWidget) -> bool:
    """A widget focus can go back to: still there, shown, enabled, focusable, and in that window."""
    return (
        _alive(widget)
        and widget.isVisible()
        and widget.isEnabled()  # type: ignore[union-attr]
        and widget.focusPolicy() != Qt.FocusPolicy.NoFocus  # type: ignore[union-attr]
        and widget.window() is window
    )  # type: ignore[union-attr]


class FocusKeeper(QObject):
    """Remembers, per window, the widget that last had focus and the window each dialog or window was
    opened over; restores them when the active window closes and leaves the console without focus."""

    def __init__(self, main: QWidget, fallback: Callable[[], QWidget]) -> None:
        super().__init__(main)
        self._main = main
        self._fallback = fallback
        self._last_focus: dict[QWidget, QWidget] = {}  # window → its widget that had focus last
        self._opener: dict[QWidget, QWidget] = {}  # window → the window it was opened over
        self._active: QWidget | None = None  # the window that had the keyboard last
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._focus_changed)
        app.focusWindowChanged.connect(self._window_changed)

    # -- watching -------------------------------------------------------------------------------------
    def _focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new is None:
            QTimer.singleShot(0, self._rescue)
            return
        window = new.window()
        if not self._ours(window):
            return
        self._note_active(window)
        self._last_focus[window] = new

    def _window_changed(self, window: QWindow | None) -> None:
        if window is None:
            QTimer.singleShot(0, self._rescue)
            return
        active = QApplication.activeWindow()
        if active is not None and self._ours(active):
            self._note_active(active)

    def _note_active(self, window: QWidget) -> None:
        if window is self._active:
            return
        previous = self._active
        if window is not self._main and window not in self._opener and _alive(previous):
            self._opener[window] = previous  # type: ignore[assignment]
        self._active = window
        self._prune()

    def _ours(self, window: QWidget) -> bool:
        """A top-level of this console: the main window or a window/dialog it (transitively) opened."""
        if not _alive(window) or window.windowType() not in _WINDOW_TYPES:
            return False
        while window is not None:
            if window is self._main:
                return True
            parent = window.parentWidget()
            window = parent.window() if parent is not None else None  # type: ignore[assignment]
        return False

    def _prune(self) -> None:
        """Forget closed windows that Qt has deleted meanwhile (dialogs are deleteLater'd on close)."""
        for table in (self._last_focus, self._opener):
            for window in [w for w, v in table.items() if not (_alive(w) and _alive(v))]:
                del table[window]

    # -- giving the keyboard back ------------------------------------------------------------------------
    def _rescue(self) -> None:
        """The keyboard went nowhere: if the console's active window closed (not because the CSR switched
        to another program), hand it back to the window under; an active window of ours with no focus
        gets it on its own widget."""
        if not shiboken6.isValid(self) or not _alive(self._main) or not self._main.isVisible():
            return
        active = QApplication.activeWindow()
        if active is not None:
            if QApplication.focusWidget() is None and self._ours(active):
                self.restore(active)
            return  # else the window manager (or a new dialog) took it
        closed = self._active
        if _alive(closed) and closed.isVisible():  # type: ignore[union-attr]
            return  # the CSR went to another program: theirs to come back
        modal = QApplication.activeModalWidget()
        if _alive(modal) and modal.isVisible() and self._ours(modal.window()):  # type: ignore[union-attr]
            self.restore(modal.window())  # type: ignore[union-attr]
        else:
            self.restore(self._opened_over(closed))

    def _opened_over(self, closed: QWidget | None) -> QWidget:
        """The window a closed one was opened over, or the window under that, … or the main window."""
        window = closed
        seen = set()
        while _alive(window) and id(window) not in seen:
            seen.add(id(window))
            if window is not closed and window.isVisible():  # type: ignore[union-attr]
                return window  # type: ignore[return-value]
            window = self._opener.get(window)  # type: ignore[arg-type]
        return self._main

    def restore(self, window: QWidget) -> None:
        """Activate ``window`` with the keyboard on where the CSR was there — or where the console sent
        them meanwhile (a saved customer opened, a chosen window) — else on the fallback (the search box)
        or, in another window, on the window itself."""
        current = window.focusWidget()
        remembered = self._last_focus.get(window)
        if _usable(current, window):
            widget = current
        elif _usable(remembered, window):
            widget = remembered
        elif window is self._main:
            widget = self._fallback()
        else:
            widget = window  # nothing to type in (a board offline): its own keys (Esc) still work
        widget.setFocus(Qt.FocusReason.ActiveWindowFocusReason)
        window.activateWindow()
        self._active = window
