"""New / edit lead and dismiss-lead dialogs. Each checks itself with the pure rules the lead
intents use and returns its values in the shape of ``create_lead`` / ``update_lead`` /
``dismiss_lead`` (``models.leads``); refusals from the intent come back through ``show_errors``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import QComboBox, QDateEdit, QDateTimeEdit, QLabel, QLineEdit, QVBoxLayout, QWidget

from models.jobs import Lead
from models.lead_queries import LeadChoices, LeadRow
from models.phone import InvalidPhone, format_phone, parse_phone, try_parse_phone
from models.records import changed_fields
from models.validation import Report

from .form_dialog import FormDialog, text_of

# Numbers a CSR can type (03/14/2026), and the weekday to read, since that is what callers say.
DATE_FORMAT = "MM/dd/yyyy ddd"
DISMISS_REASON_REQUIRED = "Give a reason for dismissing the lead."


class FollowUpDateEdit(QDateEdit):
    """A date edit that starts on the day (↑ / ↓ move one day, typing 20 means the 20th) and that
    Tab leaves at once (QDateEdit would walk its sections: ← / → do that)."""

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        if event.reason() != Qt.FocusReason.MouseFocusReason:  # a click chose its own section
            self.setSelectedSection(QDateTimeEdit.Section.DaySection)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: A002 - Qt's parameter name
        return QWidget.focusNextPrevChild(self, next)


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _combo_value(combo: QComboBox) -> str | None:
    value = combo.currentData()
    return str(value) if value else None


class LeadDialog(FormDialog):
    """A lead for the open customer (its name read-only) or for a caller known only by name and phone.

    With ``record`` it edits an open lead: the follow-up date, reason, summary and booking hints.
    """

    def __init__(
        self,
        choices: LeadChoices,
        parent: QWidget | None = None,
        *,
        today: date,
        record: LeadRow | None = None,
        customer_id: str = "",
        customer_name: str = "",
        location_id: str = "",
        name: str = "",
        phone: str = "",
        customer_warning: str = "",
        confirm_externally: bool = False,
    ) -> None:
        super().__init__("Edit lead" if record else "New lead", parent, confirm_externally=confirm_externally)
        self.setObjectName("leadDialog")
        self.choices, self.record, self.today = choices, record, today
        self.customer_id = (record.customer_id if record else customer_id) or ""
        self.location_id = (record.location_id if record else location_id) or ""
        self.customer_warning = customer_warning
        if self.customer_id:
            shown = (record.customer_name or record.name) if record else customer_name
            box = self.add_line("customer", "&Customer", text=shown)
            box.setReadOnly(True)  # the lead follows the customer record; edit the name there
        else:
            self.add_line("name", "&Name", Lead, text=record.name if record else name)
            typed = record.phone_e164 if record else phone
            parsed = try_parse_phone(typed) if typed else None
            self.add_line("phone", "&Phone", Lead, text=format_phone(parsed.e164) if parsed else typed)
        self.add_line("summary", "S&ummary", Lead, text=record.summary if record else "")
        self.fields["summary"].setPlaceholderText("What they called about, when to call back")
        self._add_follow_up(record)
        self._add_choices(record)
        if customer_warning:
            self.show_errors({}, {"customer": customer_warning})
        # FormDialog builds its buttons first, so Save would take the focus: start at the first field.
        self.fields["customer" if self.customer_id else "name"].setFocus()

    # -- building ------------------------------------------------------------------------------------
    def _add_follow_up(self, record: LeadRow | None) -> None:
        day = record.follow_up_on if record else self.today + timedelta(days=1)
        self.add_check("has_follow_up", "Fo&llow up on a date", day is not None)
        edit = FollowUpDateEdit(self)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat(DATE_FORMAT)
        edit.setDate(_qdate(day or self.today + timedelta(days=1)))
        self.add_field("follow_up_on", "Follow-up &date", edit)
        edit.dateChanged.connect(lambda _d: self._clear("follow_up_on"))
        self.fields["has_follow_up"].toggled.connect(self._sync_follow_up)
        self._sync_follow_up()

    def _combo(
        self,
        key: str,
        label: str,
        none_text: str,
        items: list[tuple[str, str]],
        current: str | None,
        current_name: str,
    ) -> QComboBox:
        # A value set up earlier and deactivated since still shows, so an edit doesn't drop it.
        if current and all(value != current for _text, value in items):
            items = [*items, (f"{current_name or 'Unknown'} (inactive)", current)]
        return self.add_combo(key, label, [(none_text, ""), *items], current or "")

    def _add_choices(self, record: LeadRow | None) -> None:
        c = self.choices
        lead_reasons = [(r.name, r.id) for r in c.call_reasons if r.is_lead]
        other_reasons = [(r.name, r.id) for r in c.call_reasons if not r.is_lead]
        reason = self._combo(
            "call_reason_id",
            "Call &reason",
            "No reason",
            lead_reasons + other_reasons,
            record.call_reason_id if record else None,
            record.call_reason if record else "",
        )
        if lead_reasons and other_reasons:
            # Lead reasons first, the others after a line: all are allowed, these are the usual ones.
            reason.insertSeparator(len(lead_reasons) + 1)
        self._combo(
            "campaign_id",
            "Ca&mpaign",
            "No campaign",
            [(x.name, x.id) for x in c.campaigns],
            record.campaign_id if record else None,
            record.campaign if record else "",
        )
        self._combo(
            "business_unit_id",
            "&Business unit",
            "No business unit",
            [(x.name, x.id) for x in c.business_units],
            record.business_unit_id if record else None,
            record.business_unit if record else "",
        )
        self._combo("job_type_id", "&Job type", "No job type", [], None, "")
        self._fill_job_types(record.job_type_id if record else None, record.job_type if record else "")
        self.fields["business_unit_id"].currentIndexChanged.connect(lambda _i: self._fill_job_types())

    def _fill_job_types(self, current: str | None = None, current_name: str = "") -> None:
        """Only the job types of the chosen business unit (all of them when none is chosen)."""
        combo = self.fields["job_type_id"]
        assert isinstance(combo, QComboBox)
        if current is None:
            current = _combo_value(combo)
            current_name = combo.currentText()
        unit = _combo_value(self.fields["business_unit_id"])
        items = [
            (t.name, t.id) for t in self.choices.job_types if unit is None or unit in t.business_unit_ids
        ]
        if current and all(value != current for _text, value in items):
            known = any(t.id == current for t in self.choices.job_types)
            if not known:  # deactivated since: keep it; a job type of another unit is dropped
                items.append((f"{current_name or 'Unknown'} (inactive)", current))
        combo.blockSignals(True)
        combo.clear()
        for text, value in [("No job type", ""), *items]:
            combo.addItem(text, value)
        combo.setCurrentIndex(max(combo.findData(current or ""), 0))
        combo.blockSignals(False)

    def _sync_follow_up(self) -> None:
        self.fields["follow_up_on"].setEnabled(self.fields["has_follow_up"].isChecked())

    # -- values ---------------------------------------------------------------------------------------------
    def follow_up_on(self) -> date | None:
        edit = self.fields["follow_up_on"]
        assert isinstance(edit, QDateEdit)
        return edit.date().toPython() if self.fields["has_follow_up"].isChecked() else None

    def _phone_e164(self) -> str:
        text = text_of(self.fields["phone"])
        parsed = try_parse_phone(text)
        return parsed.e164 if parsed else text

    def lead_values(self) -> dict[str, Any]:
        """The lead's editable fields as the intents take them (ISO date, None for "not chosen")."""
        day = self.follow_up_on()
        out: dict[str, Any] = {
            "summary": text_of(self.fields["summary"]),
            "follow_up_on": day.isoformat() if day else None,
        }
        if not self.customer_id:
            out["name"] = text_of(self.fields["name"])
            out["phone"] = self._phone_e164()
        for key in ("call_reason_id", "campaign_id", "business_unit_id", "job_type_id"):
            combo = self.fields[key]
            assert isinstance(combo, QComboBox)
            out[key] = _combo_value(combo)
        return out

    def check(self) -> Report:
        report = Report()
        if not self.customer_id:
            if not text_of(self.fields["name"]):
                report.errors["name"] = "Enter the caller's name."
            try:
                parse_phone(text_of(self.fields["phone"]))
            except InvalidPhone as exc:
                report.errors["phone"] = str(exc)
        day = self.follow_up_on()
        if day is not None and day < self.today:
            report.warnings["follow_up_on"] = "That date has passed — the lead will show as overdue."
        if self.customer_warning:
            report.warnings["customer"] = self.customer_warning
        return report

    def values(self) -> dict[str, Any]:
        """``create_lead`` arguments, or ``update_lead`` ones ({lead_id, changes}) for an edit."""
        lead = self.lead_values()
        if self.record is not None:
            r = self.record
            old = {
                "name": r.name,
                "phone": r.phone_e164,
                "summary": r.summary,
                "follow_up_on": r.follow_up_on.isoformat() if r.follow_up_on else None,
                "call_reason_id": r.call_reason_id,
                "campaign_id": r.campaign_id,
                "business_unit_id": r.business_unit_id,
                "job_type_id": r.job_type_id,
            }
            return {"lead_id": r.id, "changes": changed_fields(old, lead)}
        if self.customer_id:
            lead["customer_id"] = self.customer_id
            if self.location_id:
                lead["location_id"] = self.location_id
        return {"lead": lead}


