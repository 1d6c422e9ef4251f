"""The item model behind call review: ``ReviewRow``s oldest first, as the query returns them.

A new period or kind is a reset (a new query's answer); one call's change after a manager's edit is a
``dataChanged`` for its row, or a removal when it left the list (Booked, NotLead, …).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from models.call_review import ReviewRow

from .call_bubble import duration_text

_Index = QModelIndex | QPersistentModelIndex
IdRole = Qt.ItemDataRole.UserRole + 1
COLUMNS = ("Started", "Caller", "Customer", "Campaign", "CSR", "Talk", "Class", "Reason", "Tags")
STARTED, CALLER, CUSTOMER, CAMPAIGN, CSR, TALK, CLASS, REASON, TAGS = range(len(COLUMNS))
CLASS_NAMES = {"NotLead": "Not a lead"}


def when_text(at: datetime) -> str:
    """"Thu Nov 26, 8:05 AM": the weekday and the clock, as a manager reads a call log."""
    hour = at.hour % 12 or 12
    return f"{at:%a} {at:%b} {at.day}, {hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def class_text(row: ReviewRow) -> str:
    """"Unbooked", or "Excused (was Unbooked)" for a call a manager excused."""
    name = CLASS_NAMES.get(row.classification, row.classification)
    if row.excused and row.kind and row.kind != row.classification:
        return f"{name} (was {CLASS_NAMES.get(row.kind, row.kind)})"
    return name


def talk_text(row: ReviewRow) -> str:
    return duration_text(row.duration_seconds) if row.answered else "Not answered"


def agent_text(row: ReviewRow) -> str:
    return row.agent_name or "Nobody"


_TEXT = {
    STARTED: lambda r: when_text(r.started_at), CALLER: lambda r: r.caller, CUSTOMER: lambda r: r.customer_name,
    CAMPAIGN: lambda r: r.campaign, CSR: agent_text, TALK: talk_text, CLASS: class_text,
    REASON: lambda r: r.reason, TAGS: lambda r: ", ".join(r.tags),
}


class CallReviewModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[ReviewRow] = []
        self._italic = QFont()
        self._italic.setItalic(True)

    # -- rows -------------------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[ReviewRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def update_row(self, row: ReviewRow) -> bool:
        """Show a listed call's new state (its place, by start time, never changes); False if unlisted."""
        index = self.row_of(row.id)
        if index < 0:
            return False
        self._rows[index] = row
        self.dataChanged.emit(self.index(index, 0), self.index(index, len(COLUMNS) - 1))
        return True

    def remove_row(self, call_id: str) -> bool:
        index = self.row_of(call_id)
        if index < 0:
            return False
        self.beginRemoveRows(QModelIndex(), index, index)
        del self._rows[index]
        self.endRemoveRows()
        return True

    def rows(self) -> list[ReviewRow]:
        return list(self._rows)

    def row_at(self, row: int) -> ReviewRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, call_id: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == call_id), -1)

    # -- Qt model API ----------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(COLUMNS)):
            return COLUMNS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.column() < len(COLUMNS):
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _TEXT[column](row)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == CLASS and row.excused:
                return f"Excused: {row.excuse_memo}"
            if column == TALK:
                return f"Rang {duration_text(row.ring_seconds)}" + (
                    f", talked {duration_text(row.duration_seconds)}" if row.answered else ", not answered")
            return _TEXT[column](row)
        if role == Qt.ItemDataRole.FontRole and row.excused:
            return self._italic            # reviewed and excused: set apart from the calls still to judge
        if role == IdRole:
            return row.id
        return None
