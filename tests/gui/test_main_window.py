"""The assembled window (the real composition root) driven by keyboard only."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QWidget,
)

from console.composition import Console
from console.customer_controller import title_case_name
from console.main_window import SHORTCUTS
from console.settings import open_settings
from console.theme import apply_theme
from models.demo import generate
from tests.gui.helpers import show_active


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("window") / "cache.sqlite3"
    generate(path, customers=500, seed=21)
    return path


@pytest.fixture
def console(qtbot, cache_path, tmp_path):
    settings = open_settings(tmp_path)
    c = Console.build(cache_path, settings)
    qtbot.addWidget(c.window)
    show_active(qtbot, c.window)
    yield c
    c.shutdown()
    apply_theme(QApplication.instance(), "light")


def _phone_of(console) -> tuple[str, str]:
    conn = console.cache.raw_connection()
    try:
        return conn.execute(
            "SELECT customer_id, value FROM contact_methods WHERE kind != 'Email' AND "
            "location_id IS NULL ORDER BY id LIMIT 1 OFFSET 42"
        ).fetchone()
    finally:
        conn.close()


def test_find_and_open_a_customer_by_keyboard_only(qtbot, console):
    customer_id, e164 = _phone_of(console)
    w = console.window
    w.customer_panel.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.lookup.search.hasFocus()
    qtbot.keyClicks(w.lookup.search, e164[-10:])
    qtbot.waitUntil(lambda: w.lookup.model.customer_id(0) == customer_id, timeout=5000)
    qtbot.keyClick(w.lookup.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: console.customers.current_customer_id() == customer_id, timeout=3000)
    assert w.customer_panel.customer_id() == customer_id


def test_new_customer_from_the_search_box_prefills_the_phone_and_counts_the_outbox(qtbot, console):
    w = console.window
    qtbot.waitUntil(lambda: w.sync_status.text() == "Not signed in — nothing waiting")
    qtbot.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(w.lookup.search, "(214) 555-0188")
    qtbot.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = console.customers.dialog
    assert dialog is not None and dialog.isVisible()
    assert "214" in dialog.findChild(QLineEdit, "field_phone").text()
    name = dialog.findChild(QLineEdit, "field_name")
    name.setFocus()
    qtbot.keyClicks(name, "Nadia Brooks")
    for field, text in (("street", "77 Lamar St"), ("city", "Dallas"), ("state", "TX"), ("zip", "75202")):
        edit = dialog.findChild(QLineEdit, f"field_{field}")
        edit.setFocus()
        qtbot.keyClicks(edit, text)
    qtbot.keyClick(name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.customer_panel.customer_id() != "", timeout=3000)
    qtbot.waitUntil(lambda: w.sync_status.text() == "Not signed in — 1 change waiting")
    assert w.sync_status.pending == console.writer.pending_count() == 1
    # The search list follows the save: the new customer is found by the number typed.
    qtbot.waitUntil(
        lambda: w.lookup.model.total() >= 1 and w.lookup.model.index(0, 0).data() == "Nadia Brooks",
        timeout=3000,
    )


def test_theme_toggle_is_remembered(qtbot, console, tmp_path):
    app = QApplication.instance()
    apply_theme(app, "light")
    qtbot.keyClick(
        console.window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert app.property("csrDark") is True
    assert console.window.settings.value("theme") == "dark"
    assert app.palette().base().color().lightness() < 80
    console.window.set_theme("light")
    assert app.property("csrDark") is False and app.palette().base().color().lightness() > 200


def test_window_geometry_is_remembered(qtbot, cache_path, tmp_path):
    settings = open_settings(tmp_path)
    first = Console.build(cache_path, settings)
    qtbot.addWidget(first.window)  # deleted at the end, like every window a test makes
    first.window.show()
    first.window.resize(761, 533)
    qtbot.wait(20)
    first.window.close()
    first.shutdown()
    second = Console.build(cache_path, open_settings(tmp_path))
    qtbot.addWidget(second.window)
    try:
        assert second.window.size() == QSize(761, 533)
    finally:
        second.shutdown()


def test_f1_lists_the_shortcuts_scrolls_and_fits_the_screen(qtbot, console):
    qtbot.keyClick(console.window, Qt.Key.Key_F1)
    box = console.window.shortcuts_dialog
    assert box is not None and box.objectName() == "shortcutsDialog"
    qtbot.waitUntil(box.isActiveWindow)
    assert "Ctrl+F — Find a customer" in box.text() and box.table.rowCount() == len(SHORTCUTS)
    free = box.screen().availableGeometry()
    assert box.height() <= 0.85 * free.height() + 1 and box.width() <= 0.85 * free.width() + 1
    assert box.table.verticalScrollBar().maximum() > 0  # the rest scrolls
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not box.isVisible())


def test_new_customer_title_cases_a_lowercase_name_from_the_search_box(qtbot, console):
    w = console.window
    for typed, name in (
        ("maria de la cruz", "Maria De La Cruz"),
        ("o'brien-smith", "O'Brien-Smith"),
        ("McDonald", "McDonald"),
    ):
        w.lookup.search.setText(typed)
        qtbot.keyClick(
            w.lookup.search,
            Qt.Key.Key_N,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
        dialog = console.customers.dialog
        assert dialog is not None and dialog.findChild(QLineEdit, "field_name").text() == name
        dialog.reject()
        qtbot.waitUntil(lambda: console.customers.dialog is None)


def test_title_case_keeps_what_is_not_a_lowercase_name():
    assert title_case_name("123 main st") == "123 main st"
    assert title_case_name("ann@example.com") == "ann@example.com"
    assert title_case_name("josé ñúñez") == "José Ñúñez"
    assert title_case_name("José ñúñez") == "José ñúñez"  # the CSR's own capitals: as typed


def test_ctrl_q_quits_at_once_when_nothing_is_at_stake(qtbot, console):
    console.window.changes_waiting = lambda: 0
    assert console.window.quit() is None
    assert not console.window.isVisible()


def test_ctrl_q_asks_first_with_changes_waiting_and_cancel_is_the_default(qtbot, console):
    w = console.window
    w.changes_waiting = lambda: 3
    qtbot.keyClick(w.lookup.search, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    box = w.quit_box
    assert box is not None and box.isVisible()
    assert box.windowModality() != Qt.WindowModality.ApplicationModal  # open(), never exec()
    assert "3 changes are still waiting" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    qtbot.waitUntil(box.isActiveWindow)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)  # the default: Cancel
    qtbot.waitUntil(lambda: w.quit_box is None)
    assert w.isVisible()
    w.quit().findChild(QAbstractButton, "quitAnywayButton").click()
    qtbot.waitUntil(lambda: not w.isVisible())


def test_ctrl_q_asks_first_on_a_call(qtbot, console):
    w = console.window
    console.calls.me = "u-dana"
    console.calls.calls["c1"] = {"id": "c1", "state": "Talking", "agent_id": "u-dana"}
    box = w.quit()
    assert box is not None and "You are on a call." in box.text()
    box.reject()
    qtbot.waitUntil(lambda: w.quit_box is None)
    assert w.isVisible()
    console.calls.calls["c1"]["state"] = "Ended"  # the call is over: nothing to ask
    w.changes_waiting = lambda: 0
    assert w.quit() is None


def test_status_bar_fields_keep_a_steady_width(qtbot, console):
    status = console.window.sync_status
    agent = console.window.findChild(QWidget, "agentState")
    qtbot.waitUntil(lambda: status.width() > 0 and agent.width() > 0)
    agent.set_reasons(["Break", "Lunch", "Meeting"])  # as the server tells them
    qtbot.wait(30)
    widths = set()
    agent_widths = set()
    for state, pending in (
        ("offline", 0),
        ("online", 1),
        ("syncing", 12),
        ("session_expired", 345),
        ("signed_out", 0),
        ("online", 0),
    ):
        status.show_status(state, pending, 125.0 if pending else None, 3700.0)
        agent.set_online(state == "online")
        agent.show_state("Away", "Lunch", "2024-06-03T12:00:00+00:00")
        qtbot.wait(30)  # the status bar lays out again
        widths.add((status.state_label.width(), status.pending_label.width(), status.age_label.width()))
        agent_widths.add((agent.button.width(), agent.width()))
    assert len(widths) == 1, widths
    assert len(agent_widths) == 1, agent_widths


def test_every_control_has_an_accessible_name_or_label(console):
    """Screen readers and tools find controls by name; icon-only buttons are useless without one."""
    missing = []
    kinds = (QAbstractButton, QLineEdit, QComboBox, QAbstractItemView, QPlainTextEdit)
    for widget in console.window.findChildren(QWidget):
        if not isinstance(widget, kinds) or isinstance(widget, QHeaderView):
            continue
        if widget.parent() is not None and widget.parent().metaObject().className() in (
            "QTabBar",
            "QHeaderView",
            "QScrollBar",
            "QCalendarWidget",
            "QComboBox",
            "QAbstractSpinBox",
            "QComboBoxPrivateContainer",
        ):
            continue
        if type(widget).__name__ in ("QTabBar",) or widget.objectName().startswith("qt_"):
            continue
        if isinstance(widget.parent(), QLineEdit):  # the line edit's own clear button (Qt's, named)
            continue
        text = getattr(widget, "text", lambda: "")()
        if not (widget.accessibleName() or (isinstance(widget, QAbstractButton) and text.strip())):
            missing.append(
                f"{type(widget).__name__} {widget.objectName()!r} in "
                f"{widget.parent().metaObject().className()}"
            )
    assert missing == []


def test_key_widgets_have_stable_object_names(console):
    w = console.window
    for name in (
        "customerSearch",
        "customerResults",
        "customerPanel",
        "syncStatus",
        "callBubbleStrip",
        "bookingForm",
    ):
        assert w.findChild(object, name) is not None, name
