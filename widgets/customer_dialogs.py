"""New / edit customer, location and contact dialogs, and the duplicate warning shown before a
new customer is saved. Each form checks itself with ``models.validation`` and returns its
values in the shape of the matching intent (``models.intents``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from models.customers import ContactKind, ContactMethod, Customer, CustomerType, Location, TagType
from models.duplicates import DuplicateCandidate
from models.phone import format_phone, try_parse_phone
from models.records import ContactRecord, CustomerRecord, LocationRecord, changed_fields
from models.validation import (
    Report,
    check_contact,
    check_customer,
    check_location,
    max_length,
    normalize_contact,
)

from .customer_models import KIND_LABELS, DuplicatesModel
from .form_dialog import FormDialog, text_of

ADDRESS_FIELDS = ("street", "unit", "city", "state", "zip")
PHONE_KINDS = [(KIND_LABELS[k.value], k.value) for k in (ContactKind.MOBILE, ContactKind.PHONE)]
ALL_KINDS = [(KIND_LABELS[k.value], k.value) for k in ContactKind]


def _shown_phone(text: str) -> str:
    """A prefilled number as a CSR reads it; left as typed when it doesn't parse."""
    parsed = try_parse_phone(text)
    return format_phone(parsed.e164) if parsed else text


def _tag_list(text: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))


class _AddressForm(FormDialog):
    """Street / unit / city / state / ZIP rows, with the ZIP warning shown as the CSR leaves a field."""

    def add_address(self, model: type, values: dict[str, Any]) -> None:
        self.add_line("street", "&Street", model, text=values.get("street", ""))
        self.add_line("unit", "&Unit", model, text=values.get("unit", ""))
        self.add_line("city", "Cit&y", model, text=values.get("city", ""))
        self.add_line("state", "St&ate", model, text=values.get("state", ""))
        self.add_line("zip", "&ZIP", model, text=values.get("zip", ""))
        for key in ("city", "state", "zip"):
            self.fields[key].editingFinished.connect(self.refresh_warnings)

    def address_values(self) -> dict[str, str]:
        out = {k: text_of(self.fields[k]) for k in ADDRESS_FIELDS}
        out["state"] = out["state"].upper()
        return out


class CustomerDialog(_AddressForm):
    """New customer (with the first phone, an optional email and the service location) or edit."""

    def __init__(
        self,
        parent: QWidget | None = None,
        record: CustomerRecord | None = None,
        *,
        prefill_phone: str = "",
        prefill_name: str = "",
        confirm_externally: bool = False,
    ) -> None:
        super().__init__(
            "Edit customer" if record else "New customer", parent, confirm_externally=confirm_externally
        )
        self.setObjectName("customerDialog")
        self.record = record
        initial = record.fields() if record else {"name": prefill_name}
        self.add_line("name", "&Name", Customer, text=initial.get("name", ""))
        self.add_combo(
            "type",
            "&Type",
            [(t.value, t.value) for t in CustomerType],
            initial.get("type", CustomerType.RESIDENTIAL.value),
        )
        self.add_address(Customer, initial)
        if record is None:
            self.add_line("phone", "&Phone", ContactMethod, "value", _shown_phone(prefill_phone))
            self.add_combo("phone_kind", "Phone &kind", PHONE_KINDS, ContactKind.MOBILE.value)
            self.add_line("email", "&Email", ContactMethod, "value")
            self.add_check("same_as_billing", "Ser&vice location same as billing", True)
        self.add_check("do_not_service", "&Do Not Service", bool(initial.get("do_not_service")))
        self.add_line(
            "do_not_service_reason", "&Reason", Customer, text=initial.get("do_not_service_reason", "")
        )
        self.add_check("do_not_mail", "Do not &mail", bool(initial.get("do_not_mail")))
        self.add_line("tags", "Ta&gs", text=", ".join(record.tags) if record else "")
        self.fields["tags"].setPlaceholderText("Separate tags with commas")
        self.fields["do_not_service"].toggled.connect(self._sync_reason)
        self._sync_reason()

    def _sync_reason(self) -> None:
        self.fields["do_not_service_reason"].setEnabled(self.fields["do_not_service"].isChecked())

    def field_for(self, error_key: str) -> str | None:
        # create_customer reports contacts by position: the phone first, the email second.
        if error_key == "contacts.0.value":
            return "phone"
        if error_key == "contacts.1.value":
            return "email"
        return super().field_for(error_key)

    def customer_values(self) -> dict[str, Any]:
        f = self.fields
        return {
            "name": text_of(f["name"]),
            "type": text_of(f["type"]),
            **self.address_values(),
            "country": self.record.country if self.record else "US",
            "do_not_service": f["do_not_service"].isChecked(),
            "do_not_service_reason": text_of(f["do_not_service_reason"])
            if f["do_not_service"].isChecked()
            else "",
            "do_not_mail": f["do_not_mail"].isChecked(),
        }

    def tags(self) -> list[str]:
        return _tag_list(text_of(self.fields["tags"]))

    def check(self) -> Report:
        report = check_customer(self.customer_values(), new=self.record is None)
        limit = max_length(TagType, "name") or 60
        long = next((t for t in self.tags() if len(t) > limit), None)
        if long:
            report.errors["tags"] = f"The tag '{long[:20]}…' is too long (at most {limit} characters)."
        if self.record is None:
            _, error = normalize_contact(text_of(self.fields["phone_kind"]), text_of(self.fields["phone"]))
            if error:
                report.errors["phone"] = error
            if text_of(self.fields["email"]):
                _, error = normalize_contact(ContactKind.EMAIL.value, text_of(self.fields["email"]))
                if error:
                    report.errors["email"] = error
        return report

    def values(self) -> dict[str, Any]:
        """``create_customer`` arguments for a new customer, ``update_customer`` ones for an edit."""
        customer = self.customer_values()
        if self.record is not None:
            out: dict[str, Any] = {
                "customer_id": self.record.id,
                "changes": changed_fields(self.record.fields(), customer),
            }
            if self.tags() != list(self.record.tags):
                out["tags"] = self.tags()
                out["old_tags"] = list(self.record.tags)  # the base for the server's three-way merge
            return out
        kind = text_of(self.fields["phone_kind"])
        contacts = [{"kind": kind, "value": normalize_contact(kind, text_of(self.fields["phone"]))[0]}]
        if text_of(self.fields["email"]):
            contacts.append(
                {
                    "kind": ContactKind.EMAIL.value,
                    "value": normalize_contact(ContactKind.EMAIL.value, text_of(self.fields["email"]))[0],
                }
            )
        out = {"customer": customer, "contacts": contacts, "tags": self.tags()}
        if self.fields["same_as_billing"].isChecked():
            out["locations"] = [{**self.address_values(), "country": customer["country"]}]
        return out


