"""The demo's "Sent messages" window: every text the demo server sent, as the text service's local
stand-in (sync/msgsim.py, not Twilio) logged it — so a newcomer sees the confirmation leave when a job is
booked. Ctrl+Shift+T opens it; it also opens by itself (without taking the focus) when a text goes out,
and the status bar says so.

The log is read on a DbWorker thread every 1.5 s (the UI thread never waits on the disk).
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QMainWindow, QVBoxLayout

from .db_worker import DbWorker

POLL_MS = 1500


class SentMessagesWindow(QDialog):
    def __init__(self, parent: QMainWindow) -> None:
        super().__init__(parent)
        self.setObjectName("sentMessagesWindow")
        self.setWindowTitle("Sent messages (demo — a local stand-in of the text service)")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.list = QListWidget(self)
        self.list.setObjectName("sentMessagesList")
        self.list.setAccessibleName("Texts the demo server sent")
        note = QLabel(
            "Nothing leaves this PC: the demo's texts go to csr-msgsim, a stand-in of Twilio's Messages API.",
            self,
        )
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.resize(620, 320)


class SentMessages(QObject):
    def __init__(self, window: QMainWindow, log: Path) -> None:
        super().__init__(window)
        self.window = window
        self.log = log
        self.offset = 0
        self.dialog = SentMessagesWindow(window)
        self.worker = DbWorker(self, "csr-sent-log")
        self.action = QAction("Sent messages (demo)…", window)
        self.action.setObjectName("sentMessagesAction")
        self.action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.action.triggered.connect(self.open)
        window.addAction(self.action)
        self.timer = QTimer(window)
        self.timer.setObjectName("sentMessagesTimer")
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self.timer.start()
        window.destroyed.connect(lambda *_a: self.worker.shutdown())

    def open(self) -> None:
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        self.dialog.list.setFocus()

    def _poll(self) -> None:
        if self.worker.pending == 0:
            self.worker.submit(self._read, self.offset, done=self._add, failed=lambda _e: None, key="log")

    def _read(self, offset: int) -> tuple[int, list[dict]]:
        try:
            with self.log.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            return offset, []
        end = data.rfind(b"\n") + 1  # a line being written is read next time
        lines = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
        return offset + end, lines

    def _add(self, result: tuple[int, list[dict]]) -> None:
        self.offset, lines = result
        for m in lines:
            self.dialog.list.addItem(f"{m.get('at', '')[11:19]}  to {m.get('to', '')}: {m.get('body', '')}")
        if lines:
            last = lines[-1]
            self.window.statusBar().showMessage(
                f"Demo: a text went to {last.get('to', '')} (Ctrl+Shift+T shows it)", 10_000
            )
            if not self.dialog.isVisible():
                self.dialog.show()  # without taking the focus from the CSR's work
            self.dialog.list.scrollToBottom()


def install(window: QMainWindow, log: Path) -> SentMessages:
    return SentMessages(window, log)
