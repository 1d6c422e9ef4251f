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
from shiboken6 import isValid

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
        self._saving: set[int] = set()  # dialogs whose write is on the worker
        # Upcoming vs past follows the console's clock (a fixed one in tests).
        panel.set_clock(now_fn)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.panel.jobActionRequested.connect(self.run)

    # -- entry point ----------------------------------------------------------------------------------
    def run(self, job_id: str, action: str) -> None:
        """Read the job as the cache holds it now (the panel's copy may be minutes old), on the booking
        worker; then open the dialog for "reschedule" / "cancel" / "hold" (``self.dialog``), or release a
        hold at once. A newer action asked meanwhile wins."""
        if action not in VERBS:
            log.warning("unknown job action %r", action)
            self._error(f"'{action}' is not something a job can do.")
            return
        self._booking.worker.submit(
            _read_job,
            self._cache,
            job_id,
            done=lambda job: self._act(job, action),
            failed=lambda exc: self._error(self._describe(exc)),
            key="job-action",
        )

    def _act(self, job: JobRecord | None, action: str) -> None:
        if job is None:
            self._error(GONE)
            return
        if not job.allows(action):
            # The panel showed an older status (another console changed it): show the truth.
            self.jobChanged.emit(job.customer_id)
            self._error(f"Job {job.number} is {job.status.lower()} now — it can't be {VERBS[action]}.")
            return
        if action == "reschedule":
            self._open_reschedule(job)
        elif action == "release":
            self._release(job)
        elif action == "on_the_way":
            self._on_the_way(job)
        else:
            self._open_reason(job, action)

    # -- cancel and hold -------------------------------------------------------------------------------
    def _open_reason(self, job: JobRecord, action: str) -> JobReasonDialog:
        dialog = JobReasonDialog(job, action, self._parent, confirm_externally=True)
        dialog.submitted.connect(lambda values: self._save_reason(dialog, job, values))
        self._track(dialog)
        dialog.open()
        return dialog

    def _save_reason(self, dialog: JobReasonDialog, job: JobRecord, values: dict[str, Any]) -> None:
        what = "canceled" if dialog.action == "cancel" else "put on hold"

        def done(_result: WriteResult) -> None:
            if isValid(dialog):
                dialog.finish()
            self._changed(job, f"Job {job.number} {what} — saved on this PC.")

        self._write(dialog.intent, values, self._dialog_errors(dialog), done, dialog=dialog)

    # -- release ---------------------------------------------------------------------------------------
    def _release(self, job: JobRecord) -> None:
        # No dialog to show a refusal in: it goes to the panel's message line and the status bar.
        self._write(
            "release_hold",
            {"job_id": job.id},
            lambda errors: self._error(" ".join(dict.fromkeys(errors.values()))),
            lambda _result: self._changed(job, f"Job {job.number} released from hold — saved on this PC."),
        )

    # -- on the way ------------------------------------------------------------------------------------
    def _on_the_way(self, job: JobRecord) -> None:
        """The server texts the customer (its sender; docs/notifications.md) once this reaches it."""
        self._write(
            "notify_on_the_way",
            {"job_id": job.id},
            lambda errors: self._error(" ".join(dict.fromkeys(errors.values()))),
            lambda _result: self._changed(
                job, f"Job {job.number}: the customer will be told the technician is on the way."
            ),
        )

    # -- reschedule -------------------------------------------------------------------------------------
    def _open_reschedule(self, job: JobRecord) -> RescheduleDialog | None:
        """The picker opens at once; its windows come from the booking worker (the availability query)."""
        dialog = RescheduleDialog(job, self._parent)
        dialog.submitted.connect(lambda day, window_id: self._reschedule(dialog, job, day, window_id))
        self._track(dialog)
        dialog.open()
        self._load_slots(dialog, job)
        return dialog

    def _load_slots(self, dialog: RescheduleDialog, job: JobRecord) -> None:
        self._booking.refresh_setup()  # a setup import while the console runs (checked on the worker)

        def shown(slots: list[Slot]) -> None:
            if isValid(dialog) and dialog.isVisible():
                dialog.set_slots(slots)

        def failed(exc: BaseException) -> None:
            text = self._describe(exc)
            if isValid(dialog) and dialog.isVisible():
                dialog.show_errors({"form": text})
            self._error(text)

        self._booking.worker.submit(self.slots, job, done=shown, failed=failed, key="reschedule")

    def slots(self, job: JobRecord) -> list[Slot]:
        """The next 14 days of windows for this job, its own booking left out of the count — the
        same arithmetic the reschedule intent re-checks, so the picker and the intent agree. Reads the
        cache: runs on the booking worker."""
        job_type = self._booking.setup_here().job_type(job.job_type_id)
        duration = job_type.duration_minutes if job_type else DEFAULT_DURATION
        skills = job_type.skills if job_type else ()
        return self._booking.slots(job.business_unit_id, duration, skills, exclude_job=job.id)

    def _reschedule(self, dialog: RescheduleDialog, job: JobRecord, day: str, window_id: str) -> None:
        args = {
            "job_id": job.id,
            "appointment": {"day": day, "arrival_window_id": window_id},
            "booked_at": self._now().isoformat(),
        }
        label = _window_label(dialog, day, window_id)
        show = self._dialog_errors(dialog)

        def refused(errors: dict[str, str]) -> None:
            if "window" in errors and isValid(dialog):
                self._refresh(dialog, job)  # show how full things are now
            show(errors)

        def done(_result: WriteResult) -> None:
            if isValid(dialog):
                dialog.finish()
            self._changed(job, f"Job {job.number} rescheduled to {label} — saved on this PC.")

        self._write("reschedule_job", args, refused, done, dialog=dialog)

    def _refresh(self, dialog: RescheduleDialog, job: JobRecord) -> None:
        self._load_slots(dialog, job)  # how full things are now

    # -- shared -----------------------------------------------------------------------------------------
    def _write(
        self,
        name: str,
        args: dict[str, Any],
        on_errors: Callable[[dict[str, str]], None],
        then: Callable[[WriteResult], None],
        *,
        dialog: QDialog | None = None,
    ) -> None:
        """Run one intent on the booking worker (the console's writes, in order); ``then(result)``, or the
        refusal to ``on_errors`` as {field: sentence}. A dialog's second Enter meanwhile writes nothing."""
        if dialog is not None:
            if id(dialog) in self._saving:
                return
            self._saving.add(id(dialog))

        def failed(exc: BaseException) -> None:
            self._saving.discard(id(dialog))
            if isinstance(exc, ValidationFailed):
                on_errors(exc.errors)
                return
            on_errors({"form": self._describe(exc)})  # the CSR gets a sentence; the log the traceback

        def done(result: WriteResult) -> None:
            self._saving.discard(id(dialog))
            then(result)

        self._booking.worker.submit(self._execute, name, args, done=done, failed=failed)

    def _execute(self, name: str, args: dict[str, Any]) -> WriteResult:
        return self._writer.execute(name, args)

    def _dialog_errors(self, dialog: QDialog) -> Callable[[dict[str, str]], None]:
        """Refusals into the dialog while it is open, else into the panel's message line."""

        def show(errors: dict[str, str]) -> None:
            if isValid(dialog) and dialog.isVisible():
                dialog.show_errors(errors)
                if "form" in errors:  # not the CSR's typing: the status bar says it too
                    self.errorOccurred.emit(errors["form"])
            else:
                self._error(" ".join(dict.fromkeys(errors.values())))

        return show

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


def _read_job(cache: Cache, job_id: str) -> JobRecord | None:
    """On the worker: the job as the cache holds it now."""
    with cache.sessions() as session:
        return load_job_record(session, job_id)
