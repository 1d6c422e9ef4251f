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
from PySide6.QtGui import QBrush, QColor, QFont

from models.duplicates import DuplicateCandidate
from models.records import CallRecord, ContactRecord, JobRecord, LocationRecord, NoteRecord, upcoming_first

_Index = QModelIndex | QPersistentModelIndex
IdRole = Qt.ItemDataRole.UserRole + 1
T = TypeVar("T")

REASON_STATUSES = frozenset({"Hold", "Canceled"})
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

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.columns)
        ):
            return self.columns[section].title
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(self.columns):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole:
            extra = self.extra_data(row, index.column(), role)
            return extra if extra is not None else self.columns[index.column()].text(row)
        if role == Qt.ItemDataRole.DisplayRole:
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

    flagToggled = Signal(str, str, bool)  # contact id, "notifications" / "do_not_text", new value

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
        if (
            contact is not None
            and index.column() in self.FLAG_COLUMNS
            and self._flag_applies(contact, index.column())
        ):
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def extra_data(self, row: ContactRecord, column: int, role: int) -> Any:
        if (
            role == Qt.ItemDataRole.CheckStateRole
            and column in self.FLAG_COLUMNS
            and self._flag_applies(row, column)
        ):
            on = getattr(row, self.FLAG_COLUMNS[column])
            return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.AccessibleTextRole and column in self.FLAG_COLUMNS:
            on = getattr(row, self.FLAG_COLUMNS[column])
            return f"{self.columns[column].title}: {'on' if on else 'off'}"
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        contact = self.row_at(index.row()) if index.isValid() else None
        if (
            contact is None
            or role != Qt.ItemDataRole.CheckStateRole
            or index.column() not in self.FLAG_COLUMNS
            or not self._flag_applies(contact, index.column())
        ):
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


NEEDS_RESCHEDULE_BRUSH = QBrush(QColor("#c62828"))


def job_status(job: JobRecord) -> str:
    """ "Hold — waiting for parts": the reason shows with the statuses that have one."""
    text = (
        f"{job.status} — {job.status_reason}"
        if job.status_reason and job.status in REASON_STATUSES
        else job.status
    )
    if job.confirmed and job.status in ("Scheduled", "Dispatched"):
        text += " · Confirmed by customer"
    if job.needs_reschedule:
        text += " · NEEDS RESCHEDULING"
    if job.action_required:
        text += f" · ACTION REQUIRED: {job.action_required}"
    return f"{text} · Saved on this PC" if job.saved_locally else text


def job_day(job: JobRecord) -> str:
    """The appointment's day in the company's time zone (the PC's own when the record has no window)."""
    start = job.window_start or _local(job.first_appointment)
    return f"{start:%a %b} {start.day}, {start.year}" if start else "Not scheduled"


def job_window(job: JobRecord) -> str:
    """The arrival window by its setup name ("8–12"), or its times when the name is unknown."""
    if job.window_name:
        return job.window_name
    if job.window_start and job.window_end:
        return f"{clock(job.window_start)}–{clock(job.window_end)}"
    start = _local(job.first_appointment)
    return clock(start) if start else ""


def clock(value: datetime) -> str:
    hour = value.hour % 12 or 12
    return f"{hour}:{value:%M} {'AM' if value.hour < 12 else 'PM'}"


def _local(value: datetime | None) -> datetime | None:
    return None if value is None else (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone()


class JobsModel(RecordTableModel[JobRecord]):
    """Upcoming jobs first (soonest first), then past ones (newest first, shown in italics)."""

    columns = (
        Column("Job #", lambda j: j.number),
        Column("Status", job_status),
        Column("Job type", lambda j: j.job_type or "Unknown"),
        Column("Business unit", lambda j: j.business_unit),
        Column("Date", job_day),
        Column("Arrival", job_window),
        Column("Summary", lambda j: " ".join(j.summary.split())),
    )

    def __init__(self, parent: Any = None, now_fn: Callable[[], datetime] | None = None) -> None:
        super().__init__(parent)
        self._now: Callable[[], datetime] = now_fn or (lambda: datetime.now(UTC))
        self._upcoming: frozenset[str] = frozenset()

    def set_now_fn(self, now_fn: Callable[[], datetime]) -> None:
        """The clock that splits upcoming from past (the console's, so tests can fix the time)."""
        self._now = now_fn
        self.set_rows(self._rows)

    def set_rows(self, rows: Sequence[JobRecord]) -> None:
        now = self._now()
        ordered = upcoming_first(rows, now)
        upcoming = frozenset(j.id for j in ordered if j.is_upcoming(now))
        moved = upcoming != self._upcoming
        self._upcoming = upcoming
        same_ids = [j.id for j in ordered] == [j.id for j in self._rows]
        super().set_rows(ordered)
        if moved and same_ids and self._rows:
            # Same rows in the same order, but one crossed from upcoming to past: restyle them all.
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self._rows) - 1, self.columnCount() - 1),
                [Qt.ItemDataRole.FontRole, Qt.ItemDataRole.AccessibleTextRole],
            )

    def is_upcoming(self, row: int) -> bool:
        job = self.row_at(row)
        return job is not None and job.id in self._upcoming

    def extra_data(self, row: JobRecord, column: int, role: int) -> Any:
        upcoming = row.id in self._upcoming
        if role == Qt.ItemDataRole.FontRole and not upcoming:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.AccessibleTextRole:
            text = self.columns[column].text(row)
            return f"{text}, {'upcoming' if upcoming else 'past'} job" if column == 0 else text
        if row.action_required and role == Qt.ItemDataRole.ForegroundRole:
            return NEEDS_RESCHEDULE_BRUSH
        if row.needs_reschedule:
            if role == Qt.ItemDataRole.ForegroundRole:
                return NEEDS_RESCHEDULE_BRUSH
            if role == Qt.ItemDataRole.ToolTipRole and row.suggested:
                return (
                    "Its window filled before the booking reached the server. Nearest free windows: "
                    + "; ".join(row.suggested)
                    + " — reschedule it (Ctrl+R) and tell the customer."
                )
        return None


def call_status(c: CallRecord) -> str:
    """What the Calls tab says of a call: its class, or — while it lasts — "Booked — job N" / "In progress"."""
    if c.classification:
        return c.classification
    if c.job_number:
        return f"Booked — job {c.job_number}"
    if c.in_progress:
        return "In progress"
    return "Not counted" if c.direction == "Outbound" else "Not classified"


class CallsModel(RecordTableModel[CallRecord]):
    columns = (
        Column("When", lambda c: when(c.started_at)),
        Column("Direction", lambda c: c.direction),
        Column("Classification", lambda c: call_status(c)),
        Column("Duration", lambda c: "In progress" if c.in_progress else duration(c.duration_seconds)),
        Column("Number", lambda c: c.from_number),
        Column("CSR", lambda c: c.agent),
    )


class DuplicatesModel(RecordTableModel[DuplicateCandidate]):
    columns = (
        Column("Name", lambda d: d.name + (" (Do Not Service)" if d.do_not_service else "")),
        Column("Address", lambda d: d.address),
        Column("Phone", lambda d: d.phone),
        Column("Why it matches", lambda d: "; ".join(d.reasons)),
    )