class LocationDialog(_AddressForm):
    """A service location: where the work is done, with the gate code and pets in the access notes."""

    def __init__(
        self,
        customer_id: str,
        parent: QWidget | None = None,
        record: LocationRecord | None = None,
        *,
        confirm_externally: bool = False,
    ) -> None:
        super().__init__(
            "Edit location" if record else "Add location", parent, confirm_externally=confirm_externally
        )
        self.setObjectName("locationDialog")
        self.customer_id = customer_id
        self.record = record
        initial = record.fields() if record else {}
        self.add_line("name", "&Name (tenant / site)", Location, text=initial.get("name", ""))
        self.add_address(Location, initial)
        self.add_line("access_notes", "A&ccess notes", Location, text=initial.get("access_notes", ""))
        self.fields["access_notes"].setPlaceholderText("Gate code, pets, where to park")
        for key, label in (("latitude", "La&titude"), ("longitude", "L&ongitude")):
            value = initial.get(key)
            self.add_line(key, label, text="" if value is None else f"{value:g}")
            self.fields[key].setPlaceholderText("Optional")

    def location_values(self, *, raw: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": text_of(self.fields["name"]),
            **self.address_values(),
            "country": self.record.country if self.record else "US",
            "access_notes": text_of(self.fields["access_notes"]),
        }
        for key in ("latitude", "longitude"):
            text = text_of(self.fields[key])
            out[key] = text if raw else (float(text) if text else None)
        return out

    def check(self) -> Report:
        return check_location(self.location_values(raw=True), new=self.record is None)

    def values(self) -> dict[str, Any]:
        """``add_location`` arguments, or ``update_location`` ones for an edit."""
        location = self.location_values()
        if self.record is not None:
            return {"location_id": self.record.id, "changes": changed_fields(self.record.fields(), location)}
        return {"location": {"customer_id": self.customer_id, **location}}


