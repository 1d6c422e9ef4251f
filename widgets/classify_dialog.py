"""Close and classify a call (`classifyDialog`): the X of a gray bubble opens it.

Built from plain data — the ``CallCard``, the company's call reasons and the matched customer's name —
it asks for the call reason (required) and, for a lead reason, what the lead needs: a follow-up date
(next business day by default, never in the past), a short summary, and when no customer is matched the
caller's name and phone, so the lead can be made without a customer record. ``classified(dict)`` carries
the answer to the console, which writes it; Book Job never comes here (it closes the bubble as Booked).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QVBoxLayout, QWidget

from models.calls import CallCard
from models.jobs import Lead
from models.phone import InvalidPhone, parse_phone, try_parse_phone
from models.validation import Report

from .call_bubble import caller_text, duration_text, elapsed_seconds, number_text
from .form_dialog import FormDialog, text_of
from .lead_dialogs import DATE_FORMAT, FollowUpDateEdit

REASON_REQUIRED = "Choose a call reason to close this call."
NAME_REQUIRED = "Enter the caller's name for the lead."
NO_REASONS = "No call reasons are set up, so the call closes without one."


@dataclass(frozen=True, slots=True)
class CallReasonChoice:
    """One call reason of the company's setup; ``is_lead`` reasons make the call a lead."""

    id: str
    name: str
    is_lead: bool


def next_business_day(today: date) -> date:
    """The first Monday-to-Friday day after ``today`` (a Friday's follow-up is on Monday)."""
    day = today + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def call_summary(card: CallCard) -> tuple[str, str]:
    """The call in two lines: who, number and campaign; how long it lasted."""
    seconds = elapsed_seconds(card, card.ended_at or card.started_at)
    if card.answered_at is not None:
        length = f"Talked {duration_text(seconds)}"
    else:
        length = f"Rang {duration_text(seconds)}, not answered"
    return f"{caller_text(card)} · {number_text(card)} · {card.campaign}", length


