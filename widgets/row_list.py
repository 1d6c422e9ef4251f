"""What the lists of rows with a message line do alike (leads, call review): pick a row by index or
id, focus the list, say something above it. A list that mixes this in has ``view`` (a table view over
a ``widgets.row_model.RowTableModel`` in ``model``) and ``message_label``."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView

MESSAGE_STYLE = {"error": "color: #c62828;", "warning": "color: #b26a00;", "info": ""}


class RowListMixin:
    view: Any
    model: Any
    message_label: Any

    def _build_list(self, view_name: str, accessible_name: str, message_name: str) -> None:
        """The message line and the table: whole rows, one at a time, read-only, Tab leaves it."""
        self.message_label = QLabel(self)  # type: ignore[call-overload]
        self.message_label.setObjectName(message_name)
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.hide()
        self.view = QTableView(self)  # type: ignore[call-overload]
        self.view.setObjectName(view_name)
        self.view.setAccessibleName(accessible_name)
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setTabKeyNavigation(False)        # Tab leaves the table, arrows move inside it
        self.view.verticalHeader().hide()
        self.view.setWordWrap(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def current_row(self) -> Any:
        return self.model.row_at(self.view.currentIndex().row())

    def current_row_id(self) -> str:
        row = self.current_row()
        return row.id if row else ""

    def select_id(self, row_id: str) -> None:
        """That row (by id) becomes current; the first one when it isn't listed."""
        index = self.model.row_of(row_id) if row_id else -1
        self.select_row(index if index >= 0 else 0)

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(row, 0))

    def focus_list(self) -> None:
        if self.model.rowCount():
            self.select_row(max(self.view.currentIndex().row(), 0))
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_message(self, text: str, kind: str = "info") -> None:
        """A line above the list: what a change did ("Saved on this PC."), or why it was refused."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet(MESSAGE_STYLE.get(kind, ""))
        self.message_label.setAccessibleName({"error": "Error", "warning": "Warning"}.get(kind, "Message"))
        self.message_label.setVisible(bool(text))
