"""The composition root (STYLE.md #3): every service is built once here and wired to the window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer

from models.base import utcnow
from models.db import Cache, open_cache
from models.writer import LocalWriter
from models.zip_table import preload as preload_zip_table
from sync.snapshot import restore_indexes

from .booking_controller import BookingController, read_start_setup
from .calls_controller import CallsController
from .customer_controller import CustomerController
from .db_worker import DbWorker
from .drafts_controller import DraftsController
from .floor_controller import FloorController
from .jobs_controller import JobsController
from .leads_controller import LeadsController
from .main_window import MainWindow, on_a_call
from .messages_controller import MessagesController
from .phone_controller import PhoneController
from .phone_presence import PhonePresence
from .search_service import SearchService
from .sound_devices import SoundDevicesController
from .sync_controller import SyncController


@dataclass
class Console:
    cache: Cache
    writer: LocalWriter
    search: SearchService
    window: MainWindow
    customers: CustomerController
    booking: BookingController
    drafts: DraftsController
    leads: LeadsController
    jobs: JobsController
    sync: SyncController
    calls: CallsController
    floor: FloorController
    review: object = None  # console/review_controller.ReviewController for supervisors and up
    messages: MessagesController | None = None  # the Messages tab and the texts inbox (docs/notifications.md)
    callbacks: object = None  # console/callbacks_controller.CallbacksController: the callback queue tab
    phone: PhoneController | None = None  # the softphone (its process starts once the CSR has a seat)
    phone_presence: PhonePresence | None = None
    # Sound devices… (Ctrl+Alt+D): this PC's microphone, headset and ring device for the seat
    sound_devices: SoundDevicesController | None = None
    inbox: object = None  # console/inbox_controller.InboxController: the Bookings inbox tab
    work_orders: object = None  # console/work_orders_controller: ServiceChannel work orders in the inbox
    merge: object = None  # console/merge_controller.MergeController for managers and admins (issue 19)
    setup: object = (
        None  # console/setup_controller.SetupController: everyone, editable for managers (issue 19)
    )
    availability: object = None  # console/availability_controller.py for managers and admins (issue 19)
    users: object = None  # console/users_controller.py for admins (issue 19)
    _now_fn: Callable[[], datetime] = field(repr=False, default=utcnow)

    @classmethod
    def build(
        cls,
        cache_path: Path,
        settings: QSettings,
        *,
        region: str = "US",
        actor: str = "",
        title_suffix: str = "",
        now_fn: Callable[[], datetime] = utcnow,
    ) -> Console:
        cache = open_cache(cache_path)
        restore_indexes(cache)  # an initial copy cut short by a crash left them parked
        cache.start_checkpointer()
        writer = LocalWriter(cache.sessions, actor=actor, clock=now_fn)
        try:
            setup = read_start_setup(
                cache
            )  # before the window exists, like opening the cache (docs/ui-thread.md)
        except Exception:
            cache.close()
            raise
        search = SearchService(cache.raw_connection, region=region)
        window = MainWindow(settings, title_suffix=title_suffix)
        # Rows past the first screenful are read on the search worker as a view scrolls to them.
        window.lookup.model.set_loader(search.load_rows)
        customers = CustomerController(window, cache, writer, window.customer_panel)
        booking = BookingController(window, cache, writer, window.booking_form, now_fn=now_fn, setup=setup)
        drafts = DraftsController(
            window, cache, window.bubble_strip, window.booking_form, window.customer_panel, customers, booking
        )
        leads = LeadsController(
            window,
            cache,
            writer,
            window.leads_list,
            today_fn=lambda: now_fn().astimezone(booking.time_zone()).date(),
        )
        jobs = JobsController(window, cache, writer, window.customer_panel, booking, now_fn=now_fn)
        sync = SyncController(window, cache, writer, settings)
        calls = CallsController(
            window,
            cache,
            writer,
            sync,
            customers,
            booking,
            today_fn=lambda: now_fn().astimezone(booking.time_zone()).date(),
        )
        # The floor's clocks tick in real time: the server stamps calls and states with its real clock.
        floor = FloorController(
            window,
            sync,
            settings,
            today_fn=lambda: now_fn().astimezone(booking.time_zone()).date(),
            clock=utcnow,
        )

        console = cls(
            cache,
            writer,
            search,
            window,
            customers,
            booking,
            drafts,
            leads,
            jobs,
            sync,
            calls,
            floor,
            _now_fn=now_fn,
        )
        console.phone = PhoneController(window, calls)
        # The floor board's Phone column: this console reports its softphone (console/phone_presence.py).
        console.phone_presence = PhonePresence(window, console.phone, sync)
        console.sound_devices = SoundDevicesController(window, console.phone, sync)
        calls.start_booking = console.new_job
        calls.activate_draft, calls.forget_draft = drafts.activate_call, drafts.forget
        window.call_in_progress = lambda: on_a_call(calls.calls.values(), calls.me)  # Ctrl+Q asks first
        window.changes_waiting = writer.pending_count
        console.messages = MessagesController(window, cache, writer, window.customer_panel)
        console.callbacks = _callbacks(console)
        console._connect_signals()
        from .inbox_controller import install as install_inbox

        console.inbox = install_inbox(console)
        from .work_orders_controller import install_in_inbox

        console.work_orders = install_in_inbox(console, console.inbox)
        # What the first lookup doesn't need waits until the window is up (start-up budget 1.5 s).
        console._later(0, console._finish_start)
        console.refresh_outbox()
        search.start_prewarm()
        return console

    def _finish_start(self) -> None:
        if self.messages is not None:
            self.messages.refresh_inbox()
        self.drafts.restore_all()
        self.leads.refresh()
        # The postal list of the address checks (≈30 ms of plain Python on a thread of its own, which
        # hands the GIL back every few ms): ready before the first customer is saved.
        preload_zip_table()

    def _later(self, ms: int, fn: Callable[[], object]) -> None:
        """Run ``fn`` once after ``ms``, on a timer the window owns: a console closed before then never runs
        it (a bare QTimer.singleShot would outlive the window and fire into whatever comes next)."""
        timer = QTimer(self.window)
        timer.setSingleShot(True)
        timer.timeout.connect(fn)
        timer.timeout.connect(timer.deleteLater)
        timer.start(ms)

    def _connect_signals(self) -> None:
        w = self.window
        w.lookup.queryChanged.connect(self._on_query)
        self.search.resultsReady.connect(w.lookup.show_results)
        self.search.searchFailed.connect(w.lookup.show_error)
        self.search.rowsReloaded.connect(w.lookup.model.refresh_rows)
        self.search.rowsLoaded.connect(w.lookup.model.fill_rows)
        w.lookup.customerActivated.connect(self.customers.open_customer)
        w.newCustomerRequested.connect(self._new_customer)
        self.customers.outboxChanged.connect(self.refresh_outbox)
        self.customers.customerSaved.connect(self._on_customer_saved)
        self.customers.errorOccurred.connect(lambda text: w.statusBar().showMessage(text, 10_000))
        w.newJobRequested.connect(self.new_job)
        w.newBubbleRequested.connect(self.drafts.new_bubble)
        w.closeBubbleRequested.connect(self.drafts.close)
        w.stepBubbleRequested.connect(self.drafts.step)
        self.booking.outboxChanged.connect(self.refresh_outbox)
        self.booking.jobBooked.connect(self._on_job_booked)
        self.booking.errorOccurred.connect(lambda text: w.statusBar().showMessage(text, 10_000))
        self.customers.customerOpened.connect(self._on_customer_opened)
        w.newLeadRequested.connect(self.new_lead)
        self.jobs.jobChanged.connect(self.customers.open_customer)
        self.jobs.outboxChanged.connect(self.refresh_outbox)
        self.jobs.errorOccurred.connect(lambda text: w.statusBar().showMessage(text, 10_000))
        self.leads.outboxChanged.connect(self.refresh_outbox)
        self.leads.errorOccurred.connect(lambda text: w.statusBar().showMessage(text, 10_000))
        self.leads.openCustomer.connect(self.customers.open_customer)
        self.leads.convertLead.connect(self._convert_lead)
        w.work_tabs.currentChanged.connect(
            lambda i: w.work_tabs.widget(i) is w.leads_list and self.leads.refresh()
        )
        w.sign_in_action.triggered.connect(self.sync.open_sign_in)
        w.sync_now_action.triggered.connect(self.sync.sync_now)
        w.sync_problems_action.triggered.connect(self.sync.problems.show)
        w.sign_out_action.triggered.connect(self.sync.sign_out)
        self.sync.customersChanged.connect(self._on_remote_customers)
        if self.messages is not None:
            self.messages.outboxChanged.connect(self.refresh_outbox)
            self.messages.errorOccurred.connect(lambda text: w.statusBar().showMessage(text, 10_000))
            self.messages.openCustomer.connect(self.customers.open_customer)
            self.sync.messagesChanged.connect(self.messages.refresh)
            self.sync.customersChanged.connect(lambda _ids: self.messages.refresh_customer())
        self.sync.setupChanged.connect(self.booking.reload_setup)
        self.sync.leadsChanged.connect(self.leads.refresh)
        self.sync.openJobRequested.connect(self.customers.open_customer)
        self.calls.outboxChanged.connect(self.refresh_outbox)
        self.calls.outboxChanged.connect(self.leads.refresh)  # a lead reason made a lead
        self.calls.errorOccurred.connect(lambda text: w.statusBar().showMessage(text, 10_000))
        self.floor.statusMessage.connect(lambda text: w.statusBar().showMessage(text, 10_000))
        self.sync.signedIn.connect(self._signed_in)
        # The review's query reruns when calls (or their reasons, or users) arrive, not on every pulled
        # customer change (a busy floor pulls customer edits all day).
        self.sync.callsChanged.connect(lambda: self.review is not None and self.review.refresh())

    def _signed_in(self, user: dict) -> None:
        """Supervisors, managers and admins get the Call review tab (Ctrl+Shift+R); a CSR doesn't."""
        from .review_controller import install as install_review

        now_fn = self._now_fn
        review = install_review(
            self.window,
            self.cache,
            self.writer,
            today_fn=lambda: now_fn().astimezone(self.booking.time_zone()).date(),
            tz_fn=self.booking.time_zone,
            role=str(user.get("role", "")),
        )
        if review is not None and review is not self.review:
            review.play = self.calls.play_recording  # through the server, by role (console/recordings.py)
            review.outboxChanged.connect(self.refresh_outbox)
            review.errorOccurred.connect(lambda t: self.window.statusBar().showMessage(t, 10_000))
        self.review = review
        from .merge_controller import install as install_merge

        merge = install_merge(self.window, self.cache, self.writer, role=str(user.get("role", "")))
        if merge is not None and merge is not self.merge:
            merge.outboxChanged.connect(self.refresh_outbox)
            merge.errorOccurred.connect(lambda t: self.window.statusBar().showMessage(t, 10_000))
        self.merge = merge
        self._install_setup(str(user.get("role", "")))
        self._install_manager_windows(user)

    def _install_setup(self, role: str) -> None:
        from .setup_controller import install as install_setup

        setup = install_setup(self.window, self.cache, self.writer, role=role)
        if setup is not self.setup:
            setup.outboxChanged.connect(self.refresh_outbox)
            setup.errorOccurred.connect(lambda t: self.window.statusBar().showMessage(t, 10_000))
            self.sync.setupChanged.connect(setup.reload)
            setup.savedRecord.connect(lambda _id: self.booking.reload_setup())
        self.setup = setup

    def _install_manager_windows(self, user: dict) -> None:
        from .availability_controller import install as install_availability

        avail = install_availability(self.window, self.cache, self.writer, role=str(user.get("role", "")))
        if avail is not None and avail is not self.availability:
            avail.outboxChanged.connect(self.refresh_outbox)
            avail.errorOccurred.connect(lambda t: self.window.statusBar().showMessage(t, 10_000))
            self.sync.availabilityChanged.connect(avail.refresh_if_open)
        self.availability = avail
        from .users_controller import install as install_users

        users = install_users(self.window, self.cache, self.sync, role=str(user.get("role", "")))
        if users is not None and users is not self.users:
            users.errorOccurred.connect(lambda t: self.window.statusBar().showMessage(t, 10_000))
            self.sync.callsChanged.connect(users.refresh_if_open)  # pulled users too
        self.users = users

    def _on_query(self, text: str) -> None:
        if text.strip():
            self.search.search(text)

    def _new_customer(self) -> None:
        # Prefill from the search box: a phone typed there becomes the new customer's phone.
        from models.phone import looks_like_phone

        text = self.window.lookup.search.text().strip()
        if looks_like_phone(text):
            self.customers.new_customer(prefill_phone=text)
        else:
            self.customers.new_customer(prefill_name=text)

    def new_job(self) -> None:
        """Ctrl+J: the booking form for the open customer, cursor on Business unit."""
        self.window.work_tabs.setCurrentIndex(0)
        self.drafts.ensure_active()
        self.booking.start(self.window.customer_panel.record())

    def _on_remote_customers(self, customer_ids: list[str]) -> None:
        """Another CSR's change arrived: the open record and the visible result rows show it."""
        record = self.window.customer_panel.record()
        if record is not None and record.id in customer_ids:
            self.customers.open_customer(record.id)  # same customer: selections kept
        self.search.reload_rows(customer_ids[:200])

    def _on_customer_opened(self, customer_id: str) -> None:
        self.sync.show_conflicts(customer_id)
        # A form bound to this customer gets fresh flags (e.g. Do Not Service just set).
        if self.booking.form.customer_id() == customer_id:
            self.booking.form.bind(self.window.customer_panel.record())

    def new_lead(self) -> None:
        """A lead for the open customer, or from a name and phone when none is open."""
        record = self.window.customer_panel.record()
        if record is not None:
            self.leads.new_lead(
                customer_id=record.id, location_id=self.window.customer_panel.current_location_id()
            )
        else:
            self.leads.new_lead()

    def _convert_lead(self, lead: dict) -> None:
        """Book a job from a lead: its customer (or a new one from its name and phone), then the form."""
        if not lead.get("customer_id"):
            self.customers.new_customer(
                prefill_phone=lead.get("phone") or "", prefill_name=lead.get("name") or ""
            )
            self.window.statusBar().showMessage(
                "Create the customer for this lead, then convert it again.", 10_000
            )
            return

        def opened(ok: bool) -> None:
            if ok:
                self.window.work_tabs.setCurrentIndex(0)
                self.drafts.ensure_active()
                self.booking.convert_lead(self.window.customer_panel.record(), lead)

        self.customers.open_customer(lead["customer_id"], then=opened)

    def _on_job_booked(self, customer_id: str, number: str) -> None:
        record = self.window.customer_panel.record()
        name = record.name if record is not None and record.id == customer_id else "the customer"
        self.window.statusBar().showMessage(f"Job {number} booked for {name} — saved on this PC.", 15_000)
        self.customers.open_customer(customer_id)  # the new job shows in the history as soon as it is read
        self.leads.refresh()  # a converted lead leaves the open list

    def _on_customer_saved(self, customer_id: str) -> None:
        self.search.reload_rows([customer_id])
        text = self.window.lookup.search.text()
        if text.strip():
            self.search.search(text)

    def refresh_outbox(self) -> None:
        """After every write: the status bar shows the outbox table's real count, and the sync client
        pushes at once when online."""
        self.sync.local_write()

    async def aclose(self) -> None:
        """Before ``shutdown``, on the loop: requests on their way are cancelled, then syncing stops."""
        await self.calls.aclose()
        if self.phone_presence is not None:
            await self.phone_presence.aclose()
        if self.sound_devices is not None:
            await self.sound_devices.aclose()
        if self.phone is not None:
            await self.phone.aclose()
        await self.floor.aclose()
        await self.sync.aclose()

    def shutdown(self) -> None:
        self.drafts.shutdown()  # what was typed in the last 400 ms too, written
        self.booking.shutdown()  # a booking being written is written
        if self.messages is not None:
            self.messages.shutdown()
        for worker in self.window.findChildren(DbWorker):
            worker.shutdown()  # the reads on their way finish before the cache closes
        if self.inbox is not None:
            self.inbox.shutdown()  # its read worker
        if self.work_orders is not None:
            self.work_orders.close()
        self.search.shutdown()
        if self.availability is not None:
            self.availability.shutdown()
        if self.users is not None:
            self.users.shutdown()
        if self.merge is not None:
            self.merge.shutdown()  # a running duplicate scan stops
        if self.setup is not None:
            self.setup.shutdown()
        self.cache.close()


def _callbacks(console: Console) -> object:
    """The callback queue beside Leads (docs/phone.md "Callback queue")."""
    from .callbacks_controller import CallbacksController

    calls = console.calls
    controller = CallbacksController(
        console.window,
        console.cache,
        console.writer,
        me=lambda: calls.me,
        dial=calls.dial,
        now_fn=console._now_fn,
        play=calls.play_recording,  # a voicemail, through the server by role (console/recordings.py)
    )
    controller.add_tab(console.window.work_tabs)
    controller.outboxChanged.connect(console.refresh_outbox)
    controller.errorOccurred.connect(lambda t: console.window.statusBar().showMessage(t, 10_000))
    console.sync.callsChanged.connect(controller.refresh)
    return controller
