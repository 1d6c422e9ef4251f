"""Phone seats in the admins' Users window (widgets/users_window.py, widgets/seat_form.py,
console/users_controller.py) with two assembled consoles signed in to a real csr-server over loopback:
the model with its seat column passes qtmodeltester; by keyboard an admin assigns a seat (Ctrl+Alt+S) —
a bad registrar is refused with the server's sentence and nothing stored — and clears it (Ctrl+Alt+X);
the list shows each user's seat; the CSR's console, already signed in, picks the seat up at once (its
softphone asks for the SIP password) and drops it when cleared."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QInputDialog
from sqlalchemy import select

from models.journal import AuditEntry
from models.phone_seats import PhoneSeat
from tests.gui.helpers import show_active, until
from tests.gui.served import serve_consoles
from tests.servers import PASSWORD
from widgets.seat_form import seat_text
from widgets.users_window import UserRow, UsersModel

pytest_plugins = ["tests.gui.conftest_sync"]
Ctrl = Qt.KeyboardModifier.ControlModifier
CtrlAlt = Ctrl | Qt.KeyboardModifier.AltModifier
SEAT = {"sip_address": "sip:dana@pbx.example.com", "registrar": "sip:pbx.example.com", "user": "1001",
        "transport": "tcp", "proxy": "", "input_device": "", "output_device": "", "ring_device": ""}  # fmt: skip


def test_users_model_with_seats_passes_qtmodeltester(qtmodeltester: Any) -> None:
    model = UsersModel()
    model.set_rows([UserRow("1", "root", "Root", "admin", True), UserRow("2", "dana", "Dana", "csr", True)])
    qtmodeltester.check(model)
    assert model.index(1, 4).data() == "Not known offline"  # root sorts after dana
    model.set_seats({"2": SEAT})
    qtmodeltester.check(model)
    assert (
        model.index(0, 4).data() == "sip:dana@pbx.example.com (TCP)" and model.index(1, 4).data() == "No seat"
    )
    model.set_seat("2", None)
    model.set_seat("1", SEAT)
    qtmodeltester.check(model)
    assert [model.index(n, 4).data() for n in range(2)] == ["No seat", seat_text(SEAT)]
    assert model.headerData(4, Qt.Orientation.Horizontal) == "Phone seat"


@pytest.fixture
def server(loop, tmp_path):
    users = [("root", "Root", "admin"), ("dana", "Dana Reyes", "csr")]
    with serve_consoles(loop, tmp_path, users) as served:
        yield served.url, served.sessions


def _type(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def _password_dialog(console) -> QInputDialog | None:
    return console.window.findChild(QInputDialog, "phonePasswordDialog")


def test_an_admin_assigns_and_clears_a_seat_by_keyboard_and_the_csr_console_follows(
    qtbot, loop, server, desks, monkeypatch
):
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")  # no OS keyring here

    async def scenario() -> None:
        url, sessions = server
        dana = desks("dana")
        await dana.sync.sign_in_with(url, "dana", PASSWORD)
        await until(lambda: dana.window.sync_status.state == "online", timeout=30)
        assert dana.phone.bar.isHidden() and dana.phone.server_seat is None
        a = desks("a")
        show_active(qtbot, a.window)
        await a.sync.sign_in_with(url, "root", PASSWORD)
        await until(lambda: a.window.sync_status.state == "online", timeout=30)
        controller = a.users
        seats_loaded: list[int] = []
        controller.seatsLoaded.connect(seats_loaded.append)
        qtbot.keyClick(a.window, Qt.Key.Key_U, CtrlAlt)
        d = controller.dialog
        await until(
            lambda: d is not None and d.users.rowCount() == 2 and seats_loaded[-1:] == [0], timeout=15
        )
        show_active(qtbot, d)
        # The list shows every user's seat; the seat fields follow the password in tab order.
        assert [d.users.index(n, 4).data() for n in range(2)] == ["No seat", "No seat"]
        d.password.setFocus()
        qtbot.keyClick(d.password, Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is d.seat.edits["sip_address"]
        assert d.findChild(type(d.seat), "seatForm").accessibleName() == "Phone seat of the highlighted user"
        # Dana highlighted (type-ahead), her seat typed field by field, Tab between them.
        d.list.setFocus()
        qtbot.keyClicks(d.list, "d")
        assert d.current().username == "dana"
        changed: list[str] = []
        controller.changed.connect(changed.append)
        address = d.seat.edits["sip_address"]
        _type(qtbot, address, SEAT["sip_address"])
        qtbot.keyClick(address, Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is d.seat.edits["registrar"]
        qtbot.keyClicks(d.seat.edits["registrar"], "pbx.example.com")  # not a SIP address: refused
        qtbot.keyClick(d.seat.edits["registrar"], Qt.Key.Key_Tab)
        qtbot.keyClicks(d.seat.edits["sip_user"], "1001")
        qtbot.keyClick(d.seat.edits["sip_user"], Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is d.seat.transport
        qtbot.keyClick(d.seat.transport, Qt.Key.Key_Down)  # UDP → TCP
        assert d.seat.transport.currentText() == "TCP"
        qtbot.keyClick(d.seat.transport, Qt.Key.Key_S, CtrlAlt)
        await until(lambda: "is not a SIP address" in d.message.text(), timeout=15)
        assert "registrar “pbx.example.com”" in d.message.text() and changed == []
        with sessions() as s:
            assert s.scalars(select(PhoneSeat)).all() == []
        # Fixed: assigned; the list shows it, and Dana's console asks for the SIP password at once.
        _type(qtbot, d.seat.edits["registrar"], SEAT["registrar"])
        qtbot.keyClick(d.seat.edits["registrar"], Qt.Key.Key_S, CtrlAlt)
        await until(lambda: changed == ["set_seat"], timeout=15)
        assert "Dana Reyes's phone seat is sip:dana@pbx.example.com (TCP)" in d.message.text()
        dana_row = next(n for n, r in enumerate(d.users.rows) if r.username == "dana")
        assert d.users.index(dana_row, 4).data() == "sip:dana@pbx.example.com (TCP)"
        assert d.focusWidget() is d.list and d.current().username == "dana"  # the window's own focus
        await until(lambda: _password_dialog(dana) is not None, timeout=15)
        assert "SIP password for 1001 at sip:pbx.example.com" in _password_dialog(dana).labelText()
        assert dana.phone.server_seat == SEAT and dana.sync.user["phone_seat"] == SEAT
        assert not dana.phone.bar.isHidden()
        show_active(qtbot, d)  # Dana's prompt took the focus here; on a real desk it is another PC
        d.list.setFocus()
        # Reloaded, the window asks the server again and fills the form from the stored seat.
        qtbot.keyClick(d.list, Qt.Key.Key_R, Ctrl)
        await until(lambda: seats_loaded[-1:] == [1], timeout=15)
        assert d.seat.edits["sip_user"].text() == "1001" and d.seat.transport.currentText() == "TCP"
        # Cleared (Ctrl+Alt+X): the list says so and Dana's phone bar goes away.
        qtbot.keyClick(d.list, Qt.Key.Key_X, CtrlAlt)
        await until(lambda: changed[-1:] == ["clear_seat"], timeout=15)
        assert d.users.index(dana_row, 4).data() == "No seat" and d.seat.edits["sip_address"].text() == ""
        assert "Dana Reyes has no phone seat now" in d.message.text()
        await until(lambda: dana.phone.server_seat is None and dana.phone.bar.isHidden(), timeout=15)
        assert _password_dialog(dana) is None or not _password_dialog(dana).isVisible()
        # Clearing again: the server's sentence, nothing changed.
        qtbot.keyClick(d.list, Qt.Key.Key_X, CtrlAlt)
        await until(lambda: "Dana Reyes has no phone seat." == d.message.text(), timeout=15)
        with sessions() as s:
            actions = s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "users")).all()
        assert actions == ["user_set_seat", "user_clear_seat"]
        qtbot.keyClick(d.list, Qt.Key.Key_Escape)
        await until(lambda: not d.isVisible())

    loop.run_until_complete(scenario())


def test_a_seat_needs_its_address_registrar_and_user_before_it_is_sent(qtbot):
    from widgets.users_window import UsersWindow

    d = UsersWindow()
    qtbot.addWidget(d)
    show_active(qtbot, d)
    d.users.set_rows([UserRow("2", "dana", "Dana Reyes", "csr", True)])
    d.list.selectRow(0)
    sent: list[dict] = []
    d.actionRequested.connect(sent.append)
    d.seat.edits["sip_address"].setText(SEAT["sip_address"])
    d.request("set_seat")
    assert sent == [] and d.message.text() == "Type the registrar of Dana Reyes's phone seat."
    assert d.seat.edits["registrar"].hasFocus()
    d.seat.edits["registrar"].setText(SEAT["registrar"])
    d.seat.edits["sip_user"].setText("1001")
    d.request("set_seat")
    assert sent == [{"action": "set_seat", "username": "dana", "sip_address": SEAT["sip_address"],
                     "registrar": SEAT["registrar"], "sip_user": "1001", "transport": "udp", "proxy": "",
                     "input_device": "", "output_device": "", "ring_device": ""}]  # fmt: skip


def test_the_users_window_mnemonics_do_not_clash(qtbot):
    """Alt+letter on the Users window, seat fields included: each letter does one thing."""
    from PySide6.QtWidgets import QAbstractButton, QLabel

    from tests.gui.test_mnemonics import mnemonic
    from widgets.users_window import UsersWindow

    d = UsersWindow()
    qtbot.addWidget(d)
    texts = [b.text() for b in d.findChildren(QAbstractButton)]
    texts += [label.text() for label in d.findChildren(QLabel) if label.buddy() is not None]
    letters = [mnemonic(t) for t in texts if mnemonic(t)]
    assert len(texts) >= 20 and len(letters) == len(set(letters)), sorted(letters)
