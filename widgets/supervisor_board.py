"""The supervisor board (`supervisorBoard`): today's tiles, the calls in progress and every CSR's
state, kept live from the server's feed. Plain dicts in (``show_snapshot``, ``apply_delta``,
``show_kpis``), one request out (``closeStaleRequested``); it never talks to the server.

A snapshot replaces everything, so a reconnect never leaves rows that ended while the board was away.
``set_connected(False)`` pauses the board and says so; the clocks stop until the next snapshot.
One 1-second timer per board moves the clocks on (``tick(now)`` in tests).

Keyboard: Alt+P the calls in progress, Alt+G the agents; in the board Ctrl+Shift+K closes the chosen stale call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.base import utcnow

from .call_bubble import duration_text
from .charts import percent_text
from .live_models import A_CALL, AgentsModel, LiveAgent, LiveCall, LiveCallsModel
from .row_list import read_only_table

__all__ = ["NOT_CONNECTED", "SupervisorBoard", "kpi_texts"]

NOT_CONNECTED = "Not connected — the board is paused. It fills in again when the server is back."
NOTHING_YET = "—"
# Amber once a caller has waited this long, or the service level falls below its goal.
LONG_WAIT_S = 60
SERVICE_GOAL_PCT = 80
SIZE_ROWS = 100  # rows read to size the columns (after each snapshot)

TILES = (
    ("tileCallsWaiting", "Calls waiting"),
    ("tileLongestWait", "Longest wait"),
    ("tileServiceLevel", "Service level today"),
    ("tileAbandonment", "Abandonment today"),
    ("tileBookingRate", "Booking rate today"),
    ("tileCallbacks", "Callbacks open"),
)


def kpi_texts(kpis: Mapping[str, Any]) -> dict[str, tuple[str, str, bool]]:
    """Each tile's value, its tooltip and whether it asks for attention; None reads "—"."""
    waiting, wait = kpis.get("calls_waiting"), kpis.get("longest_wait_s")
    service, abandon, booking = (
        kpis.get("service_level_pct"),
        kpis.get("abandonment_pct"),
        kpis.get("booking_rate_pct"),
    )
    none_today = "Nothing to measure yet today."
    return {
        "tileCallsWaiting": (
            NOTHING_YET if waiting is None else str(int(waiting)),
            "Callers ringing or queued, not yet answered.",
            bool(waiting),
        ),
        "tileLongestWait": (
            NOTHING_YET if wait is None else duration_text(wait),
            "How long the caller waiting longest has waited."
            if wait is not None
            else "No caller is waiting.",
            wait is not None and wait >= LONG_WAIT_S,
        ),
        "tileServiceLevel": (
            percent_text(service),
            "Calls answered within 20 s, today." if service is not None else none_today,
            service is not None and service < SERVICE_GOAL_PCT,
        ),
        "tileAbandonment": (
            percent_text(abandon),
            "Callers who hung up before anyone answered, today." if abandon is not None else none_today,
            False,
        ),
        "tileBookingRate": (
            percent_text(booking),
            "Booked ÷ (booked + unbooked), today." if booking is not None else none_today,
            False,
        ),
        "tileCallbacks": callbacks_text(kpis.get("callbacks_open"), kpis.get("callbacks_longest_wait_s")),
    }


def callbacks_text(count: Any, wait: Any) -> tuple[str, str, bool]:
    """The callback queue's tile: how many callers nobody has taken, and the longest wait."""
    if count is None:
        return NOTHING_YET, "The callback queue is not known yet.", False
    if not count:
        return "0", "Nobody is waiting for a call back.", False
    return (
        f"{int(count)} · {duration_text(wait or 0)}",
        "Callers to call back nobody has taken yet · the longest has waited this long.",
        True,
    )


