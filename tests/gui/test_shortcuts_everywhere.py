"""Every window-wide shortcut of the F1 list works from every pane the keyboard can be in (issue 13,
item 2): a real key press into the focused widget of the shown, active main window fires the action.

One console serves the whole module (building one per case would take minutes); each case puts the
keyboard in its pane, presses the key, checks the action fired, and undoes what it opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QDialog, QWidget
from sqlalchemy import text

from console.app import _import_demo_setup
from console.composition import Console
from console.main_window import SHORTCUTS
from console.settings import open_settings
from console.theme import apply_theme
from models.base import new_id, utcnow
from models.db import open_cache
from models.demo import generate
from models.demo_jobs import generate_jobs
from models.writer import LocalWriter
from tests.gui.helpers import open_now

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
NONE = Qt.KeyboardModifier.NoModifier
ALT = Qt.KeyboardModifier.AltModifier
K = Qt.Key

# (keys as the F1 list writes them, key, modifiers, the action they fire)
GLOBAL: list[tuple[str, Qt.Key, Qt.KeyboardModifier, Callable[[Console], QAction]]] = [
    ("Ctrl+F", K.Key_F, CTRL, lambda c: c.window.find_action),
    ("Ctrl+Shift+N", K.Key_N, CTRL | SHIFT, lambda c: c.window.new_customer_action),
    ("Ctrl+Shift+L", K.Key_L, CTRL | SHIFT, lambda c: c.window.sign_in_action),
    ("F2", K.Key_F2, NONE, lambda c: c.window.bubble_strip.claim_action),
    ("Ctrl+Shift+B", K.Key_B, CTRL | SHIFT, lambda c: c.floor.board_action),
    ("Ctrl+Shift+Y", K.Key_Y, CTRL | SHIFT, lambda c: c.floor.scorecards_action),
    ("Ctrl+Shift+M", K.Key_M, CTRL | SHIFT, lambda c: c.messages.open_action),
    ("Ctrl+Alt+C", K.Key_C, CTRL | Qt.KeyboardModifier.AltModifier, lambda c: c.callbacks.tab_action),
    ("Ctrl+Alt+D", K.Key_D, CTRL | ALT, lambda c: c.sound_devices.action),
    ("F5", K.Key_F5, NONE, lambda c: c.window.sync_now_action),
    ("Ctrl+J", K.Key_J, CTRL, lambda c: c.window.new_job_action),
    ("Ctrl+N", K.Key_N, CTRL, lambda c: c.window.new_bubble_action),
    ("Ctrl+Shift+E", K.Key_E, CTRL | SHIFT, lambda c: c.window.new_lead_action),
    ("Ctrl+PgDown", K.Key_PageDown, CTRL, lambda c: c.window.next_bubble_action),
    ("Ctrl+PgUp", K.Key_PageUp, CTRL, lambda c: c.window.prev_bubble_action),
    ("Ctrl+W", K.Key_W, CTRL, lambda c: c.window.close_bubble_action),
    ("Ctrl+E", K.Key_E, CTRL, lambda c: _panel_action(c, "Edit customer")),
    ("Ctrl+L", K.Key_L, CTRL, lambda c: _panel_action(c, "Add location")),
    ("Ctrl+Shift+P", K.Key_P, CTRL | SHIFT, lambda c: _panel_action(c, "Add contact")),
    ("Ctrl+Shift+D", K.Key_D, CTRL | SHIFT, lambda c: c.window.toggle_theme_action),
    ("F1", K.Key_F1, NONE, lambda c: c.window.shortcuts_action),
    ("Ctrl+Q", K.Key_Q, CTRL, lambda c: c.window.quit_action),
    # Signed in as an admin (the fixture): the review, the manager's and the admin's windows, the inbox.
    ("Ctrl+Shift+R", K.Key_R, CTRL | SHIFT, lambda c: c.review._tab_action),
    ("Ctrl+Shift+I", K.Key_I, CTRL | SHIFT, lambda c: _inbox_shortcut(c)),
    ("Ctrl+Shift+F", K.Key_F, CTRL | SHIFT, lambda c: _window_action(c, "duplicatesAction")),
    ("Ctrl+Shift+O", K.Key_O, CTRL | SHIFT, lambda c: _window_action(c, "setupAction")),
    ("Ctrl+Shift+G", K.Key_G, CTRL | SHIFT, lambda c: _window_action(c, "campaignReportAction")),
    ("Ctrl+Alt+A", K.Key_A, CTRL | ALT, lambda c: _window_action(c, "availabilityAction")),
    ("Ctrl+Alt+U", K.Key_U, CTRL | ALT, lambda c: _window_action(c, "usersAction")),
]


def _window_action(console: Console, name: str) -> QAction:
    return console.window.findChild(QAction, name)


def _inbox_shortcut(console: Console) -> QShortcut:
    keys = QKeySequence("Ctrl+Shift+I")
    return next(s for s in console.window.findChildren(QShortcut) if s.key() == keys)


def _panel_action(console: Console, text: str) -> QAction:
    return next(
        a
        for a in console.window.customer_panel.actions() + console.window.customer_panel.findChildren(QAction)
        if a.text() == text
    )


def _booking(console: Console) -> None:
    w = console.window
    w.work_tabs.setCurrentIndex(0)
    if not console.booking.form.customer_id():
        console.new_job()


def _bubble(console: Console) -> QWidget:
    strip = console.window.bubble_strip
    if not strip.findChildren(QWidget, "manualBubbleButton"):
        console.drafts.new_bubble()
    return next(b for b in strip.findChildren(QWidget, "manualBubbleButton") if b.isVisible())


def _leads(console: Console) -> QWidget:
    w = console.window
    w.work_tabs.setCurrentWidget(w.leads_list)
    return w.leads_list.view


# (pane, the widget the keyboard is in there — made visible first)
PANES: list[tuple[str, Callable[[Console], QWidget]]] = [
    ("search box", lambda c: c.window.lookup.search),
    ("results list", lambda c: c.window.lookup.results),
    ("contacts table", lambda c: c.window.customer_panel.contacts_view),
    ("locations table", lambda c: c.window.customer_panel.locations_view),
    ("notes table", lambda c: c.window.customer_panel.notes_view),
    ("jobs table", lambda c: c.window.customer_panel.jobs_view),
    ("notes editor", lambda c: c.window.customer_panel.note_edit),
    ("business unit", lambda c: (_booking(c), c.booking.form.business_unit)[1]),
    ("job summary", lambda c: (_booking(c), c.booking.form.summary)[1]),
    ("bubble strip", _bubble),
    ("leads list", _leads),
]

# Where a pane gives a key a meaning of its own (the F1 list says so): the pane's action fires instead.
LOCAL = {
    ("Ctrl+Shift+L", "leads list"): lambda c: next(
        a for a in c.window.leads_list.findChildren(QAction) if a.text() == "New lead"
    )
}


def test_the_table_covers_the_f1_list():
    """Each window-wide key of the F1 list is tested (pane-only keys are marked there: "(jobs)", …)."""
    listed = " / ".join(k for k, _ in SHORTCUTS if "(" not in k)
    for keys, *_ in GLOBAL:
        assert keys in listed, keys


def test_every_window_wide_action_is_in_the_table(console):
    """Each action that answers anywhere in the window (application or window context) is tested here."""
    tested = {QKeySequence(k).toString() for k, *_ in GLOBAL}
    wide = (Qt.ShortcutContext.ApplicationShortcut, Qt.ShortcutContext.WindowShortcut)
    for action in console.window.findChildren(QAction):
        for shortcut in action.shortcuts() if action.shortcutContext() in wide else ():
            assert shortcut.toString() in tested, f"{shortcut.toString()} ({action.text()}) is not tested"
    for shortcut in console.window.findChildren(QShortcut):
        if shortcut.parent() is console.window and shortcut.context() in wide:
            assert shortcut.key().toString() in tested, f"{shortcut.key().toString()} is not tested"


@pytest.fixture(scope="module")
def console(qapp, tmp_path_factory):
    folder = tmp_path_factory.mktemp("shortcuts")
    path = folder / "cache.sqlite3"
    generate(path, customers=200, seed=7)
    _import_demo_setup(path)
    generate_jobs(path, jobs=60)
    cache = open_cache(path)
    try:
        # A customer with a job, a note and a lead: every table of the panel and the leads list shows.
        with cache.sessions() as s:
            customer = s.execute(text("SELECT customer_id FROM jobs ORDER BY id LIMIT 1")).scalar_one()
        writer = LocalWriter(cache.sessions)
        writer.execute(
            "add_note",
            {"note": {"id": new_id(), "customer_id": customer, "text": "Gate code 1234"}, "actor": "test"},
        )
        writer.execute("create_lead", {"lead": {"customer_id": customer, "summary": "Wants a quote"}})
    finally:
        cache.close()
    c = Console.build(path, open_settings(folder))
    c.floor.board_action.setVisible(True)  # as a supervisor's sign-in does
    # What an admin's sign-in installs: call review, the manager's windows, users (no server needed).
    c._signed_in({"username": "admin", "role": "admin", "display_name": "Admin"})
    c._test_customer = customer  # type: ignore[attr-defined]
    yield c
    c.window.close()
    c.shutdown()
    c.window.deleteLater()
    apply_theme(qapp, "light")


def _settle(qtbot: Any, console: Console) -> None:
    """Undo what the last key opened: dialogs and windows closed, the main window shown and active, the
    test customer open, a call ringing (F2 can claim it; offline the strip explains instead)."""
    w = console.window
    for widget in QApplication.topLevelWidgets():
        if (
            widget is not w
            and widget.isVisible()
            and widget.isWindow()
            and widget.windowType() in (Qt.WindowType.Dialog, Qt.WindowType.Window)
        ):
            widget.reject() if isinstance(widget, QDialog) else widget.close()
    if not w.isVisible():
        w.show()
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=3000)
    if console.customers.current_customer_id() != console._test_customer:  # type: ignore[attr-defined]
        assert open_now(qtbot, console.customers, console._test_customer)  # type: ignore[attr-defined]
    console.calls.on_calls(
        [
            {
                "id": "ringing-call",
                "state": "Ringing",
                "direction": "Inbound",
                "from_number": "+12145550177",
                "started_at": utcnow().isoformat(),
            }
        ]
    )


@pytest.mark.parametrize("pane, widget_of", PANES, ids=[p for p, _ in PANES])
@pytest.mark.parametrize("keys, key, modifiers, action_of", GLOBAL, ids=[g[0] for g in GLOBAL])
def test_shortcut_works_from_pane(qtbot, console, keys, key, modifiers, action_of, pane, widget_of):
    _settle(qtbot, console)
    widget = widget_of(console)
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(lambda: widget.hasFocus(), timeout=3000)
    action = LOCAL.get((keys, pane), action_of)(console)
    assert action is not None and action.isEnabled(), f"{keys} is missing or disabled"
    signal = action.activated if isinstance(action, QShortcut) else action.triggered
    with qtbot.waitSignal(signal, timeout=2000, raising=False) as fired:
        qtbot.keyClick(QApplication.focusWidget(), key, modifiers)
    assert fired.signal_triggered, f"{keys} did nothing with the keyboard in the {pane}"
    _settle(qtbot, console)
