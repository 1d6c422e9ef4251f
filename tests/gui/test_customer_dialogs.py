"""Create / edit dialogs and the duplicate check, end to end through the real controller, writer
and cache, typed by keyboard: inline errors save nothing, a save is exactly one outbox row."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDialog, QLabel, QLineEdit, QWidget
from shiboken6 import isValid
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from models.customers import ContactMethod, Customer, Location, Note
from models.duplicates import DuplicateCandidate
from models.validation import max_length
from widgets.customer_dialogs import ContactDialog, CustomerDialog, DuplicateDialog, LocationDialog

if TYPE_CHECKING:
    from tests.gui.conftest_customer import Desk

from tests.gui.helpers import wait_for_workers

pytest_plugins = ["tests.gui.conftest_customer"]

Ctrl = Qt.KeyboardModifier.ControlModifier
ADDRESS = {"street": "1500 Marilla St", "city": "Dallas", "state": "tx", "zip": "75201"}


def type_into(qtbot: Any, dialog: QDialog, **values: str) -> None:
    """Replace each field's text by typing it, as a CSR would."""
    for key, text in values.items():
        field = dialog.fields[key]
        field.setFocus()
        if isinstance(field, QLineEdit):
            qtbot.keyClick(field, Qt.Key.Key_A, Ctrl)
            qtbot.keyClick(field, Qt.Key.Key_Delete)
        qtbot.keyClicks(field, text)


def active(qtbot: Any, dialog: QWidget | None) -> Any:
    """Wait until the opened dialog is the active window: shortcuts and focus only work there."""
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=1000)
    return dialog


def closed(dialog: QDialog) -> bool:
    """Closed, or already deleted (a closed dialog is deleted once the worker's answer is awaited)."""
    return not isValid(dialog) or not dialog.isVisible()


def save(qtbot: Any, dialog: QDialog) -> None:
    """Enter, then wait for what the save handed to the worker (the customer reopened) to be on screen."""
    owner = dialog.parentWidget()
    qtbot.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Return)
    if owner is not None:
        wait_for_workers(qtbot, owner.window())


def new_customer_dialog(qtbot: Any, desk: Desk, **prefill: str) -> CustomerDialog:
    dialog = desk.controller.new_customer(**prefill)
    assert isinstance(dialog, CustomerDialog)
    return active(qtbot, dialog)


def test_new_customer_by_keyboard(qtbot: Any, desk: Desk) -> None:
    dialog = new_customer_dialog(qtbot, desk, prefill_phone="+12145550134")
    assert dialog.fields["phone"].text() == "(214) 555-0134"
    type_into(qtbot, dialog, name="Ana Lopez", **ADDRESS, email="Ana@Example.com", tags="VIP, Gate code")
    with qtbot.waitSignals([desk.controller.customerSaved, desk.controller.outboxChanged]):
        save(qtbot, dialog)
    (row,) = desk.outbox()
    assert row.name == "create_customer"
    customer = row.args["customer"]
    assert (customer["name"], customer["state"], len(customer["id"])) == ("Ana Lopez", "TX", 32)
    assert [(c["kind"], c["value"]) for c in row.args["contacts"]] == [
        ("MobilePhone", "+12145550134"),
        ("Email", "ana@example.com"),
    ]
    assert all(c.get("id") for c in row.args["contacts"] + row.args["locations"])  # client-minted ids
    panel = desk.panel
    assert panel.customer_id() == customer["id"] and panel.name_label.text() == "Ana Lopez"
    assert panel.locations_model.index(0, 1).data() == "1500 Marilla St, Dallas, TX 75201"
    assert panel.record().tags == ("Gate code", "VIP")
    assert panel.message_label.text() == "Saved on this PC."


def test_invalid_phone_shows_inline_error_and_saves_nothing(qtbot: Any, desk: Desk) -> None:
    dialog = new_customer_dialog(qtbot, desk)
    type_into(qtbot, dialog, name="Ana Lopez", **ADDRESS, phone="555-01")
    save(qtbot, dialog)
    assert dialog.isVisible()
    assert "needs more digits" in dialog.error_text("phone")
    label = dialog.findChild(QLabel, "error_phone")
    assert label is not None and label.isVisible()
    assert dialog.fields["phone"].hasFocus() and dialog.fields["phone"].property("invalid")
    assert (desk.outbox(), desk.customer_count()) == ([], 0)
    type_into(qtbot, dialog, phone="214.555.0134")  # typing clears the error; the fix saves
    assert dialog.error_text("phone") == ""
    save(qtbot, dialog)
    assert closed(dialog) and desk.customer_count() == 1 and len(desk.outbox()) == 1


