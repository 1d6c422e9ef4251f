"""The console's side of sync: sign-in, the sync client on the qasync loop, the status bar, what the
server refused or flagged, conflicts, the initial copy's progress bar, and refreshing what the CSR
sees when another CSR's change arrives.

The sync client (sync/client.py) is Qt-free asyncio; under qasync its callbacks run on the UI thread
between awaits, and its database work runs in a worker thread (ARCHITECTURE.md, UI thread discipline).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QApplication, QProgressBar
from sqlalchemy import select

from models.base import utcnow
from models.conflicts import Conflict
from models.db import Cache
from models.jobs import Job
from models.journal import oldest_pending
from models.writer import LocalWriter, client_id
from sync.client import (
    ClaimFailed,
    DialFailed,
    InitialProgress,
    LoginFailed,
    Outcome,
    RequestFailed,
    SyncClient,
    SyncStatus,
    acknowledge,
    login,
    unacknowledged,
)
from widgets.login_dialog import LoginDialog
from widgets.sync_problems import SyncProblemsDialog, notification_text

from .db_worker import DbWorker
from .failures import describe_failure

log = logging.getLogger("csr.console.sync")

FIELD_LABELS = {
    "name": "Name",
    "type": "Type",
    "street": "Street",
    "unit": "Unit",
    "city": "City",
    "state": "State",
    "zip": "ZIP",
    "country": "Country",
    "do_not_service": "Do Not Service",
    "do_not_service_reason": "Do Not Service reason",
    "do_not_mail": "Do not mail",
    "access_notes": "Access notes",
    "kind": "Kind",
    "value": "Number or address",
    "memo": "Memo",
    "notifications": "Notifications",
    "do_not_text": "Do not text",
}
ENTITY_LABELS = {"customers": "Customer", "locations": "Location", "contact_methods": "Contact"}
SETUP_TABLES = {
    "business_units",
    "business_unit_groups",
    "job_types",
    "campaigns",
    "arrival_windows",
    "technicians",
    "capacity_settings",
    "business_hours",
    "company_settings",
    "services",
    "tag_types",
    "booking_preferences",
    "job_type_business_units",
    "arrival_window_business_units",
    "campaign_categories",
    "call_reasons",
    "tracking_numbers",
    "memberships",
}
INTENT_LABELS = {
    "create_customer": "New customer",
    "update_customer": "Customer change",
    "set_customer_tags": "Customer tags",
    "add_location": "New location",
    "update_location": "Location change",
    "add_contact": "New contact",
    "update_contact": "Contact change",
    "remove_contact": "Contact removal",
    "add_note": "Note",
    "book_job": "Booking",
    "reschedule_job": "Reschedule",
    "cancel_job": "Cancellation",
    "hold_job": "Hold",
    "release_job": "Hold release",
    "create_lead": "New lead",
    "resolve_conflict": "Clash settled",
    "setup_save": "Setup change",  # issue 19: the setup window (models/setup_edit.py)
    "setup_retire": "Setup retire",
    "setup_delete": "Setup deletion",
    "claim_online_booking": "Claim of a web request",  # the Bookings inbox (console/inbox_controller.py)
    "release_online_booking": "Letting a web request go",
    "dismiss_online_booking": "Dismissal of a web request",
}


class SyncController(QObject):
    customersChanged = Signal(list)  # customer ids another CSR (or the server) changed
    setupChanged = Signal()
    leadsChanged = Signal()
    bookingsChanged = Signal()  # pulled Bookings inbox requests (online_bookings)
    workOrdersChanged = Signal()  # pulled ServiceChannel work orders (the inbox's other kind)
    bookingRowsChanged = Signal(list)  # their ids ([]: not known — read them all)
    signedIn = Signal(dict)  # the user
    seatChanged = Signal(object)  # the user's SIP seat (dict) or None: at each welcome, live from an admin
    openJobRequested = Signal(str)  # customer id of a flagged/refused booking
    callsArrived = Signal(list, str, bool)  # calls from the server, who had one before a takeover, full list
    onlineChanged = Signal(bool)
    floorMessage = Signal(dict)  # floor_snapshot / floor_delta / floor_kpis (supervisors)
    callsChanged = Signal()  # pulled calls, call reasons or users: what the call review lists
    messagesChanged = Signal()  # pulled notifications or customers' texts (docs/notifications.md)
    availabilityChanged = Signal()  # pulled time off, holidays, capacity adjustments (issue 19)

    def __init__(self, window: Any, cache: Cache, writer: LocalWriter, settings: QSettings) -> None:
        super().__init__(window)
        self.window = window
        self.cache = cache
        self.writer = writer
        self.settings = settings
        self.client: SyncClient | None = None
        self.user: dict[str, Any] | None = None
        self.token: str | None = None
        self.url = ""
        self._task: asyncio.Task | None = None
        self._login_task: asyncio.Task | None = None
        self._dialog: LoginDialog | None = None
        self._state = "signed_out"
        self._problem_customers: dict[str, str] = {}
        self._swapped: dict[str, bool] = {}
        self.status_worker = DbWorker(self, "csr-status")  # the outbox count and age, off the UI thread
        self.problems = SyncProblemsDialog(window)
        self.problems.openRequested.connect(self._open_problem)
        self.problems.dismissed.connect(self._acknowledge)
        self.progress = QProgressBar(window)
        self.progress.setObjectName("initialSyncProgress")
        self.progress.setAccessibleName("Copying the company's records to this PC")
        self.progress.setFormat("Copying records… %p%")
        self.progress.setMaximumWidth(260)
        self.progress.hide()
        window.statusBar().addPermanentWidget(self.progress)
        window.sync_status.syncNowRequested.connect(self.sync_now)
        window.customer_panel.conflicts.resolveRequested.connect(self.resolve_conflict)
        self._last_status = SyncStatus()
        self._online = False
        self._expired = False  # the server ended the session: the CSR must sign in again
        self._client: str = ""  # this PC's client id, read on the status worker (the sign-in sends it)
        self.refresh_status()
        self.status_worker.submit(
            _read_client_id, cache, done=self._keep_client_id, failed=lambda exc: None
        )  # read ahead: a sign-in that comes first asks again (_client_id) and says a failure there
        # Refusals and flags not yet acknowledged are listed again (a restart, a crash, a sign-out).
        self.status_worker.submit(
            _read_unacknowledged,
            cache,
            done=lambda answer: [self._list_problem(o, answer[1]) for o in answer[0]],
            failed=lambda exc: log.error("the unacknowledged sync problems could not be read", exc_info=exc),
        )

    # -- signing in ----------------------------------------------------------------------------------------
    def remembered(self) -> tuple[str, str]:
        return str(self.settings.value("sync/server", "") or ""), str(
            self.settings.value("sync/user", "") or ""
        )

    def open_sign_in(self) -> LoginDialog:
        """The sign-in dialog (non-modal ``open()``): server and user remembered, never the password."""
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.raise_()
            self._dialog.activateWindow()
            return self._dialog
        server, user = self.remembered()
        dialog = LoginDialog(server or "ws://127.0.0.1:8765", user, self.window)
        dialog.signInRequested.connect(lambda s, u, p: self._start_login(dialog, s, u, p))
        dialog.finished.connect(lambda _r: setattr(self, "_dialog", None))
        self._dialog = dialog
        dialog.open()
        return dialog

    def _start_login(self, dialog: LoginDialog, server: str, user: str, password: str) -> None:
        self._login_task = asyncio.ensure_future(
            self._login(dialog, server, user, password, dialog.new_password())
        )

    async def _login(
        self, dialog: LoginDialog | None, server: str, user: str, password: str, new_password: str = ""
    ) -> bool:
        try:
            client = await self._client_id()
            token, who = await login(server, client, user, password, new_password=new_password)
        except LoginFailed as exc:
            if dialog is not None and exc.code == "password_change_required":
                dialog.ask_new_password(str(exc))  # an admin reset it: the user chooses a new one
            elif dialog is not None:
                dialog.show_error(str(exc))
            else:
                self.window.statusBar().showMessage(f"Sign-in failed: {exc}", 15_000)
            return False
        self.settings.setValue("sync/server", server)
        self.settings.setValue("sync/user", user)
        if dialog is not None:
            dialog.accept()
        self.start(server, token, who)
        return True

    def sign_in_with(self, server: str, user: str, password: str) -> asyncio.Future:
        """Sign in without the dialog (the demo's CSR, scripted tests)."""
        self._login_task = asyncio.ensure_future(self._login(None, server, user, password))
        return self._login_task

    def _keep_client_id(self, value: str) -> None:
        self._client = value

    async def _client_id(self) -> str:
        """This PC's client id: read once on the status worker (it may be created there, a write), awaited
        off the UI thread. A cache that can't be read fails the sign-in with a sentence."""
        if not self._client:
            future = self.status_worker.submit(
                _read_client_id, self.cache, done=self._keep_client_id, failed=lambda exc: None
            )
            try:
                self._client = await asyncio.wrap_future(future)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence
                raise LoginFailed(
                    describe_failure(self.cache.path, exc, what="reading this PC's sync id")
                ) from exc
        return self._client

    # -- running ---------------------------------------------------------------------------------------------
    def start(self, url: str, token: str, user: dict[str, Any]) -> None:
        self.stop()
        self.url, self.token, self.user = url, token, user
        self.writer.actor = str(user.get("display_name") or user.get("username") or "")
        self.client = SyncClient(
            self.cache,
            url,
            token=lambda: self.token,
            on_status=self._on_status,
            on_pulled=self._on_pulled,
            on_outcomes=self._on_outcomes,
            on_initial=self._on_initial,
            on_changes=self._on_changes,
            on_calls=lambda calls, taken_from, full: self.callsArrived.emit(calls, taken_from or "", full),
            on_floor=self.floorMessage.emit,
            on_seat=self._on_seat,
            ssl=ssl.create_default_context() if url.startswith("wss://") else None,
        )
        self._task = asyncio.ensure_future(self.client.run())
        self.window.statusBar().showMessage(f"Signed in as {self.writer.actor}.", 8_000)
        self.signedIn.emit(user)

    def stop(self) -> None:
        if self.client is not None:
            client = self.client
            # A stopping client finishes its step on its own; it no longer reports to this window.
            client.on_status = client.on_pulled = client.on_outcomes = lambda *_a: None
            client.on_initial = client.on_changes = client.on_calls = client.on_floor = lambda *_a: None
            client.on_seat = lambda *_a: None
            client.stop()
        self.client = None
        if self._online:
            self._online = False
            self.onlineChanged.emit(False)

    async def aclose(self) -> None:
        """Stop syncing and wait for the client to finish its current step (window closing)."""
        task, self._task = self._task, None
        self.stop()
        if task is not None:
            try:
                await asyncio.wait_for(task, 3)
            except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
                task.cancel()

    def sign_out(self) -> None:
        self.stop()
        self.user, self.token = None, None
        self._state = "signed_out"
        self.refresh_status()

    def sync_now(self) -> None:
        if self.client is None:
            self.open_sign_in()
            return
        self.client.wake()

    def local_write(self) -> None:
        """After every local write: the status bar's count, and push at once if online."""
        if self.client is not None:
            self.client.wake()
        self.refresh_status()

    # -- status ----------------------------------------------------------------------------------------------
    async def claim(self, call_id: str, takeover: bool = False) -> dict[str, Any]:
        """Ask the server for a call (ClaimFailed with a sentence when it can't be had)."""
        if self.client is None:
            raise ClaimFailed("Claiming needs the server — sign in first (Ctrl+Shift+L).")
        return await self.client.claim(call_id, takeover)

    async def dial(self, number: str, customer_id: str | None = None) -> str:
        """Ask the server to call this number from my softphone (DialFailed with a sentence when it can't)."""
        if self.client is None:
            raise DialFailed("Calling out needs the server — you're offline.")
        return await self.client.dial(number, customer_id)

    async def report_phone(self, state: str, message: str = "") -> None:
        """Tell the server how this console's softphone is (the floor board's Phone column)."""
        if self.client is None:
            raise RequestFailed("offline", "The floor board hears about the phone once you're online.")
        await self.client.requests.request(
            {"type": "phone_state", "state": state, "message": message[:300]}, "phone_state_set", 5.0
        )

    async def recording(self, call_id: str) -> tuple[bytes, str]:
        """A call's recording through the server, by role (sync/media.py); RequestFailed with a sentence."""
        if self.client is None:
            raise RequestFailed("offline", "Listening to a recording needs the server — you're offline.")
        return await self.client.recording(call_id)

    @property
    def online(self) -> bool:
        return self._online

    def _on_status(self, status: SyncStatus) -> None:
        self._last_status = status  # the client's own object: compare with what we said last
        online = self.client is not None and status.state in ("online", "syncing")
        if online != self._online:
            self._online = online
            self.onlineChanged.emit(online)
        self._state = {
            "connecting": "connecting",
            "syncing": "syncing",
            "online": "online",
            "upgrade_required": "upgrade_required",
            "stuck": "offline",
            "signed_out": "session_expired",
        }.get(status.state, "offline")
        if status.state == "signed_out" and not self._expired:
            # Not a network failure: the token expired or was revoked. Say so, keep the queue, and ask the
            # CSR to sign in again; the new session sends what waited.
            self._expired = True
            self.window.statusBar().showMessage(
                f"Signed out: {status.message} Sign in to send the changes waiting on this PC.", 60_000
            )
            self.open_sign_in()
            QApplication.alert(self.window)
        elif status.state in ("online", "syncing"):
            self._expired = False
        self.refresh_status()

    def refresh_status(self) -> None:
        """The pending count is read from the outbox table itself, every time (on a worker: the status bar
        shows it when it comes, the newest reading winning)."""
        self.status_worker.submit(
            _outbox_state,
            self.writer,
            self.cache,
            done=lambda state: self._show_status(*state),
            failed=lambda exc: log.warning("the outbox could not be read: %s", exc),
            key="status",
        )

    def _show_status(self, pending: int, oldest: float | None) -> None:
        status = self._last_status
        last = (time.time() - status.last_sync) if status.last_sync else None
        kept = ("upgrade_required", "session_expired")
        state = self._state if self.client is not None or self._state in kept else "signed_out"
        message = status.message or (
            f"Signed in as {self.writer.actor} to {self.url}"
            if self.user
            else "Not signed in: changes are kept on this PC until you sign in."
        )
        self.window.sync_status.show_status(state, pending, oldest, last, message)

    # -- what arrives ---------------------------------------------------------------------------------------
    def _on_seat(self, seat: dict[str, Any] | None) -> None:
        if self.user is not None:
            self.user["phone_seat"] = seat
        self.seatChanged.emit(seat)

    def _on_pulled(self, customer_ids: set[str]) -> None:
        self.customersChanged.emit(sorted(customer_ids))

    def _on_changes(self, tables: set[str]) -> None:
        if tables & SETUP_TABLES:
            self.setupChanged.emit()
        if tables & {"calls", "call_reasons", "users", "callbacks"}:
            self.callsChanged.emit()
        if "leads" in tables:
            self.leadsChanged.emit()
        if tables & {"notifications", "inbound_messages"}:
            self.messagesChanged.emit()
        if "online_bookings" in tables:
            self.bookingsChanged.emit()
            # The pull says which requests changed (sync/puller.py ChangedTables): the inbox re-reads those.
            self.bookingRowsChanged.emit(sorted(getattr(tables, "rows", {}).get("online_bookings", ())))
        if "work_orders" in tables:
            self.workOrdersChanged.emit()
        if "availability_entries" in tables:
            self.availabilityChanged.emit()
        if tables & {"jobs", "appointments", "conflicts"}:
            # Jobs and conflicts don't change a customer's search document, but the open record shows them.
            record = self.window.customer_panel.record()
            if record is not None:
                self.customersChanged.emit([record.id])

    def _on_initial(self, progress: InitialProgress) -> None:
        if progress.finished:
            self.progress.hide()
            self.window.statusBar().showMessage(
                f"This PC now has the company's {progress.rows_done:,} records.", 10_000
            )
            self.setupChanged.emit()
            return
        self.progress.setMaximum(max(1, progress.rows_total))
        self.progress.setValue(progress.rows_done)
        self.progress.show()

    def _list_problem(self, outcome: Outcome, jobs: dict[str, tuple[str, str]]) -> tuple[str, str, str]:
        title, detail, key, customer = self._describe(outcome, jobs)
        self.problems.add(outcome.kind, title, detail, "Open the customer" if customer else None, key)
        self._problem_customers[key] = customer
        return title, detail, customer

    def _acknowledge(self, key: str) -> None:
        """The CSR dismissed a problem: it leaves the list for good (stored, so not after a restart either)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            acknowledge(self.cache, key)
            return
        asyncio.ensure_future(asyncio.to_thread(acknowledge, self.cache, key))

    def show_outcomes(self, outcomes: list[Outcome]) -> None:
        """Refusals kept by this console itself (sync/local_refusal.py): told and listed like the server's."""
        self._on_outcomes(outcomes)

    def _on_outcomes(self, outcomes: list[Outcome]) -> None:
        """Receipts the server refused or flagged: the jobs they name are read on the status worker (to
        word them), then the CSR is told — in the order they came (the worker answers in order)."""
        if not outcomes:
            return

        def failed(exc: BaseException) -> None:
            log.error("the jobs of the sync problems could not be read", exc_info=exc)
            self._tell(outcomes, {})  # worded without the job numbers: told all the same

        self.status_worker.submit(
            _jobs_of, self.cache, outcomes, done=lambda jobs: self._tell(outcomes, jobs), failed=failed
        )

    def _tell(self, outcomes: list[Outcome], jobs: dict[str, tuple[str, str]]) -> None:
        for outcome in outcomes:
            title, detail, customer = self._list_problem(outcome, jobs)
            self.window.statusBar().showMessage(notification_text(outcome.kind, title, detail), 30_000)
            if customer:
                self.customersChanged.emit([customer])
        if outcomes:
            # Told at once: the problems list opens (non-modal) and the taskbar flashes.
            self.problems.show()
            self.problems.raise_()
            QApplication.alert(self.window)

    def _describe(self, outcome: Outcome, jobs: dict[str, tuple[str, str]]) -> tuple[str, str, str, str]:
        """(title, detail, key, customer) of a problem; ``jobs``: job id → (number, customer id), read on
        the worker."""
        receipt = outcome.receipt
        key = str(receipt.get("mutation_id", ""))
        customer = _customer_of(outcome.args)
        label = INTENT_LABELS.get(outcome.name, outcome.name.replace("_", " ").capitalize())
        if outcome.kind == "renumbered":
            result = receipt.get("result") or {}
            number = ""
            if result.get("id") in jobs:
                number, customer = jobs[result["id"]]
            old_number = str(
                ((outcome.args.get("job") or {}) if isinstance(outcome.args.get("job"), dict) else {}).get(
                    "number"
                )
                or ""
            )
            return (
                f"Job {old_number} is now job {number}" if number and old_number else "A job number changed",
                (result.get("warnings") or {}).get("number", ""),
                key,
                customer,
            )
        if outcome.kind == "flagged":
            job_id = (receipt.get("result") or {}).get("id", "")
            number = ""
            if job_id in jobs:
                number, customer = jobs[job_id]
            warning = (receipt.get("result") or {}).get("warnings", {}).get("window", "")
            return (
                f"Job {number or ''} needs rescheduling".replace("  ", " "),
                warning or "Its arrival window filled up before this PC could send it.",
                key,
                customer,
            )
        errors = receipt.get("errors") or {}
        why = "; ".join(str(v) for v in errors.values()) or "The server refused it."
        where = "" if receipt.get("local") else " on the server"  # refused by this console itself
        return f"{label} not saved{where}", why, key, customer

    def _open_problem(self, key: str) -> None:
        customer = self._problem_customers.get(key)
        if customer:
            self.openJobRequested.emit(customer)

    # -- conflicts ---------------------------------------------------------------------------------------------
    def conflicts_for(self, customer_id: str) -> list[dict[str, Any]]:
        """The open clashes of a customer, from this CSR's point of view ("Yours" is what I typed)."""
        me = self.writer.actor
        with self.cache.sessions() as session:
            rows = session.scalars(
                select(Conflict)
                .where(Conflict.customer_id == customer_id, Conflict.status == "open")
                .order_by(Conflict.created_at)
            ).all()
            out = []
            for c in rows:
                mine_is_me = not me or c.mine_by == me or c.theirs_by != me
                out.append(
                    {
                        "id": c.id,
                        "entity": c.entity,
                        "entity_label": self._entity_label(session, c),
                        "field": c.field,
                        "field_label": FIELD_LABELS.get(c.field, c.field),
                        "mine": _show(c.mine if mine_is_me else c.theirs),
                        "theirs": _show(c.theirs if mine_is_me else c.mine),
                        "theirs_by": (c.theirs_by if mine_is_me else c.mine_by) or "another CSR",
                        "theirs_at": c.created_at.strftime("%b %d %H:%M") if c.created_at else "",
                        "_swap": not mine_is_me,
                    }
                )
            return out

    @staticmethod
    def _entity_label(session: Any, c: Conflict) -> str:
        from models.customers import ContactMethod, Location

        if c.entity == "locations":
            loc = session.get(Location, c.entity_id)
            return f"Location: {loc.street}" if loc else "Location"
        if c.entity == "contact_methods":
            cm = session.get(ContactMethod, c.entity_id)
            return f"Contact: {cm.value}" if cm else "Contact"
        return "Customer"

    def show_conflicts(self, customer_id: str | None) -> None:
        """The customer's open clashes, read on the status worker and shown when they come."""
        if not customer_id:
            self.status_worker.forget("conflicts")
            self._set_conflicts([])
            return
        self.status_worker.submit(
            self.conflicts_for,
            customer_id,
            done=self._set_conflicts,
            failed=lambda exc: log.warning("the clashes could not be read: %s", exc),
            key="conflicts",
        )

    def _set_conflicts(self, items: list[dict[str, Any]]) -> None:
        self._swapped = {i["id"]: i.pop("_swap") for i in items}
        self.window.customer_panel.conflicts.set_conflicts(items)

    def resolve_conflict(self, conflict_id: str, choice: str) -> None:
        """Keep mine / keep theirs, as this CSR sees it; the stored roles may be the other way round."""
        if self._swapped.get(conflict_id):
            choice = "theirs" if choice == "mine" else "mine"
        from models.validation import ValidationFailed

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ValidationFailed):
                text = "; ".join(exc.errors.values())
            else:
                log.error("settling a clash failed", exc_info=exc)
                text = describe_failure(self.cache.path, exc, what="settling a clash")
            self.window.statusBar().showMessage(text, 10_000)

        def done(_result: Any) -> None:
            self.local_write()
            record = self.window.customer_panel.record()
            if record is not None:
                self.customersChanged.emit([record.id])

        self.status_worker.submit(
            self.writer.execute,
            "resolve_conflict",
            {"conflict_id": conflict_id, "choice": choice},
            done=done,
            failed=failed,
        )


