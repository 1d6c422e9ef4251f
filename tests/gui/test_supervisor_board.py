"""The supervisor board (widgets/supervisor_board.py) as a pure view: the feed's dicts in, the
stale-call request out. Clocks are driven with ``tick(now)``, never by sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from console.theme import apply_theme
from tests.gui.helpers import show_active
from widgets.live_models import A_CALL, A_NAME, A_SINCE, A_STATE, C_CALLER, C_CSR, C_STATE, C_TIME
from widgets.supervisor_board import NOT_CONNECTED, SupervisorBoard

T0 = datetime(2026, 3, 13, 15, 0, 0, tzinfo=UTC)
Ctrl = Qt.KeyboardModifier.ControlModifier
Shift = Qt.KeyboardModifier.ShiftModifier
Alt = Qt.KeyboardModifier.AltModifier


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def call(
    call_id: str, state: str = "Ringing", started: float = 0, answered: float | None = None, **more: Any
) -> dict[str, Any]:
    row = {
        "id": call_id,
        "state": state,
        "direction": "inbound",
        "from_number": "+12145550177",
        "customer_name": "Maria Lopez",
        "campaign": "Google Ads",
        "agent_id": "",
        "agent_name": "",
        "started_at": iso(started),
        "answered_at": None if answered is None else iso(answered),
        "ended_at": None,
        "classification": "",
        "closed": False,
        "stale": False,
    }
    row.update(more)
    return row


def agent(
    user_id: str,
    name: str,
    state: str = "Available",
    since: float = 0,
    reason: str = "",
    call_id: str | None = None,
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "name": name,
        "state": state,
        "reason": reason,
        "since": iso(since),
        "call_id": call_id,
    }


KPIS = {
    "calls_waiting": 2,
    "longest_wait_s": 75,
    "service_level_pct": 91.6,
    "abandonment_pct": 3.0,
    "booking_rate_pct": 42.4,
    "callbacks_open": 2,
    "callbacks_longest_wait_s": 600,
    "day": "2026-03-13",
    "as_of": iso(0),
}
EMPTY_KPIS = {
    "calls_waiting": 0,
    "longest_wait_s": None,
    "service_level_pct": None,
    "abandonment_pct": None,
    "booking_rate_pct": None,
    "callbacks_open": 0,
    "callbacks_longest_wait_s": 0,
    "day": "2026-03-13",
    "as_of": iso(0),
}


@pytest.fixture
def board(qtbot: Any) -> Iterator[SupervisorBoard]:
    window = QWidget()
    layout = QVBoxLayout(window)
    window.board = SupervisorBoard(window, clock=lambda: T0)
    layout.addWidget(window.board)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    show_active(qtbot, window)
    yield window.board  # the window lives as long as the test


def column(model: Any, col: int) -> list[str]:
    return [model.index(r, col).data() for r in range(model.rowCount())]


def fill(board: SupervisorBoard) -> None:
    board.show_snapshot(
        [
            call("c1", "Ringing", started=30),
            call("c2", "Queued", started=10, from_number=""),
            call("c3", "Talking", started=0, answered=5, agent_id="u1", agent_name="Dana Ruiz"),
        ],
        [
            agent("u1", "Dana Ruiz", "On call", since=5, call_id="c3"),
            agent("u2", "Ana Park", "Away", reason="Lunch"),
            agent("u3", "Bo Kim", "Offline"),
        ],
        KPIS,
    )


def test_snapshot_shows_calls_longest_waiting_first_and_agents_by_name(board: SupervisorBoard) -> None:
    fill(board)
    calls, agents = board.calls_model, board.agents_model
    assert column(calls, C_STATE) == ["Talking", "Waiting", "Ringing"]
    assert column(calls, C_CALLER) == ["(214) 555-0177", "No caller ID", "(214) 555-0177"]
    assert column(calls, C_CSR) == ["Dana Ruiz", "Nobody yet", "Nobody yet"]
    assert column(agents, A_NAME) == ["Ana Park", "Bo Kim", "Dana Ruiz"]
    assert column(agents, A_STATE) == ["Away", "Offline", "On call"]
    assert column(agents, A_CALL) == ["", "", "Maria Lopez"]
    assert board.banner.isHidden()
    # Answered on a CSR's softphone but claimed by nobody: the board says whose phone it is.
    board.apply_delta([call("c4", "Talking", started=30, answered=35, answered_by_name="Bo Kim")])
    assert calls.data(calls.index(calls.row_of("c4"), C_CSR)) == "Bo Kim (not claimed)"
    # A CSR's outbound call shows the number called.
    board.apply_delta(
        [
            call(
                "c5",
                "Talking",
                started=40,
                answered=41,
                direction="Outbound",
                from_number="",
                to_number="+12145550199",
            )
        ]
    )
    assert calls.data(calls.index(calls.row_of("c5"), C_CALLER)) == "(214) 555-0199"


def test_snapshot_replaces_everything_after_a_reconnect(board: SupervisorBoard) -> None:
    fill(board)
    board.set_connected(False)
    board.show_snapshot([call("c9", "Ringing", started=50)], [agent("u2", "Ana Park")], EMPTY_KPIS)
    assert [r.id for r in board.calls_model.rows()] == ["c9"]
    assert [r.id for r in board.agents_model.rows()] == ["u2"]
    assert board.connected and board.banner.isHidden()
    # A closed call in a snapshot is not shown.
    board.show_snapshot([call("c9", closed=True)], [], EMPTY_KPIS)
    assert board.calls_model.rowCount() == 0


def test_delta_updates_in_place_inserts_in_order_and_removes(board: SupervisorBoard, qtbot: Any) -> None:
    fill(board)
    board.select_call("c2")
    with qtbot.assertNotEmitted(board.calls_model.modelReset):
        board.apply_delta(
            calls=[
                call(
                    "c2",
                    "Talking",
                    started=10,
                    answered=40,
                    agent_id="u2",
                    agent_name="Ana Park",
                    from_number="",
                )
            ],
            agents=[
                agent("u2", "Ana Park", "On call", since=40, call_id="c2"),
                agent("u4", "Cy Lane", "Available"),
            ],
        )
        assert column(board.calls_model, C_STATE) == ["Talking", "Talking", "Ringing"]
        assert board.current_call_id() == "c2"
        board.apply_delta(calls=[call("c0", "Queued", started=-20)])
        assert [r.id for r in board.calls_model.rows()] == ["c0", "c3", "c2", "c1"]
        board.apply_delta(removed_calls=["c3"], calls=[call("c1", closed=True)])
    assert [r.id for r in board.calls_model.rows()] == ["c0", "c2"]
    assert column(board.agents_model, A_NAME) == ["Ana Park", "Bo Kim", "Cy Lane", "Dana Ruiz"]
    # Dana's call left the board: her current call no longer reads its customer.
    assert column(board.agents_model, A_CALL) == ["Maria Lopez", "", "", "A call"]


def test_an_agent_renamed_moves_to_its_place(board: SupervisorBoard) -> None:
    fill(board)
    board.apply_delta(calls=None, agents=None, removed_calls=None)  # as the feed's floor_delta sends it
    assert board.calls_model.rowCount() == 3
    board.apply_delta(agents=[agent("u2", "Zoe Park", "Available")])
    assert column(board.agents_model, A_NAME) == ["Bo Kim", "Dana Ruiz", "Zoe Park"]


def test_clocks_tick_with_tick_now_only_in_the_ticking_column(board: SupervisorBoard, qtbot: Any) -> None:
    fill(board)
    board.apply_delta(
        calls=[call("c4", "Ended", started=-100, answered=-90, ended_at=iso(-30), agent_name="Lee Chen")]
    )
    changed: list[tuple[int, int, list[int]]] = []
    board.calls_model.dataChanged.connect(lambda a, b, roles: changed.append((a.column(), b.column(), roles)))
    board.tick(T0 + timedelta(seconds=65))
    assert column(board.calls_model, C_STATE)[0] == "Ended — not classified"
    # Ended: frozen at 1:00 talk; talking since answered; waiting and ringing since they started.
    assert column(board.calls_model, C_TIME) == ["1:00", "1:00", "0:55", "0:35"]
    assert changed == [(C_TIME, C_TIME, [Qt.ItemDataRole.DisplayRole])]
    board.tick(T0 + timedelta(seconds=3600 + 65))
    assert column(board.calls_model, C_TIME) == ["1:00", "1:01:00", "1:00:55", "1:00:35"]
    assert column(board.agents_model, A_SINCE) == ["1:01:05", "1:01:05", "1:01:00"]


def test_the_timer_runs_only_while_connected_with_rows(board: SupervisorBoard) -> None:
    assert not board._timer.isActive()
    fill(board)
    assert board._timer.isActive() and board._timer.interval() == 1000
    board.set_connected(False)
    assert not board._timer.isActive()


def test_stale_call_is_marked_and_close_stale_emits_its_id(board: SupervisorBoard, qtbot: Any) -> None:
    fill(board)
    board.apply_delta(
        calls=[call("c3", "Talking", started=0, answered=5, agent_name="Dana Ruiz", stale=True)]
    )
    assert column(board.calls_model, C_STATE)[0] == "Talking (stale)"
    tip = board.calls_model.index(0, C_CALLER).data(Qt.ItemDataRole.ToolTipRole)
    assert "close it" in tip
    action = board.close_stale_action
    assert action.objectName() == "closeStaleCallAction"
    board.select_call("c1")
    assert not action.isEnabled()
    board.select_call("c3")
    assert action.isEnabled()
    with qtbot.waitSignal(board.closeStaleRequested) as blocker:
        action.trigger()
    assert blocker.args == ["c3"]
    # By keyboard from the calls table.
    board.calls_view.setFocus()
    with qtbot.waitSignal(board.closeStaleRequested) as blocker:
        qtbot.keyClick(board.calls_view, Qt.Key.Key_K, Ctrl | Shift)
    assert blocker.args == ["c3"]
    # Paused, nothing is asked.
    board.set_connected(False)
    assert not action.isEnabled()
    with qtbot.assertNotEmitted(board.closeStaleRequested):
        board._close_stale()


def test_tiles_show_numbers_and_a_dash_for_nothing_yet(board: SupervisorBoard) -> None:
    fill(board)
    texts = {name: board.tile_text(name) for name in board.tiles}
    assert texts == {
        "tileCallsWaiting": "2",
        "tileLongestWait": "1:15",
        "tileServiceLevel": "92%",
        "tileAbandonment": "3%",
        "tileBookingRate": "42%",
        "tileCallbacks": "2 · 10:00",
    }
    assert board.tiles["tileCallbacks"].property("attention") is True
    assert board.tiles["tileLongestWait"].property("attention") is True
    assert board.tiles["tileServiceLevel"].property("attention") is False
    assert board.tiles["tileServiceLevel"].accessibleName() == "Service level today: 92%"
    assert board.day_label.text() == "Today, Fri Mar 13"
    board.show_kpis(EMPTY_KPIS)
    texts = {name: board.tile_text(name) for name in board.tiles}
    assert texts == {
        "tileCallsWaiting": "0",
        "tileLongestWait": "—",
        "tileServiceLevel": "—",
        "tileAbandonment": "—",
        "tileBookingRate": "—",
        "tileCallbacks": "0",
    }
    assert board.tiles["tileBookingRate"].accessibleName() == "Booking rate today: nothing yet"
    assert board.tiles["tileBookingRate"].toolTip() == "Nothing to measure yet today."
    assert not any(t.property("attention") for t in board.tiles.values())


def test_not_connected_is_a_clear_paused_state(board: SupervisorBoard) -> None:
    assert board.banner.isVisible() and board.banner.text() == NOT_CONNECTED
    fill(board)
    assert board.banner.isHidden() and board.calls_view.isEnabled()
    board.set_connected(False)
    assert board.banner.isVisible()
    assert not board.calls_view.isEnabled() and not board.agents_view.isEnabled()
    assert board.calls_model.rowCount() == 3  # the last picture stays, greyed, until the next snapshot


def test_models_pass_qtmodeltester(board: SupervisorBoard, qtmodeltester: Any) -> None:
    fill(board)
    board.tick(T0 + timedelta(seconds=10))
    qtmodeltester.check(board.calls_model, force_py=True)
    qtmodeltester.check(board.agents_model, force_py=True)


def test_object_names_accessible_names_and_keyboard(board: SupervisorBoard, qtbot: Any) -> None:
    assert board.objectName() == "supervisorBoard"
    for name in (
        "tileCallsWaiting",
        "tileLongestWait",
        "tileServiceLevel",
        "tileAbandonment",
        "tileBookingRate",
        "tileCallbacks",
    ):
        assert board.findChild(QWidget, name) is board.tiles[name]
    assert board.calls_view.objectName() == "liveCallsTable"
    assert board.agents_view.objectName() == "agentsTable"
    for widget in (board, board.calls_view, board.agents_view, board.close_stale_button, board.banner):
        assert widget.accessibleName()
    fill(board)
    titles = {label.text(): label.buddy() for label in board.findChildren(QLabel, "boardSectionTitle")}
    assert titles == {"Calls in &progress": board.calls_view, "A&gents": board.agents_view}
    qtbot.keyClick(board, Qt.Key.Key_G, Alt)
    assert board.agents_view.hasFocus()
    qtbot.keyClick(board, Qt.Key.Key_P, Alt)
    assert board.calls_view.hasFocus()
    qtbot.keyClick(board.calls_view, Qt.Key.Key_Down)
    assert board.calls_view.currentIndex().row() >= 0


@pytest.fixture
def themed() -> Iterator[QApplication]:
    """The console's theme for one test; the app's look is put back afterwards."""
    app = QApplication.instance()
    sheet, palette, style = app.styleSheet(), app.palette(), app.style().name()
    yield app
    app.setStyleSheet(sheet)
    app.setPalette(palette)
    app.setStyle(style)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_theme_styles_tiles_and_the_paused_board_without_complaint(
    board: SupervisorBoard, themed: Any, theme: str
) -> None:
    apply_theme(themed, theme)
    fill(board)
    board.grab()
    tile = board.tiles["tileLongestWait"]  # 1:15 waited: amber
    image = tile.grab().toImage()
    colours = {image.pixelColor(x, y).name() for x in range(image.width()) for y in range(image.height())}
    assert "#b26a00" in colours
    board.set_connected(False)
    assert not board.grab().isNull()


def test_a_phone_offline_shows_in_the_phone_column_with_why(board: SupervisorBoard) -> None:
    from PySide6.QtCore import Qt as _Qt

    from widgets.live_models import A_PHONE

    why = "Phone offline — it crashed; restarting in 0.5 s."
    fill(board)
    agents = board.agents_model
    assert agents.headerData(A_PHONE, _Qt.Orientation.Horizontal) == "Phone"
    assert column(agents, A_PHONE) == ["", "", ""]  # nobody said anything of a phone: no seat
    board.apply_delta([], [{**agent("u2", "Ana Park", "Available"), "phone": "offline", "phone_message": why},
                           {**agent("u1", "Dana Ruiz", "On call", since=5, call_id="c3"), "phone": "registered"},
                           {**agent("u3", "Bo Kim", "Offline"), "phone": "offline"}])  # fmt: skip
    assert column(agents, A_PHONE) == ["Phone offline", "", "Ready"]  # Bo is signed out: not news
    cell = agents.index(0, A_PHONE)
    assert agents.data(cell, _Qt.ItemDataRole.ToolTipRole) == why
    assert agents.data(cell, _Qt.ItemDataRole.ForegroundRole) is not None  # it stands out
    board.apply_delta([], [{**agent("u2", "Ana Park", "Available"), "phone": "registered"}])
    assert column(agents, A_PHONE)[0] == "Ready"
