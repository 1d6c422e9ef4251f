"""The Bookings inbox: requests from the Web Scheduler (and other sources) waiting for a CSR. Shows plain
``InboxItem`` rows (models/inbox.py) and emits signals; it never touches the cache.

Keyboard, in the list: Enter (or a double-click) accepts — the booking form opens prefilled and nothing
is booked until the CSR books it; Space claims the request (or lets it go when it is this CSR's); Delete
dismisses it with a reason. Every action also has a button with an accessible name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.inbox import InboxItem
from models.timeutil import as_utc, zone
from models.web_booking import DISMISS_REASONS

from .row_list import RowListMixin
from .row_model import RowTableModel

RECEIVED, SOURCE, SERVICE, WINDOW, CONTACT, CUSTOMER, STATUS, PROBLEMS = range(8)


class InboxModel(RowTableModel[InboxItem]):
    columns = ("Received", "Source", "Service", "Window", "Contact", "Customer", "Status", "Needs")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.now = lambda: datetime.now(UTC)
        self.time_zone = "America/Chicago"
        self.me = ""  # this CSR's user id: "Claimed by you"

    def update_rows(self, rows: Sequence[InboxItem]) -> bool:
        """The same requests in the same order (a claim, a status): only the changed rows repaint
        (``dataChanged``). False, and nothing changed, when requests came, went or moved: a reset then."""
        old = self.rows()
        if [r.id for r in old] != [r.id for r in rows]:
            return False
        self._rows = list(rows)
        for index, (before, after) in enumerate(zip(old, rows, strict=True)):
            if before != after:
                self.changed(index)
        return True

    def window_text(self, item: InboxItem) -> str:
        if item.window_start is None or item.window_end is None:
            return ""
        tz = zone(self.time_zone)
        start, end = as_utc(item.window_start).astimezone(tz), as_utc(item.window_end).astimezone(tz)
        if end.date() != start.date():  # a work order's schedule → expiry spans days: both dates
            return f"{start:%a %b} {start.day} {start:%H:%M} – {end:%a %b} {end.day} {end:%H:%M}"
        return f"{start:%a %b} {start.day} {start:%H:%M}–{end:%H:%M}"

    def status_text(self, item: InboxItem) -> str:
        if item.open and item.claimed_by_id:
            who = "you" if item.claimed_by_id == self.me else item.claimed_by or "another CSR"
            return f"{item.status} · claimed by {who}"
        return item.status

    def text(self, row: InboxItem, column: int) -> str:
        if column == RECEIVED:
            return row.age_text(self.now())
        if column == SOURCE:
            return row.source
        if column == SERVICE:
            return row.service
        if column == WINDOW:
            return self.window_text(row)
        if column == CONTACT:
            return " · ".join(p for p in (row.contact_name, row.contact_phone) if p)
        if column == CUSTOMER:
            return row.match_text
        if column == STATUS:
            return self.status_text(row)
        return "; ".join(row.problems)

    def role_data(self, row: InboxItem, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == CONTACT:
                return "\n".join(
                    p for p in (row.contact_name, row.contact_phone, row.contact_email, row.address) if p
                )
            return self.text(row, column) or None
        if role == Qt.ItemDataRole.ForegroundRole and column in (CUSTOMER, PROBLEMS) and row.problems:
            from PySide6.QtGui import QColor

            return QColor("#c62828")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{self.columns[column]}: {self.text(row, column)}"
        return None


class BookingsInbox(RowListMixin, QWidget):
    """The inbox table and its actions; every request leaves as a signal with the item."""

    acceptRequested = Signal(object)  # InboxItem
    claimRequested = Signal(object)  # InboxItem: claim, or release when it is this CSR's
    dismissRequested = Signal(object)  # InboxItem

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bookingsInbox")
        self.setAccessibleName("Bookings inbox")
        self.model = InboxModel(self)
        self._build()
        self._build_actions()
        self._connect_signals()
        self._update_actions()

    def _build(self) -> None:
        self.buttons: dict[str, QToolButton] = {}
        actions_row = QHBoxLayout()
        for name in ("acceptBookingButton", "claimBookingButton", "dismissBookingButton"):
            button = QToolButton(self)
            button.setObjectName(name)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.buttons[name] = button
            actions_row.addWidget(button)
        actions_row.addStretch(1)
        self._build_list("bookingsInboxView", "Booking requests, oldest open first", "bookingsInboxMessage")
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(PROBLEMS, QHeaderView.ResizeMode.Stretch)
        # Columns fit the rows on screen only: by default Qt sizes them from 1,000 rows, and with a
        # thousand requests listed that read ~57,000 cells (≈0.5 s of Python) on every change.
        header.setResizeContentsPrecision(0)
        self.empty_label = QLabel(
            "No booking requests waiting.\nRequests from the Web Scheduler appear here.", self
        )
        self.empty_label.setObjectName("bookingsInboxEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self.empty_label)
        self._stack.addWidget(self.view)
        # The pane is ~450 px beside the customer at 1366 px, too narrow for eight columns: the
        # highlighted request is also spelled out here, whole and wrapped, so nothing needs a sideways
        # scroll to be read.
        self.details = QLabel(self)
        self.details.setObjectName("bookingsInboxDetails")
        self.details.setAccessibleName("Highlighted booking request")
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setFrameShape(QFrame.Shape.StyledPanel)
        self.details.setMargin(6)
        self.details.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(actions_row)
        layout.addWidget(self.message_label)
        layout.addWidget(self._stack, 1)
        layout.addWidget(self.details)
        chain = [self.view, *self.buttons.values()]
        for first, second in zip(chain, chain[1:], strict=False):
            self.setTabOrder(first, second)
        self._show_empty_state()

    def _action(self, name: str, text: str, button: str, shortcuts: Sequence[str]) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        key = QKeySequence(shortcuts[0]).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{text} ({key})")
        self.view.addAction(action)
        self.buttons[button].setDefaultAction(action)
        self.buttons[button].setAccessibleName(text)
        return action

    def _build_actions(self) -> None:
        self.accept_action = self._action(
            "acceptBookingAction", "Accept — book it", "acceptBookingButton", ["Return", "Enter"]
        )
        self.claim_action = self._action("claimBookingAction", "Claim", "claimBookingButton", ["Space"])
        self.dismiss_action = self._action(
            "dismissBookingAction", "Dismiss…", "dismissBookingButton", ["Delete"]
        )

    def _connect_signals(self) -> None:
        self.accept_action.triggered.connect(lambda: self._request(self.acceptRequested))
        self.claim_action.triggered.connect(lambda: self._request(self.claimRequested))
        self.dismiss_action.triggered.connect(lambda: self._request(self.dismissRequested))
        self.view.doubleClicked.connect(lambda _i: self._request(self.acceptRequested))
        self.view.selectionModel().currentRowChanged.connect(self._update_actions)
        for sig in (
            self.model.modelReset,
            self.model.rowsInserted,
            self.model.rowsRemoved,
            self.model.dataChanged,
        ):
            sig.connect(self._update_actions)
        for sig in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            sig.connect(self._show_empty_state)

    def set_rows(self, rows: Sequence[InboxItem]) -> None:
        keep = self.current_row_id()
        if not self.model.update_rows(rows):
            self.model.set_rows(rows)
        self.select_id(keep)
        if not self.view.currentIndex().isValid() and rows:
            self.select_row(0)

    def current_item(self) -> InboxItem | None:
        return self.current_row()

    def _show_empty_state(self, *_args: Any) -> None:
        self._stack.setCurrentIndex(0 if self.model.rowCount() == 0 else 1)

    def _request(self, signal: Any) -> None:
        item = self.current_item()
        if item is not None and item.open:
            signal.emit(item)

    def _show_details(self) -> None:
        index = self.view.currentIndex()
        if not index.isValid():
            self.details.hide()
            return
        row = index.row()
        lines = []
        for column, title in enumerate(self.model.columns):
            text = self.model.data(self.model.index(row, column), Qt.ItemDataRole.DisplayRole)
            if text:
                lines.append(f"{title}: {text}")
        self.details.setText("\n".join(lines))
        self.details.setAccessibleDescription("; ".join(lines))
        self.details.show()

    def _update_actions(self, *_args: Any) -> None:
        self._show_details()
        item = self.current_item()
        is_open = item is not None and item.open
        for action in (self.accept_action, self.claim_action, self.dismiss_action):
            action.setEnabled(is_open)
        if item is not None and is_open and item.claimed_by_id and item.claimed_by_id == self.model.me:
            self.claim_action.setText("Let go")
        else:
            self.claim_action.setText("Claim")
        self.buttons["claimBookingButton"].setAccessibleName(self.claim_action.text())
        if item is not None and item.customer_match == "do_not_service":
            self.accept_action.setEnabled(False)  # a Do Not Service customer is never booked from here


class DismissBookingDialog(QDialog):
    """Why a request is dismissed, and whether it becomes a lead. OK emits ``submitted``; the dialog
    stays open until the caller's write succeeded (``finish``), showing a refusal otherwise."""

    submitted = Signal(dict)  # {reason, make_lead}

    def __init__(self, item: InboxItem, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dismissBookingDialog")
        self.setWindowTitle("Dismiss booking request")
        self.setAccessibleName("Dismiss booking request")
        self.item = item
        self.reason = QComboBox(self)
        self.reason.setObjectName("dismissReason")
        self.reason.setAccessibleName("Reason")
        self.reason.addItems(list(DISMISS_REASONS))
        self.make_lead = QCheckBox("Make a &lead to follow up", self)
        self.make_lead.setObjectName("dismissMakeLead")
        self.make_lead.setAccessibleName("Make a lead to follow up")
        self.error = QLabel(self)
        self.error.setObjectName("dismissBookingError")
        self.error.setStyleSheet("color: #c62828;")
        self.error.hide()
        form = QFormLayout()
        label = QLabel("&Reason:", self)
        label.setBuddy(self.reason)
        form.addRow(label, self.reason)
        form.addRow("", self.make_lead)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Dismiss request")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setObjectName("dismissBookingOk")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setDefault(True)  # Enter dismisses
        buttons.accepted.connect(lambda: self.submitted.emit(self.values()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{item.contact_name} — {item.service}", self))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.reason.setFocus()

    def values(self) -> dict[str, Any]:
        return {"reason": self.reason.currentText(), "make_lead": self.make_lead.isChecked()}

    def finish(self) -> None:
        self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
