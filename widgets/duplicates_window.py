"""The managers' *Possible duplicates* window (`duplicatesWindow`, Ctrl+Shift+F): the pairs the
background scan found, and a side-by-side compare of the chosen pair where, per field, the manager
picks which value wins; Merge (Ctrl+S) and Undo the last merge (Ctrl+Z).

Keyboard-first: the pairs list has type-ahead and Enter opens the compare; in the compare, Space (or a
click) on a field gives it the other customer's value; Ctrl+Shift+S swaps which customer survives;
Esc goes back from the compare to the list (asking first when choices were made), and closes the
window from the list. The widgets hold plain data and emit signals; console/merge_controller.py does
the reading and writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class PairRow:
    """One line of the list: two customers that may be one, and why."""

    a_id: str
    a_name: str
    b_id: str
    b_name: str
    reasons: str


@dataclass(slots=True)
class Side:
    """One customer of the compare: its field values (as shown) and what hangs off it."""

    id: str
    values: dict[str, str]
    counts: str  # "3 jobs · 2 locations · 4 calls"


@dataclass(slots=True)
class Comparison:
    fields: list[tuple[str, str]]  # (key, label) in display order
    survivor: Side
    merged: Side
    winners: dict[str, str] = field(default_factory=dict)  # key -> "merged" (absent: the survivor's)


class PairsModel(QAbstractTableModel):
    HEADERS = ("Customer", "Possible duplicate", "Why")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[PairRow] = []

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (row.a_name, row.b_name, row.reasons)[index.column()]
        return None

    def set_rows(self, rows: list[PairRow]) -> None:
        """A finished scan's whole answer (a new list, so one reset)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row(self, n: int) -> PairRow | None:
        return self._rows[n] if 0 <= n < len(self._rows) else None

    def remove_customer(self, customer_id: str) -> None:
        """Take out every pair with this customer (it was merged away), row by row."""
        for n in range(len(self._rows) - 1, -1, -1):
            if customer_id in (self._rows[n].a_id, self._rows[n].b_id):
                self.beginRemoveRows(QModelIndex(), n, n)
                del self._rows[n]
                self.endRemoveRows()


class CompareModel(QAbstractTableModel):
    """Field | survivor's value | merged customer's value; the winning value is checked."""

    HEADERS = ("Field", "Keeps (survivor)", "Merged away")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.comparison: Comparison | None = None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() or self.comparison is None else len(self.comparison.fields)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() > 0:
            base |= Qt.ItemFlag.ItemIsUserCheckable
        return base

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        c = self.comparison
        if c is None or not index.isValid() or not 0 <= index.row() < len(c.fields):
            return None
        key, label = c.fields[index.row()]
        side = c.winners.get(key, "survivor")
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if index.column() == 0:
                return label
            return (c.survivor if index.column() == 1 else c.merged).values.get(key, "")
        if role == Qt.ItemDataRole.CheckStateRole and index.column() > 0:
            wins = (index.column() == 1) == (side == "survivor")
            return Qt.CheckState.Checked if wins else Qt.CheckState.Unchecked
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role != Qt.ItemDataRole.CheckStateRole or self.comparison is None or index.column() == 0:
            return False
        if not index.isValid() or not 0 <= index.row() < len(self.comparison.fields):
            return False
        # A checked cell makes its column win; unchecking one makes the other column win (a radio pair).
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        survivor_wins = (index.column() == 1) == checked
        self._set(index.row(), "survivor" if survivor_wins else "merged")
        return True

    def toggle(self, row: int) -> None:
        if self.comparison is None or not 0 <= row < len(self.comparison.fields):
            return
        key = self.comparison.fields[row][0]
        self._set(row, "survivor" if self.comparison.winners.get(key) == "merged" else "merged")

    def _set(self, row: int, side: str) -> None:
        assert self.comparison is not None
        key = self.comparison.fields[row][0]
        if side == "merged":
            self.comparison.winners[key] = "merged"
        else:
            self.comparison.winners.pop(key, None)
        self.dataChanged.emit(self.index(row, 1), self.index(row, 2), [Qt.ItemDataRole.CheckStateRole])

    def set_comparison(self, comparison: Comparison | None) -> None:
        self.beginResetModel()
        self.comparison = comparison
        self.endResetModel()


