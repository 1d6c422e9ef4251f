"""The phone bar's function keys (widgets/phone_bar.py PHONE_KEYS): from anywhere in the window, a key
presses its button — only while that button is enabled (a call in the right state) and the bar is shown
(a CSR with a seat). The keys collide with nothing else window-wide (F1 help, F2 claim, F5 sync)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from tests.gui.helpers import show_active
from widgets.phone_bar import PHONE_KEYS, PhoneBar

K = Qt.Key


def _window(qtbot: Any) -> tuple[QWidget, PhoneBar, QLineEdit]:
    window = QWidget()
    layout = QVBoxLayout(window)
    elsewhere = QLineEdit(window)  # the keyboard is in another pane (the search box, a form)
    bar = PhoneBar(window)
    layout.addWidget(elsewhere)
    layout.addWidget(bar)
    qtbot.addWidget(window)
    show_active(qtbot, window)
    elsewhere.setFocus()
    return window, bar, elsewhere


def test_function_keys_press_the_bar_buttons_only_when_they_can_act(qtbot: Any) -> None:
    _window_, bar, elsewhere = _window(qtbot)
    asked: list[tuple[str, object]] = []
    bar.holdRequested.connect(lambda on: asked.append(("hold", on)))
    bar.muteRequested.connect(lambda on: asked.append(("mute", on)))
    bar.hangupRequested.connect(lambda: asked.append(("hangup", None)))
    bar.completeRequested.connect(lambda: asked.append(("complete", None)))
    bar.returnRequested.connect(lambda: asked.append(("return", None)))
    for key in (K.Key_F3, K.Key_F4, K.Key_F9, K.Key_F10, K.Key_F11):  # no call: nothing happens
        qtbot.keyClick(elsewhere, key)
    assert asked == []

    bar.show_call({"state": "confirmed"})
    qtbot.keyClick(elsewhere, K.Key_F3)
    qtbot.keyClick(elsewhere, K.Key_F4)
    assert asked == [("hold", True), ("mute", True)]
    qtbot.keyClick(elsewhere, K.Key_F6)  # Transfer…: the entry opens for the target
    assert bar.entry.isVisible() and bar.entry.hasFocus()
    qtbot.keyClick(bar.entry, K.Key_Escape)
    qtbot.keyClick(elsewhere, K.Key_F10)  # no consultation: Complete transfer can't act
    assert ("complete", None) not in asked
    bar.show_call({"state": "confirmed"}, consulting=True)
    qtbot.keyClick(elsewhere, K.Key_F10)
    qtbot.keyClick(elsewhere, K.Key_F11)
    qtbot.keyClick(elsewhere, K.Key_F9)
    assert asked[-3:] == [("complete", None), ("return", None), ("hangup", None)]
    assert all(f"({key})" in getattr(bar, name).toolTip() for key, name in PHONE_KEYS)

    bar.hide()  # a CSR without a seat: the keys are not the phone's
    count = len(asked)
    qtbot.keyClick(elsewhere, K.Key_F9)
    assert len(asked) == count


def test_the_bar_keys_are_free_in_the_assembled_console_and_in_the_f1_list(qtbot: Any, tmp_path) -> None:
    from PySide6.QtGui import QAction, QShortcut

    from console.composition import Console
    from console.main_window import SHORTCUTS
    from console.settings import open_settings
    from models.demo import generate
    from tests.gui.helpers import wait_for_workers

    listed = " / ".join(k for k, _ in SHORTCUTS)
    assert all(key in listed for key, _name in PHONE_KEYS)
    path = tmp_path / "cache.sqlite3"
    generate(path, customers=20, seed=5)
    console = Console.build(path, open_settings(tmp_path))
    qtbot.addWidget(console.window)
    try:
        ours = {QKeySequence(k).toString() for k, _ in PHONE_KEYS}
        bar_keys = set(console.phone.bar._shortcuts)
        # Every other shortcut of the window, actions and QShortcuts alike, whatever its pane.
        others = [
            (a.text(), k.toString()) for a in console.window.findChildren(QAction) for k in a.shortcuts()
        ] + [
            (s.parent().objectName(), s.key().toString())
            for s in console.window.findChildren(QShortcut)
            if s not in bar_keys
        ]
        clashes = [(who, key) for who, key in others if key in ours]
        assert clashes == [], clashes
        assert {s.key().toString() for s in bar_keys} == ours
    finally:
        wait_for_workers(qtbot, console.window)
        console.shutdown()
