"""Manual bubbles: Ctrl+N, switching without losing typed data, drafts surviving a restart."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import func, select

from console.composition import Console
from console.settings import open_settings
from models.db import open_cache
from models.journal import Draft
from models.writer import LocalWriter
from tests.gui.helpers import book_now, open_now, settle, show_active, wait_for_workers
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args

CTRL = Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def world(tmp_path):
    path = tmp_path / "cache.sqlite3"
    cache = open_cache(path)
    with cache.sessions.begin() as s:
        ids = build_setup(s)
    writer = LocalWriter(cache.sessions)
    ana = writer.execute("create_customer", customer_args(name="Ana Lopez")).applied.entity_id
    ben = writer.execute(
        "create_customer", customer_args(name="Ben Ortiz", phone="(214) 555-0177", street="9 Oak St")
    ).applied.entity_id
    cache.close()
    return path, ids, ana, ben


def _console(qtbot, path, tmp_path):
    console = Console.build(path, open_settings(tmp_path), now_fn=lambda: NOW)
    qtbot.addWidget(console.window)
    show_active(qtbot, console.window)
    qtbot.wait(50)  # start-up's second half (a 0 ms timer) asks for the drafts of the last session…
    wait_for_workers(qtbot, console.window)  # …read on the worker
    return console


def _drafts(console) -> int:
    """The drafts in the cache, once the saves handed to the drafts worker are written."""
    console.drafts.worker.submit(lambda: None, done=lambda _r: None, failed=print).result()  # after those
    with console.cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(Draft))


def test_switching_bubbles_keeps_what_was_typed_and_survives_restart(qtbot, world, tmp_path):
    path, ids, ana, ben = world
    console = _console(qtbot, path, tmp_path)
    w, form, strip = console.window, console.window.booking_form, console.window.bubble_strip
    qtbot.keyClick(w, Qt.Key.Key_N, CTRL)
    first = strip.active_id
    assert first and w.lookup.search.hasFocus()
    open_now(qtbot, console.customers, ana)
    qtbot.keyClick(w, Qt.Key.Key_J, CTRL)
    form.business_unit.setCurrentIndex(form.business_unit.findData(ids.hvac))
    form.job_type.setCurrentIndex(form.job_type.findData(ids.ac_repair))
    qtbot.keyClicks(form.summary, "Upstairs unit")

    qtbot.keyClick(w, Qt.Key.Key_N, CTRL)  # a second booking, no call
    second = strip.active_id
    assert second != first and form.customer_id() == "" and w.customer_panel.record() is None
    assert strip.bubble(first).title == "Ana Lopez"
    open_now(qtbot, console.customers, ben)
    qtbot.keyClick(w, Qt.Key.Key_J, CTRL)
    form.business_unit.setCurrentIndex(form.business_unit.findData(ids.plumbing))
    form.job_type.setCurrentIndex(form.job_type.findData(ids.drain))
    qtbot.keyClicks(form.summary, "Kitchen sink")

    qtbot.keyClick(w, Qt.Key.Key_PageUp, CTRL)  # back to Ana's booking
    wait_for_workers(qtbot, w)
    assert strip.active_id == first
    assert w.customer_panel.customer_id() == ana and form.customer_id() == ana
    assert form.job_type.currentData() == ids.ac_repair
    assert form.summary.toPlainText().endswith("Upstairs unit")
    qtbot.keyClick(w, Qt.Key.Key_PageDown, CTRL)
    wait_for_workers(qtbot, w)
    assert form.customer_id() == ben and form.summary.toPlainText() == "Kitchen sink"
    console.window.close()
    console.shutdown()

    again = _console(qtbot, path, tmp_path)  # restart
    try:
        titles = [again.window.bubble_strip.bubble(i).title for i in again.window.bubble_strip.ids()]
        assert titles == ["Ana Lopez", "Ben Ortiz"]
        assert again.window.booking_form.customer_id() == ana
        assert again.window.booking_form.summary.toPlainText().endswith("Upstairs unit")
    finally:
        again.shutdown()


def test_book_job_clears_the_bubble(qtbot, world, tmp_path):
    path, ids, ana, _ben = world
    console = _console(qtbot, path, tmp_path)
    try:
        form = console.window.booking_form
        open_now(qtbot, console.customers, ana)
        console.new_job()  # Ctrl+J makes a bubble when there is none
        assert console.window.bubble_strip.ids()
        qtbot.waitUntil(lambda: _drafts(console) == 1)  # saved shortly after, off the keystroke
        form.business_unit.setCurrentIndex(form.business_unit.findData(ids.hvac))
        form.job_type.setCurrentIndex(form.job_type.findData(ids.ac_repair))
        form.campaign.setCurrentIndex(form.campaign.findData(ids.google))
        console.booking.show_availability()
        settle(qtbot, console.booking)
        qtbot.keyClick(form.availability_view, Qt.Key.Key_Return)
        assert book_now(qtbot, console.booking)
        assert console.window.bubble_strip.ids() == [] and _drafts(console) == 0
        assert console.window.customer_panel.customer_id() == ana
    finally:
        console.shutdown()


def test_closing_a_bubble_with_typed_data_asks_first(qtbot, world, tmp_path):
    path, ids, ana, _ben = world
    console = _console(qtbot, path, tmp_path)
    try:
        open_now(qtbot, console.customers, ana)
        console.new_job()
        form = console.window.booking_form
        form.business_unit.setCurrentIndex(form.business_unit.findData(ids.hvac))
        qtbot.keyClick(console.window, Qt.Key.Key_W, CTRL)
        box = console.drafts.confirm
        assert box is not None and box.isVisible()
        box.button(QMessageBox.StandardButton.Cancel).click()
        assert console.window.bubble_strip.ids() and _drafts(console) == 1
        qtbot.keyClick(console.window, Qt.Key.Key_W, CTRL)
        console.drafts.confirm.button(QMessageBox.StandardButton.Discard).click()
        assert console.window.bubble_strip.ids() == [] and _drafts(console) == 0
        # An empty bubble closes without a question.
        qtbot.keyClick(console.window, Qt.Key.Key_N, CTRL)
        qtbot.keyClick(console.window, Qt.Key.Key_W, CTRL)
        assert console.window.bubble_strip.ids() == []
    finally:
        console.shutdown()
