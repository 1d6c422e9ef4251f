"""The item model behind the leads list: ``LeadRow``s in the list's order, with the follow-up
shown as a CSR reads it ("Overdue 3 d", "Today", "Tomorrow", "Tue, Mar 17") and due rows in bold.

A new query's answer is a reset; one lead's change is an insert, a move or a ``dataChanged``,
placed with ``models.lead_queries.sort_key`` so it lands where the query would put it.
"""

from __future__ import annotations

import bisect
from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from models.jobs import LeadStatus
from models.lead_queries import LeadRow, sort_key

from .row_model import IdRole, RowTableModel

__all__ = ["COLUMNS", "SUMMARY", "IdRole", "LeadsModel", "follow_up_text", "status_text"]

COLUMNS = ("Follow-up", "Name", "Phone", "Summary", "Reason", "Campaign", "Status")
FOLLOW_UP, SUMMARY = 0, 3
_OVERDUE_BRUSH = QBrush(QColor("#c62828"))


def _short_date(day: date, days_until: int | None) -> str:
    # The weekday is what a CSR plans by; the year only matters far from today.
    if days_until is not None and abs(days_until) < 180:
        return f"{day:%a}, {day:%b} {day.day}"
    return f"{day:%b} {day.day}, {day.year}"


def follow_up_text(row: LeadRow) -> str:
    """ "Overdue 3 d", "Today", "Tomorrow" or the date; closed leads just show the date."""
    if row.follow_up_on is None:
        return ""
    if row.is_open:
        if row.overdue:
            return f"Overdue {row.overdue_days} d"
        if row.due:
            return "Today"
        if row.days_until == 1:
            return "Tomorrow"
    return _short_date(row.follow_up_on, row.days_until)


def _follow_up_spoken(row: LeadRow) -> str:
    if row.overdue:
        days = row.overdue_days
        return f"Follow-up overdue by {days} day{'s' if days != 1 else ''}"
    if row.follow_up_on is None:
        return "No follow-up date"
    return f"Follow-up {'due today' if row.due else follow_up_text(row)}"


def status_text(row: LeadRow) -> str:
    if row.status == LeadStatus.CONVERTED.value and row.converted_job_number:
        return f"Converted — job {row.converted_job_number}"
    if row.status == LeadStatus.DISMISSED.value and row.status_reason:
        return f"Dismissed — {row.status_reason}"
    return row.status


_TEXT = (
    follow_up_text,
    lambda r: r.name,
    lambda r: r.phone,
    lambda r: " ".join(r.summary.split()),
    lambda r: r.call_reason,
    lambda r: r.campaign,
    status_text,
)


class LeadsModel(RowTableModel[LeadRow]):
    """Lead rows in ``sort_key`` order; ``update_row`` inserts, moves or changes one row in place."""

    columns = COLUMNS

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bold = QFont()
        self._bold.setBold(True)

    def update_row(self, row: LeadRow) -> None:
        """Show this lead's new state: changed in place, moved to its new place, or inserted."""
        old = self.row_of(row.id)
        others = self._rows if old < 0 else self._rows[:old] + self._rows[old + 1 :]
        pos = bisect.bisect_left([sort_key(r) for r in others], sort_key(row))
        if old < 0:
            self.beginInsertRows(QModelIndex(), pos, pos)
            self._rows.insert(pos, row)
            self.endInsertRows()
            return
        if pos != old:
            # beginMoveRows counts the destination in the list *before* the move.
            self.beginMoveRows(QModelIndex(), old, old, QModelIndex(), pos + 1 if pos > old else pos)
            del self._rows[old]
            self._rows.insert(pos, row)
            self.endMoveRows()
        else:
            self._rows[pos] = row
        self.changed(pos)

    def text(self, row: LeadRow, column: int) -> str:
        return _TEXT[column](row)

    def role_data(self, row: LeadRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == FOLLOW_UP:
                return _follow_up_spoken(row)
            return row.summary if column == SUMMARY else _TEXT[column](row)
        if role == Qt.ItemDataRole.AccessibleTextRole and column == FOLLOW_UP:
            return _follow_up_spoken(row)
        if role == Qt.ItemDataRole.FontRole and row.due:
            return self._bold
        if role == Qt.ItemDataRole.ForegroundRole and row.overdue and column == FOLLOW_UP:
            return _OVERDUE_BRUSH
        return None
