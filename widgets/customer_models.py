"""Item models behind the customer panel and the duplicate dialog: contacts (with the
notifications / do-not-text check boxes), locations, notes, job and call history, duplicates.

Each model holds a tuple of plain records. Refreshing the same customer after a write only
emits ``dataChanged`` for the rows that changed; a different list (another customer, a row
added) is a reset, which is the honest signal for "this is a new list".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont

from models.duplicates import DuplicateCandidate
from models.records import CallRecord, ContactRecord, JobRecord, LocationRecord, NoteRecord

_Index = QModelIndex | QPersistentModelIndex
IdRole = Qt.ItemDataRole.UserRole + 1
T = TypeVar("T")

KIND_LABELS = {"Phone": "Phone", "MobilePhone": "Mobile", "Email": "Email", "Fax": "Fax"}


def when(value: datetime | None) -> str:
    """A stored UTC time as the CSR's local date and time ("Mar 4, 2026 2:30 PM")."""
    if value is None:
        return ""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone()
    hour = local.hour % 12 or 12
    return f"{local:%b} {local.day}, {local.year} {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def duration(seconds: int) -> str:
    minutes, secs = divmod(max(0, seconds), 60)
    return f"{minutes}:{secs:02d}"


@dataclasses.dataclass(frozen=True)
class Column(Generic[T]):
    title: str
    text: Callable[[T], str]


class RecordTableModel(QAbstractTableModel, Generic[T]):
    """A read-only table over a tuple of records that each have an ``id``."""

    columns: Sequence[Column[Any]] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = []

    # -- feeding ------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[T]) -> None:
        new = list(rows)
        if [_id(r) for r in new] != [_id(r) for r in self._rows]:
            self.beginResetModel()
            self._rows = new
            self.endResetModel()
            return
        for i, row in enumerate(new):
            if row != self._rows[i]:
                self._rows[i] = row
                self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))

    def rows(self) -> list[T]:
        return list(self._rows)

    def row_at(self, row: int) -> T | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, ident: str) -> int:
        return next((i for i, r in enumerate(self._rows) if _id(r) == ident), -1)

    # -- Qt model API -------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(self.columns)):
            return self.columns[section].title
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(self.columns):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.columns[index.column()].text(row)
        if role == IdRole:
            return _id(row)
        return self.extra_data(row, index.column(), role)

    def extra_data(self, row: T, column: int, role: int) -> Any:
        return None


def _id(row: Any) -> str:
    return row.customer_id if isinstance(row, DuplicateCandidate) else row.id


class ContactsModel(RecordTableModel[ContactRecord]):
    """Contact methods; the two flag columns are check boxes the CSR toggles with Space or a click."""

    flagToggled = Signal(str, str, bool)     # contact id, "notifications" / "do_not_text", new value

    columns = (
        Column("Type", lambda c: KIND_LABELS.get(c.kind, c.kind)),
        Column("Number / email", lambda c: c.display),
        Column("Memo", lambda c: c.memo),
        Column("Notifications", lambda c: ""),
        Column("Do not text", lambda c: ""),
    )
    FLAG_COLUMNS = {3: "notifications", 4: "do_not_text"}

    def _flag_applies(self, contact: ContactRecord, column: int) -> bool:
        # Texting only means something for numbers that can receive texts.
        return column == 3 or (column == 4 and contact.kind != "Email")

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = super().flags(index)
        contact = self.row_at(index.row()) if index.isValid() else None
        if contact is not None and index.column() in self.FLAG_COLUMNS and self._flag_applies(contact, index.column()):
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def extra_data(self, row: ContactRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.CheckStateRole and column in self.FLAG_COLUMNS \
                and self._flag_applies(row, column):
            on = getattr(row, self.FLAG_COLUMNS[column])
            return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.AccessibleTextRole and column in self.FLAG_COLUMNS:
            on = getattr(row, self.FLAG_COLUMNS[column])
            return f"{self.columns[column].title}: {'on' if on else 'off'}"
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        contact = self.row_at(index.row()) if index.isValid() else None
        if (contact is None or role != Qt.ItemDataRole.CheckStateRole
                or index.column() not in self.FLAG_COLUMNS or not self._flag_applies(contact, index.column())):
            return False
        field = self.FLAG_COLUMNS[index.column()]
        on = Qt.CheckState(value) == Qt.CheckState.Checked
        if getattr(contact, field) == on:
            return True
        # Shown at once; the controller saves it and reloads the record (which reverts on failure).
        self._rows[index.row()] = dataclasses.replace(contact, **{field: on})
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.flagToggled.emit(contact.id, field, on)
        return True


def _location_title(loc: LocationRecord) -> str:
    return loc.name or "Service location"


class LocationsModel(RecordTableModel[LocationRecord]):
    columns = (
        Column("Location", _location_title),
        Column("Address", lambda loc: loc.address + ("" if loc.active else " (inactive)")),
        Column("Access notes", lambda loc: loc.access_notes),
        Column("Contacts", lambda loc: ", ".join(c.display for c in loc.contacts)),
        Column("Tags", lambda loc: ", ".join(loc.tags)),
    )


class NotesModel(RecordTableModel[NoteRecord]):
    columns = (
        Column("Note", lambda n: ("Pinned: " if n.pinned else "") + n.text),
        Column("By", lambda n: n.author),
        Column("When", lambda n: when(n.created_at)),
    )

    def extra_data(self, row: NoteRecord, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.FontRole and row.pinned:
            font = QFont()
            font.setBold(True)
            return font
        return None


class JobsModel(RecordTableModel[JobRecord]):
    columns = (
        Column("Job #", lambda j: j.number),
        Column("Status", lambda j: j.status),
        Column("Job type", lambda j: j.job_type or "Unknown"),
        Column("Business unit", lambda j: j.business_unit),
        Column("Appointment", lambda j: when(j.first_appointment)),
        Column("Summary", lambda j: " ".join(j.summary.split())),
        Column("Created", lambda j: when(j.created_at)),
    )


class CallsModel(RecordTableModel[CallRecord]):
    columns = (
        Column("When", lambda c: when(c.started_at)),
        Column("Direction", lambda c: c.direction),
        Column("Classification", lambda c: c.classification or "Not classified"),
        Column("Duration", lambda c: duration(c.duration_seconds)),
        Column("From", lambda c: c.from_number),
        Column("CSR", lambda c: c.agent),
    )


class DuplicatesModel(RecordTableModel[DuplicateCandidate]):
    columns = (
        Column("Name", lambda d: d.name + (" (Do Not Service)" if d.do_not_service else "")),
        Column("Address", lambda d: d.address),
        Column("Phone", lambda d: d.phone),
        Column("Why it matches", lambda d: "; ".join(d.reasons)),
    )
