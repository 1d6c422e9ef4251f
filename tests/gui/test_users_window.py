"""The admins' Users window (widgets/users_window.py, console/users_controller.py) in an assembled console
signed in to a real csr-server over loopback: the model passes qtmodeltester; by keyboard an admin opens
it (Ctrl+Alt+U), adds a user (Ctrl+S), changes a role (Ctrl+O), resets a password (Ctrl+P) and is
told when the server refuses (the last active admin); a CSR's console has no such window."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from models.journal import AuditEntry
from models.setup import User
from tests.gui.helpers import show_active, until
from tests.gui.served import serve_consoles
from tests.servers import PASSWORD
from widgets.users_window import UserRow, UsersModel

pytest_plugins = ["tests.gui.conftest_sync"]
Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier


def test_users_model_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = UsersModel()
    qtmodeltester.check(model)
    model.set_rows([UserRow("1", "root", "Root", "admin", True), UserRow("2", "dana", "Dana", "csr", False)])
    qtmodeltester.check(model)
    model.upsert(UserRow("3", "kim", "Kim", "csr", True, True))
    model.upsert(UserRow("2", "dana", "Dana", "csr", True))
    qtmodeltester.check(model)
    assert [r.username for r in model.rows] == ["dana", "kim", "root"]
    assert model.index(1, 3).data() == "Active — must choose a new password"


@pytest.fixture
def server(loop, tmp_path):
    with serve_consoles(loop, tmp_path, [("root", "Root", "admin"), ("dana", "Dana Reyes", "csr")]) as served:
        yield served.url, served.sessions


def _select(d, username: str) -> None:
    n = next(i for i, r in enumerate(d.users.rows) if r.username == username)
    d.list.setFocus()
    d.list.selectRow(n)


def test_an_admin_manages_users_by_keyboard(qtbot, loop, server, desks):
    async def scenario() -> None:
        url, sessions = server
        a = desks("a")
        show_active(qtbot, a.window)
        await a.sync.sign_in_with(url, "root", PASSWORD)
        await until(lambda: a.window.sync_status.state == "online", timeout=30)
        controller = a.users
        assert controller is not None
        qtbot.keyClick(a.window, Qt.Key.Key_U, Ctrl | Qt.KeyboardModifier.AltModifier)
        d = controller.dialog
        await until(lambda: d is not None and d.users.rowCount() == 2, timeout=15)
        assert d.objectName() == "usersWindow"
        show_active(qtbot, d)
        # Add a user: the form by keyboard, Ctrl+N.
        d.username.setFocus()
        qtbot.keyClicks(d.username, "kim")
        qtbot.keyClick(d.username, Qt.Key.Key_Tab)
        qtbot.keyClicks(d.display_name, "Kim Ng")
        d.role.setCurrentText("supervisor")
        d.password.setFocus()
        qtbot.keyClicks(d.password, "copper walrus umbrella")
        changed: list[str] = []
        controller.changed.connect(changed.append)
        qtbot.keyClick(d.password, Qt.Key.Key_S, Ctrl)
        await until(lambda: changed == ["add"], timeout=15)
        assert "Kim Ng was added" in d.message.text() and d.password.text() == "" and d.list.hasFocus()
        kim = d.current()
        assert kim.username == "kim" and kim.role == "supervisor" and kim.must_change_password
        # Change kim's role to manager (Ctrl+Shift+R).
        d.role.setCurrentText("manager")
        qtbot.keyClick(d.list, Qt.Key.Key_O, Ctrl)
        await until(lambda: changed[-1:] == ["set_role"], timeout=15)
        assert d.current().role == "manager"
        # Reset dana's password (Ctrl+R with a temporary one typed).
        _select(d, "dana")
        d.password.setFocus()
        qtbot.keyClicks(d.password, "violet tangerine lighthouse")
        qtbot.keyClick(d.password, Qt.Key.Key_P, Ctrl)
        await until(lambda: changed[-1:] == ["reset_password"], timeout=15)
        assert "choose a new one at their next sign-in" in d.message.text()
        # The last active admin: the server refuses, the window says why.
        _select(d, "root")
        qtbot.keyClick(d.list, Qt.Key.Key_Delete, Ctrl)
        await until(lambda: "last active admin" in d.message.text(), timeout=15)
        with sessions() as s:
            assert s.scalar(select(User.active).where(User.username == "root"))
            actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "users")).all()
        assert actions == ["user_add", "user_set_role", "user_reset_password"]
        qtbot.keyClick(d.list, Qt.Key.Key_Escape)
        await until(lambda: not d.isVisible())

    loop.run_until_complete(scenario())


def test_a_csr_console_has_no_users_window(qtbot, loop, server, desks):
    async def scenario() -> None:
        url, _sessions = server
        a = desks("a")
        await a.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: a.window.sync_status.state == "online", timeout=30)
        assert a.users is None
        assert not [x for x in a.window.actions() if x.objectName() == "usersAction"]

    loop.run_until_complete(scenario())
