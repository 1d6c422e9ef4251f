"""The managers' *Availability* window (`availabilityWindow`, Ctrl+Shift+V): technician time off (whole or
part days), company holidays and capacity adjustments per day and window, and the jobs a change left
over capacity (to reschedule).

Keyboard-first: the form is in tab order (what, day, technician, from, until, group, window, minutes,
note); Ctrl+S adds the entry; in the entries list Delete withdraws the highlighted one; Ctrl+R reloads
(F5 is the console's window-wide Sync now); Esc closes. The widgets hold plain data and emit signals; console/availability_controller.py reads and
writes on a database worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QDate, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

Index = QModelIndex | QPersistentModelIndex
KINDS = (
    ("time_off", "Time off"),
    ("holiday", "Company holiday (closed)"),
    ("adjustment", "Capacity adjustment"),
)


@dataclass(frozen=True, slots=True)
class EntryRow:
    id: str
    day: str  # "Tue Dec 1"
    what: str  # "Time off · Ann (whole day)"
    note: str
    by: str
    reschedule: tuple[str, ...] = ()  # job numbers the change left over capacity


@dataclass
class Choices:
    technicians: list[tuple[str, str]] = field(default_factory=list)  # (id, name)
    groups: list[tuple[str, str]] = field(default_factory=list)
    windows: list[tuple[str, str]] = field(default_factory=list)


class EntriesModel(QAbstractTableModel):
    HEADERS = ("Day", "What", "Note", "By", "Reschedule")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[EntryRow] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.HEADERS[section] if 0 <= section < len(self.HEADERS) else None
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not (0 <= index.row() < len(self.rows)):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            r = self.rows[index.row()]
            return (r.day, r.what, r.note, r.by, ", ".join(r.reschedule))[index.column()]
        return None

    def set_rows(self, rows: list[EntryRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row(self, n: int) -> EntryRow | None:
        return self.rows[n] if 0 <= n < len(self.rows) else None


class AvailabilityWindow(QWidget):
    addRequested = Signal(str, dict)  # intent name, its arguments
    removeRequested = Signal(str)  # entry id
    reloadRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("availabilityWindow")
        self.setWindowTitle("Availability: time off, holidays, capacity")
        self.resize(900, 600)
        self.entries = EntriesModel(self)

        self.kind = QComboBox(objectName="availabilityKind")
        self.kind.setAccessibleName("What to add")
        for value, text in KINDS:
            self.kind.addItem(text, value)
        self.day = QDateEdit(objectName="availabilityDay", calendarPopup=True)
        self.day.setAccessibleName("Day")
        self.day.setDisplayFormat("ddd MMM d, yyyy")
        self.day.setDate(QDate.currentDate())
        self.technician = QComboBox(objectName="availabilityTechnician")
        self.technician.setAccessibleName("Technician")
        self.start = QLineEdit(objectName="availabilityStart", placeholderText="HH:MM — blank: whole day")
        self.start.setAccessibleName("Off from (blank for the whole day)")
        self.end = QLineEdit(objectName="availabilityEnd", placeholderText="HH:MM")
        self.end.setAccessibleName("Off until")
        self.group = QComboBox(objectName="availabilityGroup")
        self.group.setAccessibleName("Capacity group")
        self.window_pick = QComboBox(objectName="availabilityWindowPick")
        self.window_pick.setAccessibleName("Arrival window")
        self.minutes = QSpinBox(objectName="availabilityMinutes")
        self.minutes.setRange(-60_000, 60_000)
        self.minutes.setSingleStep(60)
        self.minutes.setSuffix(" technician-min")
        self.minutes.setAccessibleName("Technician-minutes to add (+) or take away (−)")
        self.note = QLineEdit(objectName="availabilityNote", maxLength=200)
        self.note.setAccessibleName("Note")
        self.add_button = QPushButton("&Add (Ctrl+S)", objectName="availabilityAdd")
        self.add_button.setAccessibleName("Add the entry")

        form = QFormLayout()
        self._labels: dict[QWidget, QLabel] = {}
        for text, widget in (
            ("W&hat", self.kind),
            ("&Day", self.day),
            ("&Technician", self.technician),
            ("&From", self.start),
            ("&Until", self.end),
            ("&Group", self.group),
            ("Wi&ndow", self.window_pick),
            ("M&inutes", self.minutes),
            ("N&ote", self.note),
        ):
            label = QLabel(text)
            label.setBuddy(widget)
            self._labels[widget] = label
            form.addRow(label, widget)

        self.list = QTableView(objectName="availabilityEntries")
        self.list.setAccessibleName("Time off, holidays and capacity adjustments")
        self.list.setModel(self.entries)
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.reschedule = QListWidget(objectName="availabilityReschedule")
        self.reschedule.setAccessibleName("Jobs over capacity after the last change: reschedule them")
        self.reschedule.setMaximumHeight(90)
        self.message = QLabel("", objectName="availabilityMessage")
        self.message.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        layout.addLayout(buttons)
        layout.addWidget(QLabel("Ctrl+S: add · Delete (in the list): withdraw · Ctrl+R: reload · Esc: close"))
        layout.addWidget(self.list, 1)
        layout.addWidget(QLabel("To reschedule (jobs over capacity after the last change):"))
        layout.addWidget(self.reschedule)
        layout.addWidget(self.message)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.add_button.clicked.connect(self.request_add)
        for keys, slot, where in (
            (QKeySequence.StandardKey.Save, self.request_add, self),
            (QKeySequence("Ctrl+R"), self.reloadRequested.emit, self),
            (QKeySequence(Qt.Key.Key_Escape), self.close, self),
            (QKeySequence(Qt.Key.Key_Delete), self.request_remove, self.list),
        ):
            shortcut = QShortcut(keys, where)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)
        self._kind_changed()

    # -- what the controller shows -------------------------------------------------------------------------
    def set_choices(self, choices: Choices) -> None:
        for combo, items in (
            (self.technician, choices.technicians),
            (self.group, choices.groups),
            (self.window_pick, choices.windows),
        ):
            current = combo.currentData()
            combo.clear()
            for ident, name in items:
                combo.addItem(name, ident)
            at = combo.findData(current)
            if at >= 0:
                combo.setCurrentIndex(at)

    def show_entries(self, rows: list[EntryRow]) -> None:
        current = self.entries.row(self.list.currentIndex().row())
        self.entries.set_rows(rows)
        if current is not None:
            for n, r in enumerate(rows):
                if r.id == current.id:
                    self.list.selectRow(n)

    def show_reschedule(self, jobs: list[str]) -> None:
        self.reschedule.clear()
        self.reschedule.addItems(jobs)

    def show_message(self, text: str, kind: str = "info") -> None:
        self.message.setProperty("kind", kind)
        self.message.setText(text)

    def added(self) -> None:
        """The entry was saved: clear what is specific to it, keep the day and the kind."""
        self.start.clear()
        self.end.clear()
        self.note.clear()
        self.minutes.setValue(0)

    # -- the form ---------------------------------------------------------------------------------------
    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        shown = {
            "time_off": (self.technician, self.start, self.end),
            "holiday": (),
            "adjustment": (self.group, self.window_pick, self.minutes),
        }[kind]
        for widget in (self.technician, self.start, self.end, self.group, self.window_pick, self.minutes):
            widget.setVisible(widget in shown)
            self._labels[widget].setVisible(widget in shown)

    def request_add(self) -> None:
        kind = self.kind.currentData()
        day = self.day.date().toString("yyyy-MM-dd")
        args: dict[str, Any] = {"day": day}
        if self.note.text().strip():
            args["note"] = self.note.text().strip()
        if kind == "time_off":
            args["technician_id"] = self.technician.currentData() or ""
            if self.start.text().strip() or self.end.text().strip():
                args["start"], args["end"] = self.start.text().strip(), self.end.text().strip()
            name = "add_time_off"
        elif kind == "holiday":
            name = "add_holiday"
        else:
            args["group_id"] = self.group.currentData() or ""
            args["arrival_window_id"] = self.window_pick.currentData() or ""
            args["minutes"] = self.minutes.value()
            name = "adjust_capacity"
        self.addRequested.emit(name, args)

    def request_remove(self) -> None:
        row = self.entries.row(self.list.currentIndex().row())
        if row is None:
            self.show_message("Highlight an entry in the list first.", "error")
            return
        self.removeRequested.emit(row.id)
