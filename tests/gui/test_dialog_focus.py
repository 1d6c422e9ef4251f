"""A form dialog opens with the cursor where the CSR types next, never on the Save button."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from widgets.customer_dialogs import ContactDialog, CustomerDialog, LocationDialog


def _opened(qtbot, dialog):
    qtbot.addWidget(dialog)
    with qtbot.waitExposed(dialog):
        dialog.open()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return QApplication.focusWidget()


def test_new_customer_starts_in_the_name(qtbot):
    assert _opened(qtbot, CustomerDialog()).objectName() == "field_name"


def test_new_customer_with_a_known_name_starts_in_the_next_empty_field(qtbot):
    dialog = CustomerDialog()
    dialog.fields["name"].setText("Maria Garcia")
    assert _opened(qtbot, dialog).objectName() == "field_street"


def test_location_and_contact_dialogs_start_in_a_field(qtbot):
    assert _opened(qtbot, LocationDialog("c" * 32)).objectName().startswith("field_")
    assert _opened(qtbot, ContactDialog("c" * 32)).objectName().startswith("field_")


# -- closing a dialog or window gives the keyboard back (issue 13, item 2) ------------------------------
# Qt delivers Ctrl+J or F2 only to an active window; a dialog that closed used to leave none active.

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from console.composition import Console  # noqa: E402
from console.settings import open_settings  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.demo import generate  # noqa: E402
from tests.gui.helpers import open_now, show_active, wait_for_workers  # noqa: E402

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture(scope="module")
def cache_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("focus") / "cache.sqlite3"
    generate(path, customers=200, seed=13)
    return path


@pytest.fixture
def console(qtbot, cache_path, tmp_path):
    c = Console.build(cache_path, open_settings(tmp_path))
    qtbot.addWidget(c.window)
    show_active(qtbot, c.window)
    qtbot.wait(50)  # start-up's second half: the last session's bubbles come back (read on a worker)…
    wait_for_workers(qtbot, c.window)  # …and take the keyboard, before the test puts it somewhere
    yield c
    c.shutdown()


def first_customer(console: Console) -> str:
    conn = console.cache.raw_connection()
    try:
        return conn.execute("SELECT id FROM customers ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        conn.close()


def ring(console: Console, call_id: str = "focus-call") -> None:
    """A call rings: F2 can claim it (offline, the strip explains instead of asking the server)."""
    console.calls.on_calls(
        [
            {
                "id": call_id,
                "state": "Ringing",
                "direction": "Inbound",
                "from_number": "+12145550177",
                "started_at": utcnow().isoformat(),
            }
        ]
    )
    assert console.window.bubble_strip.claim_action.isEnabled()


def key(qtbot, k: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A real key press into whatever has the keyboard now (as on a desk)."""
    target = QApplication.focusWidget()
    assert target is not None, "no widget has the keyboard: the shortcut would go nowhere"
    qtbot.keyClick(target, k, modifiers)


def focused_on(qtbot, widget: QWidget) -> None:
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(widget.hasFocus)


def back_to(qtbot, console: Console, widget: QWidget) -> None:
    """The window is active again with the keyboard on ``widget``; Ctrl+J and F2 work from there."""
    w = console.window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w and widget.hasFocus(), timeout=3000)
    with qtbot.waitSignal(w.new_job_action.triggered, timeout=2000):
        key(qtbot, Qt.Key.Key_J, CTRL)
    ring(console)
    focused_on(qtbot, widget)
    with qtbot.waitSignal(w.bubble_strip.claim_action.triggered, timeout=2000):
        key(qtbot, Qt.Key.Key_F2)


def test_after_f1_help_the_keyboard_is_back_where_it_was(qtbot, console):
    w = console.window
    focused_on(qtbot, w.lookup.results)
    key(qtbot, Qt.Key.Key_F1)
    help_ = w.shortcuts_dialog
    qtbot.waitUntil(lambda: help_ is not None and help_.isActiveWindow())
    key(qtbot, Qt.Key.Key_Escape)
    back_to(qtbot, console, w.lookup.results)


