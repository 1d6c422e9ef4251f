"""Scorecards (widgets/scorecards.py) as a pure view: the server's answer in, the period and the
CSV out; the charts paint without warnings and state their values."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from tests.gui.helpers import show_active
from widgets.charts import BarChart, LineChart
from widgets.scorecards import Scorecards, scorecard_csv

FRIDAY = date(2026, 3, 13)
Ctrl = Qt.KeyboardModifier.ControlModifier
Alt = Qt.KeyboardModifier.AltModifier

HOURS = [0] * 24
HOURS[8], HOURS[9], HOURS[13] = 3, 7, 2
ANSWER: dict[str, Any] = {
    "rows": [
        {
            "user_id": "u1",
            "name": "Dana Ruiz",
            "inbound_handled": 14,
            "booked": 5,
            "unbooked": 3,
            "excused": 1,
            "not_lead": 5,
            "booking_rate_pct": 62.5,
            "avg_handle_s": 245.4,
        },
        {
            "user_id": "u2",
            "name": "Lee Chen, Jr.",
            "inbound_handled": 2,
            "booked": 0,
            "unbooked": 0,
            "excused": 0,
            "not_lead": 2,
            "booking_rate_pct": None,
            "avg_handle_s": None,
        },
    ],
    "abandoned": {
        "count": 4,
        "unanswered": 3,
        "answered_unclaimed": 1,
        "call_ids": ["k1", "k2", "k3", "k4"],
        "avg_wait_s": 35,
    },
    "campaigns": [
        {"campaign": "Google Ads", "leads": 6, "booked": 4, "booked_pct": 66.667},
        {"campaign": "Yard signs", "leads": 2, "booked": 1, "booked_pct": 50},
    ],
    "calls_per_hour": HOURS,
    "booking_rate_by_day": [
        {"day": "2026-03-09", "pct": 40},
        {"day": "2026-03-10", "pct": None},
        {"day": "2026-03-11", "pct": 75.2},
    ],
}
CSV = (
    "CSR,Calls handled,Booked,Unbooked,Excused,Not a lead,Booking rate %,Avg handle (s)\r\n"
    "Dana Ruiz,14,5,3,1,5,62.5,245\r\n"
    '"Lee Chen, Jr.",2,0,0,0,2,,\r\n'
    "Abandoned,4\r\n"
    "\r\n"
    "Campaign,Leads,Booked,Booked %\r\n"
    "Google Ads,6,4,66.7\r\n"
    "Yard signs,2,1,50.0\r\n"
)


@pytest.fixture
def cards(qtbot: Any) -> Iterator[Scorecards]:
    window = QWidget()
    layout = QVBoxLayout(window)
    window.cards = Scorecards(window, today=FRIDAY)
    layout.addWidget(window.cards)
    qtbot.addWidget(window)
    window.resize(1100, 650)
    show_active(qtbot, window)
    yield window.cards


def column(model: Any, col: int) -> list[str]:
    return [model.index(r, col).data() for r in range(model.rowCount())]


def test_period_picker_emits_the_period_and_its_days(cards: Scorecards, qtbot: Any) -> None:
    assert [cards.period_combo.itemText(i) for i in range(cards.period_combo.count())] == [
        "Today",
        "Yesterday",
        "Week to date",
        "Month to date",
        "Custom range",
    ]
    assert not cards.from_edit.isEnabled()
    with qtbot.waitSignal(cards.periodRequested) as blocker:
        cards.period_combo.setCurrentIndex(2)
    assert blocker.args == ["week", date(2026, 3, 9), FRIDAY]
    with qtbot.waitSignal(cards.periodRequested) as blocker:
        cards.set_period("month")
    assert blocker.args == ["month", date(2026, 3, 1), FRIDAY]
    with qtbot.waitSignal(cards.periodRequested) as blocker:
        cards.set_period("custom", date(2026, 2, 20), date(2026, 2, 10))
    assert blocker.args == ["custom", date(2026, 2, 10), date(2026, 2, 20)]  # backwards is turned round
    assert cards.from_edit.isEnabled()
    with qtbot.waitSignal(cards.periodRequested) as blocker:
        cards.to_edit.setDate(cards.to_edit.date().addDays(1))
    assert blocker.args == ["custom", date(2026, 2, 11), date(2026, 2, 20)]
    with qtbot.waitSignal(cards.periodRequested) as blocker:
        cards.request()
    assert blocker.args[0] == "custom"


def test_tables_and_the_abandoned_profile(cards: Scorecards) -> None:
    cards.show_scorecard(ANSWER)
    assert cards.score_view.objectName() == "scorecardTable"
    assert cards.campaign_view.objectName() == "campaignTable"
    m = cards.score_model
    assert [[m.index(r, c).data() for c in range(m.columnCount())] for r in range(m.rowCount())] == [
        ["Dana Ruiz", "14", "5", "3", "1", "5", "63%", "4:05"],
        ["Lee Chen, Jr.", "2", "0", "0", "0", "2", "—", "—"],
    ]
    assert m.index(1, 6).data(Qt.ItemDataRole.ToolTipRole) == "No leads in this period."
    assert column(cards.campaign_model, 0) == ["Google Ads", "Yard signs"]
    assert column(cards.campaign_model, 3) == ["67%", "50%"]
    assert cards.abandoned_label.text() == (
        "Abandoned: 4 calls · 3 hung up before anyone answered · 1 answered but never claimed · avg wait 0:35"
    )
    cards.show_scorecard({"rows": [], "abandoned": {"count": 1}, "campaigns": []})
    assert cards.score_model.rowCount() == 0
    assert cards.abandoned_label.text() == "Abandoned: 1 call"


def test_models_pass_qtmodeltester(cards: Scorecards, qtmodeltester: Any) -> None:
    cards.show_scorecard(ANSWER)
    qtmodeltester.check(cards.score_model, force_py=True)
    qtmodeltester.check(cards.campaign_model, force_py=True)


def test_csv_exact_text() -> None:
    assert scorecard_csv(ANSWER) == CSV
    assert scorecard_csv({}) == (
        "CSR,Calls handled,Booked,Unbooked,Excused,Not a lead,Booking rate %,"
        "Avg handle (s)\r\nAbandoned,0\r\n\r\nCampaign,Leads,Booked,Booked %\r\n"
    )


def test_export_action_emits_the_csv(cards: Scorecards, qtbot: Any) -> None:
    assert cards.export_action.objectName() == "exportCsvAction"
    assert not cards.export_action.isEnabled()  # nothing to export yet
    cards.show_scorecard(ANSWER)
    with qtbot.waitSignal(cards.exportRequested) as blocker:
        cards.export_action.trigger()
    assert blocker.args == [CSV]
    cards.score_view.setFocus()
    with qtbot.waitSignal(cards.exportRequested):
        qtbot.keyClick(cards.score_view, Qt.Key.Key_E, Ctrl)


def test_charts_describe_their_values(cards: Scorecards) -> None:
    cards.show_scorecard(ANSWER)
    assert cards.hour_chart.accessibleDescription() == (
        "Calls per hour: 8 AM 3, 9 AM 7, 1 PM 2. No calls in the other hours."
    )
    assert cards.day_chart.accessibleDescription() == (
        "Booking rate by day: Mar 9 40%, Mar 10 no leads, Mar 11 75%."
    )
    cards.show_scorecard({})
    assert cards.hour_chart.accessibleDescription() == "Calls per hour: no calls."
    assert cards.day_chart.accessibleDescription() == "Booking rate by day: no days yet."


@pytest.mark.parametrize("values", [[], [0] * 24, HOURS, [5]])
def test_bar_chart_paints_any_data(qtbot: Any, values: list[int]) -> None:
    chart = BarChart("Calls per hour")
    qtbot.addWidget(chart)
    chart.resize(300, 160)
    chart.set_data(values, [str(i) for i in range(len(values))])
    image = chart.grab().toImage()
    assert not image.isNull()


@pytest.mark.parametrize("values", [[], [None], [None, 50.0], [0, 100, 120, -5]])
def test_line_chart_paints_any_data(qtbot: Any, values: list[float | None]) -> None:
    chart = LineChart("Booking rate by day")
    qtbot.addWidget(chart)
    chart.resize(300, 160)
    chart.set_data(values, [f"d{i}" for i in range(len(values))])
    image = QImage(chart.size(), QImage.Format.Format_ARGB32)
    chart.render(image)
    assert image.width() == 300


def test_charts_draw_bars_in_the_highlight_colour(cards: Scorecards) -> None:
    cards.show_scorecard(ANSWER)
    image = cards.hour_chart.grab().toImage()
    highlight = cards.hour_chart.palette().highlight().color().rgb()
    assert any(
        image.pixel(x, y) == highlight for x in range(image.width()) for y in range(0, image.height(), 2)
    )


def test_accessible_names_and_mnemonics(cards: Scorecards, qtbot: Any) -> None:
    assert cards.objectName() == "scorecards"
    for widget in (
        cards.period_combo,
        cards.from_edit,
        cards.to_edit,
        cards.score_view,
        cards.campaign_view,
        cards.abandoned_label,
        cards.hour_chart,
        cards.day_chart,
        cards.export_button,
    ):
        assert widget.accessibleName(), widget.objectName()
    buddies = {label.text(): label.buddy() for label in cards.findChildren(QLabel) if label.buddy()}
    assert buddies["&CSRs:"] is cards.score_view and buddies["Ca&mpaigns:"] is cards.campaign_view
    qtbot.keyClick(cards, Qt.Key.Key_M, Alt)
    assert cards.campaign_view.hasFocus()
    qtbot.keyClick(cards, Qt.Key.Key_P, Alt)
    assert cards.period_combo.hasFocus()
