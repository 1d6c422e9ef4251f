"""Manual bubbles: several bookings in progress, switched without losing a keystroke, kept across
restarts (models/drafts.py). A claimed call's booking is a draft too, under the call's id; Ctrl+PgDown /
Ctrl+PgUp walk both kinds, and Ctrl+W on a call bubble closes and classifies an ended call.

The drafts are read once at start on a worker thread; after that this controller keeps their data in
memory and hands every save and delete to the same worker (console/db_worker.py), in order: switching
bubbles and the autosave while the CSR types never wait on the disk."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from models.db import Cache
from models.drafts import delete_draft, list_drafts, new_draft_id, save_draft
from widgets.booking_form import BookingForm
from widgets.bubble_strip import BubbleStrip
from widgets.customer_panel import CustomerPanel

from .booking_controller import BookingController
from .customer_controller import CustomerController
from .db_worker import DbWorker

log = logging.getLogger(__name__)
NEW_TITLE = "New booking"
SAVE_DELAY_MS = 400


class DraftsController(QObject):
    draftsChanged = Signal()

    def __init__(
        self,
        parent: QWidget,
        cache: Cache,
        strip: BubbleStrip,
        form: BookingForm,
        panel: CustomerPanel,
        customers: CustomerController,
        booking: BookingController,
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._cache = cache
        self.strip = strip
        self.form = form
        self.panel = panel
        self.customers = customers
        self.booking = booking
        self.active = ""
        self._switching = False
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self.confirm: QMessageBox | None = None
        self._data: dict[str, dict[str, Any]] = {}  # draft id → what was saved of it (the cache's copy)
        self.worker = DbWorker(self, "csr-drafts")
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.strip.bubbleActivated.connect(self.activate)
        self.strip.bubbleCloseRequested.connect(self.close)
        self.form.changed.connect(self._schedule_save)
        self.customers.customerOpened.connect(self._on_customer_opened)
        self.booking.jobBooked.connect(self._on_job_booked)
        self._save_timer.timeout.connect(self.save_now)

    # -- lifecycle --------------------------------------------------------------------------------------
    def restore_all(self) -> None:
        """Bring back the bubbles of the last session (read on the worker); the first one becomes active."""
        self.worker.submit(_read_drafts, self._cache, done=self._restored, failed=self._read_failed)

    def _restored(self, drafts: list) -> None:
        known = set(self.strip.ids())
        for d in drafts:
            self._data.setdefault(d.id, d.data)
            if d.id not in known:
                self.strip.add_bubble(d.id, d.title)
        if drafts and not self.active:
            self.activate(drafts[0].id)

    def _read_failed(self, exc: BaseException) -> None:
        log.warning("the booking drafts could not be read: %s", exc)

    def _write(self, fn: Any, *args: Any) -> None:
        """A draft's save or delete, on the worker, after the ones before it."""
        self.worker.submit(
            _in_transaction, self._cache, fn, *args, done=lambda _r: None, failed=self._write_failed
        )

    def _write_failed(self, exc: BaseException) -> None:
        log.warning("could not save the booking draft: %s", exc)  # a draft must not stop the booking

    def shutdown(self) -> None:
        """What was typed is written before the cache closes."""
        self.save_now()
        self.worker.shutdown()

    def new_bubble(self) -> str:
        """Ctrl+N: a booking without a call. The form starts empty and the cursor goes to the search."""
        self.save_now()
        draft_id = new_draft_id()  # written by the next (debounced) save, off this keystroke
        self.strip.add_bubble(draft_id, NEW_TITLE)
        self._show(draft_id, {})
        self._schedule_save()
        self.draftsChanged.emit()
        return draft_id

    def ensure_active(self) -> str:
        """A booking always lives in a bubble: Ctrl+J without one makes one."""
        if self.active:
            return self.active
        record = self.panel.record()
        draft_id = new_draft_id()
        self.strip.add_bubble(draft_id, record.name if record else NEW_TITLE)
        self.active = draft_id
        self.strip.set_active(draft_id)
        self._schedule_save()
        self.draftsChanged.emit()
        return draft_id

    def activate(self, draft_id: str) -> None:
        if draft_id == self.active or draft_id not in self.strip.ids():
            return
        self.save_now()
        self._show(draft_id, self._data.get(draft_id, {}))

    def activate_call(self, call_id: str) -> bool:
        """A claimed call's booking lives in its own bubble's draft (no manual bubble is made for it).
        True when the call already had a draft with a customer (switching back to it)."""
        if call_id == self.active:
            return True
        self.save_now()
        data = self._data.get(call_id, {})
        self._show(call_id, data)
        return bool(data.get("customer_id"))

    def forget(self, draft_id: str) -> None:
        """A call's bubble closed (classified or booked): its draft goes, nothing to ask."""
        self._data.pop(draft_id, None)
        self._write(delete_draft, draft_id)
        if draft_id == self.active:
            self._save_timer.stop()
            self.active = ""
        self.draftsChanged.emit()

    def step(self, delta: int) -> None:
        """Ctrl+PgDown / Ctrl+PgUp: the next or previous bubble (a manual one, or a call of mine)."""
        target = self.strip.neighbour(self.active, delta)
        if not target or target == self.active:
            return
        bubble = self.strip.call_bubble(target)
        if bubble is not None and bubble.card.ended:
            # The caller is gone: back to what was typed for the call (no new-customer form pops up),
            # the keyboard on its bubble, where Delete or Ctrl+W close and classify it.
            self.activate_call(target)
            bubble.setFocus(Qt.FocusReason.ShortcutFocusReason)
        else:
            self.strip.activate(target)

    def close(self, draft_id: str = "") -> None:
        """Ctrl+W: discard the focused (else the current) bubble, asking first when something was typed
        in it; on a call bubble, close and classify the call once it has ended."""
        draft_id = draft_id or self.strip.focused_bubble() or self.active
        if not draft_id:
            return
        if draft_id in self.strip.call_ids():
            self.strip.close_call(draft_id)
            return
        if draft_id == self.active:
            self.save_now()
        data = self._data.get(draft_id, {})
        if draft_id == self.active and not data:
            data = {"form": self.form.state()}  # not saved yet: judge by what is on screen
        if _has_content(data):
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Discard booking?",
                "This booking has details typed in. Discard it?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                self._parent,
            )
            box.setObjectName("discardDraftDialog")
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.finished.connect(
                lambda result: result == QMessageBox.StandardButton.Discard and self._discard(draft_id)
            )
            self.confirm = box
            box.open()  # never exec() a dialog here: the qasync loop keeps running
            return
        self._discard(draft_id)

    def _discard(self, draft_id: str, activate_next: bool = True) -> None:
        self._data.pop(draft_id, None)
        self._write(delete_draft, draft_id)
        was_active = draft_id == self.active
        self.strip.remove_bubble(draft_id)
        if was_active:
            self.active = ""
            remaining = self.strip.ids()
            if remaining and activate_next:
                self.activate(remaining[0])
        self.draftsChanged.emit()

    # -- saving -------------------------------------------------------------------------------------------
    def _schedule_save(self) -> None:
        if self.active and not self._switching:
            self._save_timer.start()

    def save_now(self) -> None:
        self._save_timer.stop()
        if not self.active or self._switching:
            return
        record = self.form.record() or self.panel.record()
        data: dict[str, Any] = {
            "customer_id": record.id if record else "",
            "form": self.form.state(),
            "bound": self.form.record() is not None,
            "lead_id": self.booking.lead_id,
        }
        title = record.name if record else NEW_TITLE
        self._data[self.active] = data
        self._write(save_draft, self.active, title, data)
        self.strip.set_title(self.active, title)

    # -- switching ---------------------------------------------------------------------------------------
    def _show(self, draft_id: str, data: dict[str, Any]) -> None:
        self.active = draft_id
        self.strip.set_active(draft_id)
        customer_id = data.get("customer_id") or ""
        if customer_id:
            # The form is filled once the customer is read (on the customer worker).
            self.customers.open_customer(customer_id, then=lambda ok: self._fill(draft_id, data, ok))
        else:
            self._fill(draft_id, data, False)

    def _fill(self, draft_id: str, data: dict[str, Any], opened: bool) -> None:
        if draft_id != self.active:
            return  # the CSR went on to another bubble meanwhile
        self._switching = True
        try:
            if opened:
                record = self.panel.record()
            else:
                self.panel.set_record(None)
                record = None
            self.form.bind(record if data.get("bound") else None)
            self.booking.offer_call_campaign()  # a call's retired campaign, before restoring it
            self.form.reset()
            if data.get("form"):
                self.form.restore(data["form"])
            self.booking.lead_id = data.get("lead_id") or ""
        finally:
            self._switching = False
        window = self._parent
        if record is None and hasattr(window, "focus_search"):
            window.focus_search()
        elif data.get("bound"):
            self.form.focus_first()

    def _on_customer_opened(self, _customer_id: str) -> None:
        if self.active and not self._switching:
            self._schedule_save()

    def _on_job_booked(self, _customer_id: str, _number: str) -> None:
        """Book Job clears a manual bubble; the booked customer stays on screen. A call's bubble stays
        while the call lasts (it says "Booked — job N"): only what was typed for the booking goes."""
        if self.active in self.strip.call_ids():
            self._save_timer.stop()
            self._data.pop(self.active, None)
            self._write(delete_draft, self.active)
            self.draftsChanged.emit()
        elif self.active:
            self._discard(self.active, activate_next=False)


def _has_content(data: dict[str, Any]) -> bool:
    form = data.get("form") or {}
    typed = any(
        form.get(k)
        for k in ("business_unit_id", "job_type_id", "campaign_id", "summary_text", "tags_text", "chosen")
    )
    return bool(typed or data.get("lead_id"))


def _read_drafts(cache: Cache) -> list:
    with cache.sessions() as session:
        return list_drafts(session)


def _in_transaction(cache: Cache, fn: Any, *args: Any) -> None:
    with cache.sessions.begin() as session:
        fn(session, *args)
