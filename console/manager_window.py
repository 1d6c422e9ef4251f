"""What the manager's windows (availability, users, possible duplicates, company setup) share: a controller
that owns one top-level window made on first use, a database worker of its own, the main window's
shortcut actions, the error path, an orderly shutdown, and ``install_for_role`` — the rule that gives a
signed-in user the controller their role allows and removes one left by the previous user.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence

from models.db import Cache
from models.validation import ValidationFailed

from .db_worker import DbWorker
from .failures import describe_failure

MANAGER_ROLES = frozenset({"manager", "admin"})
ADMIN_ROLES = frozenset({"admin"})


def role_name(role: Any) -> str:
    """A role as its plain name, whether given as a string or the models' enum."""
    return str(getattr(role, "value", role) or "")


class ManagerWindowController(QObject):
    """One manager window's wiring. Subclasses build ``self.dialog`` in ``open`` and load it in ``reload``."""

    errorOccurred = Signal(str)

    def __init__(self, window: Any, cache: Cache, *, worker_name: str) -> None:
        super().__init__(window)
        self.window = window
        self._cache = cache
        self._worker = DbWorker(self, name=worker_name)
        self.dialog: Any = None
        self._actions: list[QAction] = []

    def _add_shortcut(self, text: str, object_name: str, shortcut: str, slot: Callable[[], Any]) -> QAction:
        """An action on the main window, so the shortcut works wherever the focus is in it."""
        action = QAction(text, self.window)
        action.setObjectName(object_name)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        self.window.addAction(action)
        self._actions.append(action)
        return action

    def _present(self, window: Any, focus: Any) -> None:
        """Show a window of this controller in front, the focus on ``focus``."""
        window.show()
        window.raise_()
        window.activateWindow()
        focus.setFocus()

    def reload(self) -> None:  # pragma: no cover - every subclass has its own
        raise NotImplementedError

    def refresh_if_open(self) -> None:
        """Another console's change arrived: the open window shows it."""
        if self.dialog is not None and self.dialog.isVisible():
            self.reload()

    def _error(self, text: str) -> None:
        if self.dialog is not None:
            self.dialog.show_message(text, "error")
        self.errorOccurred.emit(text)

    def _refused(self, exc: BaseException, *, what: str) -> None:
        """A write that failed: a refusal's own sentences, or what went wrong with the cache."""
        if isinstance(exc, ValidationFailed):
            self._error(" ".join(exc.errors.values()) or "The change was refused.")
        else:
            self._error(describe_failure(self._cache.path, exc, what=what))

    def _close_windows(self) -> None:
        """Close and drop the controller's windows (a subclass with more than ``dialog`` adds its own)."""
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def shutdown(self) -> None:
        """Stop the worker, close the windows, take the shortcuts off the main window."""
        self._worker.shutdown()
        self._close_windows()
        for action in self._actions:
            self.window.removeAction(action)
            action.deleteLater()
        self._actions = []

    def dispose(self) -> None:
        """Shut down and let go (the user signed out, or the next user has another role)."""
        self.shutdown()
        self.setParent(None)
        self.deleteLater()


C = TypeVar("C", bound=ManagerWindowController)


def install_for_role(
    window: Any,
    cls: type[C],
    role: Any,
    make: Callable[[], C],
    *,
    roles: Collection[str] | None = None,
    keep: Callable[[C], bool] | None = None,
) -> C | None:
    """The controller for the signed-in user: none when ``roles`` doesn't have their role; the existing one
    kept when ``keep`` (default: always) says it still fits; otherwise a new one from ``make``, its
    shortcuts added. One the previous user left that doesn't fit is disposed of."""
    existing = window.findChild(cls)
    allowed = roles is None or role_name(role) in roles
    if existing is not None:
        if allowed and (keep is None or keep(existing)):
            return existing
        existing.dispose()
    if not allowed:
        return None
    controller = make()
    controller.add_action()
    return controller
