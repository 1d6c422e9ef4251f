"""The work order panel on a real cache, by keyboard: a ServiceChannel work order shown with its
countdown and what is odd; Accept books the job (campaign ServiceChannel, the mapped job type, the window
nearest the scheduled date) and queues accept_work_order; check-in and check-out from the job's actions;
Decline asks for the platform's reason; a Do Not Service client cannot be accepted; a refusal is a
sentence on the panel."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from sqlalchemy import select

from console.work_orders_controller import WorkOrdersController
from models.base import new_id
from models.customers import Customer
from models.db import Cache, open_cache
from models.jobs import Job, JobStatus
from models.journal import OutboxEntry
from models.setup import Campaign
from models.work_order_ingest import ScMapping, ingest
from models.work_orders import WorkOrder
from models.writer import LocalWriter
from sync.scsim_data import iso, make_work_order
from tests.unit.booking_setup import NOW, build_setup
from widgets.work_order_panel import WorkOrderPanel, countdown


@dataclass
class Desk:
    window: QWidget
    panel: WorkOrderPanel
    controller: WorkOrdersController
    cache: Cache

    def add(self, n: int, **overrides: Any) -> str:
        data = make_work_order(n, random.Random(n), NOW - timedelta(hours=1), **overrides)
        with self.cache.sessions.begin() as s:
            return ingest(s, data, ScMapping(job_types={("HVAC", "*"): "AC Not Cooling"}), NOW).work_order.id

    def show(self, qtbot: Any, wo_id: str) -> None:
        self.controller.show(wo_id)
        qtbot.waitUntil(lambda: self.panel.view is not None and self.panel.view.id == wo_id, timeout=3000)

    def work_order(self, wo_id: str) -> WorkOrder:
        with self.cache.sessions() as s:
            return s.get(WorkOrder, wo_id)

    def outbox(self) -> list[str]:
        with self.cache.sessions() as s:
            return list(s.scalars(select(OutboxEntry.name).order_by(OutboxEntry.seq)))


@pytest.fixture
def desk(qtbot: Any, tmp_path: Path) -> Iterator[Desk]:
    cache = open_cache(tmp_path / "c.db")
    with cache.sessions.begin() as s:
        build_setup(s)
        s.add(Campaign(id=new_id(), name="ServiceChannel"))
    writer = LocalWriter(cache.sessions, actor="test", clock=lambda: NOW)
    window = QWidget()
    window.resize(900, 700)
    panel = WorkOrderPanel(window, clock=lambda: NOW)
    QVBoxLayout(window).addWidget(panel)
    controller = WorkOrdersController(cache, writer, panel, clock=lambda: NOW)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitActive(window)
    yield Desk(window, panel, controller, cache)
    controller.close()
    cache.close()


def press(qtbot: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(QApplication.focusWidget() or QApplication.activeWindow(), key, modifier)


def test_countdown_words():
    assert countdown(NOW + timedelta(hours=3, minutes=5), NOW) == "due in 3 h 05 min"
    assert countdown(NOW - timedelta(minutes=12), NOW) == "overdue by 12 min"
    assert countdown(None, NOW) == ""


def test_accept_check_in_and_out_by_keyboard(qtbot: Any, desk: Desk) -> None:
    wo_id = desk.add(1, Trade="HVAC", Priority="P2 - 8 Hours", ScheduledDate=iso(NOW + timedelta(days=1)))
    desk.show(qtbot, wo_id)
    p = desk.panel
    assert p.fields["due"].text() == "due in 7 h 00 min"
    assert p.fields["job_type"].text() == "AC Not Cooling"
    assert p.accept_button.accessibleName() and p.accept_button.isEnabled()
    assert not p.check_in_button.isEnabled()
    p.accept_button.setFocus()
    press(qtbot, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: p.view is not None and p.view.state == "Accepted", timeout=5000)
    assert "Accepted — job" in p.message.text()
    wo = desk.work_order(wo_id)
    with desk.cache.sessions() as s:
        job = s.get(Job, wo.job_id)
        campaign = s.get(Campaign, job.campaign_id)
        assert campaign.name == "ServiceChannel" and job.customer_id == wo.customer_id
        assert job.location_id == wo.location_id and job.job_type_id == wo.job_type_id
    assert desk.outbox() == ["book_job", "accept_work_order"]
    qtbot.waitUntil(p.check_in_button.isEnabled, timeout=3000)
    press(qtbot, Qt.Key.Key_I, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: p.view.checked_in, timeout=5000)
    qtbot.waitUntil(p.check_out_button.isEnabled, timeout=3000)
    press(qtbot, Qt.Key.Key_U, Qt.KeyboardModifier.AltModifier)  # a mnemonic clicks after its animation
    qtbot.waitUntil(lambda: QApplication.focusWidget() is p.note, timeout=2000)
    press(qtbot, Qt.Key.Key_Return)  # empty: refused with a sentence, nothing written
    assert "Say what was done" in p.message.text() and p.reason_row.isVisible()
    qtbot.keyClicks(p.note, "Replaced the capacitor")
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: p.view.checked_out, timeout=5000)
    with desk.cache.sessions() as s:
        assert JobStatus(s.get(Job, wo.job_id).status) is JobStatus.COMPLETED
    assert desk.outbox()[-2:] == ["check_in_work_order", "check_out_work_order"]
    qtbot.waitUntil(p.note_button.isEnabled, timeout=3000)
    press(qtbot, Qt.Key.Key_T, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is p.note, timeout=2000)
    qtbot.keyClicks(p.note, "Unit 3 needs a new compressor next visit")
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: desk.outbox()[-1] == "note_work_order", timeout=5000)
    assert desk.work_order(wo_id).last_note == "Unit 3 needs a new compressor next visit"


def test_decline_asks_for_the_platform_reason(qtbot: Any, desk: Desk) -> None:
    wo_id = desk.add(2)
    desk.show(qtbot, wo_id)
    p = desk.panel
    p.decline_button.setFocus()
    press(qtbot, Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is p.reason, timeout=2000)
    assert p.reason.accessibleName() == "Decline reason"
    p.reason.setCurrentIndex(p.reason.findData(5))  # Other: a note is required
    press(qtbot, Qt.Key.Key_Return)
    assert "Say why" in p.message.text()
    qtbot.keyClicks(p.note, "Store closed for remodel")
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: desk.work_order(wo_id).state == "Declined", timeout=5000)
    wo = desk.work_order(wo_id)
    assert (wo.decline_reason_id, wo.decline_note) == (5, "Store closed for remodel")
    assert desk.outbox() == ["decline_work_order"]


def test_odd_and_do_not_service_work_orders(qtbot: Any, desk: Desk) -> None:
    odd = desk.add(3, Location={"Id": 9, "Name": "Kiosk"}, Trade="ROOFING")
    desk.show(qtbot, odd)
    p = desk.panel
    assert "No store address" in p.problems.text() and p.problems.isVisible()
    p.accept_button.click()  # no location, no job type: refused with the reason, nothing written
    qtbot.waitUntil(lambda: "no address" in p.message.text(), timeout=5000)
    assert desk.outbox() == []
    dns = desk.add(4, Trade="HVAC")
    with desk.cache.sessions.begin() as s:
        s.get(Customer, s.get(WorkOrder, dns).customer_id).do_not_service = True
    desk.show(qtbot, dns)
    assert "DO NOT SERVICE" in p.fields["match"].text() and not p.accept_button.isEnabled()
    assert p.decline_button.isEnabled()


def test_the_supervisor_board_lists_work_order_alerts(qtbot: Any) -> None:
    from widgets.supervisor_board import SupervisorBoard

    board = SupervisorBoard()
    qtbot.addWidget(board)
    board.show()
    board.show_kpis({})
    assert not board.work_order_alerts.isVisible()
    alert = {
        "number": "7001",
        "client": "Sunbelt Burger Co.",
        "store": "Tempe Marketplace",
        "text": "Not accepted",
    }
    board.show_kpis({"work_order_alerts": [alert]})
    assert board.work_order_alerts.isVisible()
    assert "7001 Sunbelt Burger Co. (Tempe Marketplace) — Not accepted" in board.work_order_alerts.text()


def test_a_refusal_shows_on_the_job_as_action_required(qtbot: Any, desk: Desk) -> None:
    from models.records import load_job_record
    from widgets.customer_models import job_status

    wo_id = desk.add(5, Trade="HVAC")
    desk.show(qtbot, wo_id)
    desk.panel.accept_button.click()
    qtbot.waitUntil(lambda: desk.panel.view.state == "Accepted", timeout=5000)
    refusal = "ServiceChannel refused the status change: Status 'In Progress/On Hold' is not configured"
    with desk.cache.sessions.begin() as s:  # as the server's change brings it
        s.get(WorkOrder, wo_id).action_required = refusal
    with desk.cache.sessions() as s:
        record = load_job_record(s, desk.work_order(wo_id).job_id)
    assert record.action_required == refusal
    assert f"ACTION REQUIRED: {refusal}" in job_status(record)
    desk.controller.show(wo_id)
    qtbot.waitUntil(lambda: bool(desk.panel.view.action_required), timeout=3000)
    assert desk.panel.action_required.isVisible() and refusal in desk.panel.action_required.text()
