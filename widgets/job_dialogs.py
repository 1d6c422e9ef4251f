"""Dialogs that change a booked job: the reason for a cancellation or a hold, and the new arrival
window for a reschedule. Plain records in, signals out; the jobs controller runs the intents and
hands refusals back through ``show_errors`` so the dialog stays open with what was typed or picked."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from models.capacity import Slot
from models.jobs import Job
from models.records import JobRecord
from models.validation import Report, max_length

from .booking_form import AvailabilityView
from .booking_models import AvailabilityModel
from .customer_models import job_day, job_window
from .form_dialog import ERROR_STYLE, FormDialog, text_of

REASON_MAX = max_length(Job, "status_reason") or 200
WINDOW_FULL = "This window is full — pick another."
SAME_WINDOW = "That is the job's current window — pick another."
NO_WINDOWS = "No arrival window is offered for this job in the next 14 days."
PICK_WINDOW = "Pick an arrival window."

# Per action: the intent, the wording a CSR reads, and the sentence for a missing reason (the
# intent's own, so the dialog and the intent never disagree).
REASON_TEXT: dict[str, dict[str, str]] = {
    "cancel": {
        "intent": "cancel_job",
        "title": "Cancel job {number}",
        "label": "&Reason for canceling",
        "intro": "Cancel this job? It stays in the customer's history as Canceled.",
        "placeholder": "Found another company, no longer needed, duplicate booking…",
        "save": "Cancel &job",
        "save_name": "Cancel job",
        "dismiss": "&Keep job",
        "dismiss_name": "Keep job",
        "required": "Give a reason for the cancellation.",
    },
    "hold": {
        "intent": "hold_job",
        "title": "Put job {number} on hold",
        "label": "&Reason for the hold",
        "intro": "Put this job on hold? It keeps its arrival window until it is released or rescheduled.",
        "placeholder": "Waiting for parts, customer away, needs approval…",
        "save": "Put on &hold",
        "save_name": "Put on hold",
        "dismiss": "Cancel",
        "dismiss_name": "Cancel",
        "required": "Give a reason for the hold.",
    },
}


def describe_job(job: JobRecord) -> str:
    """Two lines a CSR recognises the job by: number, type, unit and appointment; then the summary."""
    first = " · ".join(part for part in (job.number, job.job_type, job.business_unit) if part)
    when = " ".join(part for part in (job_day(job), job_window(job)) if part)
    summary = " ".join(job.summary.split())
    return f"{first} — {when}" + (f"\n{summary}" if summary else "")


def _intro(parent: QWidget, name: str, text: str) -> QLabel:
    label = QLabel(text, parent)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class JobReasonDialog(FormDialog):
    """Cancel a job or put it on hold; the reason is required and travels with the intent."""

    def __init__(
        self, job: JobRecord, action: str, parent: QWidget | None = None, *, confirm_externally: bool = False
    ) -> None:
        text = REASON_TEXT[action]
        super().__init__(
            text["title"].format(number=job.number), parent, confirm_externally=confirm_externally
        )
        self.setObjectName("jobReasonDialog")
        self.job, self.action, self._text = job, action, text
        self.intent = text["intent"]
        layout = self.layout()
        if isinstance(layout, QVBoxLayout):  # FormDialog's: the form, its error line, the buttons
            layout.insertWidget(0, _intro(self, "jobReasonSummary", f"{text['intro']}\n{describe_job(job)}"))
        reason = self.add_line("reason", text["label"], Job, "status_reason")
        assert isinstance(reason, QLineEdit)
        reason.setPlaceholderText(text["placeholder"])
        self.save_button.setText(text["save"])
        self.save_button.setAccessibleName(text["save_name"])
        # "Cancel" next to "Cancel job" would read as the same thing: say what it keeps.
        dismiss = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        dismiss.setText(text["dismiss"])
        dismiss.setAccessibleName(text["dismiss_name"])
        reason.setFocus()

    def check(self) -> Report:
        report = Report()
        reason = text_of(self.fields["reason"])
        if not reason:
            report.errors["reason"] = self._text["required"]
        elif len(reason) > REASON_MAX:
            report.errors["reason"] = f"The reason is too long (at most {REASON_MAX} characters)."
        return report

    def values(self) -> dict[str, Any]:
        """``cancel_job`` / ``hold_job`` arguments."""
        return {"job_id": self.job.id, "reason": text_of(self.fields["reason"])}


class RescheduleModel(AvailabilityModel):
    """The availability list, with the job's current window named in the notes."""

    def __init__(self, current: tuple[date, str] | None, parent: Any = None) -> None:
        super().__init__(parent)
        self.current = current

    def is_current(self, row: int) -> bool:
        slot = self.slot(row)
        return slot is not None and self.current == (slot.day, slot.window.id)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        base = super().data(index, role)
        if (
            index.isValid()
            and index.column() == len(self.COLUMNS) - 1
            and self.is_current(index.row())
            and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole)
        ):
            return ", ".join(part for part in ("Current appointment", base) if part)
        return base


