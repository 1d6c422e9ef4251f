"""The sign-in dialog after an admin reset the password (issue 19 part 3), against a real csr-server over
loopback: the temporary password is answered ``password_change_required``; the dialog keeps it, shows
*New password* and *New password again* with the focus in the first; two that differ are caught in the
dialog; a matching pair signs in, and the user is no longer asked."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit
from sqlalchemy import select

from models.setup import User
from sync.user_admin import manage_user
from tests.gui.helpers import show_active, until
from tests.gui.served import serve_consoles

pytest_plugins = ["tests.gui.conftest_sync"]
TEMPORARY = "copper walrus umbrella"
NEW = "violet tangerine lighthouse"


def _reset_dana(db) -> None:
    """An admin reset Dana's password before the server started: her next sign-in must change it."""
    admin = db.users["root"]
    manage_user(
        db.accounts, {"id": admin.id, "username": "root"}, "reset_password", "dana", password=TEMPORARY
    )


@pytest.fixture
def server(loop, tmp_path):
    with serve_consoles(
        loop, tmp_path, [("root", "Root", "admin"), ("dana", "Dana Reyes", "csr")], prepare=_reset_dana
    ) as served:
        yield served.url, served.sessions


def test_a_reset_password_asks_for_a_new_one_by_keyboard(qtbot, loop, server, desks):
    async def scenario() -> None:
        url, sessions = server
        a = desks("a")
        show_active(qtbot, a.window)
        ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        qtbot.keyClick(a.window, Qt.Key.Key_L, ctrl_shift)
        await until(lambda: a.sync._dialog is not None and a.sync._dialog.isVisible())
        dialog = a.sync._dialog
        new, again = (
            dialog.findChild(QLineEdit, "loginNewPassword"),
            dialog.findChild(QLineEdit, "loginNewPasswordAgain"),
        )
        assert not new.isVisible() and not again.isVisible()  # not asked before the server says so
        dialog.findChild(QLineEdit, "loginServer").setText(url)
        dialog.findChild(QLineEdit, "loginUser").setText("dana")
        password = dialog.findChild(QLineEdit, "loginPassword")
        password.setFocus()
        qtbot.keyClicks(password, TEMPORARY)
        qtbot.keyClick(password, Qt.Key.Key_Return)
        error = dialog.findChild(QLabel, "loginError")
        await until(lambda: new.isVisible(), timeout=30)
        assert "choose a new one" in error.text() and password.text() == TEMPORARY
        assert new.hasFocus() and new.accessibleName() == "New password"
        qtbot.keyClicks(new, NEW)
        qtbot.keyClick(new, Qt.Key.Key_Tab)
        assert again.hasFocus()
        qtbot.keyClicks(again, NEW + "x")
        qtbot.keyClick(again, Qt.Key.Key_Return)
        assert "differ" in error.text() and again.hasFocus() and a.window.sync_status.state == "signed_out"
        again.clear()
        qtbot.keyClicks(again, NEW)
        qtbot.keyClick(again, Qt.Key.Key_Return)
        await until(lambda: a.window.sync_status.state == "online", timeout=30)
        assert not dialog.isVisible()
        with sessions() as s:
            assert not s.scalar(select(User.must_change_password).where(User.username == "dana"))

    loop.run_until_complete(scenario())