def test_after_the_new_customer_form_the_keyboard_is_back_in_the_search_box(qtbot, console):
    w = console.window
    focused_on(qtbot, w.lookup.search)
    qtbot.keyClicks(w.lookup.search, "nadia brooks")
    key(qtbot, Qt.Key.Key_N, CTRL_SHIFT)
    dialog = console.customers.dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isActiveWindow())
    key(qtbot, Qt.Key.Key_Escape)
    back_to(qtbot, console, w.lookup.search)


def test_after_the_classify_dialog_the_keyboard_is_back_where_it_was(qtbot, console):
    w = console.window
    console.calls.on_calls(
        [
            {
                "id": "ended-call",
                "state": "Ended",
                "direction": "Inbound",
                "agent_id": "me",
                "from_number": "+12145550178",
                "started_at": utcnow().isoformat(),
            }
        ]
    )
    console.calls.me = "me"
    console.calls.on_calls([{"id": "ended-call", "state": "Ended", "agent_id": "me"}])
    assert open_now(qtbot, console.customers, first_customer(console))
    focused_on(qtbot, w.customer_panel.note_edit)
    console.calls.classify("ended-call")
    qtbot.waitUntil(lambda: console.calls.dialog is not None)  # the reasons are read on the worker
    dialog = console.calls.dialog
    qtbot.waitUntil(dialog.isActiveWindow)
    key(qtbot, Qt.Key.Key_Escape)
    back_to(qtbot, console, w.customer_panel.note_edit)


def test_after_the_sign_in_dialog_the_keyboard_is_back_where_it_was(qtbot, console):
    w = console.window
    focused_on(qtbot, w.lookup.results)
    key(qtbot, Qt.Key.Key_L, CTRL_SHIFT)
    dialog = console.sync._dialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isActiveWindow())
    key(qtbot, Qt.Key.Key_Escape)
    back_to(qtbot, console, w.lookup.results)


def test_a_dialog_over_a_dialog_hands_back_to_the_one_under_it(qtbot, console):
    w = console.window
    focused_on(qtbot, w.lookup.search)
    form = console.customers.new_customer(prefill_name="Ann Lee")
    qtbot.waitUntil(form.isActiveWindow)
    focused_on(qtbot, form.fields["name"])
    w.shortcuts_action.trigger()  # help over the form (the form's modality blocks F1)
    help_ = w.shortcuts_dialog
    qtbot.waitUntil(lambda: help_ is not None and help_.isActiveWindow())
    key(qtbot, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: form.isActiveWindow() and form.fields["name"].hasFocus(), timeout=3000)
    key(qtbot, Qt.Key.Key_Escape)
    back_to(qtbot, console, w.lookup.search)


def test_closing_a_window_of_its_own_returns_to_the_main_window(qtbot, console):
    """The floor board and the scorecards are windows of their own: closing one (Esc) returns the keyboard
    to where the CSR was in the main window."""
    w = console.window
    console.floor.user = {"id": "u-sam", "role": "supervisor"}
    focused_on(qtbot, w.lookup.results)
    board = console.floor.open_board()
    assert board is not None
    qtbot.waitUntil(board.isActiveWindow)
    key(qtbot, Qt.Key.Key_Escape)
    back_to(qtbot, console, w.lookup.results)


def test_switching_to_another_program_is_not_undone(qtbot, console):
    """Only a closed window hands the keyboard back: a window the CSR left for another program stays left."""
    w = console.window
    other = QWidget()
    qtbot.addWidget(other)
    focused_on(qtbot, w.lookup.results)
    show_active(qtbot, other)  # stands in for another program's window
    qtbot.wait(100)  # the keeper had its turn
    assert QApplication.activeWindow() is other
    other.close()  # and when the CSR comes back, the keyboard is where it was
    w.activateWindow()
    back_to(qtbot, console, w.lookup.results)
