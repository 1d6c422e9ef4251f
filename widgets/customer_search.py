"""Customer lookup: the search box (`customerSearch`) and the results list (`customerResults`).

The results model holds the ranked id list from a search (at most 200 ids) and hydrates rows
lazily (STYLE.md #6): the search worker sends the first screenful with the ids; a row past it that a view
asks for is asked of the search worker (``set_loader``: a request, never a read here) in blocks of 50 and
two ahead, shown as a "Loading…" placeholder row meanwhile, and filled in place (``fill_rows``:
``dataChanged``, no reset — no flicker, the selection and scroll position kept) when the rows come. The id
list is short enough that fetchMore paging would add nothing but re-entrancy during resets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLineEdit, QTableView

from models.search import Match, ResultRow

RowRequest = Callable[[list[str]], None]  # asks for these rows; they come back through ``fill_rows``
_Index = QModelIndex | QPersistentModelIndex

COLUMNS = ("Name", "Type", "Address", "Phone", "Flags", "Tags")
COMPACT_COLUMNS = (0, 2, 3)  # once a customer is open: name, phone, the address when there is room
# The search box's hint, longest first: it shows the longest that fits the box.
HINTS = (
    "Search phone, name, address, email or job #   (Ctrl+F)",
    "Phone, name, address, email or job #",
    "Phone, name, address or job #",
    "Find a customer",
)
PAGE = 50
AHEAD = 2 * PAGE  # asked for at once when a view reaches a row not read yet: this screenful and the next
LOADING = "Loading…"
IdRole = Qt.ItemDataRole.UserRole + 1
MatchRole = Qt.ItemDataRole.UserRole + 2


_DNS_BRUSH = QBrush(QColor("#c62828"))
_BOLD: list[QFont] = []


def _bold_font() -> QFont:
    # Built once (after QApplication exists): data() runs for every visible cell on every paint.
    if not _BOLD:
        font = QFont()
        font.setBold(True)
        _BOLD.append(font)
    return _BOLD[0]


class CustomerResultsModel(QAbstractTableModel):
    """Ranked search results: an id list plus a lazy row cache."""

    def __init__(self, loader: RowRequest | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._ids: list[str] = []
        self._index: dict[str, int] = {}  # id → row
        self._reasons: dict[str, Match] = {}
        self._rows: dict[str, ResultRow] = {}
        self._asked: set[str] = set()  # rows asked for and not answered yet: "Loading…"
        self._missing: set[str] = set()  # answered without a row: deleted or merged since the search
        self.query = ""

    # -- feeding ------------------------------------------------------------------------------
    def set_loader(self, loader: RowRequest) -> None:
        self._loader = loader

    def set_results(
        self, query: str, ids: Sequence[str], reasons: dict[str, Match], rows: dict[str, ResultRow]
    ) -> None:
        """Show a new result set. A new query replaces the whole list, so a reset is the honest signal."""
        self.beginResetModel()
        self.query = query
        self._ids = list(ids)
        self._index = {cid: r for r, cid in enumerate(self._ids)}
        self._reasons = dict(reasons)
        self._rows = dict(rows)
        self._asked, self._missing = set(), set()
        self.endResetModel()

    def fill_rows(self, asked: Sequence[str], rows: dict[str, ResultRow]) -> None:
        """The rows asked for have been read: the placeholders become rows in place (a row missing from
        ``rows`` is no longer on this PC). An answer for ids no longer listed changes nothing."""
        changed: list[int] = []
        for cid in asked:
            r = self._index.get(cid)
            if r is None or cid not in self._asked:
                continue  # another result set now (its rows are asked for anew)
            self._asked.discard(cid)
            if cid in rows:
                self._rows[cid] = rows[cid]
            elif cid not in self._rows:
                self._missing.add(cid)
            changed.append(r)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))

    def clear(self) -> None:
        self.set_results("", [], {}, {})

    def refresh_rows(self, rows: dict[str, ResultRow]) -> None:
        """A customer changed: update its row in place (dataChanged, no reset)."""
        for cid, row in rows.items():
            if cid in self._rows or cid in self._reasons:
                self._rows[cid] = row
                try:
                    r = self._ids.index(cid)
                except ValueError:
                    continue
                self.dataChanged.emit(self.index(r, 0), self.index(r, len(COLUMNS) - 1))

    def customer_id(self, row: int) -> str | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def total(self) -> int:
        return len(self._ids)

    # -- Qt model API -------------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def _row(self, r: int) -> ResultRow | None:
        cid = self._ids[r]
        row = self._rows.get(cid)
        if row is None and self._loader is not None and cid not in self._asked and cid not in self._missing:
            block = [i for i in self._ids[r : r + AHEAD] if i not in self._rows and i not in self._asked]
            self._asked.update(block)
            self._loader(block)
        return row

    def loaded(self, row: int) -> bool:
        """This row has been read (it shows the customer, not a placeholder)."""
        return 0 <= row < len(self._ids) and self._ids[row] in self._rows

    def loading(self, row: int) -> bool:
        """This row is asked of the search worker and not read yet (its placeholder is showing)."""
        return 0 <= row < len(self._ids) and self._ids[row] in self._asked

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        col = index.column()
        if role == IdRole:
            return self._ids[index.row()]
        if role == MatchRole:
            return self._reasons.get(self._ids[index.row()])
        if role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
            Qt.ItemDataRole.ForegroundRole,
            Qt.ItemDataRole.FontRole,
            Qt.ItemDataRole.AccessibleTextRole,
        ):
            return None
        row = self._row(index.row())
        if row is None and self._ids[index.row()] in self._asked:  # on its way from the search worker
            if role == Qt.ItemDataRole.AccessibleTextRole and col == 0:
                return "Loading this result"
            return LOADING if role == Qt.ItemDataRole.DisplayRole and col == 0 else None
        if row is None:  # deleted or merged since the search ran
            return "(no longer on this PC)" if role == Qt.ItemDataRole.DisplayRole and col == 0 else None
        if role == Qt.ItemDataRole.ForegroundRole:  # the name too: the narrow list hides Flags
            return _DNS_BRUSH if col in (0, 4) and row.do_not_service else None
        if role == Qt.ItemDataRole.FontRole:
            return _bold_font() if col == 0 or (col == 4 and row.do_not_service) else None
        if role == Qt.ItemDataRole.ToolTipRole and col in (0, 4):
            dns = "Do Not Service — this customer can't be booked." if row.do_not_service else ""
            if col == 4:
                return dns or None
            # The narrow list may hide the address and flags: the name's tooltip says them.
            return "\n".join(line for line in (row.name, row.address, row.phone, dns) if line)
        return _cell(row, col, self._reasons.get(row.id))  # a cut cell's tooltip is its whole text


def _cell(row: ResultRow, col: int, why: Match | None) -> str:
    if col == 0:
        return row.name
    if col == 1:
        return row.type
    if col == 2:
        return row.address
    if col == 3:
        return row.phone
    if col == 4:
        flags = []
        if row.do_not_service:
            flags.append("DO NOT SERVICE")
        if row.member:
            flags.append("Member")
        return ", ".join(flags)
    return ", ".join(row.tags)


class CustomerSearchBox(QLineEdit):
    """The search field. Down moves into the results; Enter opens the top result."""

    moveToResults = Signal()
    openTopResult = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("customerSearch")
        self.setToolTip(HINTS[0])
        self.setPlaceholderText(HINTS[0])
        self.setAccessibleName("Customer search")
        self.setAccessibleDescription("Type a phone number, name, street, email or job number")
        self.setClearButtonEnabled(True)
        self.setMaxLength(10_000)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        # The longest hint that fits (the narrow list has no room for the whole sentence).
        room = self.width() - 2 * self.height()  # the frame, padding and clear button
        fm = self.fontMetrics()
        self.setPlaceholderText(next((h for h in HINTS if fm.horizontalAdvance(h) <= room), HINTS[-1]))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.moveToResults.emit()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.openTopResult.emit()
            return
        if key == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


class CustomerResultsView(QTableView):
    """Results table; Enter (or double-click) opens the customer, Up from the top row goes back to search."""

    openCustomer = Signal(str)
    backToSearch = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("customerResults")
        self.setAccessibleName("Customer search results")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTabKeyNavigation(False)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        self.compact = False
        self.doubleClicked.connect(self._open_index)

    def setModel(self, model) -> None:  # noqa: ANN001, N802 - Qt override
        super().setModel(model)
        # Sections exist only once a model is set. Fixed widths (measuring every cell would cost a lazy
        # load per row); the address takes what is left and is cut first, its tooltip showing it whole.
        header = self.horizontalHeader()
        em = self.fontMetrics().averageCharWidth()
        phone = self.fontMetrics().horizontalAdvance("(000) 000-0000") + 2 * em
        for col, width in enumerate((22 * em, 11 * em, 30 * em, phone, 13 * em, 12 * em)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, width)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.set_compact(self.compact)

    def set_compact(self, compact: bool) -> None:
        """The narrow list (name, phone, and the address when there is room) while a customer is open;
        every column otherwise."""
        self.compact = compact
        header = self.horizontalHeader()
        if header.count() < len(COLUMNS):
            return
        em = self.fontMetrics().averageCharWidth()
        header.resizeSection(0, (18 if compact else 22) * em)
        room = self.viewport().width() - header.sectionSize(0) - header.sectionSize(3)
        for col in range(header.count()):
            hidden = compact and (col not in COMPACT_COLUMNS or (col == 2 and room < 12 * em))
            header.setSectionHidden(col, hidden)
        # Without the address, the name takes the room.
        header.setSectionResizeMode(
            0,
            QHeaderView.ResizeMode.Stretch
            if header.isSectionHidden(2)
            else QHeaderView.ResizeMode.Interactive,
        )

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.compact:
            self.set_compact(True)

    def _open_index(self, index: QModelIndex) -> None:
        cid = index.siblingAtColumn(0).data(IdRole)
        if cid:
            self.openCustomer.emit(cid)

    def focus_first(self) -> None:
        if self.model() is not None and self.model().rowCount() > 0:
            self.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.selectRow(0)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            current = self.currentIndex()
            if current.isValid():
                self._open_index(current)
            return
        if key == Qt.Key.Key_Up and self.currentIndex().row() <= 0:
            self.backToSearch.emit()
            return
        super().keyPressEvent(event)
