"""F1: every keyboard shortcut in a two-column list (`shortcutsDialog`) that scrolls, so it fits any
screen — at most 85% of the screen's free area, however many shortcuts there are."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

SCREEN_SHARE = 0.85  # of the available screen area, at most


class ShortcutsDialog(QDialog):
    """The rows are (keys, what happens); Esc or Close closes it."""

    def __init__(self, rows: Sequence[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Keys", "What happens"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setWordWrap(True)
        self.table.setAlternatingRowColors(True)
        bold = QFont(self.font())
        bold.setBold(True)
        for row, (keys, what) in enumerate(rows):
            key_item = QTableWidgetItem(keys)
            key_item.setFont(bold)
            self.table.setItem(row, 0, key_item)
            self.table.setItem(row, 1, QTableWidgetItem(what))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeRowsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.table.setFocus(Qt.FocusReason.OtherFocusReason)  # arrows and PgDown scroll at once
        if rows:
            self.table.setCurrentCell(0, 0)

    def text(self) -> str:
        """Every row as "keys — what", one a line (for tests and screen readers' copy)."""
        t = self.table
        return "\n".join(f"{t.item(r, 0).text()} — {t.item(r, 1).text()}" for r in range(t.rowCount()))

    def fit_to_screen(self) -> None:
        """As big as the list wants, but never more than 85% of the free screen: the rest scrolls."""
        screen = self.screen() or (self.parentWidget().screen() if self.parentWidget() else None)
        if screen is None:
            return
        free = screen.availableGeometry()
        most = QSize(int(free.width() * SCREEN_SHARE), int(free.height() * SCREEN_SHARE))
        self.setMaximumSize(most)
        t = self.table
        want_w = (
            t.sizeHintForColumn(0)
            + t.sizeHintForColumn(1)
            + t.verticalScrollBar().sizeHint().width()
            + 2 * t.frameWidth()
            + 40
        )
        want_h = t.verticalHeader().length() + t.horizontalHeader().height() + 2 * t.frameWidth() + 80
        width = min(max(want_w, 640), most.width())
        self.resize(width, min(want_h, most.height()))
        t.resizeRowsToContents()  # the text column's width is known now: wrap to it

    def showEvent(self, event: QShowEvent) -> None:
        self.fit_to_screen()
        super().showEvent(event)
