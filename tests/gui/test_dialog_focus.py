"""A form dialog opens with the cursor where the CSR types next, never on the Save button."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from widgets.customer_dialogs import ContactDialog, CustomerDialog, LocationDialog


def _opened(qtbot, dialog):
    qtbot.addWidget(dialog)
    with qtbot.waitExposed(dialog):
        dialog.open()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return QApplication.focusWidget()


def test_new_customer_starts_in_the_name(qtbot):
    assert _opened(qtbot, CustomerDialog()).objectName() == "field_name"


def test_new_customer_with_a_known_name_starts_in_the_next_empty_field(qtbot):
    dialog = CustomerDialog()
    dialog.fields["name"].setText("Maria Garcia")
    assert _opened(qtbot, dialog).objectName() == "field_street"


def test_location_and_contact_dialogs_start_in_a_field(qtbot):
    assert _opened(qtbot, LocationDialog("c" * 32)).objectName().startswith("field_")
    assert _opened(qtbot, ContactDialog("c" * 32)).objectName().startswith("field_")
