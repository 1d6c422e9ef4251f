"""The status-bar sync indicator (`syncStatus`): connection state, the number of changes waiting
on this PC, how old the oldest of them is, when the last sync happened, and a Sync now button.

The widget is told ages ("the oldest change is 240 s old") and turns them into monotonic stamps at
receipt, so a timer can keep "4 min ago" current without asking the sync client again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

STATES = ("offline", "connecting", "syncing", "online", "upgrade_required", "signed_out", "session_expired")
STATE_TEXT = {
    "offline": "Offline",
    "connecting": "Connecting…",
    "syncing": "Syncing…",
    "online": "Online",
    "upgrade_required": "Update needed",
    "signed_out": "Not signed in",
    "session_expired": "Signed out",
}
STATE_HINT = {
    "offline": "The server can't be reached. Keep working: changes are saved on this PC and sent later.",
    "connecting": "Trying to reach the server.",
    "syncing": "Sending your changes and fetching other CSRs' changes.",
    "online": "Connected to the server.",
    "upgrade_required": "This console is too old for the server. Changes stay on this PC until it is "
    "updated — ask your supervisor or IT.",
    "signed_out": "You are not signed in, so changes stay on this PC until you sign in.",
    "session_expired": "The server ended your session (it expired, or your password changed). Sign in again "
    "(Ctrl+Shift+L): the changes waiting on this PC are sent then.",
}
REFRESH_MS = 5_000
# The widest texts each field shows in daily use (a count up to 999, ages up to "23 h 59 min"): the
# fields are at least this wide, so the status bar doesn't jump as the texts change.
PENDING_SAMPLES = (
    "all changes sent",
    "nothing waiting",
    "1 change waiting",
    "888 changes waiting",
    "sign in to send 888 waiting changes",
)
AGE_SAMPLES = (
    "never synced",
    "oldest 88 min ago, synced 88 min ago",
    "oldest 88 h 88 min ago, synced 88 h 88 min ago",
    "oldest 88 days ago, synced 88 days ago",
)


def widest(font: QFont, texts: Iterable[str]) -> int:
    """The width of the widest text in this font or its bold (the theme bolds some states)."""
    bold = QFont(font)
    bold.setBold(True)
    return max(QFontMetrics(f).horizontalAdvance(t) for f in (font, bold) for t in texts) + 2


def age_text(seconds: float) -> str:
    """A short human age: "just now", "45 s", "4 min", "2 h 5 min", "3 days"."""
    s = max(0, int(seconds))
    if s < 5:
        return "just now"
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        hours, minutes = divmod(s // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days = s // 86400
    return f"{days} day{'s' if days != 1 else ''}"


def ago_text(seconds: float) -> str:
    """ "just now" or "4 min ago"."""
    text = age_text(seconds)
    return text if text == "just now" else f"{text} ago"


def pending_text(pending: int, online: bool = True) -> str:
    if pending == 0:
        return "all changes sent" if online else "nothing waiting"
    return f"{pending} change{'s' if pending != 1 else ''} waiting"


def status_text(online: bool, pending: int) -> str:
    """The one-line summary of the old label, kept for callers and tests that read ``text()``."""
    return f"{'Online' if online else 'Offline'} — {pending_text(pending, online)}"


class SyncStatus(QWidget):
    """Shows what the sync client reports; asks for a sync only through ``syncNowRequested``."""

    syncNowRequested = Signal()

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.setObjectName("syncStatus")
        self.setAccessibleName("Sync status")
        self._clock = clock
        self.state = "offline"
        self.online = False
        self.pending = 0
        self.message = ""
        self._oldest_stamp: float | None = None
        self._last_sync_stamp: float | None = None
        self._ages_known = False  # set_state alone (the old API) never reported ages
        self._making_room = False  # a status-bar message is showing: the ages step aside

        self.state_label = self._label("syncStateLabel", "Connection")
        self.pending_label = self._label("syncPendingLabel", "Changes waiting")
        self.age_label = self._label("syncAgeLabel", "Sync times")
        self.sync_now_button = QToolButton(self)
        self.sync_now_button.setObjectName("syncNowButton")
        self.sync_now_button.setText("Sync now")
        self.sync_now_button.setAccessibleName("Sync now")
        self.sync_now_button.setToolTip("Send the waiting changes and fetch other CSRs' changes now")
        self.sync_now_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.sync_now_button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.sync_now_button.clicked.connect(self.syncNowRequested)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 0, 4, 0)
        for w in (self.state_label, self.pending_label, self.age_label, self.sync_now_button):
            layout.addWidget(w)
        keep = self.age_label.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # no ages yet: the space stays, nothing moves
        self.age_label.setSizePolicy(keep)
        self._steady_widths()

        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh_ages)
        self.set_state(False, 0)

    def make_room(self, message_showing: bool) -> None:
        """While the status bar shows a message (a refusal, a busy phone…), the sync ages step aside and
        give up their reserved width, so the message is read whole at 1366 px; they come back, at their
        steady width, when it clears. The ages stay in the tooltip and the accessible description."""
        if message_showing == self._making_room:
            return
        self._making_room = message_showing
        policy = self.age_label.sizePolicy()
        policy.setRetainSizeWhenHidden(not message_showing)
        self.age_label.setSizePolicy(policy)
        if message_showing:
            self.age_label.setMinimumWidth(0)
            self.age_label.hide()
        else:
            self._steady_widths()
            self.refresh_ages()

    def _steady_widths(self) -> None:
        """Each field as wide as the widest text it shows: the status bar stays put as states change."""
        for label, texts in (
            (self.state_label, STATE_TEXT.values()),
            (self.pending_label, PENDING_SAMPLES),
            (self.age_label, AGE_SAMPLES),
        ):
            label.setMinimumWidth(widest(label.font(), texts))

    def changeEvent(self, event: QEvent) -> None:
        if (
            event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange)
            and hasattr(self, "age_label")
            and not self._making_room
        ):
            self._steady_widths()  # a theme or font change: measure again
        super().changeEvent(event)

    def _label(self, name: str, accessible: str) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setAccessibleName(accessible)
        label.setTextFormat(Qt.TextFormat.PlainText)
        return label

    # -- API ------------------------------------------------------------------------------------------
    def show_status(
        self,
        state: str,
        pending: int,
        oldest_pending_age_s: float | None,
        last_sync_age_s: float | None,
        message: str = "",
    ) -> None:
        """Show the sync client's report; ages are seconds before now (None: no change waiting / never)."""
        if state not in STATE_TEXT:
            raise ValueError(f"unknown sync state {state!r}")
        now = self._clock()
        self._oldest_stamp = None if oldest_pending_age_s is None else now - oldest_pending_age_s
        self._last_sync_stamp = None if last_sync_age_s is None else now - last_sync_age_s
        self._ages_known = True
        self._show(state, pending, message)

    def set_state(self, online: bool, pending: int) -> None:
        """The old API (connection and count only); keeps the ages already reported."""
        if pending == 0:
            self._oldest_stamp = None
        self._show("online" if online else "offline", pending, self.message)

    def text(self) -> str:
        """State and count in one line, e.g. "Offline — 3 changes waiting"."""
        return f"{self.state_label.text()} — {self.pending_label.text()}"

    def refresh_ages(self) -> None:
        """Recompute "4 min ago" from the stored stamps (the timer calls this every few seconds)."""
        now = self._clock()
        parts = []
        if self.pending and self._oldest_stamp is not None:
            parts.append(f"oldest {ago_text(now - self._oldest_stamp)}")
        if self._last_sync_stamp is not None:
            parts.append(f"synced {ago_text(now - self._last_sync_stamp)}")
        elif self._ages_known:
            parts.append("never synced")
        self.age_label.setText(", ".join(parts))
        self.age_label.setVisible(bool(parts) and not self._making_room)
        tip = [STATE_HINT[self.state]]
        if self.pending:
            tip.append("Changes are saved on this PC and sent to the server when it is reachable.")
        if self.message:
            tip.append(self.message)
        self.setToolTip("\n".join(tip))
        self.setAccessibleDescription(" ".join([self.text() + ".", ", ".join(parts), *tip[1:]]).strip())

    # -- internals ------------------------------------------------------------------------------------
    def _show(self, state: str, pending: int, message: str) -> None:
        self.state, self.pending, self.message = state, pending, message
        self.online = state == "online"
        self.state_label.setText(STATE_TEXT[state])
        self.pending_label.setText(
            f"sign in to send {pending} waiting change{'s' if pending != 1 else ''}"
            if state == "session_expired" and pending
            else pending_text(pending, self.online)
        )
        # Pressing it can't help while the server refuses this version.
        self.sync_now_button.setEnabled(state != "upgrade_required")
        for w, name, value in (
            (self, "state", state),
            (self.state_label, "state", state),
            (self.pending_label, "pending", pending > 0),
        ):
            w.setProperty(name, value)
            w.style().unpolish(w)
            w.style().polish(w)
        self.refresh_ages()
        if self._oldest_stamp is not None or self._last_sync_stamp is not None:
            self._timer.start()
        else:
            self._timer.stop()
