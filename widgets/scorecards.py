"""Scorecards (`scorecards`), for supervisors and managers: each CSR's calls handled, booked,
unbooked, excused and not-lead calls, booking rate and average handle time for a period; Abandoned
on its own line; the campaigns; calls per hour and booking rate by day as charts.

Plain data in (``show_scorecard(answer)``, the server's dict), requests out: ``periodRequested(period,
first, last)`` when the period or its dates change, ``exportRequested(csv_text)`` for Export CSV
(Ctrl+E, ``export_action``; the console saves the text). ``scorecard_csv`` is the same text, pure.

Keyboard: Alt+P period, Alt+F / Alt+T custom dates, Alt+C the CSRs, Alt+M the campaigns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from models.call_review import period_bounds

from .charts import BarChart, LineChart, hour_label
from .scorecard_models import CampaignModel, CampaignRow, ScorecardModel, ScoreRow, abandoned_text, day_label
from .scorecard_models import scorecard_csv as scorecard_csv

__all__ = ["PERIODS", "Scorecards", "scorecard_csv"]

PERIODS = (("Today", "today"), ("Yesterday", "yesterday"), ("Week to date", "week"),
           ("Month to date", "month"), ("Custom range", "custom"))
DATE_FORMAT = "ddd MMM d, yyyy"


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _table(parent: QWidget, name: str, spoken: str, model: Any) -> QTableView:
    view = QTableView(parent)
    view.setObjectName(name)
    view.setAccessibleName(spoken)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setTabKeyNavigation(False)
    view.setAlternatingRowColors(True)
    view.verticalHeader().hide()
    view.setWordWrap(False)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    view.horizontalHeader().setStretchLastSection(True)
    return view


class Scorecards(QWidget):
    """Period picker, the CSR and campaign tables, the Abandoned line, two charts, Export CSV."""

    periodRequested = Signal(str, object, object)     # "today" / "yesterday" / "week" / "month" / "custom", dates
    exportRequested = Signal(str)                     # the CSV text

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("scorecards")
        self.setAccessibleName("Scorecards")
        self._today = today or date.today()
        self.answer: Mapping[str, Any] = {}
        self.score_model = ScorecardModel(self)
        self.campaign_model = CampaignModel(self)
        self._build()
        self._connect_signals()
        self.set_today(self._today)
        self.show_scorecard({})

    # -- building ----------------------------------------------------------------------------------------
    def _labelled(self, text: str, widget: QWidget, row: QHBoxLayout) -> None:
        label = QLabel(text, self)
        label.setBuddy(widget)
        row.addWidget(label)
        row.addWidget(widget)

    def _build(self) -> None:
        self.period_combo = QComboBox(self)
        self.period_combo.setObjectName("scorecardPeriod")
        self.period_combo.setAccessibleName("Period")
        for text, key in PERIODS:
            self.period_combo.addItem(text, key)
        self.from_edit, self.to_edit = QDateEdit(self), QDateEdit(self)
        for edit, name, spoken in ((self.from_edit, "scorecardFrom", "From"), (self.to_edit, "scorecardTo", "To")):
            edit.setObjectName(name)
            edit.setAccessibleName(spoken)
            edit.setCalendarPopup(True)
            edit.setDisplayFormat(DATE_FORMAT)
        self.export_action = QAction("&Export CSV…", self)
        self.export_action.setObjectName("exportCsvAction")
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.export_action.setToolTip("Export this scorecard for a spreadsheet (Ctrl+E)")
        self.addAction(self.export_action)
        self.export_button = QToolButton(self)
        self.export_button.setObjectName("exportCsvButton")
        self.export_button.setDefaultAction(self.export_action)
        self.export_button.setAccessibleName("Export CSV")
        self.export_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        filters = QHBoxLayout()
        self._labelled("&Period:", self.period_combo, filters)
        self._labelled("&From:", self.from_edit, filters)
        self._labelled("&To:", self.to_edit, filters)
        filters.addStretch(1)
        filters.addWidget(self.export_button)

        self.score_view = _table(self, "scorecardTable", "Scorecard, one row per CSR", self.score_model)
        self.abandoned_label = QLabel(self)
        self.abandoned_label.setObjectName("scorecardAbandoned")
        self.abandoned_label.setAccessibleName("Abandoned calls")
        self.abandoned_label.setTextFormat(Qt.TextFormat.PlainText)
        self.campaign_view = _table(self, "campaignTable", "Campaigns: leads and bookings", self.campaign_model)
        self.hour_chart = BarChart("Calls per hour", self)
        self.hour_chart.setObjectName("callsPerHourChart")
        self.day_chart = LineChart("Booking rate by day", self)
        self.day_chart.setObjectName("bookingRateChart")

        csr_label = QLabel("&CSRs:", self)
        csr_label.setBuddy(self.score_view)
        campaign_label = QLabel("Ca&mpaigns:", self)
        campaign_label.setBuddy(self.campaign_view)
        left = QVBoxLayout()
        left.addWidget(csr_label)
        left.addWidget(self.score_view, 3)
        left.addWidget(self.abandoned_label)
        left.addWidget(campaign_label)
        left.addWidget(self.campaign_view, 2)
        right = QVBoxLayout()
        right.addWidget(self.hour_chart, 1)
        right.addWidget(self.day_chart, 1)
        body = QHBoxLayout()
        body.addLayout(left, 3)
        body.addLayout(right, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(filters)
        layout.addLayout(body, 1)
        chain = [self.period_combo, self.from_edit, self.to_edit, self.export_button, self.score_view,
                 self.campaign_view, self.hour_chart, self.day_chart]
        for first, second in zip(chain, chain[1:], strict=False):
            self.setTabOrder(first, second)

    def _connect_signals(self) -> None:
        self.period_combo.currentIndexChanged.connect(lambda _i: self._period_changed(emit=True))
        self.from_edit.dateChanged.connect(lambda _d: self._dates_changed())
        self.to_edit.dateChanged.connect(lambda _d: self._dates_changed())
        self.export_action.triggered.connect(self._export)

    # -- the period ---------------------------------------------------------------------------------------
    def set_today(self, day: date) -> None:
        """The company's today (the periods count from it)."""
        self._today = day
        if self.period() != "custom":
            self._period_changed()

    def period(self) -> str:
        return str(self.period_combo.currentData())

    def set_period(self, period: str, first: date | None = None, last: date | None = None) -> None:
        """Choose a period ("today", "yesterday", "week", "month", or "custom" with its dates); emits."""
        self.period_combo.blockSignals(True)
        self.period_combo.setCurrentIndex(max(self.period_combo.findData(period), 0))
        self.period_combo.blockSignals(False)
        if period == "custom" and first is not None:
            self._set_dates(first, last or first)
        self._period_changed(emit=True)

    def date_range(self) -> tuple[date, date]:
        """First and last day of the period (inclusive; a custom range given backwards is turned round)."""
        if self.period() != "custom":
            return period_bounds(self.period(), self._today)
        first, last = self.from_edit.date().toPython(), self.to_edit.date().toPython()
        return (first, last) if first <= last else (last, first)

    def request(self) -> None:
        """Ask for the chosen period again (say, after a reconnect)."""
        self.periodRequested.emit(self.period(), *self.date_range())

    def _set_dates(self, first: date, last: date) -> None:
        for edit, day in ((self.from_edit, first), (self.to_edit, last)):
            edit.blockSignals(True)
            edit.setDate(_qdate(day))
            edit.blockSignals(False)

    def _period_changed(self, emit: bool = False) -> None:
        custom = self.period() == "custom"
        for edit in (self.from_edit, self.to_edit):
            edit.setEnabled(custom)
        if not custom:
            self._set_dates(*period_bounds(self.period(), self._today))   # the dates show what it means
        if emit:
            self.request()

    def _dates_changed(self) -> None:
        if self.period() == "custom":
            self.request()

    # -- the answer ---------------------------------------------------------------------------------------
    def show_scorecard(self, answer: Mapping[str, Any]) -> None:
        """The server's answer for the period: rows, abandoned, campaigns, calls_per_hour, booking_rate_by_day."""
        self.answer = answer
        self.score_model.set_rows([ScoreRow.from_dict(r) for r in answer.get("rows") or ()])
        self.campaign_model.set_rows([CampaignRow.from_dict(c) for c in answer.get("campaigns") or ()])
        self.abandoned_label.setText(abandoned_text(answer.get("abandoned")))
        hours = list(answer.get("calls_per_hour") or [0] * 24)
        self.hour_chart.set_data(hours, [hour_label(h) for h in range(len(hours))])
        days = list(answer.get("booking_rate_by_day") or ())
        self.day_chart.set_data([d.get("pct") for d in days], [day_label(d["day"]) for d in days])
        self.export_action.setEnabled(bool(answer))

    def csv_text(self) -> str:
        return scorecard_csv(self.answer)

    def _export(self) -> None:
        if self.answer:
            self.exportRequested.emit(self.csv_text())
