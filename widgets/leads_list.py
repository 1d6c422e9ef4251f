"""The leads list: callers who weren't ready to book, due follow-ups first. Shows plain
``LeadRow``s and emits signals; it never touches the cache.

Keyboard: Alt+T status filter, Alt+R search (↓ moves into the list, Esc clears); in the list
Enter (or a double-click) converts the lead to a job — it opens the booking form prefilled and
saves nothing, so it is the safe primary action a CSR calling leads back expects — F2 edits the
follow-up, Delete dismisses; Ctrl+Shift+L new lead and Ctrl+O open customer anywhere in the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.jobs import LeadStatus
from models.lead_queries import LeadRow

from .leads_model import SUMMARY, LeadsModel
from .row_list import RowListMixin

__all__ = ["LeadsList", "LeadsModel"]

STATUS_FILTERS = (
    ("Open", LeadStatus.OPEN.value),
    ("Dismissed", LeadStatus.DISMISSED.value),
    ("Converted", LeadStatus.CONVERTED.value),
    ("All", ""),
)
SEARCH_DELAY_MS = 150  # one query per pause in typing, not per key


class LeadsList(RowListMixin, QWidget):
    """Filter row, the leads table and its actions; every request leaves as a signal."""

    current_lead = RowListMixin.current_row
    current_lead_id = RowListMixin.current_row_id
    select_lead = RowListMixin.select_id

    newLeadRequested = Signal()
    editRequested = Signal(str)  # lead id
    convertRequested = Signal(str)  # lead id
    dismissRequested = Signal(str)  # lead id
    openCustomerRequested = Signal(str)  # customer id
    filterChanged = Signal(str, str)  # status ("" = all), search text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("leadsList")
        self.setAccessibleName("Leads")
        self.model = LeadsModel(self)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._build()
        self._build_actions()
        self._connect_signals()
        self._update_actions()

    # -- building ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.status_combo = QComboBox(self)
        self.status_combo.setObjectName("leadStatusFilter")
        self.status_combo.setAccessibleName("Lead status")
        for text, value in STATUS_FILTERS:
            self.status_combo.addItem(text, value)
        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("leadSearch")
        self.search_edit.setAccessibleName("Search leads")
        self.search_edit.setPlaceholderText("Name, phone or summary")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.installEventFilter(self)
        status_label = QLabel("Sta&tus:", self)
        status_label.setBuddy(self.status_combo)
        search_label = QLabel("Sea&rch:", self)
        search_label.setBuddy(self.search_edit)
        filters = QHBoxLayout()
        filters.addWidget(status_label)
        filters.addWidget(self.status_combo)
        filters.addSpacing(12)
        filters.addWidget(search_label)
        filters.addWidget(self.search_edit, 1)

        self.buttons: dict[str, QToolButton] = {}
        actions_row = QHBoxLayout()
        for name in (
            "newLeadButton",
            "convertLeadButton",
            "editLeadButton",
            "dismissLeadButton",
            "openCustomerButton",
        ):
            button = QToolButton(self)
            button.setObjectName(name)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            self.buttons[name] = button
            actions_row.addWidget(button)
        actions_row.addStretch(1)

        self._build_list("leadsView", "Leads, due follow-ups first", "leadsMessage")
        self.view.horizontalHeader().setSectionResizeMode(SUMMARY, QHeaderView.ResizeMode.Stretch)
        self.empty_label = QLabel(self)
        self.empty_label.setObjectName("leadsEmpty")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self._stack = QStackedWidget(self)
        self._stack.addWidget(self.empty_label)
        self._stack.addWidget(self.view)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(filters)
        layout.addLayout(actions_row)
        layout.addWidget(self.message_label)
        layout.addWidget(self._stack, 1)
        # A deliberate order: filter, search, the list, then the buttons that act on it.
        chain = [self.status_combo, self.search_edit, self.view, *self.buttons.values()]
        for first, second in zip(chain, chain[1:], strict=False):
            self.setTabOrder(first, second)
        self._show_empty_state()

    def _action(
        self,
        name: str,
        text: str,
        button: str,
        shortcuts: Sequence[str],
        on: QWidget,
        context: Qt.ShortcutContext,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(context)
        key = QKeySequence(shortcuts[0]).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{text} ({key})")
        on.addAction(action)
        self.buttons[button].setDefaultAction(action)
        self.buttons[button].setAccessibleName(text)
        return action

    def _build_actions(self) -> None:
        in_list = Qt.ShortcutContext.WidgetWithChildrenShortcut
        on_view = Qt.ShortcutContext.WidgetShortcut  # Delete/Enter in the search box keep their meaning
        self.new_action = self._action(
            "newLeadAction", "New lead", "newLeadButton", ["Ctrl+Shift+L"], self, in_list
        )
        self.convert_action = self._action(
            "convertLeadAction",
            "Convert to job",
            "convertLeadButton",
            ["Return", "Enter"],
            self.view,
            on_view,
        )
        self.edit_action = self._action(
            "editLeadAction", "Edit follow-up", "editLeadButton", ["F2"], self.view, on_view
        )
        self.dismiss_action = self._action(
            "dismissLeadAction", "Dismiss", "dismissLeadButton", ["Delete"], self.view, on_view
        )
        self.open_customer_action = self._action(
            "openCustomerAction", "Open customer", "openCustomerButton", ["Ctrl+O"], self, in_list
        )

    def _connect_signals(self) -> None:
        self.status_combo.currentIndexChanged.connect(self._status_changed)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        self.search_edit.returnPressed.connect(self._search_now)
        self._search_timer.timeout.connect(self._emit_filter)
        self.new_action.triggered.connect(self.newLeadRequested)
        self.convert_action.triggered.connect(lambda: self._request(self.convertRequested))
        self.edit_action.triggered.connect(lambda: self._request(self.editRequested))
        self.dismiss_action.triggered.connect(lambda: self._request(self.dismissRequested))
        self.open_customer_action.triggered.connect(self._open_customer)
        self.view.doubleClicked.connect(lambda _i: self._request(self.convertRequested))
        self.view.selectionModel().currentRowChanged.connect(self._update_actions)
        for sig in (
            self.model.modelReset,
            self.model.rowsInserted,
            self.model.rowsRemoved,
            self.model.rowsMoved,
            self.model.dataChanged,
        ):
            sig.connect(self._update_actions)
        for sig in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved):
            sig.connect(self._show_empty_state)

    # -- filter -------------------------------------------------------------------------------------------
    def status_filter(self) -> str | None:
        """The chosen status value, or None for "All"."""
        return str(self.status_combo.currentData()) or None

    def set_status_filter(self, status: str | None) -> None:
        self.status_combo.setCurrentIndex(max(self.status_combo.findData(status or ""), 0))

    def search_text(self) -> str:
        return self.search_edit.text().strip()

    def _status_changed(self, _index: int) -> None:
        self._search_timer.stop()
        self._emit_filter()

    def _search_now(self) -> None:
        if self._search_timer.isActive():
            self._search_timer.stop()
            self._emit_filter()
        self.focus_list()

    def _emit_filter(self) -> None:
        self.filterChanged.emit(self.status_filter() or "", self.search_text())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.search_edit
            and isinstance(event, QKeyEvent)
            and event.type() == QEvent.Type.KeyPress
        ):
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown) and self.model.rowCount():
                self.focus_list()
                return True
            if key == Qt.Key.Key_Escape and self.search_edit.text():
                self.search_edit.clear()
                return True
        return super().eventFilter(watched, event)

    # -- rows ------------------------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[LeadRow]) -> None:
        """Show a new query's answer, keeping the highlighted lead when it is still listed."""
        keep = self.current_lead_id()
        self.model.set_rows(rows)
        self.select_lead(keep)

    def update_row(self, row: LeadRow) -> None:
        """One lead changed (or is new): the highlighted lead stays highlighted wherever it moves."""
        self.model.update_row(row)
        if not self.view.currentIndex().isValid():
            self.select_lead(row.id)

    def remove_row(self, lead_id: str) -> None:
        index = self.model.row_of(lead_id)
        if self.model.remove_row(lead_id):
            # The next lead takes the removed one's place, ready for the next keystroke.
            self.select_row(min(index, self.model.rowCount() - 1))

    def _show_empty_state(self, *_args: Any) -> None:
        empty = self.model.rowCount() == 0
        if empty:
            status, text = self.status_filter(), self.search_text()
            if text:
                message = f"No leads match “{text}”."
            elif status == LeadStatus.OPEN.value:
                message = (
                    "No open leads.\nPress Ctrl+Shift+L to capture a caller who isn't ready to book yet."
                )
            else:
                message = f"No {status.lower()} leads." if status else "No leads yet."
            self.empty_label.setText(message)
        self._stack.setCurrentIndex(0 if empty else 1)

    # -- requests ---------------------------------------------------------------------------------------------
    def _request(self, signal: Any) -> None:
        lead = self.current_lead()
        if lead is not None and lead.is_open:
            signal.emit(lead.id)

    def _open_customer(self) -> None:
        lead = self.current_lead()
        if lead is not None and lead.customer_id:
            self.openCustomerRequested.emit(lead.customer_id)

    def _update_actions(self, *_args: Any) -> None:
        lead = self.current_lead()
        is_open = lead is not None and lead.is_open
        for action in (self.convert_action, self.edit_action, self.dismiss_action):
            action.setEnabled(is_open)
        self.open_customer_action.setEnabled(bool(lead and lead.customer_id))
