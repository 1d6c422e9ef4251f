"""Scorecards (`scorecards`), for supervisors and managers: each CSR's calls handled, booked,
unbooked, excused and not-lead calls, booking rate and average handle time for a period; Abandoned
on its own line; the campaigns; calls per hour and booking rate by day as charts.

Plain data in (``show_scorecard(answer)``, the server's dict; ``show_message(text)``), requests out: ``periodRequested(period,
first, last)`` when the period or its dates change, ``exportRequested(csv_text)`` for Export CSV
(Ctrl+E, ``export_action``; the console saves the text). ``scorecard_csv`` is the same text, pure.

Keyboard: Alt+P period, Alt+F / Alt+T custom dates, Alt+C the CSRs, Alt+M the campaigns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .charts import BarChart, LineChart, hour_label
from .row_list import PeriodMixin, labelled, period_picker, read_only_table
from .scorecard_models import CampaignModel, CampaignRow, ScorecardModel, ScoreRow, abandoned_text, day_label
from .scorecard_models import scorecard_csv as scorecard_csv

__all__ = ["PERIODS", "Scorecards", "scorecard_csv"]

PERIODS = (
    ("Today", "today"),
    ("Yesterday", "yesterday"),
    ("Week to date", "week"),
    ("Month to date", "month"),
    ("Custom range", "custom"),
)


class Scorecards(PeriodMixin, QWidget):
    """Period picker, the CSR and campaign tables, the Abandoned line, two charts, Export CSV."""

    periodRequested = Signal(
        str, object, object
    )  # "today" / "yesterday" / "week" / "month" / "custom", dates
    exportRequested = Signal(str)  # the CSV text

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
    def _build(self) -> None:
        self.period_combo, self.from_edit, self.to_edit = period_picker(self, "scorecard", PERIODS)
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
        labelled(self, "&Period:", self.period_combo, filters)
        labelled(self, "&From:", self.from_edit, filters)
        labelled(self, "&To:", self.to_edit, filters)
        filters.addStretch(1)
        filters.addWidget(self.export_button)

        self.message_label = QLabel(self)
        self.message_label.setObjectName("scorecardMessage")
        self.message_label.setAccessibleName("Scorecard status")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.hide()
        self.score_view = read_only_table(
            self,
            "scorecardTable",
            "Scorecard, one row per CSR",
            self.score_model,
            alternating=True,
            stretch_last=True,
        )
        self.abandoned_label = QLabel(self)
        self.abandoned_label.setObjectName("scorecardAbandoned")
        self.abandoned_label.setAccessibleName("Abandoned calls")
        self.abandoned_label.setTextFormat(Qt.TextFormat.PlainText)
        self.campaign_view = read_only_table(
            self,
            "campaignTable",
            "Campaigns: leads and bookings",
            self.campaign_model,
            alternating=True,
            stretch_last=True,
        )
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
        layout.addWidget(self.message_label)
        layout.addLayout(body, 1)
        chain = [
            self.period_combo,
            self.from_edit,
            self.to_edit,
            self.export_button,
            self.score_view,
            self.campaign_view,
            self.hour_chart,
            self.day_chart,
        ]
        for first, second in zip(chain, chain[1:], strict=False):
            self.setTabOrder(first, second)

    def _connect_signals(self) -> None:
        self.period_combo.currentIndexChanged.connect(lambda _i: self._period_changed(emit=True))
        self.from_edit.dateChanged.connect(lambda _d: self._dates_changed())
        self.to_edit.dateChanged.connect(lambda _d: self._dates_changed())
        self.export_action.triggered.connect(self._export)

    # -- the period ---------------------------------------------------------------------------------------
    def _period_chosen(self) -> None:
        self.request()

    def request(self) -> None:
        """Ask for the chosen period again (say, after a reconnect)."""
        self.periodRequested.emit(self.period(), *self.date_range())

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

    def show_message(self, text: str) -> None:
        """A sentence above the tables (offline, refused, failed); "" hides it."""
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def csv_text(self) -> str:
        return scorecard_csv(self.answer)

    def _export(self) -> None:
        if self.answer:
            self.exportRequested.emit(self.csv_text())
