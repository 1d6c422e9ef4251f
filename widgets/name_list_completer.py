"""Type-ahead for a comma-separated list of names (a job type's business units, default tags): the
completer offers the known names for the item being typed — the text after the last comma — and puts
the chosen name in its place, keeping the items before it. Keyboard only: type, Down/Up in the popup,
Enter or Tab to take a name."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QStringListModel, Qt
from PySide6.QtWidgets import QCompleter, QWidget


class NameListCompleter(QCompleter):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("nameListCompleter")
        self.names = QStringListModel(self)
        self.setModel(self.names)
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)

    def set_names(self, names: list[str]) -> None:
        self.names.setStringList(names)

    def splitPath(self, path: str) -> list[str]:  # noqa: N802 - Qt's name
        """Complete the item being typed: the text after the last comma."""
        return [path.rsplit(",", 1)[-1].strip()]

    def pathFromIndex(self, index: QModelIndex) -> str:  # noqa: N802 - Qt's name
        """The items typed before, then the chosen name."""
        name = str(index.data())
        widget = self.widget()
        text = widget.text() if widget is not None and hasattr(widget, "text") else ""
        before = [part.strip() for part in text.split(",")[:-1] if part.strip()]
        return ", ".join([*before, name])
