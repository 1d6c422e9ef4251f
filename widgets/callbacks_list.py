"""The callback queue (`callbacksList`, docs/phone.md "Callback queue"): callers whose call was
Abandoned, who left a voicemail, or who asked to be called back; longest-waiting first ("Left" says which). Keyboard: Enter takes the highlighted item
(the server decides whether it is yours), Ctrl+D calls it (click-to-call: your softphone rings first),
Ctrl+1 … Ctrl+4 record how it went, Ctrl+P plays a voicemail (through the server), Del puts a taken item
back in the queue (one's own; a supervisor anyone's)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from models.callbacks import OUTCOME_LABELS, CallbackOutcome, kind_text
from models.phone import format_phone

OUTCOME_KEYS = list(CallbackOutcome)  # Ctrl+1 … Ctrl+4, in this order
SHORT_LABELS = {
    CallbackOutcome.BOOKED: "Booked",
    CallbackOutcome.NOT_BOOKED: "Not booked",
    CallbackOutcome.NO_ANSWER: "No answer",
    CallbackOutcome.WRONG_NUMBER: "Wrong number",
}


@dataclass(frozen=True, slots=True)
class CallbackRow:
    id: str
    phone: str
    customer_name: str
    voicemail: bool
    waiting: str  # "12 min", "3 h 5 min"
    claimed_by: str  # user id, "" when nobody
    claimed_by_name: str
    requested: bool = False  # the caller pressed 1 to be called back
    has_recording: bool = False  # a voicemail (or the call's recording) the server can send

    @property
    def kind(self) -> str:
        return kind_text(self.voicemail, self.requested)


class CallbacksList(QWidget):
    takeRequested = Signal(str)  # callback id
    callRequested = Signal(str)
    outcomeRequested = Signal(str, str)  # callback id, CallbackOutcome value
    listenRequested = Signal(str)  # callback id (= its call's id): the voicemail, through the server
    releaseRequested = Signal(str)  # callback id: put a taken item back in the queue

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("callbacksList")
        self.setAccessibleName("Callback queue")
        self._rows: list[CallbackRow] = []
        self._filled_for: str | None = None  # the CSR the rows were drawn for ("You")
        self.me = ""
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("callbacksTree")
        self.tree.setAccessibleName("Callers to call back, longest waiting first")
        self.tree.setHeaderLabels(["Waiting", "Caller", "Left", "Taken by"])
        self.tree.setRootIsDecorated(False)
        self.tree.itemActivated.connect(lambda *_: self._emit(self.takeRequested))
        self.take_button = QPushButton("Take (Enter)", self)
        self.take_button.setObjectName("callbackTake")
        self.take_button.setAccessibleName("Take the highlighted callback")
        self.take_button.clicked.connect(lambda: self._emit(self.takeRequested))
        self.call_button = QPushButton("Call (Ctrl+D)", self)
        self.call_button.setObjectName("callbackCall")
        self.call_button.setAccessibleName("Call the highlighted caller back")
        self.call_button.clicked.connect(lambda: self._emit(self.callRequested))
        self.listen_button = QPushButton("Listen (Ctrl+P)", self)
        self.listen_button.setObjectName("callbackListen")
        self.listen_button.setAccessibleName("Listen to the highlighted caller's voicemail")
        self.listen_button.setToolTip("Listen to the voicemail (Ctrl+P); it comes through the server")
        self.listen_button.clicked.connect(self._listen)
        self.listen_button.setEnabled(False)
        # Two buttons a row: the tab must not make the window wider than the other tabs do.
        buttons = QGridLayout()
        buttons.addWidget(self.take_button, 0, 0)
        buttons.addWidget(self.call_button, 0, 1)
        self.outcome_buttons: list[QPushButton] = []
        for n, outcome in enumerate(OUTCOME_KEYS, start=1):
            b = QPushButton(f"{SHORT_LABELS[outcome]} (Ctrl+{n})", self)
            b.setObjectName(f"callbackOutcome_{outcome.value}")
            b.setAccessibleName(f"Record: {OUTCOME_LABELS[outcome]}")
            b.setToolTip(f"Record: {OUTCOME_LABELS[outcome]} (Ctrl+{n})")
            b.clicked.connect(lambda _=False, o=outcome: self._outcome(o))
            buttons.addWidget(b, 1 + (n - 1) // 2, (n - 1) % 2)
            self.outcome_buttons.append(b)
        self.release_button = QPushButton("Put back (Del)", self)
        self.release_button.setObjectName("callbackRelease")
        self.release_button.setAccessibleName("Put the highlighted callback back in the queue")
        self.release_button.setToolTip(
            "Put back in the queue for anyone to take (Del): your own, or anyone's for a supervisor"
        )
        self.release_button.clicked.connect(self._release)
        self.release_button.setEnabled(False)
        buttons.addWidget(self.listen_button, 3, 0)
        buttons.addWidget(self.release_button, 3, 1)
        self.message = QLabel(self)
        self.message.setObjectName("callbacksMessage")
        self.message.setAccessibleName("Callback queue message")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        ctx = Qt.ShortcutContext.WidgetWithChildrenShortcut
        self._shortcuts = [
            QShortcut(QKeySequence("Ctrl+D"), self, lambda: self._emit(self.callRequested)),
            QShortcut(QKeySequence("Ctrl+P"), self, self._listen),
            QShortcut(QKeySequence(Qt.Key.Key_Delete), self, self._release),
        ]
        self.tree.currentItemChanged.connect(lambda *_: self._update_listen())
        for n, outcome in enumerate(OUTCOME_KEYS, start=1):
            self._shortcuts.append(
                QShortcut(QKeySequence(f"Ctrl+{n}"), self, lambda o=outcome: self._outcome(o))
            )
        for s in self._shortcuts:
            s.setContext(ctx)

    # -- rows ----------------------------------------------------------------------------------------------
    def set_rows(self, rows: list[CallbackRow]) -> None:
        rows = list(rows)
        if (rows, self.me) == (self._rows, self._filled_for) and self.tree.topLevelItemCount() == len(rows):
            return  # re-read after a change that left the queue as it was (most call updates)
        current = self.current_id()
        self._rows, self._filled_for = rows, self.me
        self.tree.setUpdatesEnabled(False)  # up to 200 rows rebuilt: one repaint, not one per row
        try:
            self._fill(rows, current)
        finally:
            self.tree.setUpdatesEnabled(True)
        if self.tree.currentItem() is None and self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        if not rows:
            self.show_message("Nobody is waiting for a call back.")
        self._update_listen()

    def _fill(self, rows: list[CallbackRow], current: str) -> None:
        self.tree.clear()
        for row in rows:
            who = "You" if row.claimed_by and row.claimed_by == self.me else row.claimed_by_name
            number = format_phone(row.phone)
            caller = f"{row.customer_name} · {number}" if row.customer_name else number
            item = QTreeWidgetItem([row.waiting, caller, row.kind, who])
            item.setData(0, Qt.ItemDataRole.UserRole, row.id)
            self.tree.addTopLevelItem(item)
            if row.id == current:
                self.tree.setCurrentItem(item)

    def rows(self) -> list[CallbackRow]:
        return list(self._rows)

    def current_id(self) -> str:
        item = self.tree.currentItem()
        return str(item.data(0, Qt.ItemDataRole.UserRole)) if item is not None else ""

    def current_row(self) -> CallbackRow | None:
        cid = self.current_id()
        return next((r for r in self._rows if r.id == cid), None)

    def select(self, callback_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == callback_id:
                self.tree.setCurrentItem(item)

    def focus_list(self) -> None:
        self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_message(self, text: str, kind: str = "info") -> None:
        self.message.setText(text)
        self.message.setProperty("kind", kind)

    # -- actions -------------------------------------------------------------------------------------------
    def _emit(self, signal) -> None:
        cid = self.current_id()
        if not cid:
            self.show_message("Highlight a caller in the list first.", "error")
            return
        signal.emit(cid)

    def _update_listen(self) -> None:
        row = self.current_row()
        self.listen_button.setEnabled(bool(row and row.has_recording))
        self.release_button.setEnabled(bool(row and row.claimed_by))

    def _release(self) -> None:
        row = self.current_row()
        if row is None:
            self.show_message("Highlight a caller in the list first.", "error")
            return
        if not row.claimed_by:
            self.show_message("Nobody has taken this callback: it is already in the queue.", "error")
            return
        self.releaseRequested.emit(row.id)

    def _listen(self) -> None:
        row = self.current_row()
        if row is None:
            self.show_message("Highlight a caller in the list first.", "error")
            return
        if not row.has_recording:
            self.show_message("This caller left no voicemail.", "error")
            return
        self.listenRequested.emit(row.id)

    def _outcome(self, outcome: CallbackOutcome) -> None:
        cid = self.current_id()
        if not cid:
            self.show_message("Highlight a caller in the list first.", "error")
            return
        self.outcomeRequested.emit(cid, outcome.value)
