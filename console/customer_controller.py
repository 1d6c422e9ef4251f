"""Wiring of the customer panel and dialogs to the local cache: reads records, runs the duplicate
check, writes through the LocalWriter (cache + outbox in one transaction) and turns every
failure into a sentence for the CSR.

Opening a customer (the record read behind every Enter in the results, every screen pop and every save),
the duplicate check and every write run on one worker thread (console/db_worker.py), in order, and come
back by signal; a newer open makes an older one's answer stale, and it is dropped (a write never is). The
fresh read an edit dialog starts from is done there too: the dialog opens when it answers.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget
from shiboken6 import isValid

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

from .db_worker import DbWorker
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
        self.worker = DbWorker(self, "csr-customer")
        self._saving: set[int] = set()  # dialogs whose save is on the worker
        self._checking: set[int] = set()  # new-customer dialogs whose duplicate check is on the worker
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

    def open_customer(self, customer_id: str, then: Callable[[bool], None] | None = None) -> None:
        """Read this customer on the worker and show it in the panel; ``then(True)`` once shown, or
        ``then(False)`` (and a message) when it can't be read. Opening another customer meanwhile wins:
        this one's answer is dropped, and ``then`` is not called."""
        self.worker.submit(
            _read_record,
            self._cache,
            customer_id,
            done=lambda record: self._opened(customer_id, record, then),
            failed=lambda exc: self._open_failed(exc, then),
            key="open",
        )

    def _opened(
        self, customer_id: str, record: CustomerRecord | None, then: Callable[[bool], None] | None
    ) -> None:
        if record is None:
            self._panel_error(GONE)
        else:
            self.panel.set_record(record)
            self.customerOpened.emit(record.id)  # a merged customer's survivor (issue 19)
        if then is not None:
            then(record is not None)

    def _open_failed(self, exc: BaseException, then: Callable[[bool], None] | None) -> None:
        self._panel_error(self._describe(exc))
        if then is not None:
            then(False)

    # -- writing ------------------------------------------------------------------------------------------
    def _describe(self, exc: BaseException) -> str:
        return describe_failure(self._cache.path, exc, what="customer write")

    def _execute(self, name: str, args: dict[str, Any]) -> WriteResult:
        return self._writer.execute(name, args)

    def _write(
        self,
        name: str,
        args: dict[str, Any],
        on_errors: Callable[[dict[str, str]], None],
        then: Callable[[WriteResult], None],
    ) -> None:
        """Run one intent on the worker (after the writes before it); ``then(result)`` on the UI thread, or
        the refusal to ``on_errors`` as {field: sentence}."""

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ValidationFailed):
                on_errors(exc.errors)
            else:  # the CSR gets a sentence; the log gets the traceback
                on_errors({"form": self._describe(exc)})

        self.worker.submit(self._execute, name, args, done=then, failed=failed)

    def _saved(self, customer_id: str, result: WriteResult, *, select_location: str = "") -> None:
        self.outboxChanged.emit()
        warnings = " ".join(dict.fromkeys(result.applied.warnings.values()))

        def opened(ok: bool) -> None:
            if ok:
                if select_location:
                    self.panel.select_location(select_location)
                self.panel.show_message(f"{SAVED} {warnings}".strip(), "warning" if warnings else "info")
            self.customerSaved.emit(customer_id)

        # Opened first: whoever hears customerSaved (a ringing call's booking) finds the customer open.
        self.open_customer(customer_id, then=opened)

    def _panel_error(self, text: str) -> None:
        self.panel.show_message(text, "error")
        self.errorOccurred.emit(text)

    def _show(self, dialog: FormDialog, on_submit: Callable[[dict[str, Any]], None]) -> FormDialog:
        dialog.submitted.connect(on_submit)
        self._track(dialog)
        dialog.open()
        return dialog

    def _save_form(
        self,
        dialog: FormDialog,
        name: str,
        args: dict[str, Any],
        customer_id: str,
        select_location: str = "",
        then: Callable[[], None] | None = None,
    ) -> None:
        """Save from a dialog: it stays open (a second Enter saves nothing more) until the worker answers;
        then it closes and the customer reopens, or it shows why not, with everything typed kept."""
        if id(dialog) in self._saving:
            return
        self._saving.add(id(dialog))

        def refused(errors: dict[str, str]) -> None:
            self._saving.discard(id(dialog))
            if isValid(dialog):
                dialog.show_errors(errors)
            else:
                self._panel_error(" ".join(dict.fromkeys(errors.values())))

        def saved(result: WriteResult) -> None:
            self._saving.discard(id(dialog))
            if isValid(dialog):
                dialog.finish()
            self._saved(customer_id, result, select_location=select_location)
            if then is not None:
                then()

        self._write(name, args, refused, saved)

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
        """Save asks the worker for customers like this one first; the answer decides what comes next."""
        if id(dialog) in self._saving or id(dialog) in self._checking:
            return  # a second Enter while the first is being checked or saved
        self._checking.add(id(dialog))
        customer = values["customer"]
        phones = [c["value"] for c in values["contacts"] if c["kind"] != "Email"]

        def checked(candidates: list) -> None:
            self._checking.discard(id(dialog))
            if isValid(dialog) and dialog.isVisible():
                self._offer_duplicates(dialog, values, candidates)

        def failed(exc: BaseException) -> None:  # a failed check must not block the save: log it
            log.warning("duplicate check failed: %s", exc)
            checked([])

        self.worker.submit(
            _find_duplicates,
            self._cache,
            customer["name"],
            phones,
            customer["street"],
            customer["unit"],
            customer["zip"],
            done=checked,
            failed=failed,
        )

    def _offer_duplicates(self, dialog: CustomerDialog, values: dict[str, Any], candidates: list) -> None:
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
        # The service address differs from billing: ask for it once saved, a job needs a location.
        then = None if args.get("locations") else (lambda: self.add_location(cid))
        self._save_form(dialog, "create_customer", args, cid, then=then)

    # -- edit customer ---------------------------------------------------------------------------------------
    def edit_customer(self, customer_id: str) -> None:
        """Ctrl+E: the edit form opens once the customer is read on the worker (``self.dialog``)."""

        def show(record: CustomerRecord) -> None:
            dialog = CustomerDialog(self._parent, record, confirm_externally=True)
            self._show(dialog, lambda values: self._update_customer(dialog, values))

        self._fresh(customer_id, show)

    def _fresh(
        self,
        customer_id: str,
        then: Callable[[CustomerRecord], None],
        *,
        owner: tuple[type, str] | None = None,
        gone: str = GONE,
    ) -> None:
        """The values a dialog starts from are the "old" side of the server's three-way merge: read them
        now (on the worker), not from whatever the panel loaded minutes ago; ``owner`` (model, id) finds
        the customer of a location or contact first. A newer edit asked meanwhile wins."""

        def done(record: CustomerRecord | None) -> None:
            if record is None:
                self._panel_error(gone)
            else:
                then(record)

        self.worker.submit(
            _read_for_edit,
            self._cache,
            customer_id,
            owner,
            done=done,
            failed=lambda exc: self._panel_error(self._describe(exc)),
            key="edit",
        )

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

    def edit_location(self, location_id: str) -> None:
        """F2 on a location: its form opens once the customer is read on the worker (``self.dialog``)."""
        gone = "That location is no longer on this PC."

        def show(record: CustomerRecord) -> None:
            location = record.location(location_id)
            if location is None:
                self._panel_error(gone)
                return
            dialog = LocationDialog(record.id, self._parent, location, confirm_externally=True)
            self._show(
                dialog,
                lambda values: self._changes(
                    dialog, "update_location", values, record.id, select_location=location_id
                ),
            )

        self._fresh("", show, owner=(Location, location_id), gone=gone)

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

    def edit_contact(self, contact_id: str) -> None:
        """F2 on a contact: its form opens once the customer is read on the worker (``self.dialog``)."""
        gone = "That contact is no longer on this PC."

        def show(record: CustomerRecord) -> None:
            contact = record.contact(contact_id)
            if contact is None:
                self._panel_error(gone)
                return
            dialog = ContactDialog(
                record.id, contact.location_id or "", self._parent, contact, confirm_externally=True
            )
            self._show(
                dialog,
                lambda values: self._changes(
                    dialog, "update_contact", values, record.id, select_location=contact.location_id or ""
                ),
            )

        self._fresh("", show, owner=(ContactMethod, contact_id), gone=gone)

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
        location = self.panel.current_location_id()
        self._write(
            "update_contact",
            args,
            lambda errors: self._refused(record.id, errors),
            lambda result: self._saved(record.id, result, select_location=location),
        )
        return True

    def _refused(self, customer_id: str, errors: dict[str, str]) -> None:
        # Reload first: the panel showed the change optimistically and must show the truth again.
        text = " ".join(dict.fromkeys(errors.values()))
        self.open_customer(customer_id, then=lambda _ok: self._panel_error(text))

    # -- notes ------------------------------------------------------------------------------------------------
    def add_note(self, customer_id: str, text: str) -> bool:
        location = self.panel.current_location_id()
        args = {
            "note": {"id": new_id(), "customer_id": customer_id, "text": text},
            "actor": self._writer.actor,
        }

        def added(result: WriteResult) -> None:
            self.panel.clear_note_editor()
            self._saved(customer_id, result, select_location=location)

        self._write("add_note", args, lambda errors: self._panel_error(" ".join(errors.values())), added)
        return True


def _read_record(cache: Cache, customer_id: str) -> CustomerRecord | None:
    """The customer with locations, contacts, jobs and notes — on the worker thread."""
    with cache.sessions() as session:
        record = load_customer_record(session, customer_id)
        if record is not None and record.merged_into_id:
            # A merged customer (from an old job link, a recent list) opens its survivor (issue 19).
            return load_customer_record(session, record.merged_into_id) or record
        return record


def _find_duplicates(cache: Cache, name: str, phones: list[str], street: str, unit: str, zip_: str) -> list:
    """Customers like the one being created (same phone, same address, a similar name) — on the worker."""
    with cache.sessions() as session:
        return find_duplicates(session, name, phones, street, unit, zip_)


def _read_for_edit(cache: Cache, customer_id: str, owner: tuple[type, str] | None) -> CustomerRecord | None:
    """On the worker: the customer (found through a location or contact when ``owner`` is given)."""
    with cache.sessions() as session:
        if owner is not None:
            model, ident = owner
            row = session.get(model, ident)
            if row is None:
                return None
            customer_id = row.customer_id
        return load_customer_record(session, customer_id)