class ContactDialog(FormDialog):
    """A phone, mobile, fax or email on a customer or one of its locations."""

    def __init__(
        self,
        customer_id: str,
        location_id: str = "",
        parent: QWidget | None = None,
        record: ContactRecord | None = None,
        *,
        confirm_externally: bool = False,
        region: str | None = None,
    ) -> None:
        super().__init__(
            "Edit contact" if record else "Add contact", parent, confirm_externally=confirm_externally
        )
        self.setObjectName("contactDialog")
        self.customer_id, self.location_id, self.record, self.region = (
            customer_id,
            location_id,
            record,
            region,
        )
        self.add_combo("kind", "&Type", ALL_KINDS, record.kind if record else ContactKind.MOBILE.value)
        self.add_line("value", "&Number / email", ContactMethod, text=record.display if record else "")
        self.add_line("memo", "&Memo", ContactMethod, text=record.memo if record else "")
        self.fields["memo"].setPlaceholderText("Work, spouse, tenant…")
        self.add_check(
            "notifications", "N&otifications (reminders, on-my-way)", record.notifications if record else True
        )
        self.add_check("do_not_text", "Do not te&xt", record.do_not_text if record else False)
        self.fields["kind"].currentIndexChanged.connect(self._sync_kind)
        self._sync_kind()

    def _sync_kind(self) -> None:
        is_email = text_of(self.fields["kind"]) == ContactKind.EMAIL.value
        self.fields["do_not_text"].setEnabled(not is_email)

    def contact_values(self) -> dict[str, Any]:
        kind = text_of(self.fields["kind"])
        return {
            "kind": kind,
            "value": text_of(self.fields["value"]),
            "memo": text_of(self.fields["memo"]),
            "notifications": self.fields["notifications"].isChecked(),
            "do_not_text": kind != ContactKind.EMAIL.value and self.fields["do_not_text"].isChecked(),
        }

    def check(self) -> Report:
        return check_contact(self.contact_values(), self.region)[1]

    def values(self) -> dict[str, Any]:
        """``add_contact`` arguments (value normalized: E.164 or lower-case email), or ``update_contact``."""
        contact = check_contact(self.contact_values(), self.region)[0]
        if self.record is not None:
            return {"contact_id": self.record.id, "changes": changed_fields(self.record.fields(), contact)}
        return {
            "contact": {"customer_id": self.customer_id, "location_id": self.location_id or None, **contact}
        }


class DuplicateDialog(QDialog):
    """ "This caller may already be a customer": open the existing record or create anyway.

    Enter opens the selected customer (the safe choice), Alt+A creates anyway, Escape goes back.
    """

    openExisting = Signal(str)
    createAnyway = Signal()

    def __init__(self, candidates: list[DuplicateCandidate], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("duplicateDialog")
        self.setWindowTitle("Possible duplicate customer")
        self.model = DuplicatesModel(self)
        self.model.set_rows(candidates)
        many = len(candidates) != 1
        intro = QLabel(
            f"{len(candidates)} existing customer{'s look' if many else ' looks'} like the one you "
            "are creating. Open the right one instead of making a copy.",
            self,
        )
        intro.setWordWrap(True)
        self.view = QTableView(self)
        self.view.setObjectName("duplicateList")
        self.view.setAccessibleName("Possible duplicates")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setTabKeyNavigation(False)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(self)
        self.open_button = QPushButton("&Open existing", self)
        self.create_button = QPushButton("Create &anyway", self)
        self.cancel_button = QPushButton("Cancel", self)
        for b, name, role in (
            (self.open_button, "openExistingButton", QDialogButtonBox.ButtonRole.AcceptRole),
            (self.create_button, "createAnywayButton", QDialogButtonBox.ButtonRole.ActionRole),
            (self.cancel_button, "cancelButton", QDialogButtonBox.ButtonRole.RejectRole),
        ):
            b.setObjectName(name)
            b.setAccessibleName(b.text().replace("&", ""))
            b.setAutoDefault(False)
            buttons.addButton(b, role)
        self.open_button.setDefault(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(760, 320)
        self.open_button.clicked.connect(self._open_existing)
        self.create_button.clicked.connect(self._create_anyway)
        self.cancel_button.clicked.connect(self.reject)
        # Double-click opens; Enter already does through the default button (activated would fire twice).
        self.view.doubleClicked.connect(lambda _i: self._open_existing())
        if candidates:
            self.view.setCurrentIndex(self.model.index(0, 0))
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def selected_id(self) -> str:
        candidate = self.model.row_at(self.view.currentIndex().row())
        return candidate.customer_id if candidate else ""

    def _open_existing(self) -> None:
        cid = self.selected_id()
        if cid:
            self.accept()
            self.openExisting.emit(cid)

    def _create_anyway(self) -> None:
        self.done(QDialog.DialogCode.Accepted)
        self.createAnyway.emit()
