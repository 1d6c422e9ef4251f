"""The CSR's own state (`agentState`), small enough for the status bar: a button showing the state
and the time in it, whose menu asks for Available, Away (with a reason) or Wrap-up.

The widget only asks (``stateRequested(state, reason)``); what it shows changes when the server
answers with ``show_state``. Disconnected (``set_online(False)``) it reads "Offline" and asks nothing.
For the window's menus: ``available_action``, ``wrap_up_action`` and ``away_menu`` (one action per
reason); ``request_state`` does the same from code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QFont, QFontMetrics
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QWidget

from models.base import utcnow

from .call_bubble import duration_text
from .live_models import parse_time

__all__ = ["AWAY", "AVAILABLE", "AgentStateWidget", "OFFLINE", "WRAP_UP"]

AVAILABLE, AWAY, WRAP_UP, ON_CALL, OFFLINE = "Available", "Away", "Wrap-up", "On call", "Offline"
OFFLINE_HINT = "Not connected to the server: your state can change once it is back."
STATE_KEYS = {AVAILABLE: "available", AWAY: "away", WRAP_UP: "wrapup", ON_CALL: "oncall", OFFLINE: "offline"}
CLOCK_SAMPLE = "88:88:88"  # the widest time in a state the clock shows in a day's work


class AgentStateWidget(QWidget):
    """My state and how long I've been in it; choosing another only asks the server."""

    stateRequested = Signal(str, str)  # state, reason ("" unless Away)

    def __init__(self, parent: QWidget | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(parent)
        self.setObjectName("agentState")
        self.setAccessibleName("My state")
        self._clock = clock
        self.online = False
        self.state, self.reason = OFFLINE, ""
        self.since: datetime | None = None
        self.reasons: tuple[str, ...] = ()

        self.button = QToolButton(self)
        self.button.setObjectName("agentStateButton")
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.time_label = QLabel(self)
        self.time_label.setObjectName("agentStateTime")
        self.time_label.setAccessibleName("Time in this state")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(6)
        layout.addWidget(self.button)
        layout.addWidget(self.time_label)
        keep = self.time_label.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # offline the clock's place stays: nothing moves
        self.time_label.setSizePolicy(keep)

        self.menu = QMenu(self)
        self.menu.setObjectName("agentStateMenu")
        self._group = QActionGroup(self)  # a check mark on the state I'm in (none while offline)
        self._group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.available_action = self._action("&Available", "agentAvailableAction", AVAILABLE)
        self.away_menu = QMenu("A&way", self)
        self.away_menu.setObjectName("agentAwayMenu")
        self.wrap_up_action = self._action("&Wrap-up", "agentWrapUpAction", WRAP_UP)
        self.menu.addAction(self.available_action)
        self.menu.addMenu(self.away_menu)
        self.menu.addAction(self.wrap_up_action)
        self.away_actions: list[QAction] = []
        self.button.setMenu(self.menu)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(lambda: self.tick())
        self.set_reasons(())
        self._show()

    def _action(self, text: str, name: str, state: str, reason: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setCheckable(True)
        action.setData((state, reason))
        action.setActionGroup(self._group)
        action.triggered.connect(lambda _checked=False: self.request_state(state, reason))
        return action

    # -- API ------------------------------------------------------------------------------------------
    def set_reasons(self, reasons: Sequence[str]) -> None:
        """The away reasons a CSR can pick ("Lunch", "Break", "Meeting", …); none: a plain "Away"."""
        self.reasons = tuple(reasons)
        for action in self.away_actions:
            self._group.removeAction(action)
            action.deleteLater()
        self.away_menu.clear()
        choices = self.reasons or ("",)
        self.away_actions = [
            self._action(r.replace("&", "&&") or "Away", f"agentAwayAction{i}", AWAY, r)
            for i, r in enumerate(choices)
        ]
        self.away_menu.addActions(self.away_actions)
        self._show()

    def show_state(self, state: str, reason: str = "", since: str | datetime | None = None) -> None:
        """The server's word on my state; ``since`` (ISO UTC or a datetime) starts the clock."""
        self.state, self.reason = state, reason or ""
        self.since = since if isinstance(since, datetime) else parse_time(since)
        self._show()

    def set_online(self, online: bool) -> None:
        """Offline: a read-only "Offline" look until the server is back (and tells my state again)."""
        self.online = online
        self._show()

    def request_state(self, state: str, reason: str = "") -> bool:
        """Ask for a state (the menu and any shortcut come here); False when offline or already in it."""
        if (
            not self.online
            or state not in (AVAILABLE, AWAY, WRAP_UP)
            or (state, reason) == (self.state, self.reason)
        ):
            self._check_current()
            return False
        self._check_current()  # the check moves when the server answers, not before
        self.stateRequested.emit(state, reason)
        return True

    def shown_state(self) -> str:
        """What the button reads: "Away — Lunch", "Offline", …"""
        return self.button.text().replace("&&", "&")

    def tick(self, now: datetime | None = None) -> None:
        """Move the clock on (the timer calls this each second; tests pass ``now``)."""
        now = now or self._clock()
        live = self.online and self.since is not None
        self.time_label.setText(
            duration_text((now - self.since).total_seconds()) if live and self.since else ""
        )
        self.time_label.setVisible(live)

    # -- inside -------------------------------------------------------------------------------------------
    def _show(self) -> None:
        state = self.state if self.online else OFFLINE
        text = f"{state} — {self.reason}" if self.online and self.reason else state
        self.button.setText(text.replace("&", "&&"))
        self.button.setAccessibleName(f"My state: {text}")
        self.button.setToolTip("Change my state" if self.online else OFFLINE_HINT)
        self.button.setProperty("agentState", STATE_KEYS.get(state, "other"))
        self.button.style().unpolish(self.button)
        self.button.style().polish(self.button)
        self._steady_width()
        for action in (self.available_action, self.wrap_up_action, *self.away_actions):
            action.setEnabled(self.online)
        self.away_menu.setEnabled(self.online)
        self._check_current()
        if self.online and self.since is not None:
            self._timer.start()
        else:
            self._timer.stop()
        self.tick()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange) and hasattr(self, "time_label"):
            self._steady_width()  # a theme or font change: measure again
        super().changeEvent(event)

    def _steady_width(self) -> None:
        """The button as wide as its widest state ("Away — Lunch", "Offline"…), the clock as wide as
        "88:88:88": the status bar doesn't jump as the state changes or the clock ticks."""
        texts = [
            AVAILABLE,
            WRAP_UP,
            ON_CALL,
            OFFLINE,
            AWAY,
            self.shown_state(),
            *(f"{AWAY} — {r}" for r in self.reasons),
        ]
        bold = QFont(self.button.font())
        bold.setBold(True)  # the theme bolds every state but Offline
        widest = max(QFontMetrics(f).horizontalAdvance(t) for f in (self.button.font(), bold) for t in texts)
        shown = self.button.fontMetrics().horizontalAdvance(self.button.text())
        # Never narrower than before: a rounding pixel between fonts must not make it jump either.
        self.button.setMinimumWidth(
            max(self.button.minimumWidth(), self.button.sizeHint().width() - shown + widest)
        )
        self.time_label.setMinimumWidth(
            QFontMetrics(self.time_label.font()).horizontalAdvance(CLOCK_SAMPLE) + 2
        )

    def _check_current(self) -> None:
        current = (self.state, self.reason) if self.online else None
        for action in self._group.actions():
            action.setChecked(tuple(action.data() or ()) == current)
