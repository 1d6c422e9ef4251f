"""The sign-in dialog after an admin reset the password (issue 19 part 3), against a real csr-server over
loopback: the temporary password is answered ``password_change_required``; the dialog keeps it, shows
*New password* and *New password again* with the focus in the first; two that differ are caught in the
dialog; a matching pair signs in, and the user is no longer asked."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from models.setup import User
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from sync.user_admin import manage_user
from tests.gui.helpers import show_active, until
from tests.unit.booking_setup import NOW, build_setup

pytest_plugins = ["tests.gui.conftest_sync"]
PASSWORD = "correct horse battery"
TEMPORARY = "copper walrus umbrella"
NEW = "violet tangerine lighthouse"


@pytest.fixture
def server(loop, tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    accounts = Accounts(sessions)
    admin = accounts.add_user("root", "Root", "admin", PASSWORD)
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)
    manage_user(accounts, {"id": admin.id, "username": "root"}, "reset_password", "dana", password=TEMPORARY)
    srv = SyncServer(
        Applier(sessions, clock=lambda: NOW),
        AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
    )
    endpoint = loop.run_until_complete(srv.serve("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
    yield url, sessions
    endpoint.close()
    loop.run_until_complete(endpoint.wait_closed())
    loop.run_until_complete(srv.aclose())
    engine.dispose()


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
