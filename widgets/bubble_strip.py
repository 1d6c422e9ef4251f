"""The bubble strip (`callBubbleStrip`) at the top of the window: one bubble per booking in progress.

Today it holds manual bubbles (bookings without a call, Ctrl+N); the calls issue adds the green
incoming-call bubbles to the same strip. Each bubble keeps its own draft, so a CSR switches between
them without losing what was typed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget


class ManualBubble(QFrame):
    """A booking without a call: its title, and an X to discard it."""

    activated = Signal(str)
    closeRequested = Signal(str)

    def __init__(self, bubble_id: str, title: str, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("manualBubble")
        self.bubble_id = bubble_id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setProperty("active", False)
        self.button = QToolButton(self)
        self.button.setObjectName("manualBubbleButton")
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.button.setAutoRaise(True)
        self.close_button = QToolButton(self)
        self.close_button.setObjectName("manualBubbleClose")
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 2, 0)
        layout.setSpacing(2)
        layout.addWidget(self.button)
        layout.addWidget(self.close_button)
        self.set_title(title)
        self.button.clicked.connect(lambda: self.activated.emit(self.bubble_id))
        self.close_button.clicked.connect(lambda: self.closeRequested.emit(self.bubble_id))

    def set_title(self, title: str) -> None:
        self.title = title
        self.button.setText(title.replace("&", "&&"))    # "Lara & Boone LLC": no mnemonic
        self.button.setAccessibleName(f"Booking bubble: {title}")
        self.close_button.setAccessibleName(f"Close booking bubble {title}")
        self.close_button.setToolTip("Discard this booking (Ctrl+W)")

    def set_active(self, active: bool) -> None:
        self.setProperty("active", active)
        self.style().unpolish(self)
        self.style().polish(self)


class BubbleStrip(QWidget):
    bubbleActivated = Signal(str)
    bubbleCloseRequested = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("callBubbleStrip")
        self.setAccessibleName("Calls and bookings in progress")
        self._bubbles: dict[str, ManualBubble] = {}
        self.active_id = ""
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 4)
        self._layout.setSpacing(6)
        self.empty = QLabel("No calls ringing — Ctrl+N starts a booking without a call", self)
        self.empty.setObjectName("bubbleStripEmpty")
        self.empty.setEnabled(False)
        self._layout.addWidget(self.empty)
        self._layout.addStretch(1)

    def add_bubble(self, bubble_id: str, title: str) -> ManualBubble:
        bubble = ManualBubble(bubble_id, title, self)
        bubble.activated.connect(self.bubbleActivated)
        bubble.closeRequested.connect(self.bubbleCloseRequested)
        self._bubbles[bubble_id] = bubble
        self._layout.insertWidget(self._layout.count() - 1, bubble)
        self.empty.hide()
        return bubble

    def remove_bubble(self, bubble_id: str) -> None:
        bubble = self._bubbles.pop(bubble_id, None)
        if bubble is not None:
            bubble.hide()
            bubble.deleteLater()
        if self.active_id == bubble_id:
            self.active_id = ""
        self.empty.setVisible(not self._bubbles)

    def set_title(self, bubble_id: str, title: str) -> None:
        if bubble_id in self._bubbles:
            self._bubbles[bubble_id].set_title(title)

    def set_active(self, bubble_id: str) -> None:
        self.active_id = bubble_id
        for bid, bubble in self._bubbles.items():
            bubble.set_active(bid == bubble_id)

    def ids(self) -> list[str]:
        return list(self._bubbles)

    def bubble(self, bubble_id: str) -> ManualBubble | None:
        return self._bubbles.get(bubble_id)

    def neighbour(self, bubble_id: str, step: int) -> str:
        """The bubble ``step`` places away (wrapping), for Ctrl+PgDown / Ctrl+PgUp."""
        ids = self.ids()
        if not ids:
            return ""
        if bubble_id not in ids:
            return ids[0]
        return ids[(ids.index(bubble_id) + step) % len(ids)]
