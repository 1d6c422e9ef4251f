"""The setup window (widgets/setup_window.py, console/setup_controller.py) by keyboard alone: Ctrl+Shift+O
opens it, type-ahead narrows the list, Enter edits, Ctrl+S saves through the real writer (the setup file's
sentence next to a bad field; an intent in the outbox), Ctrl+N a new record, Ctrl+R retires, Delete of a
record history refers to is refused with the retire alternative, Esc asks "Discard changes?"; read-only
for a CSR; the list models pass qtmodeltester."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy import select

from console.setup_controller import install
from models.journal import OutboxEntry
from models.setup import ArrivalWindow, BusinessUnit, CallReason, Campaign
from models.setup_file import demo_setup_path, import_setup_file
from tests.gui.helpers import show_active

Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def desk(qtbot: Any, cache, writer):
    import_setup_file(cache, demo_setup_path())
    window = QWidget()
    window.setObjectName("testDesk")
    qtbot.addWidget(window)
    controller = install(window, cache, writer, role="manager")
    yield window, controller
    controller.shutdown()
    QApplication.processEvents()


def _open(qtbot, window, controller, kind_row: int = 0):
    show_active(qtbot, window)
    with qtbot.waitSignal(controller.listed, timeout=10_000):
        qtbot.keyClick(window, Qt.Key.Key_O, Ctrl | Shift)
    d = controller.dialog
    assert d.objectName() == "setupWindow"
    show_active(qtbot, d)
    if kind_row:
        with qtbot.waitSignal(controller.listed, timeout=10_000):
            d.kinds.setFocus()
            for _ in range(kind_row):
                qtbot.keyClick(d.kinds, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: d.proxy.rowCount() > 0)
    return d


def test_the_list_models_pass_qtmodeltester(qtbot: Any, qtmodeltester: Any, desk) -> None:
    window, controller = desk
    d = _open(qtbot, window, controller)
    qtmodeltester.check(d.records)
    qtmodeltester.check(d.proxy)
    d.filter.setText("hvac")
    qtmodeltester.check(d.proxy)
    d.close()


def test_moving_through_the_list_shows_each_record_and_never_replaces_what_was_typed(
    qtbot: Any, desk
) -> None:
    window, controller = desk
    d = _open(qtbot, window, controller)
    d.list.setFocus()
    qtbot.keyClick(d.list, Qt.Key.Key_Home)
    first = d.proxy.index(0, 0).data()
    qtbot.waitUntil(lambda: d.editors["name"].text() == first)
    assert d.list.hasFocus()  # shown, not moved into
    qtbot.keyClick(d.list, Qt.Key.Key_Down)
    second = d.proxy.index(1, 0).data()
    assert second != first and d.editors["name"].text() == second and d.list.hasFocus()
    qtbot.keyClick(d.list, Qt.Key.Key_Return)  # Enter: into the form to edit
    name = d.editors["name"]
    assert name.hasFocus()
    qtbot.keyClicks(name, " (edited)")
    d.list.setFocus()
    qtbot.keyClick(d.list, Qt.Key.Key_Up)  # moving on with changes unsaved: they stay in the form
    assert name.text() == f"{second} (edited)" and d.dirty
    d.close()


def test_edit_a_business_unit_by_keyboard(qtbot: Any, desk, cache) -> None:
    window, controller = desk
    d = _open(qtbot, window, controller)
    qtbot.keyClick(d.kinds, Qt.Key.Key_Tab)
    assert d.filter.hasFocus()
    qtbot.keyClicks(d.filter, "drains")
    assert d.proxy.rowCount() == 1
    qtbot.keyClick(d.filter, Qt.Key.Key_Return)  # Enter edits the one found
    name = d.editors["name"]
    assert name.hasFocus() and name.text() == "Drains & Sewer"
    trade = d.editors["trade"]
    trade.setFocus()
    trade.selectAll()
    qtbot.keyClicks(trade, "Sewer and drain cleaning, far too long for the field")
    with qtbot.waitSignal(controller.errorOccurred, timeout=10_000):
        qtbot.keyClick(trade, Qt.Key.Key_S, Ctrl)
    assert d.errors["trade"].text() == "'trade' is too long (52 characters; at most 30)"
    trade.selectAll()
    qtbot.keyClicks(trade, "Drains")
    with qtbot.waitSignal(controller.savedRecord, timeout=10_000):
        qtbot.keyClick(trade, Qt.Key.Key_S, Ctrl)
    assert "Saved" in d.message.text()
    with cache.sessions() as s:
        assert s.scalar(select(BusinessUnit).where(BusinessUnit.name == "Drains & Sewer")).trade == "Drains"
        assert [o.name for o in s.scalars(select(OutboxEntry))] == ["setup_save"]
    d.close()


def test_new_arrival_window_and_the_window_rule(qtbot: Any, desk, cache) -> None:
    window, controller = desk
    d = _open(qtbot, window, controller, kind_row=5)
    assert d.kind.name == "arrival_window"
    qtbot.keyClick(d.list, Qt.Key.Key_N, Ctrl)
    assert d.editors["name"].hasFocus()
    qtbot.keyClicks(d.editors["name"], "Evening")
    qtbot.keyClick(d.editors["name"], Qt.Key.Key_Tab)
    qtbot.keyClicks(d.focusWidget(), "19:00")
    qtbot.keyClick(d.focusWidget(), Qt.Key.Key_Tab)
    qtbot.keyClicks(d.focusWidget(), "17:00")
    with qtbot.waitSignal(controller.errorOccurred, timeout=10_000):
        qtbot.keyClick(d.focusWidget(), Qt.Key.Key_S, Ctrl)
    assert d.errors["end"].text().startswith("arrival window 'Evening' ends at 17:00, before it starts")
    d.editors["end"].selectAll()
    qtbot.keyClicks(d.editors["end"], "21:00")
    with qtbot.waitSignal(controller.savedRecord, timeout=10_000):
        qtbot.keyClick(d.editors["end"], Qt.Key.Key_S, Ctrl)
    with cache.sessions() as s:
        evening = s.scalar(select(ArrivalWindow).where(ArrivalWindow.name == "Evening"))
        assert evening is not None and f"{evening.end:%H:%M}" == "21:00"
    d.close()


def test_delete_refused_then_retire_and_escape_guard(qtbot: Any, desk, cache) -> None:
    window, controller = desk
    d = _open(qtbot, window, controller)
    d.list.setFocus()
    with qtbot.waitSignal(controller.errorOccurred, timeout=10_000) as refused:
        qtbot.keyClick(d.list, Qt.Key.Key_Delete)
    assert "can't be deleted" in refused.args[0] and "retire it instead (Ctrl+R)" in refused.args[0]
    assert "retire it instead" in d.message.text()
    ident = d._current_id()
    with qtbot.waitSignal(controller.listed, timeout=10_000):
        qtbot.keyClick(d.list, Qt.Key.Key_R, Ctrl)
    with cache.sessions() as s:
        assert s.get(BusinessUnit, ident).active is False
    qtbot.waitUntil(lambda: "(retired)" in (d._row_of(ident).data() or ""))
    # Esc with a change asks first; Cancel keeps the typing
    qtbot.keyClick(d.list, Qt.Key.Key_Return)
    qtbot.keyClicks(d.editors["name"], "X")
    qtbot.keyClick(d.editors["name"], Qt.Key.Key_Escape)
    box = d.findChild(QMessageBox, "discardChanges")
    assert box is not None and box.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert d.editors["name"].text().endswith("X")
    d.editors["name"].setFocus()
    qtbot.keyClick(d.editors["name"], Qt.Key.Key_Escape)
    box = d.findChild(QMessageBox, "discardChanges")
    box.button(QMessageBox.StandardButton.Discard).click()
    qtbot.waitUntil(lambda: d.list.hasFocus())
    assert not d.editors["name"].text().endswith("X")
    qtbot.keyClick(d.list, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not d.isVisible())
    QApplication.processEvents()


def test_read_only_for_a_csr(qtbot: Any, cache, writer) -> None:
    import_setup_file(cache, demo_setup_path())
    window = QWidget()
    qtbot.addWidget(window)
    controller = install(window, cache, writer, role="csr")
    try:
        d = _open(qtbot, window, controller, kind_row=4)
        assert not d.save_button.isVisible() and d.read_only_note.isVisible()
        qtbot.keyClick(d.list, Qt.Key.Key_Return)
        assert d.editors["name"].isReadOnly()
        before = d.editors["name"].text()
        qtbot.keyClick(d.list, Qt.Key.Key_S, Ctrl)
        with cache.sessions() as s:
            assert s.scalar(select(CallReason).where(CallReason.name == before)) is not None
            assert not s.scalars(select(OutboxEntry)).all()
        d.close()
    finally:
        controller.shutdown()
        QApplication.processEvents()


def test_campaign_report_by_keyboard(qtbot: Any, qtmodeltester: Any, desk, cache, tmp_path) -> None:
    window, controller = desk
    with cache.sessions.begin() as s:
        s.scalar(select(Campaign).where(Campaign.name == "Facebook")).monthly_cost = Decimal("600")
    show_active(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_G, Ctrl | Shift)
    report = controller.report
    assert report is not None and report.objectName() == "campaignReport"
    show_active(qtbot, report)
    report.start.setDate(QDate(2026, 6, 1))
    report.end.setDate(QDate(2026, 6, 30))
    report.start.setFocus()
    with qtbot.waitSignal(controller.reported, timeout=10_000):
        qtbot.keyClick(report.start, Qt.Key.Key_Return)
    qtmodeltester.check(report.model)
    rows = {report.model.item(r, 0).text(): r for r in range(report.model.rowCount())}
    assert report.model.item(rows["Facebook"], 5).text() == "$600.00"
    assert report.model.item(rows["Google Ads"], 5).text() == "cost not set"
    out = tmp_path / "campaigns.csv"
    report.export(str(out))
    assert out.read_text().splitlines()[0].startswith("Campaign,Calls,Leads,Booked jobs")
    qtbot.keyClick(report.table, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not report.isVisible())


def test_no_campaign_report_for_a_csr(qtbot: Any, cache, writer) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    controller = install(window, cache, writer, role="csr")
    try:
        assert not [a for a in window.actions() if a.objectName() == "campaignReportAction"]
    finally:
        controller.shutdown()


def test_a_new_record_starts_with_nothing_chosen_and_saving_it_unchosen_is_refused(
    qtbot: Any, desk, cache
) -> None:
    """A choice used to show its first item on a new record (the first group, "Low" priority), saved
    as if chosen. Now nothing is chosen until the manager picks, and a save without a pick is refused
    beside the field, nothing written."""
    window, controller = desk
    d = _open(qtbot, window, controller, kind_row=1)
    assert d.kind.name == "job_type"
    qtbot.keyClick(d.list, Qt.Key.Key_N, Ctrl)
    priority = d.editors["priority"]
    assert priority.currentIndex() == -1 and priority.placeholderText() == "Choose the priority…"
    qtbot.keyClicks(d.editors["name"], "Gutter repair")
    d.editors["business_units"].setText("Drains & Sewer")
    d.editors["duration_minutes"].setText("60")
    with qtbot.waitSignal(controller.errorOccurred, timeout=10_000):
        qtbot.keyClick(d.editors["name"], Qt.Key.Key_S, Ctrl)
    assert "priority" in d.errors["priority"].text().lower()
    with cache.sessions() as s:
        assert [o.name for o in s.scalars(select(OutboxEntry))] == []
    priority.setFocus()
    qtbot.keyClicks(priority, "Normal")
    assert priority.currentText() == "Normal"
    with qtbot.waitSignal(controller.savedRecord, timeout=10_000):
        qtbot.keyClick(priority, Qt.Key.Key_S, Ctrl)
    d.close()
