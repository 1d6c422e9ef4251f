"""Wiring of the Bookings inbox (widgets/bookings_inbox.py) to the cache, the writer and the booking form.

The list reads ``models.inbox.inbox_items`` (the open requests and the latest settled ones) on a worker
thread (console/db_worker.py; a newer read makes an older one's answer stale) whenever the sync pulls
``online_bookings`` rows, so every console shows every request, and who is working on it, live.

Accept claims the request, then opens its customer (an existing match) or the new-customer form filled
from the request, and hands the booking form the request's job type, business unit, campaign (the page's
UTM campaign when the company has such a campaign, else the scheduler's) and window (kept when still
free); booking the job (``book_job`` with ``online_booking_id``) accepts the request on the server.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from sqlalchemy import select

from models.customers import Location
from models.inbox import InboxItem, inbox_items
from models.setup import Campaign
from models.validation import ValidationFailed
from models.web_booking import load_web_settings
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

    def __init__(self, console: Any, inbox: BookingsInbox) -> None:
        super().__init__(console.window)
        self.console = console
        self.cache = console.cache
        self.writer = console.writer
        self.inbox = inbox
        self.dialog: DismissBookingDialog | None = None
        self._pending: InboxItem | None = None  # accepted, waiting for its new customer to be saved
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

    def _read(self, now: Any) -> list[InboxItem]:
        with self.cache.sessions() as session:
            return inbox_items(session, now)

    def _read_failed(self, exc: BaseException) -> None:
        self._error(describe_failure(self.cache.path, exc, what="bookings inbox read", unexpected=UNEXPECTED))

    def shutdown(self) -> None:
        self.worker.shutdown()

    def _show(self, items: list[InboxItem]) -> None:
        self.inbox.model.now = self.console._now_fn
        self.inbox.model.time_zone = str(self.console.booking.time_zone())
        user = self.console.sync.user or {}
        self.inbox.model.me = str(user.get("id") or "")
        self.inbox.set_rows(items)
        if self.focus_wanted:  # Ctrl+Shift+I opened the tab before its rows came
            self.focus_wanted = False
            if self.console.window.work_tabs.currentWidget() is self.inbox:
                self.inbox.focus_list()

    def _me(self) -> dict[str, Any]:
        user = self.console.sync.user or {}
        return {"claimed_by_id": user["id"]} if user.get("id") else {}

    # -- writing ---------------------------------------------------------------------------------------------
    def _write(self, name: str, args: dict[str, Any], done: str) -> bool:
        try:
            self.writer.execute(name, args)
        except ValidationFailed as exc:
            self._error(" ".join(exc.errors.values()))
            return False
        except Exception as exc:  # noqa: BLE001
            log.error("inbox write failed", exc_info=exc)
            self._error(
                describe_failure(self.cache.path, exc, what="bookings inbox write", unexpected=UNEXPECTED)
            )
            return False
        self.outboxChanged.emit()
        self.refresh()
        self.inbox.show_message(done)
        return True

    def claim(self, item: InboxItem) -> bool:
        """Space: work on the request (others see it claimed), or let it go when it is mine."""
        mine = bool(item.claimed_by_id) and item.claimed_by_id == self.inbox.model.me
        name = "release_online_booking" if mine else "claim_online_booking"
        done = "Let go — another CSR may take it." if mine else "Claimed — the others see you're on it."
        return self._write(name, {"online_booking_id": item.item_id, **self._me()}, done)

    def dismiss(self, item: InboxItem) -> DismissBookingDialog:
        """Delete: ask the reason (and whether to make a lead), then write ``dismiss_online_booking``."""
        dialog = DismissBookingDialog(item, self.console.window)
        self.dialog = dialog

        def submitted(values: dict[str, Any]) -> None:
            lead = " — a lead was made to follow up." if values["make_lead"] else "."
            args = {"online_booking_id": item.item_id, **values, **self._me()}
            if self._write("dismiss_online_booking", args, "Dismissed" + lead):
                dialog.finish()
                if values["make_lead"]:
                    self.console.leads.refresh()
            else:
                dialog.show_error(self.inbox.message_label.text())

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
        """Enter: claim the request, then the booking form with its customer and choices."""
        if item.customer_match == "do_not_service":
            self._error("This is a Do Not Service customer: dismiss the request instead.")
            return
        if not (item.claimed_by_id and item.claimed_by_id == self.inbox.model.me):
            if not self._write("claim_online_booking", {"online_booking_id": item.item_id, **self._me()}, ""):
                return
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
        console = self.console

        def shown(ok: bool) -> None:  # the record is read on the customer worker
            if not ok:
                return
            record = console.window.customer_panel.record()
            console.window.work_tabs.setCurrentIndex(0)
            console.drafts.ensure_active()
            console.booking.accept_online(record, self._prefill(item, customer_id))

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
    console.sync.bookingsChanged.connect(controller.refresh)
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