class DismissLeadDialog(FormDialog):
    """Close an open lead for good; the reason is required so a manager can review it."""

    def __init__(
        self, lead: LeadRow, parent: QWidget | None = None, *, confirm_externally: bool = False
    ) -> None:
        super().__init__("Dismiss lead", parent, confirm_externally=confirm_externally)
        self.setObjectName("dismissLeadDialog")
        self.lead = lead
        about = " — ".join(part for part in (lead.name, lead.phone, " ".join(lead.summary.split())) if part)
        intro = QLabel(f"Dismiss this lead? It leaves the open leads list.\n{about}", self)
        intro.setObjectName("dismissLeadSummary")
        intro.setWordWrap(True)
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):  # FormDialog's: the form, its error line, the buttons
            layout.insertWidget(0, intro)
        reason = self.add_line("reason", "&Reason", Lead, "status_reason")
        assert isinstance(reason, QLineEdit)
        reason.setPlaceholderText("Not interested, booked with someone else, wrong number…")
        self.save_button.setText("&Dismiss lead")
        self.save_button.setAccessibleName("Dismiss lead")
        reason.setFocus()

    def check(self) -> Report:
        report = Report()
        if not text_of(self.fields["reason"]):
            report.errors["reason"] = DISMISS_REASON_REQUIRED
        return report

    def values(self) -> dict[str, Any]:
        """``dismiss_lead`` arguments."""
        return {"lead_id": self.lead.id, "reason": text_of(self.fields["reason"])}