class DuplicatesWindow(QWidget):
    rescanRequested = Signal()
    pairChosen = Signal(str, str)  # survivor id, merged id
    mergeRequested = Signal(str, str, dict)  # survivor id, merged id, {field: "merged"}
    undoRequested = Signal()
    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("duplicatesWindow")
        self.setWindowTitle("Possible duplicates")
        self.resize(900, 560)
        self.pairs = PairsModel(self)
        self.compare = CompareModel(self)

        self.status = QLabel("", objectName="duplicatesStatus")
        self.progress = QProgressBar(objectName="duplicatesProgress")
        self.progress.setRange(0, 100)
        self.progress.setAccessibleName("Scan progress")
        self.rescan_button = QPushButton("Scan a&gain (F5)", objectName="duplicatesRescan")
        self.list = QTableView(objectName="duplicatePairs")
        self.list.setAccessibleName("Possible duplicate customers")
        self.list.setModel(self.pairs)
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.list.activated.connect(lambda index: self._choose(index.row()))

        list_page = QWidget()
        lv = QVBoxLayout(list_page)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.progress)
        top.addWidget(self.rescan_button)
        lv.addLayout(top)
        lv.addWidget(self.list)
        hint = QLabel("Enter: compare the pair · Ctrl+Z: undo the last merge · Esc: close")
        lv.addWidget(hint)

        self.survivor_label = QLabel("", objectName="mergeSurvivorCounts")
        self.merged_label = QLabel("", objectName="mergeMergedCounts")
        self.view = QTableView(objectName="mergeCompare")
        self.view.setAccessibleName("Compare the two customers: the checked value wins")
        self.view.setModel(self.compare)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.swap_button = QPushButton("S&wap survivor (Ctrl+Shift+S)", objectName="mergeSwap")
        self.merge_button = QPushButton("&Merge (Ctrl+S)", objectName="mergeButton")
        self.back_button = QPushButton("Back (Esc)", objectName="mergeBack")
        compare_page = QWidget()
        cv = QVBoxLayout(compare_page)
        cv.addWidget(self.survivor_label)
        cv.addWidget(self.merged_label)
        cv.addWidget(self.view)
        cv.addWidget(QLabel("Space: the other customer's value wins for the highlighted field"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.swap_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.merge_button)
        cv.addLayout(buttons)

        self.message = QLabel("", objectName="mergeMessage")
        self.message.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(list_page)
        self.stack.addWidget(compare_page)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        layout.addWidget(self.message)
        self._dirty = False
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.rescan_button.clicked.connect(self.rescanRequested)
        self.swap_button.clicked.connect(self.swap)
        self.merge_button.clicked.connect(self.request_merge)
        self.back_button.clicked.connect(self.back)
        self.compare.dataChanged.connect(lambda *_: self._mark_dirty())
        for keys, slot in (
            (QKeySequence.StandardKey.Save, self.request_merge),
            (QKeySequence.StandardKey.Undo, self.undoRequested.emit),
            (QKeySequence(Qt.Key.Key_F5), self.rescanRequested.emit),
            (QKeySequence("Ctrl+Shift+S"), self.swap),
            (QKeySequence(Qt.Key.Key_Escape), self.escape),
            (QKeySequence(Qt.Key.Key_Space), self._toggle_current),
        ):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    # -- what the controller shows -------------------------------------------------------------------------
    def show_progress(self, fraction: float, text: str) -> None:
        self.progress.setVisible(fraction < 1.0)
        self.progress.setValue(round(fraction * 100))
        self.status.setText(text)

    def show_pairs(self, rows: list[PairRow], text: str) -> None:
        self.pairs.set_rows(rows)
        self.show_progress(1.0, text)
        if rows and self.stack.currentIndex() == 0:
            self.list.selectRow(0)
            self.list.setFocus()

    def show_comparison(self, comparison: Comparison) -> None:
        self.compare.set_comparison(comparison)
        self.survivor_label.setText(
            f"Keeps: {comparison.survivor.values.get('name', '')} — {comparison.survivor.counts}"
        )
        self.merged_label.setText(
            f"Merged away: {comparison.merged.values.get('name', '')} — {comparison.merged.counts}"
        )
        self._dirty = False
        self.stack.setCurrentIndex(1)
        self.view.selectRow(0)
        self.view.setFocus()

    def show_message(self, text: str, kind: str = "info") -> None:
        self.message.setText(text)
        self.message.setProperty("kind", kind)

    def merged(self, merged_id: str) -> None:
        """The merge is saved: back to the list, without the pairs of the customer merged away."""
        self.pairs.remove_customer(merged_id)
        self.compare.set_comparison(None)
        self._dirty = False
        self.stack.setCurrentIndex(0)
        if self.pairs.rowCount():
            self.list.selectRow(0)
        self.list.setFocus()

    # -- the manager's keys ---------------------------------------------------------------------------------
    def _choose(self, row: int) -> None:
        pair = self.pairs.row(row)
        if pair is not None:
            self.pairChosen.emit(pair.a_id, pair.b_id)

    def _toggle_current(self) -> None:
        if self.stack.currentIndex() == 1:
            self.compare.toggle(self.view.currentIndex().row())

    def _mark_dirty(self) -> None:
        self._dirty = True

    def swap(self) -> None:
        c = self.compare.comparison
        if c is None or self.stack.currentIndex() != 1:
            return
        self.pairChosen.emit(c.merged.id, c.survivor.id)

    def request_merge(self) -> None:
        c = self.compare.comparison
        if c is None or self.stack.currentIndex() != 1:
            return
        self.mergeRequested.emit(c.survivor.id, c.merged.id, dict(c.winners))

    def escape(self) -> None:
        if self.stack.currentIndex() == 1:
            self.back()
        else:
            self.close()

    def back(self) -> None:
        """Back to the list; choices made in the compare are dropped only after a yes."""
        if self._dirty:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Discard changes?",
                "Discard the choices made for this pair?",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                self,
            )
            box.setObjectName("discardChoices")
            box.setDefaultButton(QMessageBox.StandardButton.Cancel)
            box.finished.connect(lambda result: self._back_answered(box, result))
            self._discard_box = box
            box.open()
            return
        self._leave_compare()

    def _back_answered(self, box: QMessageBox, result: int) -> None:
        self._discard_box = None
        box.deleteLater()
        if box.standardButton(box.clickedButton()) == QMessageBox.StandardButton.Discard:
            self._leave_compare()

    def _leave_compare(self) -> None:
        self._dirty = False
        self.compare.set_comparison(None)
        self.stack.setCurrentIndex(0)
        self.list.setFocus()

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.closed.emit()
        super().closeEvent(event)