class KpiTile(QFrame):
    """One number with its caption; ``attention`` turns it amber."""

    def __init__(self, name: str, caption: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setProperty("kpiTile", True)
        self.setProperty("attention", False)
        self.caption = caption
        self.value_label = QLabel(NOTHING_YET, self)
        self.value_label.setObjectName("kpiValue")
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption_label = QLabel(caption, self)
        self.caption_label.setObjectName("kpiCaption")
        self.caption_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.setSpacing(0)
        layout.addWidget(self.value_label)
        layout.addWidget(self.caption_label)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.show_value(NOTHING_YET, "", False)

    def text(self) -> str:
        return self.value_label.text()

    def show_value(self, value: str, hint: str, attention: bool) -> None:
        self.value_label.setText(value)
        self.setToolTip(hint)
        spoken = "nothing yet" if value == NOTHING_YET else value
        self.setAccessibleName(f"{self.caption}: {spoken}")
        self.setAccessibleDescription(hint)
        if self.property("attention") != attention:
            self.setProperty("attention", attention)
            for part in (self, self.value_label, self.caption_label):  # children's rules read the frame's
                part.style().unpolish(part)
                part.style().polish(part)


class SupervisorBoard(QWidget):
    """Tiles, live calls and agents; requests out by signal only."""

    closeStaleRequested = Signal(str)  # call id

    def __init__(self, parent: QWidget | None = None, *, clock: Callable[[], datetime] = utcnow) -> None:
        super().__init__(parent)
        self.setObjectName("supervisorBoard")
        self.setAccessibleName("Supervisor board")
        self._clock = clock
        self.connected = True
        self.calls_model = LiveCallsModel(self)
        self.agents_model = AgentsModel(self, call_text=self._call_text)
        self._build()
        self._connect_signals()
        self.set_connected(False)

    # -- building ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = QLabel(NOT_CONNECTED, self)
        self.banner.setObjectName("boardNotConnected")
        self.banner.setAccessibleName("Board status")
        self.banner.setWordWrap(True)
        self.day_label = QLabel(self)
        self.day_label.setObjectName("boardDay")

        self.tiles: dict[str, KpiTile] = {}
        tiles_row = QHBoxLayout()
        tiles_row.setSpacing(8)
        for name, caption in TILES:
            self.tiles[name] = KpiTile(name, caption, self)
            tiles_row.addWidget(self.tiles[name], 1)

        self.calls_view = read_only_table(
            self,
            "liveCallsTable",
            "Calls in progress, longest waiting first",
            self.calls_model,
            alternating=True,
            stretch_last=True,
        )
        self.agents_view = read_only_table(
            self,
            "agentsTable",
            "Agents and their states",
            self.agents_model,
            alternating=True,
            stretch_last=True,
        )
        for view in (self.calls_view, self.agents_view):
            # Sized to their contents once per snapshot, not on every change: with hundreds of agents
            # ticking each second, sizing to contents would read every cell of the table each time.
            view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            view.horizontalHeader().setResizeContentsPrecision(SIZE_ROWS)
            # Before the first rows: room for a phone number or a name (rows then keep the widths).
            view.horizontalHeader().setDefaultSectionSize(
                view.fontMetrics().horizontalAdvance("(000) 000-0000") + 28
            )
        self.close_stale_action = QAction("&Close stale call", self)
        self.close_stale_action.setObjectName("closeStaleCallAction")
        self.close_stale_action.setShortcut(QKeySequence("Ctrl+Shift+K"))
        self.close_stale_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.close_stale_action)
        self.calls_view.addAction(self.close_stale_action)
        self.calls_view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.close_stale_button = QToolButton(self)
        self.close_stale_button.setObjectName("closeStaleCallButton")
        self.close_stale_button.setDefaultAction(self.close_stale_action)
        self.close_stale_button.setAccessibleName("Close stale call")
        self.close_stale_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

        calls_box, calls_head = self._section("Calls in &progress", self.calls_view)
        calls_head.addWidget(self.close_stale_button)
        agents_box, _ = self._section("A&gents", self.agents_view)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("boardSplitter")
        self.splitter.addWidget(calls_box)
        self.splitter.addWidget(agents_box)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.banner)
        layout.addWidget(self.day_label)
        layout.addLayout(tiles_row)
        # ServiceChannel work orders needing attention (late to accept, expiring without a check-in).
        self.work_order_alerts = QLabel(self)
        self.work_order_alerts.setObjectName("boardWorkOrderAlerts")
        self.work_order_alerts.setAccessibleName("Work orders needing attention")
        self.work_order_alerts.setWordWrap(True)
        self.work_order_alerts.setStyleSheet("color: #b00020")
        self.work_order_alerts.hide()
        layout.addWidget(self.work_order_alerts)
        layout.addWidget(self.splitter, 1)
        self.setTabOrder(self.calls_view, self.close_stale_button)
        self.setTabOrder(self.close_stale_button, self.agents_view)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)

    def _section(self, title: str, view: QTableView) -> tuple[QWidget, QHBoxLayout]:
        """The section and its heading row (for buttons beside the title)."""
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 4, 0, 0)
        head = QHBoxLayout()
        label = QLabel(title, box)
        label.setObjectName("boardSectionTitle")
        label.setBuddy(view)
        head.addWidget(label)
        head.addStretch(1)
        layout.addLayout(head)
        layout.addWidget(view, 1)
        return box, head

    def _connect_signals(self) -> None:
        self._timer.timeout.connect(lambda: self.tick())
        self.close_stale_action.triggered.connect(self._close_stale)
        self.calls_view.selectionModel().currentRowChanged.connect(lambda *_a: self._update_actions())
        for signal in (
            self.calls_model.modelReset,
            self.calls_model.rowsRemoved,
            self.calls_model.rowsInserted,
            self.calls_model.dataChanged,
        ):
            signal.connect(lambda *_a: self._update_actions())

    # -- API ----------------------------------------------------------------------------------------------
    def show_snapshot(
        self, calls: Iterable[Mapping[str, Any]], agents: Iterable[Mapping[str, Any]], kpis: Mapping[str, Any]
    ) -> None:
        """The whole picture (on connect and reconnect): every row not in it goes."""
        keep_call, keep_agent = self._current_id(self.calls_view), self._current_id(self.agents_view)
        now = self._clock()
        self.calls_model.now = self.agents_model.now = now
        self.calls_model.set_rows([LiveCall.from_dict(c) for c in calls if not c.get("closed")])
        self.agents_model.set_rows([LiveAgent.from_dict(a) for a in agents])
        for view in (self.agents_view, self.calls_view):
            if view.model().rowCount():
                view.resizeColumnsToContents()
        self._select(self.calls_view, keep_call)
        self._select(self.agents_view, keep_agent)
        self.set_connected(True)
        self.show_kpis(kpis)
        self._update_actions()

    def apply_delta(
        self,
        calls: Sequence[Mapping[str, Any]] | None = (),
        agents: Sequence[Mapping[str, Any]] | None = (),
        removed_calls: Sequence[str] | None = (),
    ) -> None:
        """Calls and agents that are new or changed; calls that left (a closed call leaves too).
        None is nothing, as the feed's ``floor_delta`` sends it."""
        calls, agents, removed_calls = calls or (), agents or (), removed_calls or ()
        for c in calls:
            if c.get("closed"):
                self.calls_model.remove_row(str(c["id"]))
            else:
                self.calls_model.upsert(LiveCall.from_dict(c))
        for call_id in removed_calls:
            self.calls_model.remove_row(call_id)
        for a in agents:
            self.agents_model.upsert(LiveAgent.from_dict(a))
        touched = {str(c["id"]) for c in calls} | set(removed_calls)
        if touched:  # "Current call" reads the caller: those agents' cells
            self.agents_model.refresh_cells(
                A_CALL, [i for i, a in enumerate(self.agents_model.rows()) if a.call_id in touched]
            )
        self._run_timer()

    def show_kpis(self, kpis: Mapping[str, Any]) -> None:
        """Today's counters; None means nothing to measure yet and reads "—"."""
        for name, (value, hint, attention) in kpi_texts(kpis).items():
            self.tiles[name].show_value(value, hint, attention)
        alerts = kpis.get("work_order_alerts") or []
        self.work_order_alerts.setText(
            "Work orders: "
            + "; ".join(
                f"{a.get('number')} {a.get('client')} ({a.get('store')}) — {a.get('text')}" for a in alerts
            )
        )
        self.work_order_alerts.setVisible(bool(alerts))
        day = kpis.get("day")
        self.day_label.setText(
            f"Today, {date.fromisoformat(day):%a %b} {date.fromisoformat(day).day}" if day else ""
        )
        self.day_label.setVisible(bool(day))

    def set_connected(self, connected: bool) -> None:
        """Disconnected: a clear paused state, the clocks stop; the next snapshot brings it back."""
        self.connected = connected
        self.banner.setVisible(not connected)
        self.setProperty("connected", connected)
        for part in (*self.tiles.values(), self.calls_view, self.agents_view):
            part.setEnabled(connected)
        self.style().unpolish(self)
        self.style().polish(self)
        self._update_actions()
        self._run_timer()

    def tick(self, now: datetime | None = None) -> None:
        """Move every clock on (the board's timer calls this each second; tests pass ``now``)."""
        now = now or self._clock()
        self.calls_model.tick(now)
        self.agents_model.tick(now)

    def current_call_id(self) -> str:
        return self._current_id(self.calls_view)

    def select_call(self, call_id: str) -> None:
        self._select(self.calls_view, call_id)

    def tile_text(self, name: str) -> str:
        return self.tiles[name].text()

    # -- inside -------------------------------------------------------------------------------------------
    def _call_text(self, call_id: str) -> str:
        index = self.calls_model.row_of(call_id)
        call = self.calls_model.row_at(index)
        if call is None:
            return "A call"
        return call.customer_name or call.caller

    @staticmethod
    def _current_id(view: QTableView) -> str:
        row = view.model().row_at(view.currentIndex().row())
        return row.id if row else ""

    @staticmethod
    def _select(view: QTableView, row_id: str) -> None:
        model = view.model()
        index = model.row_of(row_id) if row_id else -1
        if index >= 0:
            view.setCurrentIndex(model.index(index, 0))

    def _run_timer(self) -> None:
        live = self.connected and (self.calls_model.rowCount() > 0 or self.agents_model.rowCount() > 0)
        if live and not self._timer.isActive():
            self._timer.start()
        elif not live:
            self._timer.stop()

    def _update_actions(self) -> None:
        call = self.calls_model.row_at(self.calls_view.currentIndex().row())
        stale = bool(self.connected and call is not None and call.stale)
        self.close_stale_action.setEnabled(stale)
        self.close_stale_action.setToolTip(
            "Close this call: the server lost track of it (Ctrl+Shift+K)"
            if stale
            else "Pick a call marked stale to close it."
        )

    def _close_stale(self) -> None:
        call = self.calls_model.row_at(self.calls_view.currentIndex().row())
        if self.connected and call is not None and call.stale:
            self.closeStaleRequested.emit(call.id)
