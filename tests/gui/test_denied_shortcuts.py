"""A window a role doesn't have (Users for admins; Possible duplicates and Availability for managers)
still answers its shortcut — F1 lists it — in the status bar, saying whose window it is, instead of a key
that silently does nothing; signed in with the role, the window's own shortcut takes over."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLineEdit, QMainWindow

from console.merge_controller import MergeController
from console.merge_controller import install as install_merge
from console.users_controller import install as install_users
from tests.gui.helpers import show_active


def test_a_csr_is_told_whose_window_it_is_and_a_manager_gets_it(qtbot: Any, cache, writer) -> None:
    window = QMainWindow()
    edit = QLineEdit(window)
    window.setCentralWidget(edit)
    qtbot.addWidget(window)
    show_active(qtbot, window)
    edit.setFocus()

    assert install_users(window, cache, None, role="csr") is None
    assert install_merge(window, cache, writer, role="csr") is None
    qtbot.keyClick(edit, Qt.Key.Key_U, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert window.statusBar().currentMessage() == "Users is for admins; you are signed in as a CSR."
    qtbot.keyClick(
        edit, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert window.statusBar().currentMessage() == (
        "Possible duplicates is for managers and admins; you are signed in as a CSR."
    )

    window.statusBar().clearMessage()
    controller = install_merge(window, cache, writer, role="manager")
    try:
        assert isinstance(controller, MergeController)
        assert window.findChildren(QAction, "denied_MergeController") == []
        assert len(window.findChildren(QAction, "denied_UsersController")) == 1  # still not an admin's
    finally:
        controller.shutdown()
