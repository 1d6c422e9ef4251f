"""The Possible duplicates window (widgets/duplicates_window.py, console/merge_controller.py): both models
pass qtmodeltester; by keyboard alone a manager opens it (Ctrl+Shift+M), picks a pair (Enter), gives one
field the other customer's value (Space), merges (Ctrl+S) and undoes (Ctrl+Z), through the real writer
and cache on the controller's own worker; Esc after a choice asks "discard changes?"; the window is
only installed for managers and admins."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from sqlalchemy import select

from console.merge_controller import install
from models.customers import Customer
from models.journal import OutboxEntry
from tests.gui.helpers import show_active
from tests.unit.conftest import customer_args
from widgets.duplicates_window import CompareModel, Comparison, PairRow, PairsModel, Side

Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier


def test_models_pass_qtmodeltester(qtmodeltester: Any) -> None:
    pairs = PairsModel()
    pairs.set_rows(
        [PairRow("a", "Ann", "b", "Anne", "Similar name (95%)"), PairRow("c", "C", "d", "D", "Same address")]
    )
    qtmodeltester.check(pairs)
    pairs.remove_customer("a")
    qtmodeltester.check(pairs)
    compare = CompareModel()
    qtmodeltester.check(compare)
    compare.set_comparison(
        Comparison(
            fields=[("name", "Name"), ("city", "City")],
            survivor=Side("a", {"name": "Ann", "city": "Dallas"}, "1 job"),
            merged=Side("b", {"name": "Anne", "city": "Plano"}, "0 jobs"),
        )
    )
    qtmodeltester.check(compare)
    compare.toggle(1)
    assert compare.comparison.winners == {"city": "merged"}
    assert compare.index(1, 2).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    qtmodeltester.check(compare)


@pytest.fixture
def desk(qtbot: Any, cache, writer):
    window = QWidget()
    window.setObjectName("testDesk")
    qtbot.addWidget(window)
    ann = writer.execute(
        "create_customer", customer_args(name="Ann Lee", phone="(214) 555-0101")
    ).applied.entity_id
    anne = writer.execute(
        "create_customer",
        customer_args(name="Anne Lee", phone="(214) 555-0101", street="9 Oak Ave", city="Plano"),
    ).applied.entity_id
    controller = install(window, cache, writer, role="manager")
    yield window, controller, ann, anne
    controller.shutdown()


def _key(qtbot, widget, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(widget, key, modifier)


def test_merge_and_undo_by_keyboard(qtbot: Any, desk, cache) -> None:
    window, controller, ann, anne = desk
    show_active(qtbot, window)
    with qtbot.waitSignal(controller.scanFinished, timeout=20_000) as found:
        _key(qtbot, window, Qt.Key.Key_F, Ctrl | Shift)
    assert found.args == [1]
    d = controller.dialog
    assert d.objectName() == "duplicatesWindow"
    show_active(qtbot, d)
    assert d.pairs.index(0, 2).data() == "Same phone (214) 555-0101 · Similar name (93%)"
    qtbot.waitUntil(lambda: d.list.hasFocus())
    _key(qtbot, d.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: d.stack.currentIndex() == 1 and d.compare.rowCount() > 0, timeout=10_000)
    survivor = d.compare.comparison.survivor.id
    merged = d.compare.comparison.merged.id
    assert {survivor, merged} == {ann, anne}
    # The city: the merged customer's value wins (Down to the row, Space).
    city_row = [k for k, _ in d.compare.comparison.fields].index("city")
    d.view.setCurrentIndex(d.compare.index(city_row, 0))
    _key(qtbot, d.view, Qt.Key.Key_Space)
    assert d.compare.comparison.winners == {"city": "merged"}
    merged_city = d.compare.comparison.merged.values["city"]
    _key(qtbot, d.view, Qt.Key.Key_S, Ctrl)
    qtbot.waitUntil(lambda: controller.last_merge != "", timeout=10_000)
    assert d.stack.currentIndex() == 0 and d.pairs.rowCount() == 0
    assert "Ctrl+Z" in d.message.text()
    with cache.sessions() as s:
        assert s.get(Customer, merged).merged_into_id == survivor
        assert s.get(Customer, survivor).city == merged_city
        assert [e.name for e in s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq))][
            -1
        ] == "merge_customers"
    with qtbot.waitSignal(controller.scanFinished, timeout=20_000):
        _key(qtbot, d.list, Qt.Key.Key_Z, Ctrl)
    with cache.sessions() as s:
        assert s.get(Customer, merged).merged_into_id is None
    assert d.pairs.rowCount() == 1 and "undone" in d.message.text()


def test_escape_after_a_choice_asks_before_discarding(qtbot: Any, desk) -> None:
    window, controller, _ann, _anne = desk
    with qtbot.waitSignal(controller.scanFinished, timeout=20_000):
        d = controller.open()
    show_active(qtbot, d)
    d.list.setFocus()
    _key(qtbot, d.list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: d.stack.currentIndex() == 1 and d.compare.rowCount() > 0, timeout=10_000)
    d.view.setFocus()
    _key(qtbot, d.view, Qt.Key.Key_Space)
    _key(qtbot, d.view, Qt.Key.Key_Escape)
    box = d.findChild(QMessageBox, "discardChoices")
    assert box is not None and box.isVisible()
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert d.stack.currentIndex() == 1 and d.compare.comparison.winners  # kept
    _key(qtbot, d.view, Qt.Key.Key_Escape)
    box = d.findChild(QMessageBox, "discardChoices")
    box.button(QMessageBox.StandardButton.Discard).click()
    qtbot.waitUntil(lambda: d.stack.currentIndex() == 0)
    _key(qtbot, d.list, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not d.isVisible())
    QApplication.processEvents()


def test_only_managers_and_admins_get_the_window(qtbot: Any, cache, writer) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    for role in ("csr", "supervisor"):
        assert install(window, cache, writer, role=role) is None
        assert not [a for a in window.actions() if a.objectName() == "duplicatesAction"]
    controller = install(window, cache, writer, role="admin")
    assert controller is not None and [a for a in window.actions() if a.objectName() == "duplicatesAction"]
    assert install(window, cache, writer, role="csr") is None  # the next user is a CSR: taken away
    assert not [a for a in window.actions() if a.objectName() == "duplicatesAction"]
