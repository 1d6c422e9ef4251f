"""The item model behind call review: ``ReviewRow``s oldest first, as the query returns them.

A new period or kind is a reset (a new query's answer); one call's change after a manager's edit is a
``dataChanged`` for its row, or a removal when it left the list (Booked, NotLead, …).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QFont

from models.call_review import ReviewRow

from .call_bubble import duration_text
from .row_model import IdRole, RowTableModel

__all__ = ["CLASS_NAMES", "COLUMNS", "CallReviewModel", "IdRole", "agent_text", "class_text", "when_text"]

COLUMNS = ("Started", "Caller", "Customer", "Campaign", "CSR", "Talk", "Class", "Reason", "Tags", "Callback")
STARTED, CALLER, CUSTOMER, CAMPAIGN, CSR, TALK, CLASS, REASON, TAGS, CALLBACK = range(len(COLUMNS))
CLASS_NAMES = {"NotLead": "Not a lead"}


def when_text(at: datetime) -> str:
    """ "Thu Nov 26, 8:05 AM": the weekday and the clock, as a manager reads a call log."""
    hour = at.hour % 12 or 12
    return f"{at:%a} {at:%b} {at.day}, {hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"


def class_text(row: ReviewRow) -> str:
    """ "Unbooked", or "Excused (was Unbooked)" for a call a manager excused."""
    name = CLASS_NAMES.get(row.classification, row.classification)
    if row.excused and row.kind and row.kind != row.classification:
        return f"{name} (was {CLASS_NAMES.get(row.kind, row.kind)})"
    return name


def talk_text(row: ReviewRow) -> str:
    return duration_text(row.duration_seconds) if row.answered else "Not answered"


def agent_text(row: ReviewRow) -> str:
    return row.agent_name or "Nobody"


_TEXT = {
    STARTED: lambda r: when_text(r.started_at),
    CALLER: lambda r: r.caller,
    CUSTOMER: lambda r: r.customer_name,
    CAMPAIGN: lambda r: r.campaign,
    CSR: agent_text,
    TALK: talk_text,
    CLASS: class_text,
    REASON: lambda r: r.reason,
    TAGS: lambda r: ", ".join(r.tags),
    CALLBACK: lambda r: r.callback,  # the callback queue's item (docs/phone.md)
}


class CallReviewModel(RowTableModel[ReviewRow]):
    columns = COLUMNS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._italic = QFont()
        self._italic.setItalic(True)

    def update_row(self, row: ReviewRow) -> bool:
        """Show a listed call's new state (its place, by start time, never changes); False if unlisted."""
        index = self.row_of(row.id)
        if index < 0:
            return False
        self._rows[index] = row
        self.changed(index)
        return True

    def text(self, row: ReviewRow, column: int) -> str:
        return _TEXT[column](row)

    def role_data(self, row: ReviewRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == CLASS and row.excused:
                return f"Excused: {row.excuse_memo}"
            if column == TALK:
                return f"Rang {duration_text(row.ring_seconds)}" + (
                    f", talked {duration_text(row.duration_seconds)}" if row.answered else ", not answered"
                )
            return _TEXT[column](row)
        if role == Qt.ItemDataRole.FontRole and row.excused:
            return self._italic  # reviewed and excused: set apart from the calls still to judge
        return None
