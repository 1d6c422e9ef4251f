"""CustomerPanel: shows a CustomerRecord (flags, contacts, locations, notes, history), asks for
changes only through signals, and is driven by the keyboard."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from models.records import CallRecord, ContactRecord, CustomerRecord, JobRecord, LocationRecord, NoteRecord
from widgets.customer_models import ContactsModel
from widgets.customer_panel import CustomerPanel

WHEN = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


def contact(
    cid: str,
    kind: str = "MobilePhone",
    value: str = "+12145550134",
    display: str = "(214) 555-0134",
    location_id: str | None = None,
    **kw: Any,
) -> ContactRecord:
    base = {"memo": "", "notifications": True, "do_not_text": False}
    return ContactRecord(
        id=cid, kind=kind, value=value, display=display, location_id=location_id, **(base | kw)
    )


def location(lid: str, name: str, street: str, contacts: tuple[ContactRecord, ...] = ()) -> LocationRecord:
    return LocationRecord(
        id=lid,
        name=name,
        street=street,
        unit="",
        city="Dallas",
        state="TX",
        zip="75201",
        country="US",
        access_notes="Gate 4321",
        latitude=None,
        longitude=None,
        active=True,
        contacts=contacts,
        tags=("Pets on site",),
    )


def record(**kw: Any) -> CustomerRecord:
    base: dict[str, Any] = dict(
        id="c1",
        name="Ana Lopez",
        type="Residential",
        street="12 Elm St",
        unit="",
        city="Dallas",
        state="TX",
        zip="75201",
        country="US",
        do_not_service=False,
        do_not_service_reason="",
        do_not_mail=False,
        merged_into_id=None,
        tags=("VIP", "Warranty"),
        membership=None,
        notes=(NoteRecord("n1", "Dog in the yard", "Dana", WHEN, True, None),),
        locations=(
            location(
                "l1",
                "Home",
                "12 Elm St",
                (contact("k3", "Phone", "+12145550199", "(214) 555-0199", "l1", memo="Tenant"),),
            ),
            location("l2", "Rental", "9 Oak Ave"),
        ),
        contacts=(contact("k1", memo="Cell"), contact("k2", "Email", "ana@example.com", "ana@example.com")),
        jobs=(),
        calls=(),
    )
    return CustomerRecord(**(base | kw))


@pytest.fixture
def panel(qtbot: Any) -> CustomerPanel:
    p = CustomerPanel()
    p.resize(900, 900)
    qtbot.addWidget(p)
    p.show()
    qtbot.waitActive(p)
    return p


def test_empty_state_until_a_record_is_set(panel: CustomerPanel) -> None:
    assert panel.objectName() == "customerPanel"
    assert panel.empty_label.isVisible()
    assert not panel.edit_customer_action.isEnabled() and not panel.add_contact_action.isEnabled()
    panel.set_record(record())
    assert not panel.empty_label.isVisible() and panel.name_label.isVisible()
    panel.set_record(None)
    assert panel.empty_label.isVisible() and panel.contacts_model.rowCount() == 0


def test_header_flags_tags_and_badge(panel: CustomerPanel) -> None:
    panel.set_record(record(membership="Comfort Club", do_not_mail=True))
    assert (panel.name_label.text(), panel.type_label.text()) == ("Ana Lopez", "Residential")
    assert panel.billing_label.text() == "Billing: 12 Elm St, Dallas, TX 75201"
    assert panel.membership_badge.isVisible() and panel.membership_badge.text() == "Comfort Club"
    assert panel.do_not_mail_label.isVisible()
    chips = [w.text() for w in panel.tags_box.findChildren(QWidget, "tagChip")]
    assert chips == ["VIP", "Warranty"]
    banner = panel.findChild(QWidget, "doNotServiceBanner")
    assert banner is panel.dns_banner and not banner.isVisible()


def test_do_not_service_banner_shows_the_reason(panel: CustomerPanel) -> None:
    panel.set_record(record(do_not_service=True, do_not_service_reason="Unpaid balance"))
    assert panel.dns_banner.isVisible()
    assert panel.dns_banner.text() == "DO NOT SERVICE — Unpaid balance"
    panel.set_record(record(id="c2"))
    assert not panel.dns_banner.isVisible() and not panel.membership_badge.isVisible()


def test_contacts_and_selected_location_contacts(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    m = panel.contacts_model
    assert [m.index(r, 1).data() for r in range(m.rowCount())] == ["(214) 555-0134", "ana@example.com"]
    assert m.index(0, 0).data() == "Mobile" and m.index(0, 2).data() == "Cell"
    assert panel.locations_model.index(0, 1).data() == "12 Elm St, Dallas, TX 75201"
    assert panel.current_location_id() == "l1"
    assert panel.location_contacts_model.index(0, 1).data() == "(214) 555-0199"
    panel.locations_view.setFocus()
    panel.locations_view.setCurrentIndex(panel.locations_model.index(0, 0))
    qtbot.keyClick(panel.locations_view, Qt.Key.Key_Down)
    assert panel.current_location_id() == "l2" and panel.location_contacts_model.rowCount() == 0


def test_space_toggles_notifications_and_emits(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    view = panel.contacts_view
    view.setFocus()
    view.setCurrentIndex(panel.contacts_model.index(0, 3))
    with qtbot.waitSignal(panel.contactFlagChanged) as sig:
        qtbot.keyClick(view, Qt.Key.Key_Space)
    assert sig.args == ["k1", "notifications", False]
    assert panel.contacts_model.index(0, 3).data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    view.setCurrentIndex(panel.contacts_model.index(0, 4))
    with qtbot.waitSignal(panel.contactFlagChanged) as sig:
        qtbot.keyClick(view, Qt.Key.Key_Space)
    assert sig.args == ["k1", "do_not_text", True]


def test_email_has_no_do_not_text_box(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    email = panel.contacts_model.index(1, 4)
    assert not email.flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert email.data(Qt.ItemDataRole.CheckStateRole) is None
    with qtbot.assertNotEmitted(panel.contactFlagChanged):
        assert not panel.contacts_model.setData(email, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)


def test_location_contact_flags_emit_too(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    view = panel.location_contacts_view
    view.setFocus()
    view.setCurrentIndex(panel.location_contacts_model.index(0, 4))
    with qtbot.waitSignal(panel.contactFlagChanged) as sig:
        qtbot.keyClick(view, Qt.Key.Key_Space)
    assert sig.args == ["k3", "do_not_text", True]


@pytest.mark.parametrize(
    ("key", "modifier", "signal", "args"),
    [
        (Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier, "editCustomerRequested", ["c1"]),
        (Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier, "addLocationRequested", ["c1"]),
        (
            Qt.Key.Key_P,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
            "addContactRequested",
            ["c1", ""],
        ),
    ],
)
def test_window_shortcuts(
    panel: CustomerPanel, qtbot: Any, key: Qt.Key, modifier: Any, signal: str, args: list[str]
) -> None:
    panel.set_record(record())
    panel.contacts_view.setFocus()
    with qtbot.waitSignal(getattr(panel, signal)) as sig:
        qtbot.keyClick(panel.contacts_view, key, modifier)
    assert sig.args == args


def test_shortcuts_do_nothing_without_a_customer(panel: CustomerPanel, qtbot: Any) -> None:
    with qtbot.assertNotEmitted(panel.editCustomerRequested):
        qtbot.keyClick(panel, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)


def test_f2_and_enter_edit_the_highlighted_row(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    panel.locations_view.setFocus()
    panel.locations_view.setCurrentIndex(panel.locations_model.index(1, 0))
    with qtbot.waitSignal(panel.editLocationRequested) as sig:
        qtbot.keyClick(panel.locations_view, Qt.Key.Key_F2)
    assert sig.args == ["l2"]
    panel.contacts_view.setFocus()
    panel.contacts_view.setCurrentIndex(panel.contacts_model.index(1, 1))
    with qtbot.waitSignal(panel.editContactRequested) as sig:
        qtbot.keyClick(panel.contacts_view, Qt.Key.Key_Return)
    assert sig.args == ["k2"]
    panel.select_location("l1")  # l2 has no contacts of its own
    panel.location_contacts_view.setFocus()
    panel.location_contacts_view.setCurrentIndex(panel.location_contacts_model.index(0, 0))
    with qtbot.waitSignal(panel.editContactRequested) as sig:
        qtbot.keyClick(panel.location_contacts_view, Qt.Key.Key_F2)
    assert sig.args == ["k3"]


def test_buttons_have_accessible_names_and_shortcut_tooltips(panel: CustomerPanel) -> None:
    panel.set_record(record())
    assert panel.edit_customer_button.accessibleName() == "Edit customer"
    assert "Ctrl+E" in panel.edit_customer_button.toolTip()
    for button in (
        panel.add_location_button,
        panel.edit_location_button,
        panel.add_contact_button,
        panel.edit_contact_button,
        panel.add_location_contact_button,
        panel.add_note_button,
    ):
        assert button.accessibleName() and button.text()


def test_add_location_contact_uses_the_selected_location(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    panel.select_location("l2")
    with qtbot.waitSignal(panel.addContactRequested) as sig:
        panel.add_location_contact_button.click()
    assert sig.args == ["c1", "l2"]


def test_note_by_keyboard(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    assert panel.notes_model.index(0, 0).data() == "Pinned: Dog in the yard"
    assert not panel.add_note_action.isEnabled()
    qtbot.keyClick(panel, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)  # the "&Note" label's buddy
    assert panel.note_edit.hasFocus()
    qtbot.keyClicks(panel.note_edit, "Call before arriving")
    with qtbot.waitSignal(panel.addNoteRequested) as sig:
        qtbot.keyClick(panel.note_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert sig.args == ["c1", "Call before arriving"]
    panel.clear_note_editor()
    assert panel.note_edit.toPlainText() == ""


def test_history_tabs_with_empty_states(panel: CustomerPanel) -> None:
    panel.set_record(record())
    assert panel.jobs_empty.isVisible() and not panel.jobs_view.isVisible()
    job = JobRecord("j1", "1001", "Scheduled", "No cooling", "HVAC Service", "AC warm", WHEN, WHEN, "l1")
    call = CallRecord("x1", WHEN, "Inbound", "Booked", 95, "(214) 555-0134", "Dana Reyes")
    panel.set_record(record(jobs=(job,), calls=(call,)))
    assert panel.jobs_view.isVisible()
    assert [panel.jobs_model.index(0, c).data() for c in range(4)] == [
        "1001",
        "Scheduled",
        "No cooling",
        "HVAC Service",
    ]
    panel.history_tabs.setCurrentIndex(1)
    assert panel.calls_view.isVisible() and panel.calls_model.index(0, 3).data() == "1:35"
    assert panel.calls_model.index(0, 5).data() == "Dana Reyes"


def test_same_customer_refresh_updates_rows_without_reset(panel: CustomerPanel, qtbot: Any) -> None:
    panel.set_record(record())
    panel.select_location("l2")
    changed = record(contacts=(contact("k1", memo="Work"), record().contacts[1]))
    with (
        qtbot.assertNotEmitted(panel.contacts_model.modelReset),
        qtbot.waitSignal(panel.contacts_model.dataChanged),
    ):
        panel.set_record(changed)
    assert panel.contacts_model.index(0, 2).data() == "Work"
    assert panel.current_location_id() == "l2"  # the CSR's place is kept


def test_messages(panel: CustomerPanel) -> None:
    panel.set_record(record())
    panel.show_message("Saved on this PC.")
    assert panel.message_label.isVisible() and panel.message_label.text() == "Saved on this PC."
    panel.set_record(record(id="other"))
    assert not panel.message_label.isVisible()


@pytest.mark.parametrize(
    "attr",
    [
        "contacts_model",
        "locations_model",
        "location_contacts_model",
        "notes_model",
        "jobs_model",
        "calls_model",
    ],
)
def test_models_pass_qtmodeltester(panel: CustomerPanel, qtmodeltester: Any, attr: str) -> None:
    job = JobRecord("j1", "1001", "Scheduled", "", "HVAC", "x", None, WHEN, "l1")
    call = CallRecord("x1", WHEN, "Outbound", "", 5, "", "")
    panel.set_record(record(jobs=(job,), calls=(call,)))
    qtmodeltester.check(getattr(panel, attr))  # Qt's own QAbstractItemModelTester
    qtmodeltester.check(getattr(panel, attr), force_py=True)  # and pytest-qt's stricter Python one


def test_contacts_model_checks_after_a_toggle(qtmodeltester: Any) -> None:
    model = ContactsModel()
    model.set_rows(record().contacts)
    qtmodeltester.check(model, force_py=True)
    assert model.setData(model.index(0, 3), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert dataclasses.asdict(model.row_at(0))["notifications"] is False
    qtmodeltester.check(model, force_py=True)


def test_the_calls_tab_says_a_call_is_in_progress_or_booked_not_unclassified():
    from datetime import UTC, datetime

    from models.records import CallRecord
    from widgets.customer_models import CallsModel, call_status

    at = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)
    going = CallRecord("c1", at, "Inbound", "", 0, "(214) 555-0134", "Dana Reyes", in_progress=True)
    booked = CallRecord(
        "c2", at, "Inbound", "", 0, "(214) 555-0134", "Dana Reyes", in_progress=True, job_number="KQ7-1001"
    )
    ended = CallRecord("c3", at, "Inbound", "", 95, "(214) 555-0134", "")
    assert call_status(going) == "In progress"
    assert call_status(booked) == "Booked — job KQ7-1001"
    assert call_status(ended) == "Not classified"
    model = CallsModel()
    model.set_rows([going, ended])
    assert model.index(0, 3).data() == "In progress" and model.index(1, 3).data() == "1:35"