def test_empty_form_marks_every_required_field_and_focuses_the_first(qtbot: Any, desk: Desk) -> None:
    dialog = new_customer_dialog(qtbot, desk)
    save(qtbot, dialog)
    assert {k for k in dialog.fields if dialog.error_text(k)} == {"name", "street", "city", "zip", "phone"}
    assert dialog.fields["name"].hasFocus()
    assert desk.outbox() == []


def test_bad_email_and_state_block(qtbot: Any, desk: Desk) -> None:
    dialog = new_customer_dialog(qtbot, desk, prefill_phone="2145550134")
    type_into(qtbot, dialog, name="Ana", **(ADDRESS | {"state": "Texas"}), email="ana@")
    save(qtbot, dialog)
    assert "two-letter" in dialog.error_text("state") and "isn't valid" in dialog.error_text("email")
    assert dialog.fields["state"].hasFocus() and desk.outbox() == []


def _duplicate_dialog(qtbot: Any, desk: Desk) -> tuple[str, CustomerDialog, DuplicateDialog]:
    existing = desk.add_customer("Maria Garcia", "+12145550134", street="9 Oak Ave", zip_="75204")
    dialog = new_customer_dialog(qtbot, desk, prefill_phone="(214) 555-0134")
    type_into(qtbot, dialog, name="Mario Gomez", **ADDRESS)
    save(qtbot, dialog)
    desk.settle()  # an edit form opens once its fresh read answers
    dup = active(qtbot, desk.controller.dialog)
    assert isinstance(dup, DuplicateDialog) and dup.objectName() == "duplicateDialog" and dup.isVisible()
    assert dup.model.index(0, 0).data() == "Maria Garcia"
    assert dup.model.index(0, 3).data() == "Same phone (214) 555-0134"
    assert dialog.isVisible()  # the form waits under the warning, nothing typed is lost
    return existing, dialog, dup


def test_duplicate_open_existing_by_enter(qtbot: Any, desk: Desk) -> None:
    existing, dialog, dup = _duplicate_dialog(qtbot, desk)
    with qtbot.waitSignal(dup.openExisting):
        qtbot.keyClick(dup.view, Qt.Key.Key_Return)
    desk.settle()
    assert closed(dialog) and closed(dup) and desk.controller.dialog is None
    assert desk.panel.customer_id() == existing
    assert desk.customer_count() == 1 and len(desk.outbox()) == 1  # only the seeded customer


def test_duplicate_create_anyway_by_mnemonic(qtbot: Any, desk: Desk) -> None:
    existing, dialog, dup = _duplicate_dialog(qtbot, desk)
    with qtbot.waitSignal(dup.createAnyway):
        qtbot.keyClick(dup.view, Qt.Key.Key_A, Qt.KeyboardModifier.AltModifier)
    desk.settle()
    assert closed(dialog)
    assert desk.customer_count() == 2 and [r.name for r in desk.outbox()] == ["create_customer"] * 2
    assert desk.panel.customer_id() not in ("", existing) and desk.panel.name_label.text() == "Mario Gomez"


def test_duplicate_escape_goes_back_to_the_form(qtbot: Any, desk: Desk) -> None:
    _, dialog, dup = _duplicate_dialog(qtbot, desk)
    qtbot.keyClick(dup.view, Qt.Key.Key_Escape)
    assert closed(dup) and dialog.isVisible() and desk.controller.dialog is dialog
    assert dialog.fields["name"].text() == "Mario Gomez" and desk.customer_count() == 1


def _open(desk: Desk, **kw: Any) -> str:
    cid = desk.add_customer("Ana Lopez", **kw)
    assert desk.open(cid)
    return cid


