"""The campaign report window (issue 19, part 5; models/campaign_report.py): a period picker (from, to),
one row per campaign, numbers without a campaign highlighted, and Export CSV (Ctrl+E). Keyboard: the
dates take typing and arrows, Enter (or F5) runs the report, Ctrl+E exports, Esc closes. The window never
touches the database: its controller runs the report on a worker and calls ``show_report``."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from models.campaign_report import Report, report_csv

HEADERS = ("Campaign", "Calls", "Leads", "Booked jobs", "Booking rate", "Cost", "Per call", "Per booked job")


def _money(value: Any) -> str:
    return "" if value is None else f"${value:,.2f}"


class CampaignReportWindow(QWidget):
    runRequested = Signal(object, object)  # start date, end date
    exported = Signal(str)  # the CSV file written

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("campaignReport")
        self.setWindowTitle("Campaign report")
        self.setAccessibleName("Campaign report")
        today = today or date.today()
        first = QDate(today.year, today.month, 1)
        self.start = QDateEdit(first, objectName="reportFrom", calendarPopup=True)
        self.start.setAccessibleName("From")
        self.end = QDateEdit(
            QDate(today.year, today.month, today.day), objectName="reportTo", calendarPopup=True
        )
        self.end.setAccessibleName("To")
        for edit in (self.start, self.end):
            edit.setDisplayFormat("yyyy-MM-dd")
        self.run_button = QPushButton("&Run (Enter)", objectName="reportRun")
        self.run_button.setAccessibleName("Run the report")
        self.export_button = QPushButton("&Export CSV (Ctrl+E)", objectName="reportExport")
        self.export_button.setAccessibleName("Export CSV")
        self.model = QStandardItemModel(0, len(HEADERS), self)
        self.model.setObjectName("reportModel")
        self.model.setHorizontalHeaderLabels(list(HEADERS))
        self.table = QTableView(objectName="reportTable")
        self.table.setAccessibleName("Campaigns")
        self.table.setModel(self.model)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.message = QLabel(objectName="reportMessage", wordWrap=True)
        self.report: Report | None = None
        top = QHBoxLayout()
        for label, widget in (("&From:", self.start), ("&To:", self.end)):
            lab = QLabel(label)
            lab.setBuddy(widget)
            top.addWidget(lab)
            top.addWidget(widget)
        top.addWidget(self.run_button)
        top.addWidget(self.export_button)
        top.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addLayout(top)
        outer.addWidget(self.table, 1)
        outer.addWidget(self.message)
        self.run_button.clicked.connect(self.run)
        self.export_button.clicked.connect(lambda: self.export())
        for keys, slot in (("Ctrl+E", self.export), ("F5", self.run)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(slot)

    def run(self) -> None:
        start, end = self.start.date().toPython(), self.end.date().toPython()
        if end < start:
            self.message.setText("The period ends before it starts — change From or To.")
            return
        self.message.setText("Counting…")
        self.runRequested.emit(start, end)

    def show_report(self, report: Report) -> None:
        self.report = report
        self.model.removeRows(0, self.model.rowCount())
        for r in report.rows:
            rate = "" if r.booking_rate is None else f"{r.booking_rate * 100:.1f}%"
            cells = [
                r.campaign if r.active else f"{r.campaign} (retired)",
                str(r.calls),
                str(r.leads),
                str(r.booked_jobs),
                rate,
                _money(r.cost) if r.cost is not None else "cost not set",
                _money(r.cost_per_call),
                _money(r.cost_per_booked_job),
            ]
            self.model.appendRow([QStandardItem(c) for c in cells])
        for number, n in report.unassigned:
            items = [QStandardItem(f"No campaign: {number}"), QStandardItem(str(n))]
            items += [QStandardItem("") for _ in HEADERS[2:]]
            for item in items:
                item.setBackground(QBrush(QColor("#fff3cd")))  # stands out: calls nobody is paying for
                item.setToolTip("Calls to a number that belongs to no campaign — add it to one in Setup.")
            self.model.appendRow(items)
        unassigned = sum(n for _number, n in report.unassigned)
        self.message.setText(
            f"{report.start:%b %d, %Y} – {report.end:%b %d, %Y}: {len(report.rows)} campaigns"
            + (
                f"; {unassigned} calls reached numbers without a campaign (highlighted)."
                if unassigned
                else "."
            )
        )
        self.table.setFocus()

    def export(self, path: str | None = None) -> None:
        if self.report is None:
            self.message.setText("Run the report first (Enter).")
            return
        if path is None:
            path, _filter = QFileDialog.getSaveFileName(
                self,
                "Export the campaign report",
                f"campaigns-{self.report.start}-{self.report.end}.csv",
                "CSV (*.csv)",
            )
            if not path:
                return
        try:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(report_csv(self.report))
        except OSError as exc:
            self.message.setText(f"The report could not be saved to {path}: {exc.strerror or exc}.")
            return
        self.message.setText(f"Saved {path}.")
        self.exported.emit(path)

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.table.hasFocus():
            self.run()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.close()
            return
        super().keyPressEvent(event)
