"""Wires the booking form to the cache: setup data, availability from capacity, the book_job write."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.availability import load_rules
from models.base import utcnow
from models.booking import job_errors
from models.capacity import availability, booked_slots, horizon
from models.db import Cache, CacheError, classify_sqlite_error
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
        setup: tuple[str, SetupData, dict[str, str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self._cache = cache
        self._writer = writer
        self.form = form
        self._now = now_fn
        # Read as the console is built, before its window exists (read_start_setup): never waited for here.
        self._setup: SetupData | None = None
        self._setup_version = ""  # company_settings["setup_version"] of the loaded setup
        self.lead_id = ""  # set when the booking converts a lead
        self.online_booking_id = ""  # set when the booking accepts a Bookings inbox request
        # customer id → (the claimed call a booking for them is on, the call's campaign, the caller's number)
        self.call_for: dict[str, tuple[str, str, str]] = {}
        self.worker = DbWorker(self, "csr-booking")
        self._saving: Future | None = None  # the booking being written (one at a time)
        self._campaign_names: dict[str, str] = {}  # every campaign, retired ones too (a call's campaign)
        self._connect_signals()
        if setup is not None:
            self._apply_setup(setup)

    def _connect_signals(self) -> None:
        self.form.availabilityRequested.connect(self.show_availability)
        self.form.bookRequested.connect(self.book)

    @property
    def setup(self) -> SetupData:
        """The company setup: read before the window was built, then kept fresh by the worker."""
        if self._setup is None:
            raise RuntimeError("the booking controller was built without the company setup")
        return self._setup

    def setup_here(self) -> SetupData:
        """The setup, for code running on a worker thread: the loaded one, or one read right here (a worker
        must never wait for the ``setup`` property's read, queued on the very worker it runs on)."""
        if self._setup is not None:
            return self._setup
        with self._cache.sessions() as session:
            return load_setup(session)

    def reload_setup(self) -> None:
        """Read the company setup on the worker; the form's pick lists are refilled when it comes."""
        self.worker.submit(
            _read_setup,
            self._cache,
            None,
            done=lambda answer: answer[1] is not self._setup and self._apply_setup(answer),
            failed=self._setup_failed,
            key="setup",
        )

    def refresh_setup(self) -> None:
        """Reload the setup if an import changed it since it was loaded (checked on the worker)."""
        if self._setup is None:
            return  # not loaded yet: the first use reads the current one
        self.worker.submit(
            _read_setup,
            self._cache,
            self._setup_version,
            done=lambda answer: answer is not None and self._apply_setup(answer),
            failed=self._setup_failed,
            key="setup",
        )

    def _apply_setup(self, answer: tuple[str, SetupData, dict[str, str]]) -> bool:
        version, setup, campaign_names = answer
        if self._setup is not None and version != self._setup_version:
            log.info(
                "setup changed (version %s → %s): reloaded", self._setup_version or "none", version or "none"
            )
        self._setup_version, self._setup, self._campaign_names = version, setup, campaign_names
        self.form.set_setup(setup)
        self.offer_call_campaign()
        return True

    def _setup_failed(self, exc: BaseException) -> None:
        log.error("the company setup could not be read", exc_info=exc)
        text = describe_failure(
            self._cache.path, exc, prefix="The company setup could not be read. ", what="setup"
        )
        self.errorOccurred.emit(text)

    def time_zone(self):  # noqa: ANN201 - ZoneInfo
        return zone((self._setup or self.setup_here()).time_zone)

    def start(self, record: CustomerRecord | None) -> None:
        """Bind the form to the open customer (keeping what was typed for the same customer)."""
        self.refresh_setup()
        fresh = record is None or record.id != self.form.customer_id()
        if fresh:
            self.form.bind(record)
            self.form.reset()
            self.lead_id = ""
            self.online_booking_id = ""
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
        name = self._campaign_names.get(campaign_id)
        if name is None:  # retired after the setup was read: its name comes from the worker
            customer_id = self.form.customer_id()
            self.worker.submit(
                _campaign_name,
                self._cache,
                campaign_id,
                done=lambda found: self._campaign_found(customer_id, campaign_id, found),
                failed=lambda exc: log.warning("campaign %s could not be read: %s", campaign_id, exc),
                key="campaign",
            )
            return
        self.form.set_call_campaign((campaign_id, name) if name else None)

    def _campaign_found(self, customer_id: str, campaign_id: str, name: str) -> None:
        self._campaign_names[campaign_id] = name
        if self.form.customer_id() == customer_id:
            self.offer_call_campaign()
            self._prefill_call(customer_id, caller_location=False)  # the call's campaign, now offered

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

    def accept_online(self, record: CustomerRecord | None, request: dict[str, Any]) -> None:
        """Book a job from a Bookings inbox request: the form prefilled, the requested window offered first
        (still free: highlighted; full: the first free one is), booking it accepts the request."""
        self.start(record)
        self.online_booking_id = str(request.get("online_booking_id") or "")
        self.form.restore(
            {
                **self.form.state(),
                "business_unit_id": request.get("business_unit_id"),
                "job_type_id": request.get("job_type_id"),
                "campaign_id": request.get("campaign_id"),
                "location_id": request.get("location_id"),
                "summary_text": request.get("summary") or "",
                "chosen": request.get("chosen"),
            }
        )
        self.form.focus_first()
        if request.get("job_type_id") and request.get("business_unit_id"):
            self.show_availability()

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

        def shown(answer: tuple[Any, list]) -> None:
            fresh, slots = answer
            if fresh is not None:
                self._apply_setup(fresh)  # an import changed the setup: the lists show it first
            self.form.set_slots(slots)
            if then is not None:
                then()

        self.worker.submit(
            self._fresh_slots,
            self._setup_version,
            values["business_unit_id"],
            job_type.id,
            done=shown,
            failed=self._availability_failed,
            key="availability",
        )

    def _fresh_slots(self, version: str, business_unit_id: str, job_type_id: str) -> tuple[Any, list]:
        """On the worker: (the setup when an import changed it since ``version``, else None; the windows
        under the current setup, for the job type as it is now)."""
        fresh = _read_setup(self._cache, version)
        setup = fresh[1] if fresh is not None else self.setup_here()
        job_type = setup.job_type(job_type_id)
        if job_type is None:
            return fresh, []
        return fresh, self.slots(business_unit_id, job_type.duration_minutes, job_type.skills, setup=setup)

    def slots(
        self,
        business_unit_id: str,
        duration: int,
        skills: tuple[str, ...],
        exclude_job: str = "",
        *,
        setup: SetupData | None = None,
    ) -> list:
        """14 days of windows; ``exclude_job`` leaves a job's own booking out (rescheduling it). Reads the
        cache: call it on a worker thread."""
        setup = setup or self.setup_here()
        now = self._now()
        days = horizon(now, setup, DAYS)
        with self._cache.sessions() as session:
            booked = booked_slots(session, setup, days[0], days[-1], exclude_job=exclude_job)
            rules = load_rules(session, days[0], days[-1])  # time off, holidays, adjustments (issue 19)
        return availability(setup, business_unit_id, duration, skills, booked, days, now, rules)

    def book(self) -> Future | None:
        """Book the job on the worker thread: the future of its write, or None when the form is refused as
        it stands (the problems are shown). ``bookFinished`` tells the number (or None) when it is done."""
        record = self.form.record()
        if record is None:
            self.form.show_errors({"customer": "Open the caller's customer first (Ctrl+F)."})
            return None
        slot = self.form.chosen_slot()
        job = self.form.values()
        if self.lead_id:
            job["lead_id"] = self.lead_id
        if self.online_booking_id:
            job["booked_from"] = "OnlineBooking"
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
        if self.online_booking_id:
            args["online_booking_id"] = self.online_booking_id  # the inbox request is Accepted
        if slot is None:
            # Let the intent name every other missing field too (read on the worker), then add the window.
            def missing(errors: dict[str, str]) -> None:
                errors["window"] = "Pick an arrival window — press Get availability (Ctrl+G)."
                self.form.show_errors(errors)

            self.worker.submit(
                self._field_errors, job, call_id, done=missing, failed=self._fail, key="field-errors"
            )
            return None
        if self._saving is not None:
            return self._saving  # a second click while the first is being saved books nothing more
        self._saving = self.worker.submit(
            self._book_if_current,
            self._setup_version,
            args,
            done=lambda result: self._booked(record.id, call_id, result),
            failed=self._refused,
        )
        return self._saving

    def _book_if_current(self, version: str, args: dict[str, Any]) -> Any:
        """On the worker: book, unless an import changed the setup since the form's windows were offered
        (then the new setup comes back instead, and nothing is written)."""
        fresh = _read_setup(self._cache, version)
        if fresh is not None:
            return _SetupChanged(fresh)
        return self._writer.execute("book_job", args)

    def _setup_changed(self, fresh: tuple[str, SetupData, dict[str, str]]) -> None:
        """The windows were offered under the old setup: show them again, with the choice highlighted."""
        self._apply_setup(fresh)

        def confirm() -> None:
            if self.form.availability.rowCount():  # else show_availability named what is missing
                self.form.show_errors(
                    {
                        "window": "The company setup was just updated — check the form, "
                        "confirm the arrival window (Enter), then book again."
                    }
                )

        self.show_availability(then=confirm)

    def _booked(self, customer_id: str, call_id: str, result: Any) -> None:
        self._saving = None
        if isinstance(result, _SetupChanged):
            self._setup_changed(result.fresh)
            self.bookFinished.emit(None)
            return
        number = result.args["job"]["number"]
        self.lead_id = ""
        self.online_booking_id = ""
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
            return job_errors(session, self.setup_here(), job, call_id or None)

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


class _SetupChanged:
    """A booking not written: the setup changed under the form (the new one is in ``fresh``)."""

    def __init__(self, fresh: tuple[str, SetupData, dict[str, str]]) -> None:
        self.fresh = fresh


def read_start_setup(cache: Cache) -> tuple[str, SetupData, dict[str, str]]:
    """The company setup as the console starts, read before its window exists (like opening the cache):
    nothing on screen waits for it, and every later use finds it loaded. A failure is the cache's."""
    try:
        answer = _read_setup(cache, None)
    except Exception as exc:  # noqa: BLE001 - said to the CSR as a cache problem, before any window
        raise classify_sqlite_error(cache.path, exc) from exc
    assert answer is not None
    return answer


def _read_setup(cache: Cache, known: str | None) -> tuple[str, SetupData, dict[str, str]] | None:
    """On the worker: (version, setup, every campaign's name) — or None when the setup is still version
    ``known`` (None: read it whatever it is; a cache without a version is "" and never changes)."""
    with cache.sessions() as session:
        version = _setup_version(session)
        if known is not None and version == known:
            return None
        names = {cid: name for cid, name in session.execute(select(Campaign.id, Campaign.name))}
        return version, load_setup(session), names


def _campaign_name(cache: Cache, campaign_id: str) -> str:
    """On the worker: a campaign's name ("" when there is no such campaign)."""
    with cache.sessions() as session:
        campaign = session.get(Campaign, campaign_id)
        return campaign.name if campaign is not None else ""


def _setup_version(session: Session) -> str:
    """The cache's setup version ("" for a cache without one: its setup never changes version)."""
    row = session.get(CompanySetting, "setup_version")
    return str((row.value or {}).get("version", "")) if row is not None else ""
