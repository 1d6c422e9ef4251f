"""Wiring of the Jobs tab to the cache: reschedule (a new window, capacity re-checked), cancel and
hold (a reason required), release a hold. Each is one intent through the LocalWriter — the cache
change and its outbox row commit together; jobs are never deleted.

Every read here is a primary-key lookup or one 14-day capacity query for one business-unit group,
a few milliseconds on a large cache, so it runs on the UI thread like the booking form's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from models.base import utcnow
from models.capacity import Slot
from models.db import Cache, CacheError
from models.records import JobRecord, load_job_record
from models.validation import ValidationFailed
from models.writer import LocalWriter, WriteResult
from widgets.customer_panel import CustomerPanel
from widgets.job_dialogs import JobReasonDialog, RescheduleDialog

from .booking_controller import BookingController
from .failures import DialogTracker, describe_failure

log = logging.getLogger(__name__)

# The reschedule intent's own fallback for a job whose job type is unknown (online bookings).
DEFAULT_DURATION = 120
GONE = "That job is no longer on this PC — open the customer again."
UNEXPECTED = (
    "Something went wrong and the job was not changed. Try again; if it keeps happening, "
    "call support (details are in the log)."
)
VERBS = {
    "reschedule": "rescheduled",
    "cancel": "canceled",
    "hold": "put on hold",
    "release": "released",
    "on_the_way": "marked on the way",
}


class JobsController(DialogTracker, QObject):
    """Runs the job actions the customer panel asks for; the window hears of changes by signal."""

    jobChanged = Signal(str)  # customer id: reopen it, its jobs changed
    outboxChanged = Signal()
    errorOccurred = Signal(str)  # a sentence for the status bar; the panel or dialog shows it too

    def __init__(
        self,
        parent_widget: QWidget,
        cache: Cache,
        writer: LocalWriter,
        panel: CustomerPanel,
        booking: BookingController,
        now_fn: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(parent_widget)
        self._parent = parent_widget
        self._cache = cache
        self._writer = writer
        self.panel = panel
        self._booking = booking
        self._now = now_fn
        self.dialog: QDialog | None = None  # the dialog open now, if any (tests use it)
        # Upcoming vs past follows the console's clock (a fixed one in tests).
        panel.set_clock(now_fn)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.panel.jobActionRequested.connect(self.run)

    # -- entry point ----------------------------------------------------------------------------------
    def run(self, job_id: str, action: str) -> QDialog | None:
        """Open the dialog for "reschedule" / "cancel" / "hold" (returned), or release a hold at once."""
        job = self._fresh(job_id)
        if job is None:
            return None
        if action not in VERBS:
            log.warning("unknown job action %r", action)
            self._error(f"'{action}' is not something a job can do.")
            return None
        if not job.allows(action):
            # The panel showed an older status (another console changed it): show the truth.
            self.jobChanged.emit(job.customer_id)
            self._error(f"Job {job.number} is {job.status.lower()} now — it can't be {VERBS[action]}.")
            return None
        if action == "reschedule":
            return self._open_reschedule(job)
        if action == "release":
            self._release(job)
            return None
        if action == "on_the_way":
            self._on_the_way(job)
            return None
        return self._open_reason(job, action)

    def _fresh(self, job_id: str) -> JobRecord | None:
        # The panel's copy may be minutes old; the dialog starts from what the cache holds now.
        try:
            with self._cache.sessions() as session:
                job = load_job_record(session, job_id)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence, never a traceback
            self._error(self._describe(exc))
            return None
        if job is None:
            self._error(GONE)
        return job

    # -- cancel and hold -------------------------------------------------------------------------------
    def _open_reason(self, job: JobRecord, action: str) -> JobReasonDialog:
        dialog = JobReasonDialog(job, action, self._parent, confirm_externally=True)
        dialog.submitted.connect(lambda values: self._save_reason(dialog, job, values))
        self._track(dialog)
        dialog.open()
        return dialog

    def _save_reason(self, dialog: JobReasonDialog, job: JobRecord, values: dict[str, Any]) -> None:
        result = self._write(dialog.intent, values, dialog.show_errors)
        if result is None:
            return
        dialog.finish()
        what = "canceled" if dialog.action == "cancel" else "put on hold"
        self._changed(job, f"Job {job.number} {what} — saved on this PC.")

    # -- release ---------------------------------------------------------------------------------------
    def _release(self, job: JobRecord) -> None:
        # No dialog to show a refusal in: it goes to the panel's message line and the status bar.
        try:
            self._writer.execute("release_hold", {"job_id": job.id})
        except ValidationFailed as exc:
            self._error(" ".join(dict.fromkeys(exc.errors.values())))
            return
        except Exception as exc:  # noqa: BLE001 - the CSR gets a sentence; the log gets the traceback
            self._error(self._describe(exc))
            return
        self._changed(job, f"Job {job.number} released from hold — saved on this PC.")

    # -- on the way ------------------------------------------------------------------------------------
    def _on_the_way(self, job: JobRecord) -> None:
        """The server texts the customer (its sender; docs/notifications.md) once this reaches it."""
        try:
            self._writer.execute("notify_on_the_way", {"job_id": job.id})
        except ValidationFailed as exc:
            self._error(" ".join(dict.fromkeys(exc.errors.values())))
            return
        except Exception as exc:  # noqa: BLE001 - the CSR gets a sentence; the log gets the traceback
            self._error(self._describe(exc))
            return
        self._changed(job, f"Job {job.number}: the customer will be told the technician is on the way.")

    # -- reschedule -------------------------------------------------------------------------------------
    def _open_reschedule(self, job: JobRecord) -> RescheduleDialog | None:
        try:
            slots = self.slots(job)
        except Exception as exc:  # noqa: BLE001
            self._error(self._describe(exc))
            return None
        dialog = RescheduleDialog(job, self._parent)
        dialog.set_slots(slots)
        dialog.submitted.connect(lambda day, window_id: self._reschedule(dialog, job, day, window_id))
        self._track(dialog)
        dialog.open()
        return dialog

    def slots(self, job: JobRecord) -> list[Slot]:
        """The next 14 days of windows for this job, its own booking left out of the count — the
        same arithmetic the reschedule intent re-checks, so the picker and the intent agree."""
        self._booking.refresh_setup()  # a setup import while the console runs
        job_type = self._booking.setup.job_type(job.job_type_id)
        duration = job_type.duration_minutes if job_type else DEFAULT_DURATION
        skills = job_type.skills if job_type else ()
        return self._booking.slots(job.business_unit_id, duration, skills, exclude_job=job.id)

    def _reschedule(self, dialog: RescheduleDialog, job: JobRecord, day: str, window_id: str) -> None:
        args = {
            "job_id": job.id,
            "appointment": {"day": day, "arrival_window_id": window_id},
            "booked_at": self._now().isoformat(),
        }
        try:
            self._writer.execute("reschedule_job", args)
        except ValidationFailed as exc:
            if "window" in exc.errors:
                self._refresh(dialog, job)  # show how full things are now
            dialog.show_errors(exc.errors)
            return
        except Exception as exc:  # noqa: BLE001 - the CSR gets a sentence; the log gets the traceback
            text = self._describe(exc)
            dialog.show_errors({"form": text})
            self.errorOccurred.emit(text)
            return
        dialog.finish()
        self._changed(
            job,
            f"Job {job.number} rescheduled to {_window_label(dialog, day, window_id)} — saved on this PC.",
        )

    def _refresh(self, dialog: RescheduleDialog, job: JobRecord) -> None:
        try:
            dialog.set_slots(self.slots(job))
        except Exception as exc:  # noqa: BLE001 - the refusal itself still shows
            log.warning("availability refresh failed: %s", exc)

    # -- shared -----------------------------------------------------------------------------------------
    def _write(
        self, name: str, args: dict[str, Any], on_errors: Callable[[dict[str, str]], None]
    ) -> WriteResult | None:
        """Run one intent from a dialog; refusals go to ``on_errors`` (the dialog) as {field: sentence}."""
        try:
            return self._writer.execute(name, args)
        except ValidationFailed as exc:
            on_errors(exc.errors)
        except Exception as exc:  # noqa: BLE001 - the CSR gets a sentence; the log gets the traceback
            text = self._describe(exc)
            on_errors({"form": text})
            self.errorOccurred.emit(text)
        return None

    def _changed(self, job: JobRecord, text: str) -> None:
        self.outboxChanged.emit()
        # The window reopens the customer (the highlighted job stays highlighted), then the line says why.
        self.jobChanged.emit(job.customer_id)
        self.panel.show_message(text)

    def _error(self, text: str) -> None:
        self.panel.show_message(text, "error")
        self.errorOccurred.emit(text)

    def _describe(self, exc: BaseException) -> str:
        prefix = "" if isinstance(exc, CacheError) else "The job was not changed. "
        return describe_failure(
            self._cache.path, exc, prefix=prefix, what="job action", unexpected=UNEXPECTED
        )


def _window_label(dialog: RescheduleDialog, day: str, window_id: str) -> str:
    """ "Tue Dec 1 · 8–12" for the status line, from the slot the CSR picked."""
    row = dialog.availability.row_of(date.fromisoformat(day), window_id)
    slot = dialog.availability.slot(row)
    return slot.label if slot else day
