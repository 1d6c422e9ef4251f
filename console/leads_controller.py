"""Wiring of the leads list and lead dialogs to the local cache: reads leads, writes the lead
intents through the LocalWriter (cache + outbox in one transaction), hands a lead to the booking
form for conversion and turns every failure into a sentence for the CSR.

The list's query (run on every pulled lead change, a filter change, the tab shown) runs on a worker thread
(console/db_worker.py) and comes back by signal; a newer query drops an older one's answer. A dialog opens
when its read answers from the worker (the lead, fresh; the call reasons and campaigns; the customer a new
lead is for), like the customer and job dialogs: ``self.dialog`` is the one open. A save runs on the
worker too, with the lead read back in the same call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget
from shiboken6 import isValid
from sqlalchemy import select

from models.customers import Customer, Location
from models.db import Cache
from models.lead_queries import LeadChoices, LeadRow, lead_choices, list_leads, load_lead
from models.validation import ValidationFailed
from models.writer import LocalWriter, WriteResult
from widgets.form_dialog import FormDialog
from widgets.lead_dialogs import DismissLeadDialog, LeadDialog
from widgets.leads_list import LeadsList

from .db_worker import DbWorker
from .failures import UNEXPECTED, DialogTracker, describe_failure

log = logging.getLogger(__name__)

SAVED = "Saved on this PC."
LEAD_GONE = "That lead is no longer on this PC — refresh the list."
CUSTOMER_GONE = "That customer is no longer on this PC — search for them again."
READ_FAILED = (
    "The leads could not be read. Try again; if it keeps happening, call support (details are in the log)."
)


class LeadsController(DialogTracker, QObject):
    """Fills the leads list and runs the new / edit / dismiss / convert flows."""

    outboxChanged = Signal()
    convertLead = Signal(dict)  # {id, customer_id, location_id, summary, campaign_id, business_unit_id,
    #                                    job_type_id, name, phone}: the booking form binds to it
    openCustomer = Signal(str)  # customer id
    leadSaved = Signal(str)  # lead id, after any write to it from here
    errorOccurred = Signal(str)  # a sentence for the status bar; the list or dialog shows it too

    def __init__(
        self,
        parent_widget: QWidget,
        cache: Cache,
        writer: LocalWriter,
        leads_list: LeadsList,
        today_fn: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self._cache = cache
        self._writer = writer
        self._today = today_fn
        self.leads_list = leads_list
        self.dialog: QDialog | None = None  # the dialog open now, if any (tests and the main window use it)
        self.worker = DbWorker(self, "csr-leads")
        self._saving: set[int] = set()  # dialogs whose save is on the worker
        self._connect_signals()

    def _connect_signals(self) -> None:
        ll = self.leads_list
        ll.newLeadRequested.connect(lambda: self.new_lead())
        ll.editRequested.connect(self.edit_lead)
        ll.dismissRequested.connect(self.dismiss)
        ll.convertRequested.connect(self.convert)
        ll.openCustomerRequested.connect(self.openCustomer)
        ll.filterChanged.connect(lambda _status, _text: self.refresh())

    # -- reading ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Run the list's query again (status filter, search) with today's due dates, on the worker; the
        list shows the answer when it comes."""
        ll = self.leads_list
        self.worker.submit(
            _read_leads,
            self._cache,
            ll.status_filter(),
            self._today(),
            ll.search_text(),
            done=self._show_rows,
            failed=lambda exc: self._error(self._describe(exc, "read")),
            key="list",
        )

    def _show_rows(self, rows: list[LeadRow]) -> None:
        ll = self.leads_list
        ll.show_message("")  # a new list: the last save's note or error is about the old one
        ll.set_rows(rows)

    def reload_lead(self, lead_id: str) -> None:
        """Show one lead's new state (read on the worker) — after the booking form converted it."""
        self.worker.submit(
            self._load,
            lead_id,
            done=lambda row: self._show_row(lead_id, row),
            failed=lambda exc: self._error(self._describe(exc, "read")),
            key=f"lead:{lead_id}",
        )

    def _show_row(self, lead_id: str, row: LeadRow | None) -> None:
        ll = self.leads_list
        status = ll.status_filter()
        if ll.search_text():
            self.refresh()  # whether it still matches the search is the query's business
        elif row is None or (status is not None and row.status != status):
            ll.remove_row(lead_id)
        else:
            ll.update_row(row)

    def _load(self, lead_id: str) -> LeadRow | None:
        with self._cache.sessions() as session:
            return load_lead(session, lead_id, today=self._today())

    def _open_lead(self, lead_id: str, verb: str, then: Callable[[LeadRow, LeadChoices], None]) -> None:
        """Read the lead (and the pick lists) on the worker; ``then`` when it is still open. A dialog starts
        from the cache's values (the "old" side of the server's merge), not from a row listed minutes ago.
        Else the list catches up and says why."""

        def done(answer: tuple[LeadRow | None, LeadChoices]) -> None:
            row, choices = answer
            if row is not None and row.is_open:
                then(row, choices)
                return
            self._show_row(lead_id, row)  # first: a refresh clears the list's message line
            self._error(
                LEAD_GONE
                if row is None
                else f"This lead is already {row.status.lower()} — it can't be {verb}."
            )

        self.worker.submit(
            _read_lead_and_choices,
            self._cache,
            lead_id,
            self._today(),
            done=done,
            failed=lambda exc: self._error(self._describe(exc, "read")),
            key="dialog",  # the newest dialog asked for wins
        )

    # -- writing ------------------------------------------------------------------------------------------
    def _describe(self, exc: BaseException, what: str = "write") -> str:
        return describe_failure(
            self._cache.path,
            exc,
            what=f"lead {what}",
            unexpected=UNEXPECTED if what == "write" else READ_FAILED,
        )

    def _write_and_read(self, name: str, args: dict[str, Any]) -> tuple[WriteResult, LeadRow | None]:
        """On the worker: the intent, then the lead as it is now."""
        result = self._writer.execute(name, args)
        return result, self._load(result.applied.entity_id)

    def _save(self, dialog: FormDialog, name: str, args: dict[str, Any]) -> None:
        """Run one intent on the worker; the dialog stays open (a second Enter saves nothing more) until
        the answer: then it closes and the list shows the lead, or it shows why not, the typing kept."""
        if id(dialog) in self._saving:
            return
        self._saving.add(id(dialog))

        def failed(exc: BaseException) -> None:
            self._saving.discard(id(dialog))
            errors = exc.errors if isinstance(exc, ValidationFailed) else {"form": self._describe(exc)}
            if isValid(dialog):
                dialog.show_errors(errors)
            else:
                self._error(" ".join(dict.fromkeys(errors.values())))

        self.worker.submit(
            self._write_and_read, name, args, done=lambda answer: self._saved(dialog, *answer), failed=failed
        )

    def _saved(self, dialog: FormDialog, result: WriteResult, row: LeadRow | None) -> None:
        self._saving.discard(id(dialog))
        if isValid(dialog):
            dialog.finish()
        lead_id = result.applied.entity_id
        self.outboxChanged.emit()
        self.leadSaved.emit(lead_id)
        self._show_row(lead_id, row)
        if self.leads_list.model.row_of(lead_id) >= 0:
            self.leads_list.select_lead(lead_id)  # a new lead, or one moved by its new date
        self.leads_list.show_message(SAVED)

    def _error(self, text: str) -> None:
        self.leads_list.show_message(text, "error")
        self.errorOccurred.emit(text)

    def _show(self, dialog: FormDialog, on_submit: Callable[[dict[str, Any]], None]) -> FormDialog:
        dialog.submitted.connect(on_submit)
        self._track(dialog)
        dialog.open()  # never exec(): the event loop (and qasync) keeps running
        return dialog

    # -- new lead ---------------------------------------------------------------------------------------------
    def new_lead(self, customer_id: str = "", name: str = "", phone: str = "", location_id: str = "") -> None:
        """Open the new-lead form (``self.dialog``, once its lists and customer are read on the worker): for
        this customer (and location), or prefilled with a caller's name and phone. Save writes
        ``create_lead``."""

        def done(answer: tuple[LeadChoices, tuple[str, str, str] | None]) -> None:
            choices, customer = answer
            customer_name, location, warning = "", location_id, ""
            if customer_id:
                if customer is None:
                    self._error(CUSTOMER_GONE)
                    return
                customer_name, location, warning = customer
            dialog = LeadDialog(
                choices,
                self._parent,
                today=self._today(),
                customer_id=customer_id,
                customer_name=customer_name,
                location_id=location,
                name=name,
                phone=phone,
                customer_warning=warning,
                confirm_externally=True,
            )
            self._show(dialog, lambda values: self._save(dialog, "create_lead", values))

        self.worker.submit(
            _read_new_lead,
            self._cache,
            customer_id,
            location_id,
            done=done,
            failed=lambda exc: self._error(self._describe(exc, "read")),
            key="dialog",
        )

    # -- edit, dismiss, convert -------------------------------------------------------------------------------
    def edit_lead(self, lead_id: str) -> None:
        """Open an open lead's follow-up, reason and summary for editing (``update_lead``)."""

        def show(row: LeadRow, choices: LeadChoices) -> None:
            dialog = LeadDialog(
                choices, self._parent, today=self._today(), record=row, confirm_externally=True
            )
            self._show(dialog, lambda values: self._update(dialog, values))

        self._open_lead(lead_id, "changed", show)

    def _update(self, dialog: LeadDialog, values: dict[str, Any]) -> None:
        if not values["changes"]:
            dialog.finish()  # nothing changed: nothing to send
            return
        self._save(dialog, "update_lead", values)

    def dismiss(self, lead_id: str) -> None:
        """Ask for the reason, then write ``dismiss_lead``."""

        def show(row: LeadRow, _choices: LeadChoices) -> None:
            dialog = DismissLeadDialog(row, self._parent, confirm_externally=True)
            self._show(dialog, lambda values: self._save(dialog, "dismiss_lead", values))

        self._open_lead(lead_id, "dismissed", show)

    def convert(self, lead_id: str) -> None:
        """Hand an open lead to the booking form (once read fresh on the worker); booking the job (with
        its ``lead_id``) converts it."""

        def hand_over(row: LeadRow, _choices: LeadChoices) -> None:
            self.convertLead.emit(
                {
                    "id": row.id,
                    "customer_id": row.customer_id,
                    "location_id": row.location_id,
                    "summary": row.summary,
                    "campaign_id": row.campaign_id,
                    "business_unit_id": row.business_unit_id,
                    "job_type_id": row.job_type_id,
                    # A lead without a customer record: the new-customer form starts from these.
                    "name": row.name,
                    "phone": row.phone_e164,
                }
            )

        self._open_lead(lead_id, "converted", hand_over)


