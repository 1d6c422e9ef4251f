"""Sync problems (`syncProblems`): changes the server refused and bookings it flagged (a job whose
time slot filled while this PC was offline needs rescheduling). The CSR is told at once with
``notification_text`` and works through the list here; the dialog is non-modal (``open()``/``show()``).

Each problem has a ``key`` chosen by the owner (an outbox id, a job id); opening an item emits
``openRequested(key)`` and Dismiss emits ``dismissed(key)``. Adding a key again updates its item.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

KINDS = {
    "rejected": "Not saved on the server",
    "flagged": "Needs your attention",
    "renumbered": "Job number changed",
}
KEY_ROLE = Qt.ItemDataRole.UserRole
KIND_ROLE = Qt.ItemDataRole.UserRole + 1
ACTION_ROLE = Qt.ItemDataRole.UserRole + 2
DEFAULT_ACTION = "Open"
# Standard icons read in light and dark themes alike, unlike coloured text.
KIND_ICON = {
    "rejected": QStyle.StandardPixmap.SP_MessageBoxCritical,
    "flagged": QStyle.StandardPixmap.SP_MessageBoxWarning,
    "renumbered": QStyle.StandardPixmap.SP_MessageBoxWarning,
}


def notification_text(kind: str, title: str, detail: str = "") -> str:
    """One sentence for the status bar or a pop-up, e.g. "Not saved on the server: Job 1042 — …"."""
    text = f"{KINDS.get(kind, KINDS['flagged'])}: {title}"
    if detail:
        text += f" — {detail}"
    return text + ". See Sync problems."


class SyncProblemsDialog(QDialog):
    """The list of refused and flagged changes; every decision leaves as a signal."""

    openRequested = Signal(str)  # key
    dismissed = Signal(str)  # key

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncProblems")
        self.setWindowTitle("Sync problems")
        self.setAccessibleName("Sync problems")
        self.setModal(False)
        self.resize(520, 360)

        self.intro = QLabel(self)
        self.intro.setObjectName("syncProblemsIntro")
        self.intro.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setObjectName("syncProblemsList")
        self.list.setAccessibleName("Sync problems")
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)

        self.buttons = QDialogButtonBox(self)
        self.open_button = self._button(
            "syncProblemsOpen", DEFAULT_ACTION, QDialogButtonBox.ButtonRole.ActionRole
        )
        self.dismiss_button = self._button(
            "syncProblemsDismiss", "Dismiss", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.dismiss_button.setToolTip("Remove the selected problem from this list (Delete)")
        self.close_button = self._button("syncProblemsClose", "Close", QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.rejected.connect(self.reject)
        self.open_button.clicked.connect(self._open_current)
        self.dismiss_button.clicked.connect(self.dismiss_current)
        self.list.itemActivated.connect(lambda item: self.openRequested.emit(item.data(KEY_ROLE)))
        self.list.currentItemChanged.connect(self._update_buttons)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.list)
        delete.setContext(Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.dismiss_current)

        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        self._update_buttons()

    def _button(self, name: str, text: str, role: QDialogButtonBox.ButtonRole) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        button.setAccessibleName(text)
        # Enter in the list opens the problem (itemActivated); it must not also press a button.
        button.setAutoDefault(False)
        self.buttons.addButton(button, role)
        return button

    # -- API ------------------------------------------------------------------------------------------
    def add(self, kind: str, title: str, detail: str, action_label: str | None, key: str) -> None:
        """Add a problem (kind "rejected" or "flagged"), or update the one with this key; it is selected."""
        if kind not in KINDS:
            raise ValueError(f"unknown problem kind {kind!r}")
        item = self._item(key)
        if item is None:
            item = QListWidgetItem()
            self.list.addItem(item)
        text = f"{title}\n{detail}" if detail else title
        item.setText(text)
        item.setData(KEY_ROLE, key)
        item.setData(KIND_ROLE, kind)
        item.setData(ACTION_ROLE, action_label or DEFAULT_ACTION)
        item.setToolTip(f"{KINDS[kind]}. {text}")
        item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{KINDS[kind]}: {title}. {detail}".strip())
        item.setIcon(self.style().standardIcon(KIND_ICON[kind]))
        self.list.setCurrentItem(item)
        self._update_buttons()

    def remove(self, key: str) -> bool:
        """Drop a problem that was settled elsewhere, without emitting ``dismissed``."""
        item = self._item(key)
        if item is None:
            return False
        self.list.takeItem(self.list.row(item))
        self._update_buttons()
        return True

    def count(self) -> int:
        return self.list.count()

    def keys(self) -> list[str]:
        return [self.list.item(i).data(KEY_ROLE) for i in range(self.list.count())]

    def dismiss_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        key = item.data(KEY_ROLE)
        self.list.takeItem(self.list.row(item))
        self._update_buttons()
        self.dismissed.emit(key)

    # -- internals ------------------------------------------------------------------------------------
    def _item(self, key: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(KEY_ROLE) == key:
                return self.list.item(i)
        return None

    def _open_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.openRequested.emit(item.data(KEY_ROLE))

    def _update_buttons(self, *_: object) -> None:
        item = self.list.currentItem()
        n = self.list.count()
        self.intro.setText(
            "Nothing needs your attention."
            if n == 0
            else f"{n} change{'s' if n != 1 else ''} need{'s' if n == 1 else ''} your attention. "
            "Open one to fix it, or dismiss it once it is handled."
        )
        action = item.data(ACTION_ROLE) if item is not None else DEFAULT_ACTION
        self.open_button.setText(action)
        self.open_button.setAccessibleName(action)
        self.open_button.setEnabled(item is not None)
        self.dismiss_button.setEnabled(item is not None)
