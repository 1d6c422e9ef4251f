"""Item models of the booking form: the availability list and the job's line items."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from models.capacity import Slot

_Index = QModelIndex | QPersistentModelIndex
SlotRole = Qt.ItemDataRole.UserRole + 1
FULL_BRUSH = QBrush(QColor("#9e9e9e"))
WARN_BRUSH = QBrush(QColor("#b26a00"))
STARTED = "Already started"  # models/capacity.py's note on a window of today that has begun


class _FlatTable(QAbstractTableModel):
    """A flat table with fixed column titles."""

    COLUMNS: tuple[str, ...] = ()

    def _count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._count()

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None


class AvailabilityModel(_FlatTable):
    """Arrival windows for the next days, full ones included but marked."""

    COLUMNS = ("Day", "Arrival window", "Booked", "Technicians", "Notes")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._slots: list[Slot] = []

    def set_slots(self, slots: list[Slot]) -> None:
        self.beginResetModel()  # a new search of availability replaces the whole list
        self._slots = list(slots)
        self.endResetModel()

    def slot(self, row: int) -> Slot | None:
        return self._slots[row] if 0 <= row < len(self._slots) else None

    def first_fitting_row(self) -> int:
        """The window to pre-select: the first with room that hasn't begun — a started one can still be
        picked (its note says so), never offered by default."""
        return next((i for i, s in enumerate(self._slots) if s.fits and STARTED not in s.warnings), -1)

    def row_of(self, day: Any, window_id: str) -> int:
        return next((i for i, s in enumerate(self._slots) if s.day == day and s.window.id == window_id), -1)

    def _count(self) -> int:
        return len(self._slots)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        slot = self.slot(index.row()) if index.isValid() else None
        if slot is None:
            return None
        col = index.column()
        if role == SlotRole:
            return slot
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if col == 0:
                return f"{slot.day:%a %b} {slot.day.day}"
            if col == 1:
                return slot.window.name
            if col == 2:
                return (
                    "Full"
                    if not slot.fits and slot.capacity and slot.booked >= slot.capacity
                    else f"{slot.percent}%"
                )
            if col == 3:
                return str(len(slot.technicians)) if slot.technicians else "—"
            notes = list(slot.warnings)
            if not slot.fits and "Full" not in notes and slot.technicians:
                notes.insert(0, "Full")
            return ", ".join(notes)
        if role == Qt.ItemDataRole.ToolTipRole:
            techs = ", ".join(slot.technicians) or "nobody with the needed skills"
            return f"{slot.booked} of {slot.capacity} technician-minutes booked; on shift: {techs}"
        if role == Qt.ItemDataRole.ForegroundRole:
            if not slot.fits:
                return FULL_BRUSH
            if col == 4 and slot.warnings:
                return WARN_BRUSH
        if role == Qt.ItemDataRole.FontRole and not slot.fits:
            font = QFont()
            font.setStrikeOut(col == 1)
            return font
        return None


class LineItemsModel(_FlatTable):
    """The job's services (from the job type's defaults, editable quantity and price)."""

    COLUMNS = ("Service", "Qty", "Price")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[dict[str, Any]] = []

    def set_items(self, items: list[dict[str, Any]]) -> None:
        self.beginResetModel()
        self._items = [dict(i) for i in items]
        self.endResetModel()

    def items(self) -> list[dict[str, Any]]:
        return [dict(i) for i in self._items]

    def add(self, item: dict[str, Any]) -> None:
        row = len(self._items)
        self.beginInsertRows(QModelIndex(), row, row)
        self._items.append(dict(item))
        self.endInsertRows()

    def remove(self, row: int) -> None:
        if 0 <= row < len(self._items):
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._items[row]
            self.endRemoveRows()

    def total(self) -> float:
        return sum(float(i.get("price", 0)) * float(i.get("quantity", 1)) for i in self._items)

    def _count(self) -> int:
        return len(self._items)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
        return base | Qt.ItemFlag.ItemIsEditable if index.column() in (1, 2) else base

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if col == 0:
                return f"{item.get('name', item.get('code', ''))}"
            if col == 1:
                return f"{float(item.get('quantity', 1)):g}"
            return f"${float(item.get('price', 0)):,.2f}"
        if role == Qt.ItemDataRole.EditRole and col in (1, 2):
            return float(item.get("quantity" if col == 1 else "price", 0))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (1, 2):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or index.column() not in (1, 2):
            return False
        try:
            number = float(str(value).replace("$", "").replace(",", ""))
        except ValueError:
            return False
        if number < 0 or (index.column() == 1 and number == 0):
            return False
        self._items[index.row()]["quantity" if index.column() == 1 else "price"] = number
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole])
        return True
