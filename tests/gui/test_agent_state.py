"""The CSR's own state (widgets/agent_state.py): shows what the server says, asks by signal only,
reads Offline while disconnected, its clock driven with ``tick(now)``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from tests.gui.helpers import show_active
from widgets.agent_state import OFFLINE_HINT, AgentStateWidget

T0 = datetime(2026, 3, 13, 15, 0, 0, tzinfo=UTC)


@pytest.fixture
def widget(qtbot: Any) -> Iterator[AgentStateWidget]:
    window = QWidget()
    layout = QVBoxLayout(window)
    window.state = AgentStateWidget(window, clock=lambda: T0)
    layout.addWidget(window.state)
    qtbot.addWidget(window)
    show_active(qtbot, window)
    yield window.state


def online(widget: AgentStateWidget) -> None:
    widget.set_reasons(["Lunch", "Break", "Coaching & training"])
    widget.set_online(True)
    widget.show_state("Available", "", "2026-03-13T14:55:00Z")


def test_starts_offline_read_only(widget: AgentStateWidget) -> None:
    assert widget.objectName() == "agentState"
    assert widget.shown_state() == "Offline"
    assert widget.button.accessibleName() == "My state: Offline"
    assert widget.button.toolTip() == OFFLINE_HINT
    assert not widget.available_action.isEnabled() and not widget.away_menu.isEnabled()
    assert not widget.time_label.isVisible()


def test_shows_the_servers_state_and_ticks(widget: AgentStateWidget) -> None:
    online(widget)
    assert widget.shown_state() == "Available"
    assert widget.available_action.isChecked()
    widget.tick(T0)
    assert widget.time_label.text() == "5:00"
    widget.tick(T0 + timedelta(seconds=61))
    assert widget.time_label.text() == "6:01"
    assert widget._timer.isActive()
    widget.show_state("Away", "Lunch", T0)
    widget.tick(T0 + timedelta(seconds=7))
    assert (widget.shown_state(), widget.time_label.text()) == ("Away — Lunch", "0:07")
    assert widget.button.accessibleName() == "My state: Away — Lunch"
    assert [a.isChecked() for a in widget.away_actions] == [True, False, False]
    assert widget.button.property("agentState") == "away"


def test_menu_asks_and_never_changes_by_itself(widget: AgentStateWidget, qtbot: Any) -> None:
    online(widget)
    assert [a.text() for a in widget.away_actions] == ["Lunch", "Break", "Coaching && training"]
    with qtbot.waitSignal(widget.stateRequested) as blocker:
        widget.away_actions[2].trigger()
    assert blocker.args == ["Away", "Coaching & training"]
    assert widget.shown_state() == "Available" and widget.available_action.isChecked()
    assert not widget.away_actions[2].isChecked()  # until the server says so
    with qtbot.waitSignal(widget.stateRequested) as blocker:
        widget.wrap_up_action.trigger()
    assert blocker.args == ["Wrap-up", ""]
    with qtbot.assertNotEmitted(widget.stateRequested):
        widget.available_action.trigger()  # already Available
    assert widget.available_action.isChecked()
    assert widget.request_state("Away", "Break") is True


def test_without_reasons_away_is_plain(widget: AgentStateWidget, qtbot: Any) -> None:
    widget.set_online(True)
    widget.show_state("Wrap-up", "", T0)
    assert [a.text() for a in widget.away_actions] == ["Away"]
    with qtbot.waitSignal(widget.stateRequested) as blocker:
        widget.away_actions[0].trigger()
    assert blocker.args == ["Away", ""]


def test_offline_asks_nothing(widget: AgentStateWidget, qtbot: Any) -> None:
    online(widget)
    widget.set_online(False)
    assert widget.shown_state() == "Offline" and not widget.time_label.isVisible()
    assert not widget._timer.isActive()
    assert not any(
        a.isChecked() for a in [widget.available_action, widget.wrap_up_action, *widget.away_actions]
    )
    with qtbot.assertNotEmitted(widget.stateRequested):
        assert widget.request_state("Wrap-up") is False
    widget.set_online(True)
    assert widget.shown_state() == "Available"


def test_on_call_is_shown_and_the_button_is_keyboard_reachable(widget: AgentStateWidget, qtbot: Any) -> None:
    online(widget)
    widget.show_state("On call", "", T0)
    assert widget.shown_state() == "On call"
    assert not any(a.isChecked() for a in widget._group.actions())
    assert widget.button.focusPolicy() & Qt.FocusPolicy.TabFocus
    widget.button.setFocus()
    assert widget.button.hasFocus()
    assert widget.time_label.accessibleName() == "Time in this state"