def test_edit_customer_by_keyboard_is_one_outbox_row(qtbot: Any, desk: Desk) -> None:
    cid = _open(desk)
    desk.panel.contacts_view.setFocus()
    qtbot.keyClick(desk.panel.contacts_view, Qt.Key.Key_E, Ctrl)
    desk.settle()  # an edit form opens once its fresh read answers
    dialog = active(qtbot, desk.controller.dialog)
    assert isinstance(dialog, CustomerDialog) and dialog.windowTitle() == "Edit customer"
    assert "phone" not in dialog.fields and dialog.fields["street"].text() == "123 Main St"
    type_into(qtbot, dialog, street="125 Main St")
    dialog.fields["do_not_mail"].setFocus()
    qtbot.keyClick(dialog.fields["do_not_mail"], Qt.Key.Key_Space)
    save(qtbot, dialog)
    assert closed(dialog)
    rows = desk.outbox()
    assert len(rows) == 2 and rows[1].name == "update_customer"
    assert rows[1].args == {
        "customer_id": cid,
        "changes": {"street": ["123 Main St", "125 Main St"], "do_not_mail": [False, True]},
    }
    with desk.cache.sessions() as s:
        c = s.get(Customer, cid)
        assert (c.street, c.do_not_mail) == ("125 Main St", True)
    assert desk.panel.billing_label.text() == "Billing: 125 Main St, Dallas, TX 75201"


def test_edit_without_changes_writes_nothing(qtbot: Any, desk: Desk) -> None:
    _open(desk)
    dialog = active(qtbot, desk.edit(desk.controller.edit_customer, desk.panel.customer_id()))
    save(qtbot, dialog)
    assert closed(dialog) and len(desk.outbox()) == 1


def test_edit_tags_only_is_one_set_customer_tags(qtbot: Any, desk: Desk) -> None:
    _open(desk)
    dialog = active(qtbot, desk.edit(desk.controller.edit_customer, desk.panel.customer_id()))
    type_into(qtbot, dialog, tags="Landlord")
    save(qtbot, dialog)
    assert [r.name for r in desk.outbox()] == ["create_customer", "set_customer_tags"]
    assert desk.panel.record().tags == ("Landlord",)
    # The outbox carries what the CSR saw too: the server merges tag edits per field.
    assert desk.outbox()[-1].args["tags"] == ["Landlord"] and desk.outbox()[-1].args["old_tags"] == []


def test_refusal_by_the_writer_keeps_the_dialog_open(qtbot: Any, desk: Desk) -> None:
    cid = _open(desk, location=False)
    added = active(qtbot, desk.controller.add_location(cid))
    type_into(qtbot, added, **ADDRESS)
    save(qtbot, added)
    lid = desk.panel.current_location_id()
    dialog = active(qtbot, desk.edit(desk.controller.edit_location, lid))
    with desk.cache.sessions.begin() as s:  # another window removed it meanwhile
        s.execute(delete(Location).where(Location.id == lid))
    type_into(qtbot, dialog, access_notes="Gate 1234")
    save(qtbot, dialog)
    assert dialog.isVisible()
    assert (
        dialog.form_error.isVisible()
        and dialog.form_error.text() == "That location no longer exists (someone removed it)."
    )
    assert len(desk.outbox()) == 2


