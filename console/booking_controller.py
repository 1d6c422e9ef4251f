"""Wires the booking form to the cache: setup data, availability from capacity, the book_job write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget
from sqlalchemy.orm import Session

from models.availability import load_rules
from models.base import utcnow
from models.booking import job_errors
from models.capacity import availability, booked_slots, horizon
from models.db import Cache, CacheError
from models.records import CustomerRecord
from models.setup import Campaign, CompanySetting
from models.setup_data import SetupData, load_setup
from models.timeutil import zone
from models.validation import ValidationFailed
from models.writer import LocalWriter
from widgets.booking_form import BookingForm

from .db_worker import DbWorker
from .failures import describe_failure

log = logging.getLogger(__name__)
DAYS = 14


class BookingController(QObject):
    """Ctrl+J → form ready; Get availability → 14 days of windows; Book Job → one local intent. The
    availability query and the booking's write (with its fsync) run on a worker thread (console/db_worker.py):
    the CSR can type on while they run, and the result comes back by signal."""

    outboxChanged = Signal()
    bookFinished = Signal(object)  # the job number, or None: refused or failed (the form says why)
    jobBooked = Signal(str, str)  # customer id, job number
    callBooked = Signal(str, str)  # a call a job was just booked on, the job's number
    errorOccurred = Signal(str)

    def __init__(
        self,
        parent: QWidget,
        cache: Cache,
        writer: LocalWriter,
        form: BookingForm,
        now_fn: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(parent)
        self._cache = cache
        self._writer = writer
        self.form = form
        self._now = now_fn
        self._setup: SetupData | None = None  # read on first use: start-up shows the window first
        self._setup_version = ""  # company_settings["setup_version"] of the loaded setup
        self.lead_id = ""  # set when the booking converts a lead
        # customer id → (the claimed call a booking for them is on, the call's campaign, the caller's number)
        self.call_for: dict[str, tuple[str, str, str]] = {}
        self.worker = DbWorker(self, "csr-booking")
        self._saving: Future | None = None  # the booking being written (one at a time)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.form.availabilityRequested.connect(self.show_availability)
        self.form.bookRequested.connect(self.book)

    @property
    def setup(self) -> SetupData:
        if self._setup is None:
            self.reload_setup()
        assert self._setup is not None
        return self._setup

    def reload_setup(self) -> None:
        with self._cache.sessions() as session:
            self._setup_version = _setup_version(session)
            self._setup = load_setup(session)
        self.form.set_setup(self._setup)

    def refresh_setup(self) -> bool:
        """Reload the setup if an import changed it since it was loaded; True when it did."""
        if self._setup is None:
            return False  # not loaded yet: the first use reads the current one
        with self._cache.sessions() as session:
            version = _setup_version(session)
        if version == self._setup_version:
            return False
        log.info(
            "setup changed (version %s → %s): reloading", self._setup_version or "none", version or "none"
        )
        self.reload_setup()
        return True

    def time_zone(self):  # noqa: ANN201 - ZoneInfo
        return zone(self.setup.time_zone)

    def start(self, record: CustomerRecord | None) -> None:
        """Bind the form to the open customer (keeping what was typed for the same customer)."""
        self.refresh_setup()
        fresh = record is None or record.id != self.form.customer_id()
        if fresh:
            self.form.bind(record)
            self.form.reset()
            self.lead_id = ""
        else:
            self.form.bind(record)  # fresh flags (a Do Not Service set meanwhile)
        self.offer_call_campaign()
        if record is not None:
            self._prefill_call(record.id, caller_location=fresh)
        self.form.focus_first()

    def bind_call(self, customer_id: str, call_id: str, campaign_id: str | None, caller: str = "") -> None:
        """A claimed call popped this customer: Book Job books on the call, with the call's campaign
        (even a retired one: the CSR is warned) and the location the caller's number belongs to."""
        self.call_for = {c: k for c, k in self.call_for.items() if k[0] != call_id}
        self.call_for[customer_id] = (call_id, campaign_id or "", caller)
        self.offer_call_campaign()
        self._prefill_call(customer_id, caller_location=True)

    def offer_call_campaign(self) -> None:
        """The form offers the campaign of the call it is bound to even when that campaign is retired
        (a tracking number still ringing for it), with a warning; otherwise only active campaigns."""
        bound = self.call_for.get(self.form.customer_id())
        campaign_id = bound[1] if bound else ""
        if not campaign_id or any(c.id == campaign_id for c in self.setup.campaigns):
            self.form.set_call_campaign(None)
            return
        with self._cache.sessions() as session:
            campaign = session.get(Campaign, campaign_id)
            name = campaign.name if campaign is not None else ""
        self.form.set_call_campaign((campaign_id, name) if name else None)

    def _prefill_call(self, customer_id: str, *, caller_location: bool) -> None:
        bound = self.call_for.get(customer_id)
        if not bound or self.form.customer_id() != customer_id:
            return
        if bound[1] and not self.form.values().get("campaign_id"):
            self.form.restore({**self.form.state(), "campaign_id": bound[1]})
        if caller_location and bound[2]:
            self.form.choose_caller_location(bound[2])

    def convert_lead(self, record: CustomerRecord | None, lead: dict[str, Any]) -> None:
        """Book a job from a lead: the form is bound to its customer and prefilled from it."""
        self.start(record)
        self.lead_id = str(lead.get("id") or "")
        self.form.restore(
            {
                **self.form.state(),
                "business_unit_id": lead.get("business_unit_id"),
                "job_type_id": lead.get("job_type_id"),
                "campaign_id": lead.get("campaign_id"),
                "location_id": lead.get("location_id"),
                "summary_text": lead.get("summary") or "",
            }
        )
        self.form.focus_first()

    def show_availability(self, then: Callable[[], None] | None = None) -> None:
        """Ask for 14 days of windows (on the worker); ``then`` runs once they are shown."""
        self.refresh_setup()
        values = self.form.values()
        job_type = self.setup.job_type(values["job_type_id"])
        missing = {}
        if not values["business_unit_id"]:
            missing["businessUnit"] = "Choose a business unit."
        if job_type is None:
            missing["jobType"] = "Choose a job type."
        if missing:
            self.form.show_errors(missing)
            return
        self.form.show_errors({})

        def shown(slots: list) -> None:
            self.form.set_slots(slots)
            if then is not None:
                then()

        self.worker.submit(
            self.slots,
            values["business_unit_id"],
            job_type.duration_minutes,
            job_type.skills,
            done=shown,
            failed=self._availability_failed,
            key="availability",
        )

    def slots(
        self, business_unit_id: str, duration: int, skills: tuple[str, ...], exclude_job: str = ""
    ) -> list:
        """14 days of windows; ``exclude_job`` leaves a job's own booking out (rescheduling it)."""
        now = self._now()
        days = horizon(now, self.setup, DAYS)
        with self._cache.sessions() as session:
            booked = booked_slots(session, self.setup, days[0], days[-1], exclude_job=exclude_job)
            rules = load_rules(session, days[0], days[-1])  # time off, holidays, adjustments (issue 19)
        return availability(self.setup, business_unit_id, duration, skills, booked, days, now, rules)

    def book(self) -> Future | None:
        """Book the job on the worker thread: the future of its write, or None when the form is refused as
        it stands (the problems are shown). ``bookFinished`` tells the number (or None) when it is done."""
        record = self.form.record()
        if record is None:
            self.form.show_errors({"customer": "Open the caller's customer first (Ctrl+F)."})
            return None
        had_slot = self.form.chosen_slot() is not None
        if self.refresh_setup() and had_slot:
            # The windows were offered under the old setup: show them again, with the choice highlighted.
            def confirm() -> None:
                if self.form.availability.rowCount():  # else show_availability named what is missing
                    self.form.show_errors(
                        {
                            "window": "The company setup was just updated — check the form, "
                            "confirm the arrival window (Enter), then book again."
                        }
                    )

            self.show_availability(then=confirm)
            return None
        slot = self.form.chosen_slot()
        job = self.form.values()
        if self.lead_id:
            job["lead_id"] = self.lead_id
        call_id = self.call_for.get(record.id, ("", ""))[0]
        if call_id:
            job["booked_from"] = "Call"
        args = {
            "job": job,
            "booked_at": self._now().isoformat(),
            "appointment": {"day": slot.day.isoformat(), "arrival_window_id": slot.window.id} if slot else {},
        }
        if call_id:
            args["call_id"] = call_id  # the call is Booked and its bubble closes (models/call_intents)
        if slot is None:
            # Let the intent name every other missing field too, then add the window.
            errors = self._field_errors(job, call_id)
            errors["window"] = "Pick an arrival window — press Get availability (Ctrl+G)."
            self.form.show_errors(errors)
            return None
        if self._saving is not None:
            return self._saving  # a second click while the first is being saved books nothing more
        self._saving = self.worker.submit(
            self._writer.execute,
            "book_job",
            args,
            done=lambda result: self._booked(record.id, call_id, result),
            failed=self._refused,
        )
        return self._saving

    def _booked(self, customer_id: str, call_id: str, result: Any) -> None:
        self._saving = None
        number = result.args["job"]["number"]
        self.lead_id = ""
        if call_id:
            self.call_for.pop(customer_id, None)
            self.form.set_call_campaign(None)
            self.callBooked.emit(call_id, number)
        self.form.reset()
        self.outboxChanged.emit()
        self.jobBooked.emit(customer_id, number)
        self.bookFinished.emit(number)

    def _refused(self, exc: BaseException) -> None:
        self._saving = None
        if isinstance(exc, ValidationFailed):
            self.form.show_errors(exc.errors)
            if "window" in exc.errors:
                errors = dict(exc.errors)  # shown again once the windows show how full things are now
                self.show_availability(then=lambda: self.form.show_errors(errors))
        else:
            log.error("booking failed", exc_info=exc)
            self._fail(exc)
        self.bookFinished.emit(None)

    def shutdown(self) -> None:
        """A booking being saved is saved before the cache closes."""
        self.worker.shutdown()

    def _field_errors(self, job: dict[str, Any], call_id: str = "") -> dict[str, str]:
        """The same field checks the book_job intent runs, so every missing field is named at once."""
        with self._cache.sessions() as session:
            return job_errors(session, self.setup, job, call_id or None)

    def _availability_failed(self, exc: BaseException) -> None:
        log.error("availability failed", exc_info=exc)
        text = describe_failure(
            self._cache.path, exc, prefix="The arrival windows could not be read. ", what="availability"
        )
        self.form.show_errors({"form": text})
        self.errorOccurred.emit(text)

    def _fail(self, exc: BaseException) -> None:
        prefix = "" if isinstance(exc, CacheError) else "The job was not saved. "
        text = describe_failure(self._cache.path, exc, prefix=prefix, what="booking")
        self.form.show_errors({"form": text})
        self.errorOccurred.emit(text)


def _setup_version(session: Session) -> str:
    """The cache's setup version ("" for a cache without one: its setup never changes version)."""
    row = session.get(CompanySetting, "setup_version")
    return str((row.value or {}).get("version", "")) if row is not None else ""
