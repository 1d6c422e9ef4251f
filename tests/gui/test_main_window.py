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
)

from console.composition import Console
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
        return conn.execute("SELECT customer_id, value FROM contact_methods WHERE kind != 'Email' AND "
                            "location_id IS NULL ORDER BY id LIMIT 1 OFFSET 42").fetchone()
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
    assert w.sync_status.text() == "Not signed in — nothing waiting"
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
    assert w.sync_status.text() == "Not signed in — 1 change waiting"
    assert w.sync_status.pending == console.writer.pending_count() == 1
    # The search list follows the save: the new customer is found by the number typed.
    qtbot.waitUntil(lambda: w.lookup.model.total() >= 1 and w.lookup.model.index(0, 0).data() == "Nadia Brooks",
                    timeout=3000)


def test_theme_toggle_is_remembered(qtbot, console, tmp_path):
    app = QApplication.instance()
    apply_theme(app, "light")
    qtbot.keyClick(console.window, Qt.Key.Key_D,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert app.property("csrDark") is True
    assert console.window.settings.value("theme") == "dark"
    assert app.palette().base().color().lightness() < 80
    console.window.set_theme("light")
    assert app.property("csrDark") is False and app.palette().base().color().lightness() > 200


def test_window_geometry_is_remembered(qtbot, cache_path, tmp_path):
    settings = open_settings(tmp_path)
    first = Console.build(cache_path, settings)
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


def test_f1_lists_the_shortcuts(qtbot, console):
    qtbot.keyClick(console.window, Qt.Key.Key_F1)
    box = console.window.findChild(QMessageBox, "shortcutsDialog")
    assert box is not None and box.isVisible() and "Ctrl+F" in box.text()
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert not box.isVisible()


def test_every_control_has_an_accessible_name_or_label(console):
    """Screen readers and tools find controls by name; icon-only buttons are useless without one."""
    missing = []
    kinds = (QAbstractButton, QLineEdit, QComboBox, QAbstractItemView, QPlainTextEdit)
    from PySide6.QtWidgets import QWidget

    for widget in console.window.findChildren(QWidget):
        if not isinstance(widget, kinds) or isinstance(widget, QHeaderView):
            continue
        if widget.parent() is not None and widget.parent().metaObject().className() in (
                "QTabBar", "QHeaderView", "QScrollBar", "QCalendarWidget", "QComboBox", "QAbstractSpinBox",
                "QComboBoxPrivateContainer"):
            continue
        if type(widget).__name__ in ("QTabBar",) or widget.objectName().startswith("qt_"):
            continue
        if isinstance(widget.parent(), QLineEdit):       # the line edit's own clear button (Qt's, named)
            continue
        text = getattr(widget, "text", lambda: "")()
        if not (widget.accessibleName() or (isinstance(widget, QAbstractButton) and text.strip())):
            missing.append(f"{type(widget).__name__} {widget.objectName()!r} in "
                           f"{widget.parent().metaObject().className()}")
    assert missing == []


def test_key_widgets_have_stable_object_names(console):
    w = console.window
    for name in ("customerSearch", "customerResults", "customerPanel", "syncStatus", "callBubbleStrip", "bookingForm"):
        assert w.findChild(object, name) is not None, name
