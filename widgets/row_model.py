"""A table model over a list of plain rows that each have an ``id`` (leads, reviewed calls): the rows
API the lists use (set, remove, find) and the Qt model API, so a list's model only says how its
columns read (``text``) and what else a role shows (``role_data``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

_Index = QModelIndex | QPersistentModelIndex
IdRole = Qt.ItemDataRole.UserRole + 1
Row = TypeVar("Row")


class RowTableModel(QAbstractTableModel, Generic[Row]):
    columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []

    # -- what a list says about its columns ----------------------------------------------------------------
    def text(self, row: Row, column: int) -> str:
        raise NotImplementedError

    def role_data(self, row: Row, column: int, role: int) -> Any:
        """Anything but display text and the id (tooltips, fonts, colours); None for nothing."""
        return None

    # -- rows -----------------------------------------------------------------------------------------------
    def set_rows(self, rows: Sequence[Row]) -> None:
        """A new query's answer: a reset, the honest signal for "this is a new list"."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def remove_row(self, row_id: str) -> bool:
        index = self.row_of(row_id)
        if index < 0:
            return False
        self.beginRemoveRows(QModelIndex(), index, index)
        del self._rows[index]
        self.endRemoveRows()
        return True

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_at(self, row: int) -> Row | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, row_id: str) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == row_id), -1)  # type: ignore[attr-defined]

    def changed(self, index: int) -> None:
        self.dataChanged.emit(self.index(index, 0), self.index(index, len(self.columns) - 1))

    # -- Qt model API ---------------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,  # noqa: N802
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.columns)
        ):
            return self.columns[section]
        return None

    # Roles no list here answers: the view asks for each of them for every cell it paints.
    _UNUSED_ROLES = frozenset(
        {
            Qt.ItemDataRole.DecorationRole,
            Qt.ItemDataRole.CheckStateRole,
            Qt.ItemDataRole.SizeHintRole,
            Qt.ItemDataRole.BackgroundRole,
            Qt.ItemDataRole.WhatsThisRole,
            Qt.ItemDataRole.StatusTipRole,
        }
    )

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role in self._UNUSED_ROLES or not index.isValid() or not 0 <= index.column() < len(self.columns):
            return None
        row = self.row_at(index.row())
        if row is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, index.column())
        if role == IdRole:
            return row.id  # type: ignore[attr-defined]
        return self.role_data(row, index.column(), role)
