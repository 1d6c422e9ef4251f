"""Manual bubbles: several bookings in progress, switched without losing a keystroke, kept across
restarts (models/drafts.py). A claimed call's booking is a draft too, under the call's id; Ctrl+PgDown /
Ctrl+PgUp walk both kinds, and Ctrl+W on a call bubble closes and classifies an ended call."""

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
        """Bring back the bubbles of the last session; the first one becomes active."""
        with self._cache.sessions() as session:
            drafts = list_drafts(session)
        for d in drafts:
            self.strip.add_bubble(d.id, d.title)
        if drafts:
            self.activate(drafts[0].id)

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
        with self._cache.sessions() as session:
            data = next((d.data for d in list_drafts(session) if d.id == draft_id), {})
        self._show(draft_id, data)

    def activate_call(self, call_id: str) -> bool:
        """A claimed call's booking lives in its own bubble's draft (no manual bubble is made for it).
        True when the call already had a draft with a customer (switching back to it)."""
        if call_id == self.active:
            return True
        self.save_now()
        with self._cache.sessions() as session:
            data = next((d.data for d in list_drafts(session) if d.id == call_id), {})
        self._show(call_id, data)
        return bool(data.get("customer_id"))

    def forget(self, draft_id: str) -> None:
        """A call's bubble closed (classified or booked): its draft goes, nothing to ask."""
        with self._cache.sessions.begin() as session:
            delete_draft(session, draft_id)
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
        with self._cache.sessions() as session:
            data = next((d.data for d in list_drafts(session) if d.id == draft_id), {})
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
        with self._cache.sessions.begin() as session:
            delete_draft(session, draft_id)
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
        try:
            with self._cache.sessions.begin() as session:
                save_draft(session, self.active, title, data)
        except Exception:  # noqa: BLE001 - a draft that can't be saved must not stop the booking
            log.warning("could not save the booking draft", exc_info=True)
            return
        self.strip.set_title(self.active, title)

    # -- switching ---------------------------------------------------------------------------------------
    def _show(self, draft_id: str, data: dict[str, Any]) -> None:
        self._switching = True
        try:
            self.active = draft_id
            self.strip.set_active(draft_id)
            customer_id = data.get("customer_id") or ""
            if customer_id and self.customers.open_customer(customer_id):
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
            with self._cache.sessions.begin() as session:
                delete_draft(session, self.active)
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