def test_database_trouble_is_a_sentence(qtbot: Any, desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(*_a: Any) -> None:
        raise OperationalError("UPDATE customers", {}, Exception("database is locked"))

    _open(desk)
    dialog = active(qtbot, desk.edit(desk.controller.edit_customer, desk.panel.customer_id()))
    monkeypatch.setattr(desk.writer, "execute", locked)
    type_into(qtbot, dialog, name="Ana M Lopez")
    save(qtbot, dialog)
    assert dialog.isVisible() and "in use by another program" in dialog.form_error.text()


def test_add_location_zip_warning_does_not_block(qtbot: Any, desk: Desk) -> None:
    _open(desk)
    qtbot.keyClick(desk.panel.contacts_view, Qt.Key.Key_L, Ctrl)
    desk.settle()  # an edit form opens once its fresh read answers
    dialog = active(qtbot, desk.controller.dialog)
    assert isinstance(dialog, LocationDialog)
    type_into(qtbot, dialog, name="Rental", street="9 Elm St", city="Dallas", state="TX", zip="00000")
    qtbot.keyClick(dialog.fields["zip"], Qt.Key.Key_Tab)  # leaving the field shows the warning
    assert "isn't in the postal list" in dialog.warning_text("zip") and dialog.error_text("zip") == ""
    dialog.fields["zip"].setFocus()
    save(qtbot, dialog)
    assert closed(dialog) and [r.name for r in desk.outbox()][-1] == "add_location"
    assert desk.panel.locations_model.rowCount() == 2
    assert desk.panel.current_location().name == "Rental"
    assert "isn't in the postal list" in desk.panel.message_label.text()


def test_add_and_edit_contact_by_keyboard(qtbot: Any, desk: Desk) -> None:
    cid = _open(desk)
    qtbot.keyClick(desk.panel.contacts_view, Qt.Key.Key_P, Ctrl | Qt.KeyboardModifier.ShiftModifier)
    desk.settle()  # an edit form opens once its fresh read answers
    dialog = active(qtbot, desk.controller.dialog)
    assert isinstance(dialog, ContactDialog)
    type_into(qtbot, dialog, kind="Phone", value="214.555.0177", memo="Work")
    save(qtbot, dialog)
    with desk.cache.sessions() as s:
        added = s.scalars(
            select(ContactMethod).where(ContactMethod.customer_id == cid, ContactMethod.memo == "Work")
        ).one()
        assert (added.kind.value, added.value, added.location_id) == ("Phone", "+12145550177", None)
    desk.window.activateWindow()  # what the window manager does when a dialog closes
    qtbot.waitUntil(desk.window.isActiveWindow, timeout=1000)
    view = desk.panel.contacts_view
    view.setFocus()
    view.setCurrentIndex(desk.panel.contacts_model.index(desk.panel.contacts_model.row_of(added.id), 0))
    qtbot.keyClick(view, Qt.Key.Key_F2)
    desk.settle()  # an edit form opens once its fresh read answers
    edit = active(qtbot, desk.controller.dialog)
    assert isinstance(edit, ContactDialog) and edit.fields["value"].text() == "(214) 555-0177"
    type_into(qtbot, edit, memo="Office")
    save(qtbot, edit)
    last = desk.outbox()[-1]
    assert (last.name, last.args) == (
        "update_contact",
        {"contact_id": added.id, "changes": {"memo": ["Work", "Office"]}},
    )


def test_contact_flag_toggle_is_one_update(qtbot: Any, desk: Desk) -> None:
    _open(desk)
    view = desk.panel.contacts_view
    view.setFocus()
    view.setCurrentIndex(desk.panel.contacts_model.index(0, 4))
    with qtbot.waitSignal(desk.controller.outboxChanged):
        qtbot.keyClick(view, Qt.Key.Key_Space)
    desk.settle()
    contact_id = desk.panel.contacts_model.row_at(0).id
    assert desk.outbox()[-1].args == {"contact_id": contact_id, "changes": {"do_not_text": [False, True]}}
    with desk.cache.sessions() as s:
        assert s.get(ContactMethod, contact_id).do_not_text is True
    assert desk.panel.record().contacts[0].do_not_text is True


def test_add_note_by_keyboard(qtbot: Any, desk: Desk) -> None:
    cid = _open(desk)
    qtbot.keyClick(desk.panel, Qt.Key.Key_N, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClicks(desk.panel.note_edit, "Gate code changed to 4321")
    qtbot.keyClick(desk.panel.note_edit, Qt.Key.Key_Return, Ctrl)
    desk.settle()
    with desk.cache.sessions() as s:
        note = s.scalars(select(Note).where(Note.customer_id == cid)).one()
        assert (note.text, note.author) == ("Gate code changed to 4321", "test")
    assert desk.panel.note_edit.toPlainText() == "" and desk.panel.notes_model.rowCount() == 1


def test_service_location_elsewhere_asks_for_it_next(qtbot: Any, desk: Desk) -> None:
    dialog = new_customer_dialog(qtbot, desk, prefill_phone="2145550134", prefill_name="Ana Lopez")
    type_into(qtbot, dialog, **ADDRESS)
    dialog.fields["same_as_billing"].setFocus()
    qtbot.keyClick(dialog.fields["same_as_billing"], Qt.Key.Key_Space)
    save(qtbot, dialog)
    assert "locations" not in desk.outbox()[0].args
    assert isinstance(desk.controller.dialog, LocationDialog) and desk.controller.dialog.isVisible()


def test_missing_customer_is_a_message(desk: Desk) -> None:
    assert not desk.open("f" * 32)
    assert "no longer on this PC" in desk.panel.message_label.text()


@pytest.mark.parametrize(
    "make",
    [
        lambda: CustomerDialog(),
        lambda: LocationDialog("c" * 32),
        lambda: ContactDialog("c" * 32),
    ],
)
def test_fields_are_labelled_with_unique_mnemonics(qtbot: Any, make: Any) -> None:
    dialog = make()
    qtbot.addWidget(dialog)
    mnemonics = []
    for key, field in dialog.fields.items():
        assert field.accessibleName(), key
        buddy = [lab for lab in dialog.findChildren(QLabel) if lab.buddy() is field]
        text = buddy[0].text() if buddy else field.text()
        assert "&" in text, key
        mnemonics.append(text[text.index("&") + 1].lower())
    assert len(mnemonics) == len(set(mnemonics))


def test_line_edits_take_their_limits_from_the_schema(qtbot: Any) -> None:
    dialog = CustomerDialog()
    qtbot.addWidget(dialog)
    assert dialog.fields["name"].maxLength() == max_length(Customer, "name") == 100
    assert dialog.fields["zip"].maxLength() == 10 and dialog.fields["phone"].maxLength() == 120
    location = LocationDialog("c" * 32)
    qtbot.addWidget(location)
    assert location.fields["access_notes"].maxLength() == max_length(Location, "access_notes")


def test_standalone_dialog_accepts_only_valid_input(qtbot: Any) -> None:
    dialog = ContactDialog("c" * 32, "l" * 32)
    qtbot.addWidget(dialog)
    dialog.open()
    active(qtbot, dialog)
    with qtbot.assertNotEmitted(dialog.accepted):
        type_into(qtbot, dialog, value="ana@example")
        qtbot.keyClick(dialog.fields["value"], Qt.Key.Key_Return)
    assert isinstance(dialog.fields["kind"], QComboBox)
    type_into(qtbot, dialog, kind="Email", value="Ana@Example.com")
    assert not dialog.fields["do_not_text"].isEnabled()  # texting doesn't apply to email
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog.fields["value"], Qt.Key.Key_Return)
    assert dialog.values() == {
        "contact": {
            "customer_id": "c" * 32,
            "location_id": "l" * 32,
            "kind": "Email",
            "value": "ana@example.com",
            "memo": "",
            "notifications": True,
            "do_not_text": False,
        }
    }


def test_escape_cancels(qtbot: Any) -> None:
    dialog = LocationDialog("c" * 32)
    qtbot.addWidget(dialog)
    dialog.open()
    active(qtbot, dialog)
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(dialog.fields["street"], Qt.Key.Key_Escape)


def test_error_keys_from_create_customer_land_on_their_fields(qtbot: Any) -> None:
    dialog = CustomerDialog()
    qtbot.addWidget(dialog)
    dialog.show_errors(
        {"contacts.0.value": "Bad phone", "contacts.1.value": "Bad email", "id": "Already saved"}
    )
    assert (dialog.error_text("phone"), dialog.error_text("email")) == ("Bad phone", "Bad email")
    assert dialog.form_error.text() == "Already saved"


def test_duplicates_model_passes_qtmodeltester(qtbot: Any, qtmodeltester: Any) -> None:
    found = [
        DuplicateCandidate(
            "a" * 32,
            "Ana",
            "1 Elm St",
            "(214) 555-0134",
            ["Same phone (214) 555-0134"],
            do_not_service=True,
            same_phone=True,
        ),
        DuplicateCandidate("b" * 32, "Ann", "", "", ["Similar name (90%)"], name_score=90),
    ]
    dialog = DuplicateDialog(found)
    qtbot.addWidget(dialog)
    qtmodeltester.check(dialog.model, force_py=True)
    assert dialog.model.index(0, 0).data() == "Ana (Do Not Service)" and dialog.selected_id() == "a" * 32
    assert isinstance(dialog.findChild(QWidget, "openExistingButton"), QWidget)