def _customer_of(args: dict[str, Any]) -> str:
    for key in ("customer_id",):
        if isinstance(args.get(key), str):
            return args[key]
    for section in ("job", "customer", "location", "contact", "note", "lead"):
        value = args.get(section)
        if isinstance(value, dict):
            if isinstance(value.get("customer_id"), str):
                return value["customer_id"]
            if section == "customer" and isinstance(value.get("id"), str):
                return value["id"]
    return ""


def _show(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def _outbox_state(writer: LocalWriter, cache: Cache) -> tuple[int, float | None]:
    """On the worker: (changes waiting, age in seconds of the oldest one)."""
    pending = writer.pending_count()
    if not pending:
        return 0, None
    with cache.sessions() as session:
        oldest = oldest_pending(session)
    return pending, None if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())


def _read_client_id(cache: Cache) -> str:
    """On the status worker: this PC's client id (made and stored on first use)."""
    with cache.sessions.begin() as session:
        return client_id(session)


def _jobs_of(cache: Cache, outcomes: list[Outcome]) -> dict[str, tuple[str, str]]:
    """On the status worker: job id → (number, customer id) of the jobs these receipts name."""
    ids = {
        str((o.receipt.get("result") or {}).get("id") or "")
        for o in outcomes
        if o.kind in ("renumbered", "flagged")
    } - {""}
    if not ids:
        return {}
    with cache.sessions() as session:
        return {
            job_id: (number, customer_id)
            for job_id, number, customer_id in session.execute(
                select(Job.id, Job.number, Job.customer_id).where(Job.id.in_(ids))
            )
        }


def _read_unacknowledged(cache: Cache) -> tuple[list[Outcome], dict[str, tuple[str, str]]]:
    """On the status worker: the problems not yet acknowledged (listed again at start) and their jobs."""
    outcomes = unacknowledged(cache)
    return outcomes, _jobs_of(cache, outcomes)
