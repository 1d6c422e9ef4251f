"""A manual bubble (`manualBubble`) of the bubble strip: a booking without a call (Ctrl+N), its title and
an X to discard it (widgets/bubble_strip.py places it among the call bubbles)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QToolButton


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
        self.button.setText(title.replace("&", "&&"))  # "Lara & Boone LLC": no mnemonic
        self.button.setAccessibleName(f"Booking bubble: {title}")
        self.close_button.setAccessibleName(f"Close booking bubble {title}")
        self.close_button.setToolTip("Discard this booking (Ctrl+W)")

    def set_active(self, active: bool) -> None:
        self.setProperty("active", active)
        self.style().unpolish(self)
        self.style().polish(self)