def _read_leads(cache: Cache, status: str | None, today: date, search: str) -> list[LeadRow]:
    """The leads list's query, on the worker thread."""
    with cache.sessions() as session:
        return list_leads(session, status=status, today=today, search=search)


def _read_lead_and_choices(cache: Cache, lead_id: str, today: date) -> tuple[LeadRow | None, LeadChoices]:
    """On the worker: one lead as it is now, and the dialog's pick lists (call reasons, campaigns…)."""
    with cache.sessions() as session:
        return load_lead(session, lead_id, today=today), lead_choices(session)


def _read_new_lead(
    cache: Cache, customer_id: str, location_id: str
) -> tuple[LeadChoices, tuple[str, str, str] | None]:
    """On the worker: the new-lead form's pick lists and, for a customer's lead, (name, location id,
    warning) — None when that customer is no longer on this PC."""
    with cache.sessions() as session:
        choices = lead_choices(session)
        if not customer_id:
            return choices, None
        customer = session.get(Customer, customer_id)
        if customer is None:
            return choices, None
        if not location_id:
            # With one service location the lead is for it; with several the booking form asks.
            ids = session.scalars(
                select(Location.id).where(Location.customer_id == customer_id, Location.active).limit(2)
            ).all()
            location_id = ids[0] if len(ids) == 1 else ""
        warning = (
            f"{customer.name} is marked Do Not Service — a job can't be booked for them."
            if customer.do_not_service
            else ""
        )
        return choices, (customer.name, location_id, warning)
