"""A ServiceChannel work order in the Bookings inbox: what the client sent (store, trade, priority with a
live countdown, NTE, description, what is missing or odd, Action required), and the CSR's actions —
Accept, Decline with one of the platform's reason codes, technician check-in and check-out. Plain data in
(``WorkOrderView``), signals out; the controller (console/work_orders_controller.py) does the writing.

Decline and check-out ask for their reason inline (a row under the buttons: Enter confirms, Esc cancels),
so no dialog is ever run modally from the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from models.work_order_inbox import WorkOrderView
from models.work_order_intents import DECLINE_REASONS

MATCH_WORDS = {
    "existing": "Existing customer",
    "new": "New customer (created from the client)",
    "do_not_service": "DO NOT SERVICE — decline",
}


def countdown(due: datetime | None, now: datetime) -> str:
    """ "due in 3 h 05 min" / "overdue by 12 min" / "" (no due time)."""
    if due is None:
        return ""
    seconds = int((due - now).total_seconds())
    minutes = abs(seconds) // 60
    text = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return f"due in {text}" if seconds >= 0 else f"overdue by {text}"


def _when(value: datetime | None, tz_name: str) -> str:
    if value is None:
        return "—"
    try:
        from zoneinfo import ZoneInfo

        local = value.astimezone(ZoneInfo(tz_name)) if tz_name else value
    except (KeyError, ValueError):
        local = value
    return local.strftime("%a %m/%d %I:%M %p ") + (tz_name or "UTC")


class _ReasonRow(QWidget):
    """The inline question under the buttons (a decline's reason, a check-out's resolution)."""

    confirmed = Signal()
    cancelled = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.confirmed.emit()
        elif event.key() == Qt.Key.Key_Escape:
            self.cancelled.emit()
        else:
            super().keyPressEvent(event)


class WorkOrderPanel(QWidget):
    acceptRequested = Signal(str)  # work order id
    declineRequested = Signal(str, int, str)  # id, reason code, note
    checkInRequested = Signal(str)
    checkOutRequested = Signal(str, str)  # id, resolution
    noteRequested = Signal(str, str)  # id, note

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("workOrderPanel")
        self.setAccessibleName("Work order")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.view: WorkOrderView | None = None
        self._mode = ""  # "decline" / "check_out" while the inline row asks
        self._build()
        self._connect_signals()
        self._tick = QTimer(self)
        self._tick.setObjectName("workOrderCountdown")
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._refresh_countdown)
        self.show_work_order(None)

    def _build(self) -> None:
        self.title = QLabel(objectName="workOrderTitle")
        self.title.setStyleSheet("font-weight: 600; font-size: 14px")
        self.action_required = QLabel(objectName="workOrderActionRequired", wordWrap=True)
        self.action_required.setStyleSheet("color: #b00020; font-weight: 600")
        self.problems = QLabel(objectName="workOrderProblems", wordWrap=True)
        self.problems.setStyleSheet("color: #b26a00")
        form = QFormLayout()
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("po", "PO"),
            ("client", "Client"),
            ("match", "Customer"),
            ("store", "Store"),
            ("trade", "Trade / category"),
            ("job_type", "Job type"),
            ("priority", "Priority"),
            ("due", "Response"),
            ("nte", "Not to exceed"),
            ("description", "Description"),
            ("caller", "Caller"),
            ("scheduled", "Scheduled"),
            ("expires", "Expires"),
            ("status", "ServiceChannel status"),
            ("job", "Job"),
        ):
            value = QLabel(objectName=f"workOrder_{key}", wordWrap=True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(label + ":", value)
            self.fields[key] = value
        self.accept_button = QPushButton("&Accept", objectName="workOrderAccept")
        self.accept_button.setAccessibleName("Accept the work order and book its job")
        self.decline_button = QPushButton("&Decline…", objectName="workOrderDecline")
        self.decline_button.setAccessibleName("Decline the work order")
        self.check_in_button = QPushButton("Check &in", objectName="workOrderCheckIn")
        self.check_in_button.setAccessibleName("Technician checked in on site")
        # Alt+O is the status bar's menu in the main window: check-out is Alt+U.
        self.check_out_button = QPushButton("Check o&ut…", objectName="workOrderCheckOut")
        self.check_out_button.setAccessibleName("Technician checked out, work done")
        self.note_button = QPushButton("Add no&te…", objectName="workOrderAddNote")
        self.note_button.setAccessibleName("Add a note to the client on the work order")
        buttons = QHBoxLayout()
        for b in (
            self.accept_button,
            self.decline_button,
            self.check_in_button,
            self.check_out_button,
            self.note_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.reason_row = _ReasonRow(objectName="workOrderReasonRow")
        self.reason = QComboBox(objectName="workOrderDeclineReason")
        self.reason.setAccessibleName("Decline reason")
        for code, text in DECLINE_REASONS.items():
            self.reason.addItem(text, code)
        self.note = QLineEdit(objectName="workOrderNote")
        self.note.setAccessibleName("Note for the client")
        self.note.setPlaceholderText("Note for the client")
        self.confirm_button = QPushButton("Send", objectName="workOrderConfirm")
        self.cancel_button = QPushButton("Cancel", objectName="workOrderCancel")
        row = QHBoxLayout(self.reason_row)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.reason, self.note, self.confirm_button, self.cancel_button):
            row.addWidget(w)
        self.message = QLabel(objectName="workOrderMessage", wordWrap=True)
        layout = QVBoxLayout(self)
        for w in (self.title, self.action_required, self.problems):
            layout.addWidget(w)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.reason_row)
        layout.addWidget(self.message)
        layout.addStretch(1)

    def _connect_signals(self) -> None:
        self.accept_button.clicked.connect(lambda: self._emit(self.acceptRequested))
        self.decline_button.clicked.connect(lambda: self._ask("decline"))
        self.check_in_button.clicked.connect(lambda: self._emit(self.checkInRequested))
        self.check_out_button.clicked.connect(lambda: self._ask("check_out"))
        self.note_button.clicked.connect(lambda: self._ask("note"))
        self.confirm_button.clicked.connect(self._confirm)
        self.cancel_button.clicked.connect(self._cancel)
        self.reason_row.confirmed.connect(self._confirm)
        self.reason_row.cancelled.connect(self._cancel)

    # -- showing ---------------------------------------------------------------------------------------------
    def show_work_order(self, view: WorkOrderView | None) -> None:
        """Show a work order (None: nothing selected)."""
        self.view = view
        self._cancel(keep_focus=True)
        if view is None:
            self.title.setText("No work order selected")
            for label in self.fields.values():
                label.clear()
            self.action_required.hide()
            self.problems.hide()
            self._tick.stop()
            self._enable()
            return
        self.title.setText(f"Work order {view.number} — {view.client or 'ServiceChannel'}")
        f = self.fields
        f["po"].setText(view.purchase_number or "—")
        f["client"].setText(view.client or "— (no client name)")
        f["match"].setText(MATCH_WORDS.get(view.customer_match, view.customer_match))
        f["store"].setText(", ".join(p for p in (view.store, view.address) if p) or "— (no store address)")
        f["trade"].setText(" / ".join(p for p in (view.trade, view.category) if p) or "—")
        f["job_type"].setText(view.job_type or "— not mapped")
        f["priority"].setText(view.priority or "—")
        f["nte"].setText("—" if view.nte is None else f"{view.nte:,.2f} {view.currency or ''}".strip())
        f["description"].setText(view.description or "—")
        f["caller"].setText(view.caller or "—")
        f["scheduled"].setText(_when(view.scheduled_at, view.time_zone))
        f["expires"].setText(_when(view.expires_at, view.time_zone))
        f["status"].setText(view.platform_status or "—")
        checked = " — checked out" if view.checked_out else " — checked in" if view.checked_in else ""
        f["job"].setText(f"{view.job_number}{checked}" if view.job_number else f"{view.state}")
        self.action_required.setText(
            f"Action required: {view.action_required}" if view.action_required else ""
        )
        self.action_required.setVisible(bool(view.action_required))
        self.problems.setText("Missing or odd: " + "; ".join(view.problems) if view.problems else "")
        self.problems.setVisible(bool(view.problems))
        self._refresh_countdown()
        if view.state == "New" and view.due_at is not None:
            self._tick.start()
        else:
            self._tick.stop()
        self._enable()
        if self.hasFocus() or (self.focusWidget() is not None and not self.focusWidget().isEnabled()):
            self._focus_next_action()

    def _refresh_countdown(self) -> None:
        view = self.view
        if view is None:
            return
        due = view.due_at if view.state == "New" else None
        self.fields["due"].setText(countdown(due, self._clock()) or "—")

    def _enable(self, busy: bool = False) -> None:
        view = self.view
        new = view is not None and view.state == "New"
        accepted = view is not None and view.state == "Accepted"
        self.accept_button.setEnabled(not busy and new and view.customer_match != "do_not_service")
        self.decline_button.setEnabled(not busy and new)
        self.check_in_button.setEnabled(not busy and accepted and not view.checked_in)
        self.check_out_button.setEnabled(not busy and accepted and view.checked_in and not view.checked_out)
        self.note_button.setEnabled(not busy and view is not None and view.state in ("New", "Accepted"))

    def set_busy(self, busy: bool) -> None:
        """While the controller writes: the actions wait (the focus stays in the panel)."""
        if busy:
            self.setFocus()  # the button about to be disabled must not take the focus away with it
        self._enable(busy)
        if not busy:
            self._focus_next_action()

    def _focus_next_action(self) -> None:
        """After a write: the focus on the next thing to do (or the panel), never nowhere."""
        focused = self.focusWidget()
        if focused is not None and focused is not self and focused.isEnabled() and focused.isVisible():
            return
        for button in (self.accept_button, self.check_in_button, self.check_out_button, self.decline_button):
            if button.isEnabled():
                button.setFocus()
                return
        self.setFocus()

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020" if error else "")
        self.message.setText(text)

    # -- asking ----------------------------------------------------------------------------------------------
    def _emit(self, signal: Signal) -> None:
        if self.view is not None:
            signal.emit(self.view.id)

    def _ask(self, mode: str) -> None:
        if self.view is None:
            return
        self._mode = mode
        self.reason.setVisible(mode == "decline")
        self.note.clear()
        words = {
            "decline": "Note for the client",
            "check_out": "What was done",
            "note": "Note to the client",
        }[mode]
        self.note.setPlaceholderText(words)
        self.note.setAccessibleName("Resolution" if mode == "check_out" else words)
        self.reason_row.show()
        (self.reason if mode == "decline" else self.note).setFocus()

    def _confirm(self) -> None:
        if self.view is None or not self._mode:
            return
        note = self.note.text().strip()
        if self._mode == "decline":
            code = int(self.reason.currentData())
            if code == 5 and not note:
                self.show_message("Say why (the reason is Other).", error=True)
                self.note.setFocus()
                return
            self.declineRequested.emit(self.view.id, code, note)
        elif self._mode == "note":
            if not note:
                self.show_message("Write the note.", error=True)
                self.note.setFocus()
                return
            self.noteRequested.emit(self.view.id, note)
        else:
            if not note:
                self.show_message("Say what was done.", error=True)
                self.note.setFocus()
                return
            self.checkOutRequested.emit(self.view.id, note)
        self._cancel()

    def _cancel(self, keep_focus: bool = False) -> None:
        was_open = bool(self._mode)
        self._mode = ""
        self.reason_row.hide()
        if was_open and not keep_focus:
            self.decline_button.setFocus() if self.decline_button.isEnabled() else self.setFocus()

    def hideEvent(self, event) -> None:  # noqa: ANN001 - Qt's signature
        self._tick.stop()
        super().hideEvent(event)

    def showEvent(self, event) -> None:  # noqa: ANN001
        super().showEvent(event)
        if self.view is not None and self.view.state == "New" and self.view.due_at is not None:
            self._tick.start()
