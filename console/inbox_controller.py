"""Wiring of the Bookings inbox (widgets/bookings_inbox.py) to the cache, the writer and the booking form.

Nothing here touches the cache on the UI thread: every read and write runs on the inbox's DbWorker
(console/db_worker.py) and answers by signal. The whole list (``models.inbox.inbox_items``: the open
requests and the latest settled ones) is read when the tab opens or the CSR signs in (a newer full read
makes an older one's answer stale); a pull re-reads only the requests it changed (the ids the puller
reports, ``models.inbox.web_requests_by_id``) and merges them into the list. Claim, release and dismiss
are writes through the LocalWriter on the same worker, never dropped and run in order. A refusal — here
(the cache already shows another CSR's claim) or from the server — is kept in the Sync problems window
(sync/local_refusal.py for the local ones), not only said on the message line.

Accept claims the request, then opens its customer (an existing match) or the new-customer form filled
from the request, and hands the booking form the request's job type, business unit, campaign (the page's
UTM campaign when the company has such a campaign, else the scheduler's) and window (kept when still
free); booking the job (``book_job`` with ``online_booking_id``) accepts the request on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from shiboken6 import isValid
from sqlalchemy import select

from models.customers import Location
from models.inbox import InboxItem, inbox_items, merge_items, web_requests_by_id
from models.setup import Campaign
from models.validation import ValidationFailed
from models.web_booking import load_web_settings
from sync.local_refusal import record_local_refusal
from widgets.bookings_inbox import BookingsInbox, DismissBookingDialog

from .db_worker import DbWorker
from .failures import UNEXPECTED, describe_failure

log = logging.getLogger(__name__)
TAB_TEXT = "Bookings inbox"  # no Alt+letter left on the window: Ctrl+Shift+I opens it
SHORTCUT = "Ctrl+Shift+I"
OTHER_KIND = "This kind of request is worked from its own screen."


class KindActions:
    """What Accept, Claim and Dismiss do for one kind of inbox item (each gets the item). The Web
    Scheduler's are the controller's own; another kind (ServiceChannel work orders…) registers its
    three with :func:`register_actions` and the inbox calls them."""

    def __init__(self, accept: Any, claim: Any, dismiss: Any) -> None:
        self.accept, self.claim, self.dismiss = accept, claim, dismiss


ACTIONS: dict[str, Any] = {}  # kind → (controller → KindActions)


def register_actions(kind: str, make: Any) -> None:
    """``make(controller) -> KindActions`` for items of ``kind``."""
    ACTIONS[kind] = make


class InboxController(QObject):
    outboxChanged = Signal()
    errorOccurred = Signal(str)
    wrote = Signal(str)  # the intent, once it is in the cache and the outbox (tests, the status bar)

    def __init__(self, console: Any, inbox: BookingsInbox) -> None:
        super().__init__(console.window)
        self.console = console
        self.cache = console.cache
        self.writer = console.writer
        self.inbox = inbox
        self.dialog: DismissBookingDialog | None = None
        self._pending: InboxItem | None = None  # accepted, waiting for its new customer to be saved
        self._busy: set[str] = set()  # requests with a claim / release / dismiss on its way to the worker
        self.worker = DbWorker(self, "csr-inbox")
        self.focus_wanted = False
        self.actions = {kind: make(self) for kind, make in ACTIONS.items()}
        self.actions["web"] = KindActions(self.accept, self.claim, self.dismiss)
        inbox.acceptRequested.connect(lambda item: self._act(item, "accept"))
        inbox.claimRequested.connect(lambda item: self._act(item, "claim"))
        inbox.dismissRequested.connect(lambda item: self._act(item, "dismiss"))

    def _act(self, item: InboxItem, what: str) -> Any:
        actions = self.actions.get(item.kind)
        if actions is None:
            self._error(OTHER_KIND)
            return None
        return getattr(actions, what)(item)

    # -- reading ---------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the inbox on the worker; the list shows it when it comes back (a stale answer is dropped)."""
        self.worker.submit(
            self._read, self.console._now_fn(), done=self._show, failed=self._read_failed, key="inbox"
        )

    def refresh_rows(self, ids: list[str]) -> None:
        """Re-read only these web requests (a pull changed them) and merge them into the list; no ids: the
        pull did not say which, read them all. Never dropped: each answer carries other rows."""
        if not ids:
            self.refresh()
            return
        self.worker.submit(self._read_rows, list(ids), done=self._merge, failed=self._read_failed)

    def _read(self, now: Any) -> list[InboxItem]:
        with self.cache.sessions() as session:
            return inbox_items(session, now)

    def _read_rows(self, ids: list[str]) -> tuple[list[InboxItem], list[str]]:
        with self.cache.sessions() as session:
            return web_requests_by_id(session, ids), [f"web:{i}" for i in ids]

    def _read_failed(self, exc: BaseException) -> None:
        self._error(describe_failure(self.cache.path, exc, what="bookings inbox read", unexpected=UNEXPECTED))

    def shutdown(self) -> None:
        self.worker.shutdown()

    def _prepare(self) -> None:
        self.inbox.model.now = self.console._now_fn
        self.inbox.model.time_zone = str(self.console.booking.time_zone())
        user = self.console.sync.user or {}
        self.inbox.model.me = str(user.get("id") or "")

    def _show(self, items: list[InboxItem]) -> None:
        self._prepare()
        self.inbox.set_rows(items)
        if self.focus_wanted:  # Ctrl+Shift+I opened the tab before its rows came
            self.focus_wanted = False
            if self.console.window.work_tabs.currentWidget() is self.inbox:
                self.inbox.focus_list()

    def _merge(self, answer: tuple[list[InboxItem], list[str]]) -> None:
        fresh, asked = answer
        self._prepare()
        self.inbox.set_rows(merge_items(self.inbox.model.rows(), fresh, asked))

    def _me(self) -> dict[str, Any]:
        user = self.console.sync.user or {}
        return {"claimed_by_id": user["id"]} if user.get("id") else {}

    # -- writing ---------------------------------------------------------------------------------------------
    def _write(
        self,
        name: str,
        args: dict[str, Any],
        done: str,
        then: Callable[[bool, str], None] | None = None,
    ) -> None:
        """Write one intent on the worker (never dropped). ``then(ok, sentence)`` runs on the UI thread
        after it is saved or refused; a refusal is kept in Sync problems as well as said here."""
        request_id = str(args.get("online_booking_id", ""))
        if request_id in self._busy:
            self.inbox.show_message("Still saving the last change to this request…")
            return
        self._busy.add(request_id)

        def saved(_result: Any) -> None:
            self._busy.discard(request_id)
            self.outboxChanged.emit()
            self.refresh_rows([request_id] if request_id else [])
            if done:
                self.inbox.show_message(done)
            self.wrote.emit(name)
            if then is not None:
                then(True, done)

        def failed(exc: BaseException) -> None:
            self._busy.discard(request_id)
            if isinstance(exc, ValidationFailed):
                sentence = " ".join(exc.errors.values()) or "The change was refused."
                self._error(sentence)
                self._keep_refusal(name, args, dict(exc.errors) or {"request": sentence})
                self.refresh_rows([request_id] if request_id else [])  # it shows who has it now
            else:
                log.error("inbox write failed", exc_info=exc)
                sentence = describe_failure(
                    self.cache.path, exc, what="bookings inbox write", unexpected=UNEXPECTED
                )
                self._error(sentence)
            if then is not None:
                then(False, sentence)

        self.worker.submit(self.writer.execute, name, args, done=saved, failed=failed)

    def _keep_refusal(self, name: str, args: dict[str, Any], errors: dict[str, str]) -> None:
        """Stored on the worker, then listed in Sync problems (which opens, like for the server's refusals)."""
        self.worker.submit(
            record_local_refusal,
            self.cache,
            name,
            args,
            errors,
            done=lambda outcome: self.console.sync.show_outcomes([outcome]),
            failed=lambda exc: log.error("a refusal could not be kept", exc_info=exc),
        )

    def claim(self, item: InboxItem) -> None:
        """Space: work on the request (others see it claimed), or let it go when it is mine."""
        mine = bool(item.claimed_by_id) and item.claimed_by_id == self.inbox.model.me
        name = "release_online_booking" if mine else "claim_online_booking"
        done = "Let go — another CSR may take it." if mine else "Claimed — the others see you're on it."
        self._write(name, {"online_booking_id": item.item_id, **self._me()}, done)

    def dismiss(self, item: InboxItem) -> DismissBookingDialog:
        """Delete: ask the reason (and whether to make a lead), then write ``dismiss_online_booking``."""
        dialog = DismissBookingDialog(item, self.console.window)
        self.dialog = dialog

        def submitted(values: dict[str, Any]) -> None:
            lead = " — a lead was made to follow up." if values["make_lead"] else "."
            args = {"online_booking_id": item.item_id, **values, **self._me()}

            def then(ok: bool, sentence: str) -> None:
                if not isValid(dialog):
                    return
                if ok:
                    dialog.finish()
                    if values["make_lead"]:
                        self.console.leads.refresh()
                else:
                    dialog.show_error(sentence)

            self._write("dismiss_online_booking", args, "Dismissed" + lead, then)

        dialog.submitted.connect(submitted)
        dialog.finished.connect(lambda _result: self._closed(dialog))
        dialog.open()  # never exec(): the event loop keeps running
        return dialog

    def _closed(self, dialog: DismissBookingDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()
        self.inbox.focus_list()

    def accept(self, item: InboxItem) -> None:
        """Enter: claim the request (on the worker), then the booking form with its customer and choices."""
        if item.customer_match == "do_not_service":
            self._error("This is a Do Not Service customer: dismiss the request instead.")
            return
        if item.claimed_by_id and item.claimed_by_id == self.inbox.model.me:
            self._accepted(item)
            return

        def then(ok: bool, _sentence: str) -> None:
            if ok:
                self._accepted(item)

        self._write("claim_online_booking", {"online_booking_id": item.item_id, **self._me()}, "", then)

    def _accepted(self, item: InboxItem) -> None:
        if not item.customer_id:
            self._pending = item
            dialog = self.console.customers.new_customer(
                prefill_phone=item.contact_phone, prefill_name=item.contact_name
            )
            address = item.detail.get("address") or {}
            for key in ("street", "unit", "city", "state", "zip"):
                widget = dialog.fields.get(key)
                if widget is not None and hasattr(widget, "setText"):
                    widget.setText(str(address.get(key, "")))
            if item.contact_email and hasattr(dialog.fields.get("email"), "setText"):
                dialog.fields["email"].setText(item.contact_email)
            self.inbox.show_message("Save the new customer: the booking form opens with the request.")
            return
        self._book(item, item.customer_id)

    def customer_saved(self, customer_id: str) -> None:
        """The new customer of an accepted request was saved: go on to the booking form."""
        item, self._pending = self._pending, None
        if item is not None:
            self._book(item, customer_id)

    def _book(self, item: InboxItem, customer_id: str) -> None:
        """Open the customer (their worker) and read the prefill (this worker), then the booking form. A
        newer accept makes an older one's prefill stale."""
        console = self.console
        got: dict[str, Any] = {}

        def both() -> None:
            if "record" in got and "prefill" in got:
                console.window.work_tabs.setCurrentIndex(0)
                console.drafts.ensure_active()
                console.booking.accept_online(got["record"], got["prefill"])

        def shown(ok: bool) -> None:
            if ok:
                got["record"] = console.window.customer_panel.record()
                both()

        def prefilled(prefill: dict[str, Any]) -> None:
            got["prefill"] = prefill
            both()

        self.worker.submit(
            self._prefill,
            item,
            customer_id,
            done=prefilled,
            failed=lambda exc: self._error(
                describe_failure(self.cache.path, exc, what="booking form prefill", unexpected=UNEXPECTED)
            ),
            key="prefill",
        )
        console.customers.open_customer(customer_id, then=shown)

    def _prefill(self, item: InboxItem, customer_id: str) -> dict[str, Any]:
        with self.cache.sessions() as session:
            settings = load_web_settings(session)
            names = [n for n in (item.campaign, settings.campaign) if n]
            campaign_id = None
            for name in names:
                campaign_id = session.scalar(
                    select(Campaign.id).where(Campaign.name == name, Campaign.active)
                )
                if campaign_id:
                    break
            address = item.detail.get("address") or {}
            locations = list(session.scalars(select(Location).where(Location.customer_id == customer_id)))
            location = next(
                (
                    loc
                    for loc in locations
                    if loc.zip == address.get("zip")
                    and loc.street.casefold() == str(address.get("street", "")).casefold()
                ),
                locations[0] if locations else None,
            )
        return {
            "online_booking_id": item.item_id,
            "business_unit_id": item.business_unit_id,
            "job_type_id": item.job_type_id,
            "campaign_id": campaign_id,
            "location_id": location.id if location else None,
            "summary": item.summary,
            "chosen": {"day": item.window_day, "window_id": item.arrival_window_id}
            if item.window_day
            else None,
        }

    def _error(self, text: str) -> None:
        self.inbox.show_message(text, "error")
        self.errorOccurred.emit(text)


def install(console: Any) -> InboxController:
    """The Bookings inbox tab beside Leads, wired to the sync (live) and the booking form."""
    window = console.window
    inbox = BookingsInbox(window)
    index = window.work_tabs.indexOf(window.leads_list)
    window.work_tabs.insertTab(index + 1, inbox, TAB_TEXT)
    window.bookings_inbox = inbox
    controller = InboxController(console, inbox)
    console.sync.bookingRowsChanged.connect(controller.refresh_rows)
    console.sync.signedIn.connect(lambda _user: controller.refresh())
    controller.outboxChanged.connect(console.refresh_outbox)
    controller.errorOccurred.connect(lambda text: window.statusBar().showMessage(text, 10_000))
    console.customers.customerSaved.connect(controller.customer_saved)
    console.booking.jobBooked.connect(lambda _c, _n: controller.refresh())

    def shown(index: int) -> None:
        if window.work_tabs.widget(index) is inbox:
            controller.focus_wanted = True
            controller.refresh()
            # Ctrl+Shift+I: the keys act on the list at once (after the tab bar has placed the focus itself).
            console._later(0, inbox.focus_list)

    controller.tab_shown = shown  # kept with the controller
    opener = QShortcut(QKeySequence(SHORTCUT), window, context=Qt.ShortcutContext.WindowShortcut)
    opener.setObjectName("openBookingsInbox")
    opener.activated.connect(lambda: window.work_tabs.setCurrentWidget(inbox))
    window.work_tabs.currentChanged.connect(shown)
    console._later(0, controller.refresh)  # after the window is up
    return controller
