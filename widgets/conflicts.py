"""The conflicts panel (`conflictsPanel`): fields of one customer record where this CSR's offline
edit and another CSR's edit clash. Each row offers Keep mine / Keep theirs and emits
``resolveRequested(conflict_id, "mine" | "theirs")``; the owner resolves it and calls
``set_conflicts`` again with what is still open. Hidden while there is nothing to decide.

Button texts carry no Alt+letter: the panel sits inside the customer panel, whose letters are taken.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

EMPTY_VALUE = "(empty)"


def header_text(count: int) -> str:
    if count == 1:
        return "1 change clashes with another CSR's edit"
    return f"{count} changes clash with another CSR's edits"


def shown_value(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if text.strip() else EMPTY_VALUE


class ConflictsPanel(QWidget):
    """Open conflicts of one record, given as plain dicts (see ``set_conflicts``)."""

    resolveRequested = Signal(str, str)  # conflict id, "mine" / "theirs"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conflictsPanel")
        self.setAccessibleName("Clashing changes")
        self._ids: list[str] = []
        self.rows: list[QFrame] = []
        self.header = QLabel(self)
        self.header.setObjectName("conflictsHeader")
        self.header.setWordWrap(True)
        self.hint = QLabel("Choose which value to keep for each field.", self)
        self.hint.setObjectName("conflictsHint")
        self._rows_box = QWidget(self)
        self._rows_layout = QVBoxLayout(self._rows_box)
        self._rows_layout.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.hint)
        layout.addWidget(self._rows_box)
        self.set_conflicts([])

    # -- API ------------------------------------------------------------------------------------------
    def set_conflicts(self, items: list[dict[str, Any]]) -> None:
        """Show these conflicts. Each dict: id, entity, entity_label, field, field_label, mine,
        theirs, theirs_by, theirs_at (text as it should read, e.g. "today 10:42")."""
        focus_row = self._focused_row()
        for row in self.rows:
            row.hide()  # deleteLater waits for the event loop; don't paint it meanwhile
            row.deleteLater()
        self.rows = [self._build_row(item) for item in items]
        self._order_tab_chain()
        for row in self.rows:
            self._rows_layout.addWidget(row)
        self._ids = [str(item["id"]) for item in items]
        self.header.setText(header_text(len(items)))
        self.header.setAccessibleName(self.header.text())
        self.setVisible(bool(items))
        if focus_row is not None and self.rows:
            # The CSR just resolved a row: keep the keyboard in the list, on the row that took its place.
            target = self.rows[min(focus_row, len(self.rows) - 1)]
            target.findChild(QPushButton, "keepMineButton").setFocus(Qt.FocusReason.OtherFocusReason)

    def conflict_ids(self) -> list[str]:
        return list(self._ids)

    def count(self) -> int:
        return len(self._ids)

    # -- building -------------------------------------------------------------------------------------
    def _focused_row(self) -> int | None:
        focus = QApplication.focusWidget()
        for i, row in enumerate(self.rows):
            if focus is not None and row.isAncestorOf(focus):
                return i
        return None

    def _order_tab_chain(self) -> None:
        """New widgets join the end of the window's Tab chain; move the buttons to where the panel
        sits. setTabOrder ignores unfocusable widgets, so the anchor takes focus just for this."""
        anchor = self._rows_box
        anchor.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        previous: QWidget = anchor
        for row in self.rows:
            for name in ("keepMineButton", "keepTheirsButton"):
                button = row.findChild(QPushButton, name)
                QWidget.setTabOrder(previous, button)
                previous = button
        anchor.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _label(self, parent: QWidget, name: str, text: str) -> QLabel:
        label = QLabel(text, parent)
        label.setObjectName(name)
        label.setTextFormat(Qt.TextFormat.PlainText)  # values are typed by people, never markup
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _button(
        self, parent: QWidget, name: str, text: str, accessible: str, cid: str, choice: str
    ) -> QPushButton:
        button = QPushButton(text, parent)
        button.setObjectName(name)
        button.setAccessibleName(accessible)
        button.setAutoDefault(False)  # Enter elsewhere in a dialog must not pick a side
        button.setProperty("conflictId", cid)
        button.clicked.connect(lambda: self.resolveRequested.emit(cid, choice))
        return button

    def _build_row(self, item: dict[str, Any]) -> QFrame:
        cid = str(item["id"])
        field = str(item.get("field_label") or item.get("field") or "")
        entity = str(item.get("entity_label") or "")
        row = QFrame(self._rows_box)
        row.setObjectName("conflictRow")
        row.setProperty("conflictId", cid)
        row.setProperty("entity", item.get("entity", ""))
        row.setFrameShape(QFrame.Shape.StyledPanel)
        row.setAccessibleName(f"{field} — {entity}")
        who = str(item.get("theirs_by") or "another CSR")
        when = str(item.get("theirs_at") or "")
        theirs_source = f"{who}, {when}" if when else who
        title = self._label(row, "conflictTitle", f"{entity} — {field}" if entity else field)
        font = title.font()
        font.setBold(True)
        title.setFont(font)
        mine = self._label(row, "conflictMine", f"Yours: {shown_value(item.get('mine'))}")
        theirs = self._label(
            row, "conflictTheirs", f"Theirs ({theirs_source}): {shown_value(item.get('theirs'))}"
        )
        where = f"{field} ({entity})" if entity else field
        keep_mine = self._button(row, "keepMineButton", "Keep mine", f"Keep mine for {where}", cid, "mine")
        keep_theirs = self._button(
            row, "keepTheirsButton", "Keep theirs", f"Keep theirs for {where}", cid, "theirs"
        )
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(keep_mine)
        buttons.addWidget(keep_theirs)
        grid = QGridLayout(row)
        grid.addWidget(title, 0, 0)
        grid.addWidget(mine, 1, 0)
        grid.addWidget(theirs, 2, 0)
        grid.addLayout(buttons, 3, 0)
        grid.setColumnStretch(0, 1)
        return row
