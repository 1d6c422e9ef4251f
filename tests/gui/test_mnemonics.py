"""Alt+letter mnemonics in the real main window: on any one screen, each letter does one thing.

A clash is silent in Qt: Alt+letter then only cycles focus between the clashing widgets (or goes to
the menu), so the CSR's muscle memory breaks without an error anywhere.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QGroupBox,
    QLabel,
    QTabBar,
    QTabWidget,
    QWidget,
)

from console.composition import Console
from console.settings import open_settings
from models.db import open_cache
from models.writer import LocalWriter
from tests.gui.helpers import open_now, show_active
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args


def mnemonic(text: str) -> str | None:
    """The letter after the first single '&' ('&&' is a literal ampersand), lower-cased."""
    i = 0
    while i < len(text) - 1:
        if text[i] == "&":
            if text[i + 1] == "&":
                i += 2
                continue
            return text[i + 1].lower() if not text[i + 1].isspace() else None
        i += 1
    return None


def test_mnemonic_parsing() -> None:
    assert mnemonic("&Book job") == "b"
    assert mnemonic("Boo&k job") == "k"
    assert mnemonic("Smith && Sons") is None
    assert mnemonic("R&&D &Notes") == "n"
    assert mnemonic("Tom & Jerry") is None
    assert mnemonic("Plain") is None


def visible_mnemonics(window: QWidget) -> dict[str, list[str]]:
    """Letter → the menus, tabs, buttons and buddied labels that claim it on the screen as shown now."""
    found: dict[str, list[str]] = defaultdict(list)

    def claim(kind: str, text: str) -> None:
        letter = mnemonic(text)
        if letter:
            found[letter].append(f"{kind} {text!r}")

    def shown(widget: QWidget) -> bool:
        return widget.isVisibleTo(window) and widget.window() is window

    bar = window.menuBar()
    if shown(bar):
        for action in bar.actions():
            if action.isVisible():
                claim("menu", action.text())
    for tabs in window.findChildren(QTabBar):
        if shown(tabs):
            for i in range(tabs.count()):
                if tabs.isTabVisible(i):
                    claim("tab", tabs.tabText(i))
    for button in window.findChildren(QAbstractButton):
        if shown(button):
            claim(f"button {button.objectName() or type(button).__name__}", button.text())
    for label in window.findChildren(QLabel):
        if shown(label) and label.buddy() is not None:
            claim("label", label.text())
    for box in window.findChildren(QGroupBox):
        if shown(box):
            claim("group", box.title())
    return found


@pytest.fixture
def console(qtbot, tmp_path):
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        build_setup(s)
    cid = LocalWriter(cache.sessions).execute("create_customer", customer_args()).applied.entity_id
    cache.close()
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    assert open_now(qtbot, console.customers, cid)
    yield console
    console.shutdown()


def test_no_alt_letter_is_used_twice_on_one_screen(qtbot, console):
    window = console.window
    console.new_job()
    tab_widgets = [t for t in window.findChildren(QTabWidget) if t.window() is window]
    assert window.work_tabs in tab_widgets and window.customer_panel.history_tabs in tab_widgets
    screens = 0
    # Every combination of open tabs is a screen the CSR can see (booking, leads or inbox × jobs, calls or texts).
    for pages in itertools.product(*(range(t.count()) for t in tab_widgets)):
        for tabs, page in zip(tab_widgets, pages, strict=True):
            tabs.setCurrentIndex(page)
        found = visible_mnemonics(window)
        clashes = {letter: who for letter, who in found.items() if len(who) > 1}
        screen = ", ".join(t.tabText(t.currentIndex()) for t in tab_widgets)
        assert not clashes, f"Alt+letter used twice with {screen} open: {clashes}"
        screens += 1
    assert screens == 12  # (booking, leads, bookings inbox or callbacks) × (jobs, calls or texts)
    # The check looked at the booking form: its labels are among the claimed letters.
    window.work_tabs.setCurrentIndex(0)
    claimed = {who for whos in visible_mnemonics(window).values() for who in whos}
    assert any("Technician" in who.replace("&", "") for who in claimed), claimed


def test_new_booking_letters_reach_their_targets(qtbot, console):
    window = console.window
    form = window.booking_form
    alt = Qt.KeyboardModifier.AltModifier
    console.new_job()
    window.work_tabs.setCurrentWidget(window.leads_list)
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_K, alt)  # Boo&k job
    assert window.work_tabs.currentIndex() == 0
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_I, alt)  # Techn&ician
    assert QApplication.focusWidget() is form.technician
    qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_R, alt)  # Se&rvices
    assert QApplication.focusWidget() is form.items_view
    with qtbot.waitSignal(form.availabilityRequested, timeout=1000):
        qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Y, alt)  # Get availabilit&y