class RescheduleDialog(QDialog):
    """Pick a new arrival window for a job: Enter or a double-click on a window reschedules to it."""

    submitted = Signal(str, str)  # day (ISO), arrival window id

    def __init__(self, job: JobRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rescheduleDialog")
        self.setWindowTitle(f"Reschedule job {job.number}")
        self.setMinimumWidth(560)
        self.job = job
        current = (job.window_start.date(), job.window_id) if job.window_start and job.window_id else None
        self.availability = RescheduleModel(current, self)
        self.view = AvailabilityView(self)
        self.view.setObjectName("rescheduleAvailability")
        self.view.setAccessibleName("Arrival windows to reschedule to")
        self.view.setModel(self.availability)
        self.view.setSelectionBehavior(AvailabilityView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(AvailabilityView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(AvailabilityView.EditTrigger.NoEditTriggers)
        self.view.setTabKeyNavigation(False)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.setWordWrap(False)
        # Fixed widths: measuring every cell of 14 days of windows would cost more than the query.
        em = self.fontMetrics().averageCharWidth()
        for col, chars in enumerate((14, 18, 10, 14)):
            self.view.horizontalHeader().resizeSection(col, chars * em)
        caption = QLabel("New &arrival window (Enter reschedules to the highlighted one):", self)
        caption.setBuddy(self.view)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("error_window")
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.reschedule_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.reschedule_button.setText("&Reschedule")
        self.reschedule_button.setAccessibleName("Reschedule to the highlighted window")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        layout.addWidget(_intro(self, "rescheduleJobSummary", describe_job(job)))
        layout.addWidget(caption)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(640, 420)
        self._connect_signals()
        self.view.setFocus()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.view.picked.connect(self.pick)
        self.view.doubleClicked.connect(lambda index: self.pick(index.row()))

    # -- availability ------------------------------------------------------------------------------
    def set_slots(self, slots: list[Slot]) -> None:
        """Show these windows, keeping the highlighted one (else the first that fits and is not the
        job's current window). Errors already shown stay: a refresh after a refusal explains it."""
        kept = self.chosen_slot()
        self.availability.set_slots(slots)
        row = self.availability.row_of(kept.day, kept.window.id) if kept else -1
        if row < 0:
            row = self.first_choice()
        if row >= 0:
            self.view.selectRow(row)
        if not slots:
            self.show_errors({"window": NO_WINDOWS})
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def first_choice(self) -> int:
        """The first window that fits other than the job's own (the own one when nothing else fits)."""
        fitting = [r for r in range(self.availability.rowCount()) if self.availability.slot(r).fits]
        others = [r for r in fitting if not self.availability.is_current(r)]
        return (others or fitting or [-1])[0]

    def chosen_slot(self) -> Slot | None:
        return self.availability.slot(self.view.currentIndex().row())

    def pick(self, row: int) -> None:
        """Reschedule to this row's window — unless it is full or the job's own."""
        slot = self.availability.slot(row)
        if slot is None:
            self.show_errors({"window": PICK_WINDOW})
        elif not slot.fits:
            self.show_errors({"window": WINDOW_FULL})
        elif self.availability.is_current(row):
            self.show_errors({"window": SAME_WINDOW})
        else:
            self.show_errors({})
            self.submitted.emit(slot.day.isoformat(), slot.window.id)

    # -- errors and closing ------------------------------------------------------------------------
    def show_errors(self, errors: dict[str, str]) -> None:
        """Show the intent's refusal under the windows and keep the dialog open (no errors: clear)."""
        text = " ".join(dict.fromkeys(errors.values()))
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        self.view.setAccessibleDescription(text)
        if text:
            self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def error_text(self) -> str:
        return self.error_label.text() if self.error_label.isVisibleTo(self) else ""

    def accept(self) -> None:
        """The Reschedule button (or Enter outside the list) picks the highlighted window."""
        self.pick(self.view.currentIndex().row())

    def finish(self) -> None:
        """The owner saved the new window: close with ``accepted``."""
        super().accept()
