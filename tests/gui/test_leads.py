"""The leads list and lead dialogs end to end through the real controller, writer and cache:
created by keyboard only, refused inline with nothing saved, due follow-ups first, dismissed
with a reason, handed to the booking form, filtered; the model passes qtmodeltester."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError

from console.leads_controller import LeadsController
from models.customers import Location
from models.db import Cache, open_cache
from models.jobs import Lead, LeadStatus
from models.journal import OutboxEntry
from models.setup import Campaign
from models.writer import LocalWriter
from tests.gui.helpers import wait_for_workers
from tests.unit.test_lead_queries import LeadSetup, build_lead_setup
from widgets.lead_dialogs import DismissLeadDialog, LeadDialog
from widgets.leads_list import LeadsList, LeadsModel

TODAY = date(2026, 3, 10)  # a Tuesday
Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier


@dataclass
class LeadsDesk:
    window: QWidget
    leads: LeadsList
    controller: LeadsController
    cache: Cache
    writer: LocalWriter
    setup: LeadSetup
    qtbot: Any

    def outbox(self) -> list[OutboxEntry]:
        with self.cache.sessions() as s:
            return list(s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)))

    def add_lead(self, name: str, follow_up: date | None = None, **lead: Any) -> str:
        lead.setdefault("phone", "(214) 555-0100")
        lead["follow_up_on"] = follow_up.isoformat() if follow_up else None
        return self.writer.execute("create_lead", {"lead": {"name": name, **lead}}).applied.entity_id

    def add_customer(self, name: str, phone: str = "(214) 555-0134") -> str:
        address = {"street": "12 Main St", "city": "Dallas", "state": "TX", "zip": "75201"}
        return self.writer.execute(
            "create_customer",
            {
                "customer": {"name": name, **address},
                "locations": [dict(address)],
                "contacts": [{"kind": "MobilePhone", "value": phone}],
            },
        ).applied.entity_id

    def refresh(self) -> None:
        """The list's query again, waiting for its answer (it runs on the controller's worker)."""
        self.controller.refresh()
        self.settle()

    def settle(self) -> None:
        wait_for_workers(self.qtbot, self.window)

    def column(self, column: int) -> list[str]:
        model = self.leads.model
        return [model.index(r, column).data() for r in range(model.rowCount())]


@pytest.fixture
def desk(qtbot: Any, tmp_path: Path) -> Iterator[LeadsDesk]:
    cache = open_cache(tmp_path / "c.db")
    writer = LocalWriter(cache.sessions, actor="test")
    with cache.sessions.begin() as s:
        setup = build_lead_setup(s)
    window = QWidget()
    window.resize(1000, 600)
    leads = LeadsList(window)
    QVBoxLayout(window).addWidget(leads)
    controller = LeadsController(window, cache, writer, leads, today_fn=lambda: TODAY)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitActive(window)
    yield LeadsDesk(window, leads, controller, cache, writer, setup, qtbot)
    cache.close()


def active(qtbot: Any, dialog: QWidget | None) -> Any:
    """Wait until the opened dialog is the active window: shortcuts and focus only work there."""
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=1000)
    return dialog


def asked(qtbot: Any, desk: Any, _asked: None) -> Any:
    """The dialog the controller opens once its read answers from the worker (``_asked``: the call that
    asked for it, run first)."""
    qtbot.waitUntil(lambda: desk.controller.worker.pending == 0, timeout=5000)
    return desk.controller.dialog


def closed(dialog: Any) -> bool:
    """Closed, or already deleted (a closed dialog is deleted while the worker's answer is awaited)."""
    from shiboken6 import isValid

    return not isValid(dialog) or not dialog.isVisible()


def press(qtbot: Any, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """A key press where the focus is, as a CSR's keyboard would deliver it; then the CSR looks at the
    answer (a save or a read runs on the controller's worker)."""
    from PySide6.QtWidgets import QApplication

    target = QApplication.focusWidget()
    qtbot.keyClick(target, key, modifier)
    wait_for_workers(qtbot, (target.window().parentWidget() or target).window())


def type_text(qtbot: Any, text: str) -> None:
    from PySide6.QtWidgets import QApplication

    qtbot.keyClicks(QApplication.focusWidget(), text)


def test_new_lead_by_keyboard_with_name_and_phone(qtbot: Any, desk: LeadsDesk) -> None:
    desk.refresh()
    desk.leads.search_edit.setFocus()
    press(qtbot, Qt.Key.Key_L, Ctrl | Shift)
    dialog = active(qtbot, desk.controller.dialog)
    assert isinstance(dialog, LeadDialog) and dialog.objectName() == "leadDialog"
    assert dialog.fields["name"].hasFocus()
    type_text(qtbot, "Ana Lopez")
    press(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "214.555.0111")
    press(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "Quote for a water heater")
    press(qtbot, Qt.Key.Key_Tab)  # "Follow up on a date": stays checked
    press(qtbot, Qt.Key.Key_Tab)  # the date: tomorrow by default
    press(qtbot, Qt.Key.Key_Tab)
    assert dialog.fields["call_reason_id"].hasFocus()
    type_text(qtbot, "Wants")  # type-ahead picks the reason
    press(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "Y")  # Yard signs
    with qtbot.waitSignal(desk.controller.outboxChanged):
        press(qtbot, Qt.Key.Key_Return)
    assert closed(dialog)
    (row,) = desk.outbox()
    assert row.name == "create_lead"
    lead = row.args["lead"]
    assert {
        k: lead[k]
        for k in (
            "name",
            "phone",
            "summary",
            "follow_up_on",
            "call_reason_id",
            "campaign_id",
            "business_unit_id",
            "job_type_id",
        )
    } == {
        "name": "Ana Lopez",
        "phone": "+12145550111",
        "summary": "Quote for a water heater",
        "follow_up_on": "2026-03-11",
        "call_reason_id": desk.setup.quote,
        "campaign_id": desk.setup.yard,
        "business_unit_id": None,
        "job_type_id": None,
    }
    assert len(lead["id"]) == 32  # minted into the outbox row: the server uses the same id
    current = desk.leads.current_lead()
    assert current is not None and current.id == lead["id"]
    assert desk.column(0) == ["Tomorrow"] and desk.column(1) == ["Ana Lopez"]
    assert desk.column(2) == ["(214) 555-0111"] and desk.column(4) == ["Wants a quote"]
    assert desk.leads.message_label.text() == "Saved on this PC."


def test_new_lead_for_the_open_customer_by_keyboard(qtbot: Any, desk: LeadsDesk) -> None:
    cid = desk.add_customer("Maria Garcia")
    with desk.cache.sessions() as s:
        location = s.scalar(select(Location.id).where(Location.customer_id == cid))
    dialog = active(qtbot, asked(qtbot, desk, desk.controller.new_lead(customer_id=cid)))
    assert "name" not in dialog.fields and "phone" not in dialog.fields
    customer = dialog.fields["customer"]
    assert customer.text() == "Maria Garcia" and customer.isReadOnly() and customer.hasFocus()
    press(qtbot, Qt.Key.Key_Tab)
    type_text(qtbot, "Call back about a new furnace")
    press(qtbot, Qt.Key.Key_Tab)
    press(qtbot, Qt.Key.Key_Space)  # no follow-up date for this one
    assert not dialog.fields["follow_up_on"].isEnabled()
    with qtbot.waitSignal(desk.controller.leadSaved):
        press(qtbot, Qt.Key.Key_Return)
    lead = desk.outbox()[-1].args["lead"]
    assert lead["customer_id"] == cid and lead["location_id"] == location
    assert lead["follow_up_on"] is None and "name" not in lead and "phone" not in lead
    assert desk.column(1) == ["Maria Garcia"] and desk.column(2) == ["(214) 555-0134"]
    assert desk.column(0) == [""]


def test_validation_is_inline_and_saves_nothing(qtbot: Any, desk: LeadsDesk) -> None:
    dialog = active(qtbot, asked(qtbot, desk, desk.controller.new_lead(name="Bob")))
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.isVisible() and desk.outbox() == []
    assert dialog.error_text("phone") == "Enter a phone number." and dialog.error_text("name") == ""
    label = dialog.findChild(QLabel, "error_phone")
    assert label is not None and label.isVisible() and dialog.fields["phone"].hasFocus()
    type_text(qtbot, "555-01")
    press(qtbot, Qt.Key.Key_Return)
    assert "needs more digits" in dialog.error_text("phone") and desk.outbox() == []
    dialog.fields["name"].setFocus()
    dialog.fields["name"].selectAll()
    press(qtbot, Qt.Key.Key_Delete)
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.error_text("name") == "Enter the caller's name." and dialog.fields["name"].hasFocus()
    assert desk.outbox() == []


def test_refusal_by_the_intent_is_shown_at_the_field(qtbot: Any, desk: LeadsDesk) -> None:
    dialog = active(
        qtbot, asked(qtbot, desk, desk.controller.new_lead(name="Bob Smith", phone="(469) 555-0222"))
    )
    dialog.fields["campaign_id"].setFocus()
    type_text(qtbot, "G")
    with desk.cache.sessions.begin() as s:  # removed by a setup import meanwhile
        s.execute(delete(Campaign).where(Campaign.id == desk.setup.google))
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.isVisible() and desk.controller.dialog is dialog
    assert dialog.error_text("campaign_id") == "That campaign no longer exists."
    assert desk.outbox() == [] and dialog.fields["name"].text() == "Bob Smith"


def test_due_follow_ups_come_first_and_stand_out(qtbot: Any, desk: LeadsDesk) -> None:
    desk.add_lead("No date")
    desk.add_lead("Next week", TODAY + timedelta(days=7))
    desk.add_lead("Today", TODAY)
    desk.add_lead("Three days late", TODAY - timedelta(days=3))
    desk.add_lead("Tomorrow", TODAY + timedelta(days=1))
    desk.refresh()
    assert desk.column(1) == ["Three days late", "Today", "Tomorrow", "Next week", "No date"]
    assert desk.column(0) == ["Overdue 3 d", "Today", "Tomorrow", "Tue, Mar 17", ""]
    model = desk.leads.model
    fonts = [model.index(r, 1).data(Qt.ItemDataRole.FontRole) for r in range(model.rowCount())]
    assert [isinstance(f, QFont) and f.bold() for f in fonts] == [True, True, False, False, False]
    assert model.index(0, 0).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert model.index(1, 0).data(Qt.ItemDataRole.ForegroundRole) is None
    assert model.index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole) == "Follow-up overdue by 3 days"


def test_edit_follow_up_moves_the_lead(qtbot: Any, desk: LeadsDesk) -> None:
    late = desk.add_lead("Late", TODAY - timedelta(days=2))
    desk.add_lead("Later", TODAY + timedelta(days=2))
    desk.refresh()
    desk.leads.focus_list()
    press(qtbot, Qt.Key.Key_F2)
    dialog = active(qtbot, desk.controller.dialog)
    assert isinstance(dialog, LeadDialog) and dialog.windowTitle() == "Edit lead"
    dialog.fields["follow_up_on"].setFocus()
    for _ in range(5):
        press(qtbot, Qt.Key.Key_Up)  # focus lands on the day: one day per press
    press(qtbot, Qt.Key.Key_Return)
    assert closed(dialog)
    change = desk.outbox()[-1]
    assert change.name == "update_lead"
    assert change.args == {"lead_id": late, "changes": {"follow_up_on": ["2026-03-08", "2026-03-13"]}}
    assert desk.column(1) == ["Later", "Late"]
    assert desk.leads.current_lead_id() == late  # the CSR's row stays highlighted where it moved


def test_edit_without_changes_writes_nothing(qtbot: Any, desk: LeadsDesk) -> None:
    desk.add_lead("Same", TODAY)
    desk.refresh()
    dialog = active(qtbot, asked(qtbot, desk, desk.controller.edit_lead(desk.leads.current_lead_id())))
    press(qtbot, Qt.Key.Key_Return)
    assert closed(dialog) and [r.name for r in desk.outbox()] == ["create_lead"]


def test_dismiss_requires_a_reason(qtbot: Any, desk: LeadsDesk) -> None:
    first = desk.add_lead("First", TODAY)
    second = desk.add_lead("Second", TODAY + timedelta(days=1))
    desk.refresh()
    desk.leads.focus_list()
    press(qtbot, Qt.Key.Key_Delete)
    dialog = active(qtbot, desk.controller.dialog)
    assert isinstance(dialog, DismissLeadDialog) and dialog.objectName() == "dismissLeadDialog"
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.error_text("reason") == "Give a reason for dismissing the lead."
    assert len(desk.outbox()) == 2
    type_text(qtbot, "Went with another company")
    press(qtbot, Qt.Key.Key_Return)
    assert closed(dialog)
    assert desk.outbox()[-1].args == {"lead_id": first, "reason": "Went with another company"}
    assert desk.column(1) == ["Second"] and desk.leads.current_lead_id() == second
    with desk.cache.sessions() as s:
        lead = s.get(Lead, first)
        assert lead is not None and (lead.status, lead.status_reason) == (
            LeadStatus.DISMISSED,
            "Went with another company",
        )


def test_enter_converts_the_lead_for_the_booking_form(qtbot: Any, desk: LeadsDesk) -> None:
    cid = desk.add_customer("Maria Garcia")
    with desk.cache.sessions() as s:
        location = s.scalar(select(Location.id).where(Location.customer_id == cid))
    lead = desk.writer.execute(
        "create_lead",
        {
            "lead": {
                "customer_id": cid,
                "location_id": location,
                "summary": "AC tune-up before summer",
                "campaign_id": desk.setup.google,
                "business_unit_id": desk.setup.hvac,
                "job_type_id": desk.setup.tune_up,
            }
        },
    ).applied.entity_id
    desk.refresh()
    desk.leads.focus_list()
    with qtbot.waitSignal(desk.controller.convertLead) as sent:
        press(qtbot, Qt.Key.Key_Return)
    assert sent.args == [
        {
            "id": lead,
            "customer_id": cid,
            "location_id": location,
            "summary": "AC tune-up before summer",
            "campaign_id": desk.setup.google,
            "business_unit_id": desk.setup.hvac,
            "job_type_id": desk.setup.tune_up,
            "name": "Maria Garcia",
            "phone": "+12145550134",
        }
    ]
    assert len(desk.outbox()) == 2  # converting only prefills the booking form
    with qtbot.waitSignal(desk.controller.openCustomer) as opened:
        press(qtbot, Qt.Key.Key_O, Ctrl)
    assert opened.args == [cid]
    # Book Job (the booking form's intent) converted it: the open list lets it go.
    with desk.cache.sessions.begin() as s:
        s.execute(update(Lead).where(Lead.id == lead).values(status=LeadStatus.CONVERTED))
    desk.controller.reload_lead(lead)
    desk.settle()
    assert desk.leads.model.rowCount() == 0 and desk.leads.empty_label.text().startswith("No open leads.")


def test_status_filter_and_search(qtbot: Any, desk: LeadsDesk) -> None:
    gone = desk.add_lead("Bob Smith", TODAY, phone="(469) 555-0222")
    desk.add_lead("Ana Lopez", TODAY, summary="Water heater")
    desk.writer.execute("dismiss_lead", {"lead_id": gone, "reason": "Wrong number"})
    desk.refresh()
    assert desk.column(1) == ["Ana Lopez"]
    desk.leads.status_combo.setFocus()
    with qtbot.waitSignal(desk.leads.filterChanged):
        type_text(qtbot, "D")
    desk.settle()
    assert desk.leads.status_filter() == "Dismissed"
    assert desk.column(1) == ["Bob Smith"] and desk.column(6) == ["Dismissed — Wrong number"]
    assert desk.column(0) == ["Tue, Mar 10"]  # a closed lead isn't "due"
    assert not desk.leads.dismiss_action.isEnabled() and not desk.leads.convert_action.isEnabled()
    with qtbot.waitSignal(desk.leads.filterChanged):
        press(qtbot, Qt.Key.Key_Down)
    desk.settle()
    assert desk.leads.model.rowCount() == 0 and desk.leads.empty_label.text() == "No converted leads."
    with qtbot.waitSignal(desk.leads.filterChanged):
        press(qtbot, Qt.Key.Key_Down)  # All
    desk.settle()
    assert sorted(desk.column(1)) == ["Ana Lopez", "Bob Smith"]
    desk.leads.search_edit.setFocus()
    with qtbot.waitSignal(desk.leads.filterChanged, timeout=1000):
        type_text(qtbot, "heater")
    desk.settle()
    assert desk.column(1) == ["Ana Lopez"]
    with qtbot.waitSignal(desk.leads.filterChanged, timeout=1000):
        type_text(qtbot, "xyz")
    desk.settle()
    assert desk.leads.empty_label.text() == "No leads match “heaterxyz”."


def test_do_not_service_customer_is_flagged_in_the_form(qtbot: Any, desk: LeadsDesk) -> None:
    cid = desk.writer.execute(
        "create_customer",
        {
            "customer": {
                "name": "Dee Nash",
                "street": "1 Elm St",
                "city": "Dallas",
                "state": "TX",
                "zip": "75201",
                "do_not_service": True,
                "do_not_service_reason": "Unpaid invoices",
            },
            "contacts": [{"kind": "MobilePhone", "value": "(214) 555-0177"}],
        },
    ).applied.entity_id
    dialog = active(qtbot, asked(qtbot, desk, desk.controller.new_lead(customer_id=cid)))
    assert (
        dialog.warning_text("customer")
        == "Dee Nash is marked Do Not Service — a job can't be booked for them."
    )
    press(qtbot, Qt.Key.Key_Return)  # a warning informs, it doesn't block
    assert closed(dialog) and desk.outbox()[-1].name == "create_lead"
    assert desk.outbox()[-1].args["lead"].get("location_id") is None  # no service location on file


def test_a_closed_lead_is_not_converted_or_dismissed_again(qtbot: Any, desk: LeadsDesk) -> None:
    lead = desk.add_lead("Ana Lopez", TODAY)
    desk.refresh()
    desk.writer.execute("dismiss_lead", {"lead_id": lead, "reason": "Booked elsewhere"})  # another console
    converted: list = []
    desk.controller.convertLead.connect(converted.append)
    with qtbot.waitSignal(desk.controller.errorOccurred) as error:
        desk.controller.convert(lead)  # the lead is read fresh on the worker first
    assert error.args == ["This lead is already dismissed — it can't be converted."] and converted == []
    assert desk.leads.model.rowCount() == 0  # and the open list lets it go
    with qtbot.waitSignal(desk.controller.errorOccurred) as error:
        desk.controller.dismiss(lead)
    assert error.args == ["This lead is already dismissed — it can't be dismissed."]
    assert desk.controller.dialog is None


def test_search_box_keys(qtbot: Any, desk: LeadsDesk) -> None:
    desk.add_lead("Ana Lopez", TODAY)
    desk.add_lead("Bob Smith", TODAY + timedelta(days=1))
    desk.refresh()
    desk.leads.search_edit.setFocus()
    with qtbot.waitSignal(desk.leads.filterChanged, timeout=1000):
        type_text(qtbot, "smith")
    desk.settle()
    assert desk.column(1) == ["Bob Smith"]
    press(qtbot, Qt.Key.Key_Down)  # into the list, on the first match
    assert desk.leads.view.hasFocus() and desk.leads.current_lead_id() == desk.leads.model.rows()[0].id
    desk.leads.search_edit.setFocus()
    with qtbot.waitSignal(desk.leads.filterChanged, timeout=1000):
        press(qtbot, Qt.Key.Key_Escape)  # clears the search: every open lead again
    desk.settle()
    assert desk.column(1) == ["Ana Lopez", "Bob Smith"]


def test_cache_failures_become_sentences(
    qtbot: Any, desk: LeadsDesk, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = OperationalError("INSERT", {}, Exception("database is locked"))
    dialog = active(
        qtbot, asked(qtbot, desk, desk.controller.new_lead(name="Ana Lopez", phone="(214) 555-0111"))
    )

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise locked

    monkeypatch.setattr(desk.writer, "execute", refuse)
    press(qtbot, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.form_error.text().startswith("The customer cache is in use")
    dialog.reject()
    monkeypatch.setattr("console.leads_controller.list_leads", refuse)
    with qtbot.waitSignal(desk.controller.errorOccurred) as error:
        desk.controller.refresh()
    assert error.args[0].startswith("The customer cache is in use")
    assert desk.leads.message_label.text() == error.args[0]


def test_every_control_has_an_accessible_name(qtbot: Any, desk: LeadsDesk) -> None:
    leads = desk.leads
    controls = [leads.status_combo, leads.search_edit, leads.view, *leads.buttons.values()]
    assert all(c.accessibleName() for c in controls)
    assert [b.accessibleName() for b in leads.buttons.values()] == [
        "New lead",
        "Convert to job",
        "Edit follow-up",
        "Dismiss",
        "Open customer",
    ]
    dialog = asked(qtbot, desk, desk.controller.new_lead())
    assert dialog is not None
    assert all(field.accessibleName() for field in dialog.fields.values())
    dialog.reject()


def _rows(desk: LeadsDesk) -> list[Any]:
    desk.add_lead("Overdue", TODAY - timedelta(days=1), summary="Line one\nline two")
    desk.add_lead("Later", TODAY + timedelta(days=3))
    desk.add_lead("Undated")
    desk.refresh()
    return desk.leads.model.rows()


def test_model_passes_qtmodeltester_through_updates(qtmodeltester: Any, desk: LeadsDesk) -> None:
    rows = _rows(desk)
    model = LeadsModel()
    model.set_rows(rows)
    qtmodeltester.check(model)
    qtmodeltester.check(model, force_py=True)
    moved = replace(rows[0], follow_up_on=TODAY + timedelta(days=5), days_until=5, due=False, overdue=False)
    model.update_row(moved)  # moves below "Later"
    assert [r.name for r in model.rows()] == ["Later", "Overdue", "Undated"]
    model.update_row(replace(moved, summary="Changed"))  # in place
    newer = rows[2].created_at + timedelta(hours=1)
    model.update_row(replace(rows[2], id="new", name="Brand new", created_at=newer))  # newest undated first
    model.remove_row(rows[1].id)
    assert [r.name for r in model.rows()] == ["Overdue", "Brand new", "Undated"]
    qtmodeltester.check(model, force_py=True)
    assert model.index(0, 3).data() == "Changed"


def test_dialogs_are_opened_not_executed(qtbot: Any, desk: LeadsDesk) -> None:
    # open() keeps the event loop (and qasync) running; exec() would nest one.
    dialog = active(qtbot, asked(qtbot, desk, desk.controller.new_lead(name="Ana", phone="2145550111")))
    assert isinstance(dialog, QDialog) and dialog.isModal()
    press(qtbot, Qt.Key.Key_Escape)
    assert closed(dialog) and desk.controller.dialog is None and desk.outbox() == []
