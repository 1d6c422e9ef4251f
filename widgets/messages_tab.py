"""The customer's Messages tab (docs/notifications.md): every text and email sent to the customer with its
delivery state and, when it failed or wasn't sent, why; the customer's own texts; Resend; and a preview
of the company's templates as this customer would read them.

Keyboard (while the table has focus): Ctrl+Shift+S resend the highlighted message; Ctrl+Shift+V preview
the templates. Enter on a row shows its full text below the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.message_queries import MessageRow

from .customer_models import Column, RecordTableModel


def _when(at: datetime) -> str:
    local = at.astimezone()
    return f"{local:%a %b} {local.day}, {local:%H:%M}"


class MessagesModel(RecordTableModel[MessageRow]):
    columns = (
        Column("When", lambda m: _when(m.at)),
        Column("Message", lambda m: ("← " if m.inbound else "→ ") + m.what),
        Column("By", lambda m: m.channel),
        Column("To / from", lambda m: m.address),
        Column("State", lambda m: m.state),
        Column("Why", lambda m: m.why),
    )


class MessagesTab(QWidget):
    resendRequested = Signal(str)  # notification id
    previewRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messagesTab")
        self.model = MessagesModel(self)
        self.view = QTableView(self)
        self.view.setObjectName("messagesView")
        self.view.setAccessibleName("Messages to and from the customer")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel("No messages to or from this customer yet.", self)
        self.empty.setObjectName("messagesEmpty")
        self.detail = QPlainTextEdit(self)
        self.detail.setObjectName("messageDetail")
        self.detail.setAccessibleName("The highlighted message")
        self.detail.setReadOnly(True)
        self.detail.setMaximumHeight(self.fontMetrics().height() * 5)
        self.resend_button = self._button("resendMessage", "Resend", "Resend message", "Ctrl+Shift+S")
        self.preview_button = self._button(
            "previewTemplates", "Preview templates…", "Preview templates", "Ctrl+Shift+V"
        )
        row = QHBoxLayout()
        row.addWidget(self.resend_button)
        row.addWidget(self.preview_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.empty)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.detail)
        layout.addLayout(row)
        self.setTabOrder(self.view, self.detail)
        self.setTabOrder(self.detail, self.resend_button)
        self.setTabOrder(self.resend_button, self.preview_button)
        self._connect_signals()
        self.set_rows(())

    def _button(self, name: str, text: str, accessible: str, shortcut: str) -> QToolButton:
        action = QAction(text, self)
        action.setObjectName(f"{name}Action")
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        native = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{accessible} ({native})")
        self.addAction(action)
        button = QToolButton(self)
        button.setObjectName(f"{name}Button")
        button.setDefaultAction(action)
        button.setAccessibleName(accessible)
        button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        return button

    def _connect_signals(self) -> None:
        self.resend_button.defaultAction().triggered.connect(self._resend)
        self.preview_button.defaultAction().triggered.connect(self.previewRequested)
        self.view.selectionModel().currentRowChanged.connect(self._show_current)

    def set_rows(self, rows: Sequence[MessageRow]) -> None:
        current = self.current()
        self.model.set_rows(rows)
        self.empty.setVisible(not rows)
        self.view.setVisible(bool(rows))
        if current is not None and (row := self.model.row_of(current.id)) >= 0:
            self.view.setCurrentIndex(self.model.index(row, 0))
        elif rows and not self.view.currentIndex().isValid():
            self.view.setCurrentIndex(self.model.index(0, 0))
        self._show_current(self.view.currentIndex(), QModelIndex())

    def current(self) -> MessageRow | None:
        index = self.view.currentIndex() if hasattr(self, "view") else QModelIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def _show_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        row = self.model.row_at(current.row()) if current.isValid() else None
        if row is None:
            self.detail.setPlainText("")
        else:
            why = f"\n\nWhy: {row.why}" if row.why else ""
            self.detail.setPlainText(f"{row.what} — {row.state}\n{row.text}{why}")
        self.resend_button.defaultAction().setEnabled(row is not None and row.can_resend)

    def _resend(self) -> None:
        row = self.current()
        if row is not None and row.can_resend:
            self.resendRequested.emit(row.id)


class TemplatePreview(QDialog):
    """The company's templates as the customer would read them (read-only; the setup file holds them)."""

    def __init__(
        self, texts: Sequence[tuple[str, str]], customer: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("templatePreview")
        self.setWindowTitle(f"Message templates — as {customer} would read them")
        self.text = QPlainTextEdit(self)
        self.text.setObjectName("templatePreviewText")
        self.text.setAccessibleName("Rendered templates")
        self.text.setReadOnly(True)
        self.text.setPlainText("\n\n".join(f"{label}:\n{body}" for label, body in texts))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        note = QLabel(
            "Templates are kept in the setup file (notifications: templates); an admin edits them there.",
            self,
        )
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(560, 420)
