"""The CSRs' inbox of customers' texts nobody has read yet (docs/notifications.md): the list
``messagesInbox``, an answer line, Send (Enter or Ctrl+Enter), Mark read (Ctrl+D), Open customer (Ctrl+O).

A widget only: the console's messages controller feeds it rows and turns its signals into intents.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from models.message_queries import InboxRow

ID_ROLE = Qt.ItemDataRole.UserRole
MAX_REPLY = 640


class MessagesInbox(QDialog):
    replyRequested = Signal(str, str)  # inbound id, answer
    markReadRequested = Signal(str)  # inbound id
    openCustomerRequested = Signal(str)  # customer id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messagesInboxDialog")
        self.setWindowTitle("Texts from customers")
        self.list = QListWidget(self)
        self.list.setObjectName("messagesInbox")
        self.list.setAccessibleName("Unread texts from customers")
        self.empty = QLabel("No unread texts.", self)
        self.empty.setObjectName("messagesInboxEmpty")
        self.reply = QLineEdit(self)
        self.reply.setObjectName("inboxReplyEdit")
        self.reply.setAccessibleName("Answer to the highlighted text")
        self.reply.setPlaceholderText("Write an answer, then Ctrl+Enter to send it")
        self.reply.setMaxLength(MAX_REPLY)
        self.send_button = QPushButton("&Send answer", self)
        self.send_button.setObjectName("inboxSendButton")
        self.send_button.setAccessibleName("Send answer")
        self.read_button = QPushButton("Mark &read", self)
        self.read_button.setObjectName("inboxMarkReadButton")
        self.read_button.setAccessibleName("Mark read")
        self.open_button = QPushButton("&Open customer", self)
        self.open_button.setObjectName("inboxOpenCustomerButton")
        self.open_button.setAccessibleName("Open customer")
        self.status = QLabel("", self)
        self.status.setObjectName("inboxStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        for b in (self.send_button, self.read_button, self.open_button):
            row.addWidget(b)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.reply)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.shortcuts = [
            QShortcut(QKeySequence("Ctrl+Return"), self, self._send),
            QShortcut(QKeySequence("Ctrl+Enter"), self, self._send),
            QShortcut(QKeySequence("Ctrl+D"), self, self._mark_read),
            QShortcut(QKeySequence("Ctrl+O"), self, self._open),
        ]
        self._connect_signals()
        self.set_rows(())
        self.resize(560, 420)

    def _connect_signals(self) -> None:
        self.send_button.clicked.connect(self._send)
        self.read_button.clicked.connect(self._mark_read)
        self.open_button.clicked.connect(self._open)
        self.list.currentRowChanged.connect(lambda _row: self._update())
        self.reply.textChanged.connect(lambda _t: self._update())
        self.reply.returnPressed.connect(self._send)  # Enter in the answer line sends it too

    def set_rows(self, rows: Sequence[InboxRow]) -> None:
        current = self.current_id()
        self.list.clear()
        for r in rows:
            local = r.at.astimezone()
            item = QListWidgetItem(f"{local:%a %H:%M}  {r.customer} ({r.from_number}): {r.text}", self.list)
            item.setData(ID_ROLE, r.id)
            item.setData(ID_ROLE + 1, r.customer_id)
            if r.id == current:
                self.list.setCurrentItem(item)
        if rows and self.list.currentRow() < 0:
            self.list.setCurrentRow(0)
        self.empty.setVisible(not rows)
        self._update()

    def current_id(self) -> str:
        item = self.list.currentItem() if hasattr(self, "list") else None
        return str(item.data(ID_ROLE)) if item is not None else ""

    def _update(self) -> None:
        has = bool(self.current_id())
        self.send_button.setEnabled(has and bool(self.reply.text().strip()))
        self.read_button.setEnabled(has)
        item = self.list.currentItem()
        self.open_button.setEnabled(has and item is not None and bool(item.data(ID_ROLE + 1)))

    def _send(self) -> None:
        text = self.reply.text().strip()
        if self.current_id() and text:
            self.replyRequested.emit(self.current_id(), text)

    def _mark_read(self) -> None:
        if self.current_id():
            self.markReadRequested.emit(self.current_id())

    def _open(self) -> None:
        item = self.list.currentItem()
        if item is not None and item.data(ID_ROLE + 1):
            self.openCustomerRequested.emit(str(item.data(ID_ROLE + 1)))

    def sent(self) -> None:
        """The answer was saved (it goes out through the server): clear the line for the next one."""
        self.reply.clear()
        self.status.setText("Answer saved; it is sent from the server.")

    def refused(self, sentence: str) -> None:
        self.status.setText(sentence)
