"""Wiring of the customer panel and dialogs to the local cache: reads records, runs the duplicate
check, writes through the LocalWriter (cache + outbox in one transaction) and turns every
failure into a sentence for the CSR.

Reads and writes here are primary-key or index lookups plus one small transaction, a few
milliseconds even on a 1M-customer cache, so they run on the UI thread.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from models.base import new_id
from models.customers import ContactMethod, Location
from models.db import Cache
from models.duplicates import find_duplicates
from models.records import CustomerRecord, load_customer_record
from models.validation import ValidationFailed
from models.writer import LocalWriter, WriteResult
from widgets.customer_dialogs import ContactDialog, CustomerDialog, DuplicateDialog, LocationDialog
from widgets.customer_panel import CustomerPanel
from widgets.form_dialog import FormDialog

from .failures import DialogTracker, describe_failure

log = logging.getLogger(__name__)

SAVED = "Saved on this PC."
GONE = "That customer is no longer on this PC — search for them again."
_WORD = re.compile(r"[^\W\d_]+")  # a run of letters: "o'brien-smith" has three


def title_case_name(text: str) -> str:
    """A name typed in lowercase into the search box, as a name is written: "maria de la cruz" →
    "Maria De La Cruz", "o'brien-smith" → "O'Brien-Smith". Text with a capital, a digit or an @ (the
    CSR's own spelling, an address, an email) stays as typed."""
    if text != text.lower() or "@" in text or any(ch.isdigit() for ch in text):
        return text
    return _WORD.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:], text)


