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
    denied: tuple[str, str] | None = None,
) -> C | None:
    """The controller for the signed-in user: none when ``roles`` doesn't have their role; the existing one
    kept when ``keep`` (default: always) says it still fits; otherwise a new one from ``make``, its
    shortcuts added. One the previous user left that doesn't fit is disposed of.

    ``denied`` — (shortcut, title): for a role without the window, its shortcut still answers, in the
    status bar, whose window it is (F1 lists it; a key that silently does nothing reads as broken)."""
    existing = window.findChild(cls)
    allowed = roles is None or role_name(role) in roles
    if denied is not None:
        _denied_action(window, cls, None if allowed else (*denied, sorted(roles or ()), role_name(role)))
    if existing is not None:
        if allowed and (keep is None or keep(existing)):
            return existing
        existing.dispose()
    if not allowed:
        return None
    controller = make()
    controller.add_action()
    return controller


def _denied_action(window: Any, cls: type, refusal: tuple[str, str, list[str], str] | None) -> None:
    """Put (``refusal``: shortcut, title, the roles allowed, the user's role) or take away the action
    that tells a user without the window whose window it is."""
    name = f"denied_{cls.__name__}"
    for old in window.findChildren(QAction, name):
        window.removeAction(old)
        old.setParent(None)  # gone from the window at once (deleteLater waits for the loop)
        old.deleteLater()
    if refusal is None:
        return
    shortcut, title, roles, role = refusal
    plural = {"manager": "managers", "admin": "admins"}
    order = ("supervisor", "manager", "admin")
    ranked = sorted(roles, key=lambda r: order.index(r) if r in order else len(order))
    who = " and ".join(plural.get(r, r + "s") for r in ranked)
    shown = {"csr": "CSR", "": "user"}.get(role, role)
    text = f"{title} is for {who}; you are signed in as {'an' if shown[:1] in 'aeiou' else 'a'} {shown}."
    action = QAction(title, window)
    action.setObjectName(name)
    action.setShortcut(QKeySequence(shortcut))
    status_bar = getattr(window, "statusBar", None)
    action.triggered.connect(lambda: status_bar().showMessage(text, 10_000) if status_bar else None)
    window.addAction(action)
