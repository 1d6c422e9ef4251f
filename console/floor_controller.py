"""Wiring of the floor to the sync client: the CSR's own state in the status bar (`agentState`), the
supervisors' floor board (`supervisorBoard`, its own window: Ctrl+Shift+B) and the scorecards
(`scorecards`, its own window: Ctrl+Shift+Y). Both windows can sit on a second monitor; each keeps
its place between runs.

Everything here comes from the server (docs/protocol.md "Floor"): the state button shows what the
server says (at sign-in, on every change, On call while a call of mine is answered), never a guess;
the board subscribes while it is open and the client re-subscribes after a reconnect (a whole new
snapshot, never stale rows); a CSR's scorecard asks for their own row only (the server refuses
anything else anyway). Offline, the state reads "Offline", the board says it is paused and the
scorecards say they need the server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QWidget

from models.call_review import REVIEW_ROLES
from sync.client import RequestFailed
from widgets.agent_state import AgentStateWidget
from widgets.scorecards import Scorecards
from widgets.supervisor_board import SupervisorBoard

from .tasks import Tasks

log = logging.getLogger(__name__)

FLOOR_ROLES = REVIEW_ROLES  # supervisor, manager, admin: the server's rule too
BOARD_SHORTCUT, SCORECARDS_SHORTCUT = "Ctrl+Shift+B", "Ctrl+Shift+Y"
SCORECARDS_OFFLINE = "Scorecards come from the server — they fill in when you're signed in and online."
SIGN_IN_FIRST = "Sign in first (Ctrl+Shift+L): the floor board and scorecards come from the server."
NOT_FOR_CSR = "The floor board is for supervisors and managers."


class FloorController(QObject):
    """Owns the agent state widget and, once opened, the board and scorecards windows."""

    statusMessage = Signal(str)  # a sentence for the status bar (what failed, what was done)

    def __init__(
        self,
        window: Any,
        sync: Any,
        settings: QSettings,
        *,
        today_fn: Callable[[], date],
        clock: Callable[[], Any],
    ) -> None:
        super().__init__(window)
        self.window = window
        self.sync = sync
        self.settings = settings
        self._today = today_fn
        self._clock = clock
        self.user: dict[str, Any] | None = None
        self.board: SupervisorBoard | None = None
        self.scorecards: Scorecards | None = None
        self._tasks = Tasks()
        self._subscribing = False

        self.agent = AgentStateWidget(window, clock=clock)
        self.agent.menu.setTitle("My &state")
        window.statusBar().insertPermanentWidget(0, self.agent)
        window.phone_menu.addSeparator()
        window.phone_menu.addMenu(self.agent.menu)

        self.board_action = self._view_action(
            "&Floor board", "floorBoardAction", BOARD_SHORTCUT, self.open_board
        )
        self.scorecards_action = self._view_action(
            "Score&cards", "scorecardsAction", SCORECARDS_SHORTCUT, self.open_scorecards
        )
        self.board_action.setVisible(False)  # a supervisor's sign-in shows it
        self._connect_signals()

    def _view_action(self, text: str, name: str, shortcut: str, slot: Callable[[], Any]) -> QAction:
        menu = self.window.view_menu
        if not any(a.isSeparator() for a in menu.actions()[-1:]):
            menu.addSeparator()
        action = menu.addAction(text)
        action.setObjectName(name)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _connect_signals(self) -> None:
        self.agent.stateRequested.connect(self.request_state)
        self.sync.signedIn.connect(self._signed_in)
        self.sync.onlineChanged.connect(self._online_changed)
        self.sync.floorMessage.connect(self.show_message)

    # -- who is signed in ---------------------------------------------------------------------------------
    @property
    def supervises(self) -> bool:
        return str((self.user or {}).get("role") or "") in FLOOR_ROLES

    def _signed_in(self, user: dict[str, Any]) -> None:
        changed = self.user is not None and self.user.get("id") != user.get("id")
        self.user = user
        self.board_action.setVisible(self.supervises)
        if self.board is not None and not self.supervises:
            self.board.close()
        if changed and self.scorecards is not None:
            self.scorecards.show_scorecard({})  # never the previous user's figures

    def _online_changed(self, online: bool) -> None:
        self.agent.set_online(online)
        if not online:
            if self.board is not None:
                self.board.set_connected(False)
            if self.scorecards is not None and self.scorecards.isVisible():
                self.scorecards.show_message(SCORECARDS_OFFLINE)
            return
        if self._board_open():
            self._subscribe()
        if self.scorecards is not None and self.scorecards.isVisible():
            self.scorecards.request()

    # -- the server's messages ------------------------------------------------------------------------------
    def show_message(self, message: dict[str, Any]) -> None:
        """A floor or agent-state message from the client (docs/protocol.md "Floor")."""
        kind, board = message.get("type"), self.board if self._board_open() else None
        if kind == "agent_state":
            self._show_own_state(message)
        elif board is None:
            return
        elif kind == "floor_snapshot":
            board.show_snapshot(
                message.get("calls") or (), message.get("agents") or (), message.get("kpis") or {}
            )
        elif kind == "floor_delta":
            board.apply_delta(message.get("calls"), message.get("agents"), message.get("removed_calls"))
        elif kind == "floor_kpis":
            board.show_kpis(message.get("kpis") or {})

    def _show_own_state(self, message: dict[str, Any]) -> None:
        agent = message.get("agent") or {}
        if self.user is not None and str(agent.get("user_id")) != str(self.user.get("id")):
            return
        if message.get("away_reasons") is not None:
            self.agent.set_reasons([str(r) for r in message["away_reasons"]])
        self.agent.show_state(
            str(agent.get("state") or ""), str(agent.get("reason") or ""), agent.get("since")
        )

    # -- my state -------------------------------------------------------------------------------------------
    def request_state(self, state: str, reason: str = "") -> None:
        self._tasks.spawn(self._request_state(state, reason))

    async def _request_state(self, state: str, reason: str) -> None:
        client = self.sync.client
        if client is None:
            self.statusMessage.emit("Your state is kept by the server — sign in first (Ctrl+Shift+L).")
            return
        try:
            answer = await client.set_agent_state(state, reason)
        except RequestFailed as exc:
            self.statusMessage.emit(f"Your state didn't change: {exc}")
            return
        self._show_own_state(answer)

    # -- the floor board -------------------------------------------------------------------------------------
    def open_board(self) -> SupervisorBoard | None:
        """Ctrl+Shift+B: the board's window (made once), subscribed while it is open."""
        if self.user is None:
            self.statusMessage.emit(SIGN_IN_FIRST)
            return None
        if not self.supervises:
            self.statusMessage.emit(NOT_FOR_CSR)
            return None
        if self.board is None:
            self.board = SupervisorBoard(self.window, clock=self._clock)
            self._make_window(self.board, "Floor board", "floor/geometry", (1100, 700))
            self.board.closeStaleRequested.connect(self.close_stale)
        self._raise(self.board)
        self.board.calls_view.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if self.sync.online:
            self._subscribe()
        else:
            self.board.set_connected(False)
        return self.board

    def _board_open(self) -> bool:
        return self.board is not None and self.board.isVisible()

    def _subscribe(self) -> None:
        client = self.sync.client
        if client is None or client.floor_subscribed or self._subscribing:
            return
        self._subscribing = True
        self._tasks.spawn(self._subscribe_async(client))

    async def _subscribe_async(self, client: Any) -> None:
        try:
            await client.subscribe_floor()  # the snapshot comes through show_message too
        except RequestFailed as exc:
            if self.board is not None:
                self.board.set_connected(False)
            if exc.code != "offline":  # offline: the next "online" subscribes
                self.statusMessage.emit(f"The floor board couldn't start: {exc}")
        finally:
            self._subscribing = False

    def _board_closed(self) -> None:
        client = self.sync.client
        if client is not None and client.floor_subscribed:
            self._tasks.spawn(self._unsubscribe(client))

    @staticmethod
    async def _unsubscribe(client: Any) -> None:
        try:
            await client.unsubscribe_floor()
        except Exception:  # noqa: BLE001 - closing the board anyway
            log.info("unsubscribing from the floor failed; the server drops it with the connection")

    def close_stale(self, call_id: str) -> None:
        self._tasks.spawn(self._close_stale(call_id))

    async def _close_stale(self, call_id: str) -> None:
        client = self.sync.client
        if client is None:
            self.statusMessage.emit("Closing a call needs the server — you're offline.")
            return
        try:
            await client.close_stale_call(call_id)
        except RequestFailed as exc:
            self.statusMessage.emit(f"The call wasn't closed: {exc}")
            return
        self.statusMessage.emit("Closed the stale call — it is now in the review as ended.")

    # -- scorecards -----------------------------------------------------------------------------------------
    def open_scorecards(self) -> Scorecards | None:
        """Ctrl+Shift+Y: the scorecards' window (made once); a CSR's shows their own row."""
        if self.user is None:
            self.statusMessage.emit(SIGN_IN_FIRST)
            return None
        if self.scorecards is None:
            self.scorecards = Scorecards(self.window, today=self._today())
            self._make_window(self.scorecards, "Scorecards", "scorecards/geometry", (1100, 720))
            self.scorecards.periodRequested.connect(self.load_scorecard)
            self.scorecards.exportRequested.connect(self.export_csv)
        self.scorecards.set_today(self._today())
        self.scorecards.setWindowTitle(
            "Scorecards — CSR Console" if self.supervises else "My scorecard — CSR Console"
        )
        self._raise(self.scorecards)
        self.scorecards.period_combo.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.scorecards.request()
        return self.scorecards

    def load_scorecard(self, period: str, first: date | None, last: date | None) -> None:
        self._tasks.spawn(self._load_scorecard(period, first, last))

    async def _load_scorecard(self, period: str, first: date | None, last: date | None) -> None:
        cards, client = self.scorecards, self.sync.client
        if cards is None:
            return
        if client is None or not self.sync.online:
            cards.show_message(SCORECARDS_OFFLINE)
            return
        custom = period == "custom"
        try:
            answer = await client.scorecard(
                period,
                first.isoformat() if custom and first else None,
                last.isoformat() if custom and last else None,
                user_id=None if self.supervises else str((self.user or {}).get("id")),
            )
        except RequestFailed as exc:
            cards.show_message(f"The scorecard couldn't be read: {exc}")
            return
        if cards.period() == period:  # not an answer to a period since changed
            cards.show_message("")
            cards.show_scorecard(answer)

    def export_csv(self, text: str) -> QFileDialog:
        """Ask where to save the CSV (a non-modal dialog), then write it."""
        folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or str(
            Path.home()
        )
        answer = self.scorecards.answer if self.scorecards is not None else {}
        name = f"scorecard-{answer.get('first', '')}-{answer.get('last', '')}.csv"
        dialog = QFileDialog(
            self.scorecards or self.window, "Export scorecard", str(Path(folder) / name), "CSV files (*.csv)"
        )
        dialog.setObjectName("exportScorecardDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # same on every desk, testable
        dialog.fileSelected.connect(lambda path: self._write_csv(path, text))
        dialog.finished.connect(lambda _r: dialog.deleteLater())
        dialog.open()
        return dialog

    def _write_csv(self, path: str, text: str) -> None:
        try:
            Path(path).write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            self.statusMessage.emit(f"The scorecard wasn't saved: {exc.strerror or exc}")
            if self.scorecards is not None:
                self.scorecards.show_message(f"The scorecard wasn't saved to {path}: {exc.strerror or exc}")
            return
        self.statusMessage.emit(f"Scorecard saved to {path}.")
        if self.scorecards is not None:
            self.scorecards.show_message(f"Saved to {path}.")

    # -- windows --------------------------------------------------------------------------------------------
    def _make_window(self, widget: QWidget, title: str, key: str, size: tuple[int, int]) -> None:
        widget.setWindowFlag(Qt.WindowType.Window, True)
        widget.setWindowTitle(f"{title} — CSR Console")
        geometry = self.settings.value(key)
        if not (isinstance(geometry, QByteArray) and widget.restoreGeometry(geometry)):
            widget.resize(*size)
        widget.installEventFilter(_Closing(widget, lambda: self._closed(widget, key)))
        close = QAction("Close", widget)
        close.setObjectName("closeWindowAction")
        close.setShortcut(QKeySequence("Esc"))
        close.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        close.triggered.connect(widget.close)
        widget.addAction(close)

    def _closed(self, widget: QWidget, key: str) -> None:
        self.settings.setValue(key, widget.saveGeometry())
        if widget is self.board:
            self._board_closed()

    @staticmethod
    def _raise(widget: QWidget) -> None:
        widget.show()
        widget.raise_()
        widget.activateWindow()

    async def aclose(self) -> None:
        """Cancel the requests on their way (window closing)."""
        await self._tasks.cancel_all()


class _Closing(QObject):
    """Calls back when its window is closed (its close button, Alt+F4, Esc)."""

    def __init__(self, parent: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(parent)
        self._callback = callback

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Close:
            self._callback()
        return False