class ClassifyDialog(FormDialog):
    """Call reason first; the lead fields show only for a lead reason. Opens with ``open()``."""

    classified = Signal(dict)

    def __init__(
        self,
        card: CallCard,
        reasons: Iterable[CallReasonChoice | tuple[str, str, bool]],
        parent: QWidget | None = None,
        *,
        today: date,
        customer_name: str = "",
    ) -> None:
        super().__init__("Close and classify the call", parent)
        self.setObjectName("classifyDialog")
        self.card, self.today, self.customer_name = card, today, customer_name
        self.reasons = {
            r.id: r for r in (x if isinstance(x, CallReasonChoice) else CallReasonChoice(*x) for x in reasons)
        }
        who, length = call_summary(card)
        header = QWidget(self)
        rows = QVBoxLayout(header)
        rows.setContentsMargins(0, 0, 0, 6)
        rows.setSpacing(2)
        for name, text in (("classifyCall", who), ("classifyCallLength", length)):
            label = QLabel(text, header)
            label.setObjectName(name)
            label.setTextFormat(Qt.TextFormat.PlainText)
            rows.addWidget(label)
        self.hint = QLabel(self)
        self.hint.setObjectName("classifyHint")
        self.hint.setWordWrap(True)
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):  # FormDialog's: the form, its error line, the buttons
            layout.insertWidget(0, header)
            layout.insertWidget(layout.count() - 1, self.hint)

        items = [("Choose a call reason…", "")]
        items += [(f"{r.name} (lead)" if r.is_lead else r.name, r.id) for r in self.reasons.values()]
        self.reason = self._named(self.add_combo("call_reason_id", "Call &reason", items), "classifyReason")
        self.lead_note = QLabel(self)
        self.lead_note.setObjectName("classifyLeadNote")
        self.lead_note.setWordWrap(True)
        self.lead_note.setTextFormat(Qt.TextFormat.PlainText)
        self.lead_note.setText(
            f"This call becomes a lead for {customer_name}."
            if customer_name
            else "This call becomes a lead — no customer record needed."
        )
        self.form.addRow(self.lead_note)
        self.has_follow_up = self._named(
            self.add_check("has_follow_up", "Fo&llow up on a date", True), "classifyHasFollowUp"
        )
        edit = FollowUpDateEdit(self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat(DATE_FORMAT)
        edit.setMinimumDate(QDate(today.year, today.month, today.day))  # a follow-up is never past
        day = next_business_day(today)
        edit.setDate(QDate(day.year, day.month, day.day))
        self.follow_up = self._named(self.add_field("follow_up", "Follow-up &date", edit), "classifyFollowUp")
        self.summary = self._named(self.add_line("summary", "S&ummary", Lead), "classifySummary")
        self.summary.setPlaceholderText("What they called about, when to call back")
        self.lead_name: QLineEdit | None = None
        self.lead_phone: QLineEdit | None = None
        if not customer_name:
            self.lead_name = self._named(
                self.add_line("lead_name", "Caller &name", Lead, "name"), "classifyLeadName"
            )
            self.lead_phone = self._named(
                self.add_line("lead_phone", "&Phone", text=card.from_display if card.from_number else ""),
                "classifyLeadPhone",
            )

        self.ok_button = self.save_button
        self.ok_button.setText("&Close call")
        self.ok_button.setObjectName("classifyOk")
        self.ok_button.setAccessibleName("Close and classify the call")
        self.reason.currentIndexChanged.connect(lambda _i: self._sync())
        self.has_follow_up.toggled.connect(lambda _on: self._sync())
        for line in (self.lead_name, self.lead_phone):
            if line is not None:
                line.textChanged.connect(lambda _t: self._sync())
        self._sync()
        if not self.reasons:
            self.form.setRowVisible(self.reason.parentWidget(), False)
        self.reason.setFocus()  # FormDialog would pick the first empty line, hidden until a lead reason

    def _named(self, widget: Any, name: str) -> Any:
        widget.setObjectName(name)
        return widget

    # -- state ----------------------------------------------------------------------------------------------
    def chosen(self) -> CallReasonChoice | None:
        return self.reasons.get(str(self.reason.currentData() or ""))

    def is_lead(self) -> bool:
        reason = self.chosen()
        return reason is not None and reason.is_lead

    def _sync(self) -> None:
        """Show the lead fields for a lead reason; enable Close call once nothing required is missing."""
        lead = self.is_lead()
        self.lead_note.setVisible(lead)
        for widget in (self.has_follow_up, self.follow_up, self.summary, self.lead_name, self.lead_phone):
            if widget is not None:
                self.form.setRowVisible(widget.parentWidget(), lead)
        self.follow_up.setEnabled(self.has_follow_up.isChecked())
        missing = self._missing()
        self.hint.setText(missing or ("" if self.reasons else NO_REASONS))
        self.hint.setVisible(bool(self.hint.text()))
        self.ok_button.setEnabled(not missing)
        self.ok_button.setToolTip(missing)
        self.adjustSize()

    def _missing(self) -> str:
        if not self.reasons:
            return ""
        if self.chosen() is None:
            return REASON_REQUIRED
        if self.is_lead() and self.lead_name is not None and self.lead_phone is not None:
            if not text_of(self.lead_name):
                return NAME_REQUIRED
            try:
                parse_phone(text_of(self.lead_phone))
            except InvalidPhone as exc:
                return str(exc)
        return ""

    # -- values -----------------------------------------------------------------------------------------------
    def check(self) -> Report:
        report = Report()
        missing = self._missing()
        if missing:
            report.errors["call_reason_id" if self.chosen() is None else "lead_name"] = missing
        return report

    def values(self) -> dict[str, Any]:
        """What ``classified`` carries: the reason, and the lead's fields when it is a lead."""
        lead = self.is_lead()
        follow_up = None
        if lead and self.has_follow_up.isChecked():
            follow_up = self.follow_up.date().toPython()
        name = phone = ""
        if lead and self.lead_name is not None and self.lead_phone is not None:
            name = text_of(self.lead_name)
            parsed = try_parse_phone(text_of(self.lead_phone))
            phone = parsed.e164 if parsed else text_of(self.lead_phone)
        reason = self.chosen()
        return {
            "call_id": self.card.call_id,
            "call_reason_id": reason.id if reason else None,
            "is_lead": lead,
            "follow_up": follow_up,
            "summary": text_of(self.summary) if lead else "",
            "lead_name": name,
            "lead_phone": phone,
        }

    def accept(self) -> None:
        report = self.check()
        self.show_errors(report.errors, report.warnings)
        if report.ok:
            self.classified.emit(self.values())
            QDialog.accept(self)