class CustomerController(DialogTracker, QObject):
    """Opens customers in the panel and runs the create / edit flows."""

    customerOpened = Signal(str)
    customerSaved = Signal(str)  # any write that changed this customer (or its locations/contacts)
    outboxChanged = Signal()
    errorOccurred = Signal(str)  # a sentence for the status bar; the panel or dialog shows it too

    def __init__(
        self, parent_widget: QWidget, cache: Cache, writer: LocalWriter, panel: CustomerPanel
    ) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self._cache = cache
        self._writer = writer
        self.panel = panel
        self.dialog: QDialog | None = None  # the dialog open now, if any (tests and the main window use it)
        self._connect_signals()

    def _connect_signals(self) -> None:
        p = self.panel
        p.editCustomerRequested.connect(self.edit_customer)
        p.addLocationRequested.connect(self.add_location)
        p.editLocationRequested.connect(self.edit_location)
        p.addContactRequested.connect(self.add_contact)
        p.editContactRequested.connect(self.edit_contact)
        p.contactFlagChanged.connect(self.set_contact_flag)
        p.addNoteRequested.connect(self.add_note)

    # -- reading ----------------------------------------------------------------------------------------
    def current_customer_id(self) -> str:
        return self.panel.customer_id()

    def _load(self, customer_id: str) -> CustomerRecord | None:
        with self._cache.sessions() as session:
            record = load_customer_record(session, customer_id)
            if record is not None and record.merged_into_id:
                # A merged customer (from an old job link, a recent list) opens its survivor (issue 19).
                return load_customer_record(session, record.merged_into_id) or record
            return record

    def open_customer(self, customer_id: str) -> bool:
        """Show this customer in the panel; False (and a message) when it can't be read."""
        try:
            record = self._load(customer_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence, never a traceback
            self._panel_error(self._describe(exc))
            return False
        if record is None:
            self._panel_error(GONE)
            return False
        self.panel.set_record(record)
        self.customerOpened.emit(record.id)
        return True

    def _owner(self, model: type, ident: str) -> str | None:
        with self._cache.sessions() as session:
            row = session.get(model, ident)
            return row.customer_id if row is not None else None

    # -- writing ------------------------------------------------------------------------------------------
    def _describe(self, exc: BaseException) -> str:
        return describe_failure(self._cache.path, exc, what="customer write")

    def _execute(self, name: str, args: dict[str, Any]) -> WriteResult:
        return self._writer.execute(name, args)

    def _write(
        self, name: str, args: dict[str, Any], on_errors: Callable[[dict[str, str]], None]
    ) -> WriteResult | None:
        """Run one intent; refusals go to ``on_errors`` as {field: sentence}."""
        try:
            return self._execute(name, args)
        except ValidationFailed as exc:
            on_errors(exc.errors)
        except Exception as exc:  # noqa: BLE001 - the CSR gets a sentence; the log gets the traceback
            on_errors({"form": self._describe(exc)})
        return None

    def _saved(self, customer_id: str, result: WriteResult, *, select_location: str = "") -> None:
        self.outboxChanged.emit()
        # Opened first: whoever hears customerSaved (a ringing call's booking) finds the customer open.
        if self.open_customer(customer_id):
            if select_location:
                self.panel.select_location(select_location)
            warnings = " ".join(dict.fromkeys(result.applied.warnings.values()))
            self.panel.show_message(f"{SAVED} {warnings}".strip(), "warning" if warnings else "info")
        self.customerSaved.emit(customer_id)

    def _panel_error(self, text: str) -> None:
        self.panel.show_message(text, "error")
        self.errorOccurred.emit(text)

    def _show(self, dialog: FormDialog, on_submit: Callable[[dict[str, Any]], None]) -> FormDialog:
        dialog.submitted.connect(on_submit)
        self._track(dialog)
        dialog.open()
        return dialog

    def _save_form(
        self, dialog: FormDialog, name: str, args: dict[str, Any], customer_id: str, select_location: str = ""
    ) -> bool:
        result = self._write(name, args, dialog.show_errors)
        if result is None:
            return False
        dialog.finish()
        self._saved(customer_id, result, select_location=select_location)
        return True

    # -- new customer ---------------------------------------------------------------------------------------
    def new_customer(self, prefill_phone: str = "", prefill_name: str = "") -> CustomerDialog:
        """Open the new-customer form; Save checks for duplicates before anything is written."""
        dialog = CustomerDialog(
            self._parent,
            prefill_phone=prefill_phone,
            prefill_name=title_case_name(prefill_name),
            confirm_externally=True,
        )
        self._show(dialog, lambda values: self._check_duplicates(dialog, values))
        return dialog

    def _check_duplicates(self, dialog: CustomerDialog, values: dict[str, Any]) -> None:
        customer = values["customer"]
        phones = [c["value"] for c in values["contacts"] if c["kind"] != "Email"]
        try:
            with self._cache.sessions() as session:
                candidates = find_duplicates(
                    session, customer["name"], phones, customer["street"], customer["unit"], customer["zip"]
                )
        except Exception as exc:  # noqa: BLE001 - a failed check must not block the save: log it
            log.warning("duplicate check failed: %s", exc)
            candidates = []
        if not candidates:
            self._create(dialog, values)
            return
        duplicates = DuplicateDialog(candidates, dialog)
        duplicates.openExisting.connect(lambda cid: self._use_existing(dialog, cid))
        duplicates.createAnyway.connect(lambda: self._create(dialog, values))
        self._track(duplicates)
        duplicates.open()

    def _use_existing(self, dialog: CustomerDialog, customer_id: str) -> None:
        dialog.reject()
        self.open_customer(customer_id)

    def _create(self, dialog: CustomerDialog, values: dict[str, Any]) -> None:
        args = copy.deepcopy(values)
        # Client-minted ids travel in the outbox, so the server creates the very same records.
        cid = args["customer"]["id"] = new_id()
        for item in (*args.get("locations", ()), *args["contacts"]):
            item["id"] = new_id()
        if self._save_form(dialog, "create_customer", args, cid) and not args.get("locations"):
            # The service address differs from billing: ask for it now, a job needs a location.
            self.add_location(cid)

    # -- edit customer ---------------------------------------------------------------------------------------
    def edit_customer(self, customer_id: str) -> CustomerDialog | None:
        record = self._fresh(customer_id)
        if record is None:
            return None
        dialog = CustomerDialog(self._parent, record, confirm_externally=True)
        self._show(dialog, lambda values: self._update_customer(dialog, values))
        return dialog

    def _fresh(self, customer_id: str) -> CustomerRecord | None:
        # The values a dialog starts from are the "old" side of the server's three-way merge:
        # read them now, not from whatever the panel loaded minutes ago.
        try:
            record = self._load(customer_id)
        except Exception as exc:  # noqa: BLE001
            self._panel_error(self._describe(exc))
            return None
        if record is None:
            self._panel_error(GONE)
        return record

    def _update_customer(self, dialog: CustomerDialog, values: dict[str, Any]) -> None:
        cid = values["customer_id"]
        if values["changes"]:
            self._save_form(dialog, "update_customer", values, cid)
        elif "tags" in values:
            self._save_form(
                dialog,
                "set_customer_tags",
                {"customer_id": cid, "tags": values["tags"], "old_tags": values.get("old_tags", [])},
                cid,
            )
        else:
            dialog.finish()  # nothing changed: nothing to send

    # -- locations ----------------------------------------------------------------------------------------------
    def add_location(self, customer_id: str) -> LocationDialog:
        dialog = LocationDialog(customer_id, self._parent, confirm_externally=True)
        self._show(dialog, lambda values: self._add_location(dialog, customer_id, values))
        return dialog

    def _add_location(self, dialog: LocationDialog, customer_id: str, values: dict[str, Any]) -> None:
        args = copy.deepcopy(values)
        lid = args["location"]["id"] = new_id()
        self._save_form(dialog, "add_location", args, customer_id, select_location=lid)

    def edit_location(self, location_id: str) -> LocationDialog | None:
        customer_id = self._owner(Location, location_id)
        record = self._fresh(customer_id) if customer_id else None
        location = record.location(location_id) if record else None
        if record is None or location is None:
            self._panel_error("That location is no longer on this PC.")
            return None
        dialog = LocationDialog(record.id, self._parent, location, confirm_externally=True)
        self._show(
            dialog,
            lambda values: self._changes(
                dialog, "update_location", values, record.id, select_location=location_id
            ),
        )
        return dialog

    def _changes(
        self,
        dialog: FormDialog,
        name: str,
        values: dict[str, Any],
        customer_id: str,
        select_location: str = "",
    ) -> None:
        if not values["changes"]:
            dialog.finish()
            return
        self._save_form(dialog, name, values, customer_id, select_location)

    # -- contacts ---------------------------------------------------------------------------------------------
    def add_contact(self, customer_id: str, location_id: str = "") -> ContactDialog:
        dialog = ContactDialog(customer_id, location_id, self._parent, confirm_externally=True)
        self._show(dialog, lambda values: self._add_contact(dialog, customer_id, values))
        return dialog

    def _add_contact(self, dialog: ContactDialog, customer_id: str, values: dict[str, Any]) -> None:
        args = copy.deepcopy(values)
        args["contact"]["id"] = new_id()
        self._save_form(
            dialog, "add_contact", args, customer_id, select_location=args["contact"]["location_id"] or ""
        )

    def edit_contact(self, contact_id: str) -> ContactDialog | None:
        customer_id = self._owner(ContactMethod, contact_id)
        record = self._fresh(customer_id) if customer_id else None
        contact = record.contact(contact_id) if record else None
        if record is None or contact is None:
            self._panel_error("That contact is no longer on this PC.")
            return None
        dialog = ContactDialog(
            record.id, contact.location_id or "", self._parent, contact, confirm_externally=True
        )
        self._show(
            dialog,
            lambda values: self._changes(
                dialog, "update_contact", values, record.id, select_location=contact.location_id or ""
            ),
        )
        return dialog

    def set_contact_flag(self, contact_id: str, field: str, value: bool) -> bool:
        """Notifications / do-not-text toggled in the panel: one ``update_contact`` write."""
        record = self.panel.record()
        contact = record.contact(contact_id) if record else None
        if record is None or contact is None:
            self._panel_error("That contact is no longer on this PC.")
            return False
        old = getattr(contact, field)
        if old == value:
            return True
        args = {"contact_id": contact_id, "changes": {field: [old, value]}}
        result = self._write("update_contact", args, lambda errors: self._refused(record.id, errors))
        if result is None:
            return False
        self._saved(record.id, result, select_location=self.panel.current_location_id())
        return True

    def _refused(self, customer_id: str, errors: dict[str, str]) -> None:
        # Reload first: the panel showed the change optimistically and must show the truth again.
        self.open_customer(customer_id)
        self._panel_error(" ".join(dict.fromkeys(errors.values())))

    # -- notes ------------------------------------------------------------------------------------------------
    def add_note(self, customer_id: str, text: str) -> bool:
        location = self.panel.current_location_id()
        args = {
            "note": {"id": new_id(), "customer_id": customer_id, "text": text},
            "actor": self._writer.actor,
        }
        result = self._write("add_note", args, lambda errors: self._panel_error(" ".join(errors.values())))
        if result is None:
            return False
        self.panel.clear_note_editor()
        self._saved(customer_id, result, select_location=location)
        return True
