"""The side pane of call review: the chosen call's details, and its history (who changed what, when,
newest first; "saved on this PC" while a change waits for the server). Plain data in, nothing out."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QVBoxLayout, QWidget

from models.call_review import HistoryEntry, ReviewRow
from models.calls import ROUTED_CALLBACK, ROUTED_VOICEMAIL

from .call_bubble import duration_text
from .call_review_model import agent_text, class_text, when_text

NO_CALL = "Choose a call to see its details."
NO_CHANGES = "No changes yet."


def details_text(row: ReviewRow) -> str:
    """One call, as a manager reads it before judging it."""
    who = f"{row.customer_name} · {row.caller}" if row.customer_name else row.caller
    if row.answered:
        outcome = f"talked {duration_text(row.duration_seconds)}"
    elif row.voicemail:
        outcome = f"left a voicemail ({duration_text(row.recording_seconds)})"
    elif row.routed_to == ROUTED_CALLBACK:
        outcome = "asked to be called back"
    elif row.routed_to == ROUTED_VOICEMAIL:
        outcome = "reached voicemail, left no message"
    else:
        outcome = "not answered"
    length = f"rang {duration_text(row.ring_seconds)}, {outcome}"
    agent = agent_text(row) + (
        f" (the phone system says {row.answered_by} answered)" if row.answered_by else ""
    )
    lines = [
        who,
        row.campaign,
        f"{when_text(row.started_at)} · {length}",
        f"CSR: {agent}",
        f"Class: {class_text(row)}" + (f" · Reason: {row.reason}" if row.reason else ""),
    ]
    if row.excused:
        lines.append(f"Excused: {row.excuse_memo}")
    if row.tags:
        lines.append(f"Tags: {', '.join(row.tags)}")
    if row.voicemail:
        lines.append("Voicemail: ready — Listen (Ctrl+P)")
    else:
        lines.append("Recording: ready — Listen (Ctrl+P)" if row.recording_url else "Recording: none")
    return "\n".join(lines)


def history_text(entry: HistoryEntry) -> str:
    note = " (saved on this PC)" if entry.saved_locally else ""
    return f"{when_text(entry.at)} — {entry.actor}: {entry.text}{note}"


class CallReviewPane(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("callReviewPane")
        self.details = QLabel(NO_CALL, self)
        self.details.setObjectName("callReviewDetails")
        self.details.setAccessibleName("Call details")
        self.details.setTextFormat(Qt.TextFormat.PlainText)
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.history = QListWidget(self)
        self.history.setObjectName("callReviewHistory")
        self.history.setAccessibleName("Changes to this call, newest first")
        self.history.setWordWrap(True)
        history_label = QLabel("Histor&y:", self)
        history_label.setBuddy(self.history)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.details)
        layout.addWidget(history_label)
        layout.addWidget(self.history, 1)
        self._has_call = False

    def show_call(self, row: ReviewRow | None) -> None:
        """The call's details (its history comes separately, from the audit)."""
        self._has_call = row is not None
        self.details.setText(details_text(row) if row is not None else NO_CALL)

    def clear_history(self) -> None:
        self.history.clear()

    def show_history(self, entries: Sequence[HistoryEntry]) -> None:
        self.history.clear()
        for entry in entries:
            self.history.addItem(history_text(entry))
        if not entries and self._has_call:
            self.history.addItem(NO_CHANGES)
