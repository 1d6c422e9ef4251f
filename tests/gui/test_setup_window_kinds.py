"""The setup window's further kinds by keyboard (models/setup_kinds_more.py, models/setup_kind_templates.py):
a technician's shifts typed one a line, the file's overlap sentence under the field, then saved; a
notification template with an unknown placeholder refused under its field and nothing queued, then
saved; Ctrl+N and Ctrl+R on kinds that can't be added to or retired say why; qtmodeltester on a new kind."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import select

from console.setup_controller import install
from models.journal import OutboxEntry
from models.notify_templates import load_settings
from models.setup import Technician
from models.setup_edit import KINDS
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


def _open_kind(qtbot, window, controller, name: str):
    show_active(qtbot, window)
    with qtbot.waitSignal(controller.listed, timeout=10_000):
        qtbot.keyClick(window, Qt.Key.Key_O, Ctrl | Shift)
    d = controller.dialog
    show_active(qtbot, d)
    row = list(KINDS).index(name)
    with qtbot.waitSignal(controller.listed, timeout=10_000):
        d.kinds.setFocus()
        for _ in range(row):
            qtbot.keyClick(d.kinds, Qt.Key.Key_Down)
    assert d.kind.name == name
    qtbot.waitUntil(lambda: d.proxy.rowCount() > 0)
    return d


def _outbox(cache) -> list[str]:
    with cache.sessions() as s:
        return [o.name for o in s.scalars(select(OutboxEntry))]


def test_a_new_technician_with_shifts_by_keyboard(qtbot: Any, qtmodeltester: Any, desk, cache) -> None:
    window, controller = desk
    d = _open_kind(qtbot, window, controller, "technician")
    qtmodeltester.check(d.records)
    d.list.setFocus()
    qtbot.keyClick(d.list, Qt.Key.Key_N, Ctrl)
    assert d.editors["name"].hasFocus()
    qtbot.keyClicks(d.editors["name"], "Zoe Park")
    d.editors["business_unit"].setFocus()
    d.editors["business_unit"].setCurrentText("HVAC Service")
    d.editors["skills"].setFocus()
    qtbot.keyClicks(d.editors["skills"], "AC repair, Heat pumps")
    shifts = d.editors["shifts"]
    shifts.setFocus()
    qtbot.keyClicks(shifts, "mon 08:00-17:00")
    qtbot.keyClick(shifts, Qt.Key.Key_Return)
    qtbot.keyClicks(shifts, "mon 16:00-18:00")
    with qtbot.waitSignal(controller.errorOccurred, timeout=10_000):
        qtbot.keyClick(shifts, Qt.Key.Key_S, Ctrl)
    assert d.errors["shifts"].text() == (
        "technician 'Zoe Park' has overlapping Monday shifts: 08:00–17:00 and 16:00–18:00"
    )
    assert _outbox(cache) == []
    shifts.selectAll()
    qtbot.keyClicks(shifts, "mon 08:00-17:00")
    qtbot.keyClick(shifts, Qt.Key.Key_Return)
    qtbot.keyClicks(shifts, "tue 08:00-12:00")
    with qtbot.waitSignal(controller.savedRecord, timeout=10_000):
        qtbot.keyClick(shifts, Qt.Key.Key_S, Ctrl)
    with cache.sessions() as s:
        zoe = s.scalar(select(Technician).where(Technician.name == "Zoe Park"))
        assert zoe.business_unit.name == "HVAC Service" and zoe.skills == ["AC repair", "Heat pumps"]
        assert [x["weekday"] for x in zoe.shifts] == [0, 1]
    assert _outbox(cache) == ["setup_save"]
    d.close()


def test_a_template_with_an_unknown_placeholder_is_refused_under_its_field(qtbot: Any, desk, cache) -> None:
    window, controller = desk
    d = _open_kind(qtbot, window, controller, "notification_template")
    assert not d.new_button.isVisible() and not d.delete_button.isVisible()
    d.list.setFocus()
    qtbot.keyClick(d.list, Qt.Key.Key_N, Ctrl)
    assert d.message.text().startswith("the notification templates are one per message")
    d.filter.setFocus()
    qtbot.keyClicks(d.filter, "remind")
    assert d.proxy.rowCount() == 1
    qtbot.keyClick(d.filter, Qt.Key.Key_Return)
    sms = d.editors["sms"]
    assert sms.hasFocus()
    sms.selectAll()
    qtbot.keyClicks(sms, "{company}: see you {when}")
    with qtbot.waitSignal(controller.errorOccurred, timeout=10_000):
        qtbot.keyClick(sms, Qt.Key.Key_S, Ctrl)
    assert (
        d.errors["sms"]
        .text()
        .startswith("template reminder.sms: unknown placeholder {when}; the placeholders")
    )
    assert _outbox(cache) == []
    sms.selectAll()
    qtbot.keyClicks(sms, "{company}: see you {window}")
    with qtbot.waitSignal(controller.savedRecord, timeout=10_000):
        qtbot.keyClick(sms, Qt.Key.Key_S, Ctrl)
    with cache.sessions() as s:
        assert load_settings(s).template("reminder", "sms") == "{company}: see you {window}"
    d.list.setFocus()
    qtbot.keyClick(d.list, Qt.Key.Key_R, Ctrl)
    assert "can't be added, retired or deleted" in d.message.text()
    d.close()


def test_list_fields_complete_known_names_item_by_item(qtbot: Any, desk, cache) -> None:
    window, controller = desk
    d = _open_kind(qtbot, window, controller, "job_type")
    d.filter.setFocus()
    qtbot.keyClicks(d.filter, "AC Not Cooling")
    qtbot.keyClick(d.filter, Qt.Key.Key_Return)
    units = d.editors["business_units"]
    assert units.text() == "HVAC Service"
    units.setFocus()
    units.end(False)
    qtbot.keyClicks(units, ", plum")
    completer = units.completer()
    popup = completer.popup()
    qtbot.waitUntil(popup.isVisible)
    offered = completer.completionModel()  # the item being typed is matched, not the whole text
    assert [offered.index(r, 0).data() for r in range(offered.rowCount())] == ["Plumbing Service"]
    qtbot.keyClick(popup, Qt.Key.Key_Down)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    assert units.text() == "HVAC Service, Plumbing Service"
    tags = d.editors["default_tags"]
    assert isinstance(tags.completer(), type(completer))
    tags.setFocus()
    qtbot.keyClicks(tags, "emerg")
    qtbot.waitUntil(tags.completer().popup().isVisible)
    qtbot.keyClick(tags.completer().popup(), Qt.Key.Key_Down)
    qtbot.keyClick(tags.completer().popup(), Qt.Key.Key_Return)
    assert tags.text() == "Emergency"
    d.close()
