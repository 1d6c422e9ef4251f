"""Customer notifications in the console (docs/notifications.md): the customer's Messages tab, the unread
count in the status bar and the inbox (Ctrl+Shift+M) where a CSR answers a customer's text.

Reads and writes run on a DbWorker (results come back by signal, stale ones dropped). Every action is an
intent through the LocalWriter (resend_notification, reply_to_inbound, mark_inbound_read): the server
authorizes it and sends the message; the console never sends anything itself.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QTabWidget, QToolButton

from models.db import Cache
from models.message_queries import customer_messages, preview, unread_count, unread_texts
from models.validation import ValidationFailed
from models.writer import LocalWriter
from widgets.customer_panel import CustomerPanel
from widgets.messages_inbox import MessagesInbox
from widgets.messages_tab import MessagesTab, TemplatePreview

from .db_worker import DbWorker

log = logging.getLogger(__name__)
FAILED = "The change could not be saved on this PC; try again (details are in the log)."


def _sentence(exc: BaseException) -> str:
    if isinstance(exc, ValidationFailed):
        return " ".join(exc.errors.values())
    log.error("messages action failed", exc_info=exc)
    return FAILED


class MessagesController(QObject):
    outboxChanged = Signal()
    errorOccurred = Signal(str)
    openCustomer = Signal(str)

    def __init__(self, window: QMainWindow, cache: Cache, writer: LocalWriter, panel: CustomerPanel) -> None:
        super().__init__(window)
        self.window = window
        self.cache = cache
        self.writer = writer
        self.panel = panel
        self.worker = DbWorker(self, "csr-messages")
        self.tab = MessagesTab(panel)
        tabs: QTabWidget = panel.history_tabs
        tabs.addTab(self.tab, "Te&xts")
        self.inbox = MessagesInbox(window)
        self.preview: TemplatePreview | None = None
        self.button = QToolButton(window)
        self.button.setObjectName("messagesButton")
        self.button.setAccessibleName("Texts from customers")
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.open_action = QAction("Texts from customers…", window)
        self.open_action.setObjectName("messagesInboxAction")
        self.open_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.open_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        window.addAction(self.open_action)
        self.button.setDefaultAction(self.open_action)
        window.statusBar().addPermanentWidget(self.button)
        self.unread = 0
        self._closed = False
        self._connect_signals()
        self._show_count(0)

    def _connect_signals(self) -> None:
        self.panel.customerShown.connect(lambda _shown: self.refresh_customer())
        self.tab.resendRequested.connect(self.resend)
        self.tab.previewRequested.connect(self.show_preview)
        self.open_action.triggered.connect(self.open_inbox)
        self.inbox.replyRequested.connect(self.reply)
        self.inbox.markReadRequested.connect(self.mark_read)
        self.inbox.openCustomerRequested.connect(self._open_customer)

    # -- reads -------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Pulled notifications or texts: the open customer's tab, the count, the inbox if open."""
        self.refresh_customer()
        self.refresh_inbox()

    def refresh_customer(self) -> None:
        customer_id = self.panel.customer_id()
        if not customer_id:
            self.tab.set_rows(())
            return
        self._submit(
            self._read_customer,
            customer_id,
            done=self._customer_read,
            failed=self._read_failed,
            key="customer",
        )

    def _read_customer(self, customer_id: str) -> tuple[str, list]:
        with self.cache.sessions() as session:
            return customer_id, customer_messages(session, customer_id)

    def _customer_read(self, result: tuple[str, list]) -> None:
        customer_id, rows = result
        if customer_id == self.panel.customer_id():  # the CSR moved on: drop it
            self.tab.set_rows(rows)

    def refresh_inbox(self) -> None:
        self._submit(self._read_inbox, done=self._inbox_read, failed=self._read_failed, key="inbox")

    def _read_inbox(self) -> tuple[int, list]:
        with self.cache.sessions() as session:
            return unread_count(session), unread_texts(session)

    def _inbox_read(self, result: tuple[int, list]) -> None:
        count, rows = result
        self._show_count(count)
        self.inbox.set_rows(rows)

    def _show_count(self, count: int) -> None:
        self.unread = count
        self.open_action.setText(f"Texts: {count} unread" if count else "Texts")
        self.button.setAccessibleDescription(f"{count} unread texts from customers (Ctrl+Shift+M)")
        self.button.setToolTip(f"{count} unread texts from customers (Ctrl+Shift+M)")

    def _read_failed(self, exc: BaseException) -> None:
        log.error("messages read failed", exc_info=exc)
        self.errorOccurred.emit("The messages could not be read from this PC's copy; try again.")

    # -- actions -----------------------------------------------------------------------------------------
    def _write(self, name: str, args: dict[str, Any], done: Any, failed: Any) -> None:
        self._submit(self.writer.execute, name, args, done=done, failed=failed)

    def resend(self, notification_id: str) -> None:
        def done(_result: Any) -> None:
            self.window.statusBar().showMessage("The message will be sent again.", 8000)
            self.outboxChanged.emit()
            self.refresh_customer()

        def failed(exc: BaseException) -> None:
            self.errorOccurred.emit(_sentence(exc))

        self._write("resend_notification", {"notification_id": notification_id}, done, failed)

    def open_inbox(self) -> None:
        self.refresh_inbox()
        self.inbox.open()
        self.inbox.list.setFocus()

    def reply(self, inbound_id: str, text: str) -> None:
        def done(_result: Any) -> None:
            self.inbox.sent()
            self.outboxChanged.emit()
            self.refresh()

        def failed(exc: BaseException) -> None:
            sentence = _sentence(exc)
            self.inbox.refused(sentence)
            self.errorOccurred.emit(sentence)

        self._write("reply_to_inbound", {"inbound_id": inbound_id, "body": text}, done, failed)

    def mark_read(self, inbound_id: str) -> None:
        def done(_result: Any) -> None:
            self.outboxChanged.emit()
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.inbox.refused(_sentence(exc))

        self._write("mark_inbound_read", {"inbound_id": inbound_id}, done, failed)

    def _open_customer(self, customer_id: str) -> None:
        self.inbox.accept()
        self.openCustomer.emit(customer_id)

    def show_preview(self) -> None:
        record = self.panel.record()
        if record is None:
            return
        name = record.name

        def read() -> list[tuple[str, str]]:
            with self.cache.sessions() as session:
                return preview(session, record.id)

        def done(texts: list[tuple[str, str]]) -> None:
            self.preview = TemplatePreview(texts, name, self.window)
            self.preview.finished.connect(lambda _r: self.tab.preview_button.setFocus())
            self.preview.open()

        self._submit(read, done=done, failed=self._read_failed, key="preview")

    def _submit(self, fn: Any, *args: Any, **kw: Any) -> None:
        if not self._closed:  # the window closing still emits (customer panel cleared): nothing to do
            self.worker.submit(fn, *args, **kw)

    def shutdown(self) -> None:
        self._closed = True
        self.worker.shutdown()
