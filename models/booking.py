"""Booking intents: book a job with its first appointment, reschedule, cancel, hold, release.

The handler re-checks everything the form checked (Do Not Service, job type of the business unit,
campaign, required fields, the window's capacity), so an outdated or hostile client can't book
what the form would refuse.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from .attribution import attributed
from .availability import load_rules
from .base import utcnow
from .calls import Call
from .capacity import availability, booked_slots, find_slot, nearest_free, window_bounds
from .customers import Customer, Location
from .intent_kit import Applied, get_row, intent, items, own_id, require_id, section, tags_named
from .job_numbers import PUSHING_CLIENT, checked_number, server_number
from .jobs import (
    Appointment,
    BookedFrom,
    Job,
    JobStatus,
    Lead,
    LeadStatus,
    appointment_technicians,
    job_tags,
)
from .journal import next_job_number
from .setup import Campaign, Priority, Technician, TrackingNumber
from .setup_data import SetupData, load_setup
from .timeutil import as_utc, minutes, zone
from .validation import ValidationFailed

FULL = "This window is now full — pick another."
SUMMARY_MAX = 5000
MAX_DAYS_AHEAD = 365
JOB_NUMBER = re.compile(r"^[A-Z0-9]{1,8}-[0-9]{1,10}$")


def _day(raw: dict[str, Any]) -> date:
    try:
        return date.fromisoformat(str(raw.get("day")))
    except ValueError as exc:
        raise ValidationFailed({"window": "Pick an arrival window."}) from exc


def _now(session: Session) -> datetime:
    """The writer's clock (LocalWriter.clock; the server's own). A caller's ``booked_at`` is kept as
    information only: a console with a wrong clock must not book into the past."""
    now = session.info.get("now")
    return as_utc(now) if isinstance(now, datetime) else utcnow()


ACCEPT_AND_FLAG = "accept_and_flag"  # session.info key the server sets (sync/apply.py)
FLAGGED = (
    "This window filled before the booking reached the server: the job is kept and marked "
    "'needs rescheduling' with the nearest free windows."
)


def _check_window(
    session: Session,
    setup: SetupData,
    args: dict[str, Any],
    appt: dict[str, Any],
    business_unit_id: str,
    duration: int,
    skills: tuple[str, ...],
    exclude_job: str = "",
):  # noqa: ANN202
    """The window the CSR picked, re-checked against capacity now: (window, day, suggestions).

    On the console a full or past window is refused (the CSR picks another). On the server
    (``session.info[ACCEPT_AND_FLAG]``) an offline booking that lost the race is kept, never dropped or
    moved: ``suggestions`` then lists the nearest free windows (ARCHITECTURE.md sync rule 5)."""
    day = _day(appt)
    window_id = appt.get("arrival_window_id")
    window = next((w for w in setup.windows if w.id == window_id), None)
    if window is None:
        raise ValidationFailed({"window": "Pick an arrival window."})
    if not window.allows(business_unit_id):
        raise ValidationFailed({"window": f"The {window.name} window isn't offered for this business unit."})
    now = _now(session)
    today = as_utc(now).astimezone(zone(setup.time_zone)).date()
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        raise ValidationFailed({"window": f"Bookings go at most {MAX_DAYS_AHEAD} days ahead."})
    problem = None
    if day < today:
        problem = "That day has passed — pick another window."
    else:
        # Only the picked window, and only its group's appointments: what the check needs.
        bu = setup.business_unit(business_unit_id)
        slots = availability(
            setup,
            business_unit_id,
            duration,
            skills,
            booked_slots(
                session, setup, day, day, exclude_job=exclude_job, group_id=bu.group_id if bu else None
            ),
            [day],
            now,
            load_rules(session, day, day),
            window_id=window.id,
        )
        slot = find_slot(slots, day, window.id)
        if slot is None:
            problem = (
                f"The {window.name} window on {day:%a %b} {day.day} can't be booked any more — pick another."
            )
        elif not slot.fits:
            problem = FULL
    if problem is None:
        return window, day, None
    if not session.info.get(ACCEPT_AND_FLAG):
        raise ValidationFailed({"window": problem})
    first = max(day, today)
    days = [first + timedelta(days=i) for i in range(14)]
    free = availability(
        setup,
        business_unit_id,
        duration,
        skills,
        booked_slots(session, setup, days[0], days[-1], exclude_job=exclude_job),
        days,
        now,
        load_rules(session, days[0], days[-1]),
    )
    suggestions = [
        {"day": s.day.isoformat(), "arrival_window_id": s.window.id, "label": s.label}
        for s in nearest_free(free, day, minutes(window.start))
    ]
    return window, day, suggestions


def _appointment_times(setup: SetupData, window, day: date, duration: int) -> dict[str, datetime]:  # noqa: ANN001
    start, end = window_bounds(setup, day, window)
    return {
        "arrival_window_start": start,
        "arrival_window_end": end,
        "start": start,
        "end": start + timedelta(minutes=duration),
    }


def _line_items(setup: SetupData, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(raw):
        code = str(item.get("code", ""))
        service = setup.services.get(code)
        if service is None:
            raise ValidationFailed({f"line_items.{i}": f"'{code}' is not in the services catalog."})
        try:
            quantity = float(item.get("quantity", 1))
            price = float(item.get("price", service.price))
        except (TypeError, ValueError) as exc:
            raise ValidationFailed({f"line_items.{i}": "Quantity and price must be numbers."}) from exc
        if not (math.isfinite(quantity) and math.isfinite(price)) or quantity > 10_000 or price > 10_000_000:
            raise ValidationFailed({f"line_items.{i}": "Quantity or price is out of range."})
        if quantity <= 0 or price < 0:
            raise ValidationFailed({f"line_items.{i}": "Quantity must be positive and price not negative."})
        out.append({"code": code, "name": service.name, "quantity": quantity, "price": price})
    return out


def call_campaign(session: Session, call_id: Any, campaign_id: Any) -> bool:
    """True when ``campaign_id`` is the campaign of the tracking number the call came in on: a booking on
    that call may use it even after the campaign was retired (the CSR records what really happened).
    A call this cache doesn't hold yet (the console's pull hasn't brought it) passes on the console when
    the campaign exists; the server, which holds every call, checks the tracking number itself."""
    if not isinstance(call_id, str) or not call_id or not isinstance(campaign_id, str) or not campaign_id:
        return False
    call = session.get(Call, call_id)
    if call is None:
        return not session.info.get(ACCEPT_AND_FLAG) and session.get(Campaign, campaign_id) is not None
    tracking = session.get(TrackingNumber, call.tracking_number_id) if call.tracking_number_id else None
    return tracking is not None and tracking.campaign_id == campaign_id


def job_errors(
    session: Session, setup: SetupData, raw: dict[str, Any], call_id: Any = None
) -> dict[str, str]:
    """Every problem with the job part of a booking, by field (empty when it can be booked); ``call_id``:
    the call it is booked on (its tracking number's campaign is accepted even when inactive)."""
    errors: dict[str, str] = {}
    customer = (
        session.get(Customer, raw.get("customer_id") or "")
        if isinstance(raw.get("customer_id"), str)
        else None
    )
    if customer is None:
        errors["customer"] = "Open the caller's customer first."
    elif customer.merged_into_id:
        errors["customer"] = f"{customer.name} was merged into another customer — book on that one."
    elif not customer.active:
        errors["customer"] = f"{customer.name} is inactive — reactivate the record before booking."
    elif customer.do_not_service:
        reason = f" ({customer.do_not_service_reason})" if customer.do_not_service_reason else ""
        errors["customer"] = f"{customer.name} is marked Do Not Service{reason} — they can't be booked."
    location = (
        session.get(Location, raw.get("location_id") or "")
        if isinstance(raw.get("location_id"), str)
        else None
    )
    if location is None:
        errors["location"] = "Choose the service location."
    elif customer is not None and location.customer_id != customer.id:
        errors["location"] = "That location belongs to another customer."
    bu = setup.business_unit(str(raw.get("business_unit_id") or ""))
    if bu is None:
        errors["businessUnit"] = "Choose a business unit."
    job_type = setup.job_type(str(raw.get("job_type_id") or ""))
    if job_type is None:
        errors["jobType"] = "Choose a job type."
    elif bu is not None and bu.id not in job_type.business_unit_ids:
        errors["jobType"] = f"{job_type.name} isn't a job type of {bu.name}."
    if not any(c.id == raw.get("campaign_id") for c in setup.campaigns) and not call_campaign(
        session, call_id, raw.get("campaign_id")
    ):
        errors["campaign"] = "Choose the campaign the customer called about."
    priority = raw.get("priority") or (job_type.priority if job_type else Priority.NORMAL.value)
    if not isinstance(priority, str) or priority not in {p.value for p in Priority}:
        errors["priority"] = "Choose Low, Normal, High or Urgent."
    summary = raw.get("summary") or ""
    if not isinstance(summary, str):
        errors["summary"] = "The summary must be text."
    elif "summary" in setup.required_fields and not summary.strip():
        errors["summary"] = "Describe the job in the summary."
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = f"The summary is too long (at most {SUMMARY_MAX:,} characters)."
    elif "\x00" in summary:
        errors["summary"] = "The summary contains a character that can't be stored."
    technician_ids = raw.get("technician_ids") or []
    if not isinstance(technician_ids, list) or not all(isinstance(t, str) for t in technician_ids):
        errors["technician"] = "Malformed technician list."
    elif "technician" in setup.required_fields and not technician_ids:
        errors["technician"] = "Choose a technician."
    elif bu is not None:
        group = setup.group_units(bu.group_id)
        known = {t.id: t for t in setup.technicians}
        for tid in technician_ids:
            tech = known.get(tid)
            if tech is None or tech.business_unit_id not in group:
                errors["technician"] = "That technician doesn't work for this business unit."
            elif job_type is not None and not tech.has(job_type.skills):
                errors["technician"] = f"{tech.name} doesn't have the skills this job type needs."
    tags = raw.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        errors["tags"] = "Tags must be a list of names."
    elif "tags" in setup.required_fields and not [t for t in tags or [] if t.strip()]:
        errors["tags"] = "Add at least one tag."
    if raw.get("booked_from") not in (None, "", *[b.value for b in BookedFrom]):
        errors["booked_from"] = "Unknown booking source."
    number = raw.get("number")
    if number is not None and (not isinstance(number, str) or not JOB_NUMBER.match(number)):
        errors["number"] = "Malformed job number."
    return errors


@intent("book_job")
def book_job(session: Session, args: dict[str, Any]) -> Applied:
    """{job: {...}, appointment: {day, arrival_window_id}, booked_at?, call_id?} → a job and its first
    appointment (on a call: the call is Booked; its bubble stays until the call ends)."""
    raw = section(args, "job")
    appt = section(args, "appointment")
    setup = load_setup(session)
    errors = job_errors(session, setup, raw, args.get("call_id"))
    if errors:
        raise ValidationFailed(errors)
    customer = session.get(Customer, raw["customer_id"])
    location = session.get(Location, raw["location_id"])
    bu = setup.business_unit(raw["business_unit_id"])
    job_type = setup.job_type(raw["job_type_id"])
    assert customer is not None and location is not None and bu is not None and job_type is not None
    priority = raw.get("priority") or job_type.priority
    window, day, suggestions = _check_window(
        session, setup, args, appt, bu.id, job_type.duration_minutes, job_type.skills
    )
    technicians = []
    for tid in dict.fromkeys(raw.get("technician_ids") or []):
        tech = session.get(Technician, tid)
        if tech is None or not tech.active:
            raise ValidationFailed({"technician": "That technician is no longer available."})
        technicians.append(tech)
    booked_by = attributed(session, raw, "booked_by_id")
    lead = None
    if raw.get("lead_id"):
        lead = get_row(session, Lead, require_id(raw["lead_id"], "lead_id"), "lead")
        if LeadStatus(lead.status) is not LeadStatus.OPEN:
            raise ValidationFailed({"lead": "That lead is no longer open."})
        if lead.customer_id and lead.customer_id != customer.id:
            raise ValidationFailed({"lead": "That lead belongs to another customer."})

    renumbered = ""
    if raw.get("number") is None:
        raw["number"] = (
            next_job_number(session) if session.info.get(PUSHING_CLIENT) is None else server_number(session)
        )
    elif isinstance(raw["number"], str):
        raw["number"], renumbered = checked_number(session, raw["number"])
    job = Job(
        id=own_id(raw, "job_id"),
        number=require_id(raw["number"], "number"),
        customer_id=customer.id,
        location_id=location.id,
        job_type_id=job_type.id,
        business_unit_id=bu.id,
        campaign_id=raw["campaign_id"],
        priority=priority,
        summary=(raw.get("summary") or "").strip(),
        status=JobStatus.SCHEDULED,
        booked_by_id=booked_by,
        booked_from=BookedFrom(raw.get("booked_from") or BookedFrom.MANUAL.value),
        line_items=_line_items(setup, items(raw, "line_items")),
    )
    tags = tags_named(session, raw.get("tags"))
    appointment = Appointment(
        id=own_id(appt, "appointment_id"),
        job_id=job.id,
        arrival_window_id=window.id,
        **_appointment_times(setup, window, day, job_type.duration_minutes),
    )
    session.add_all((job, appointment))
    session.flush()  # one flush for both rows; the link rows need them stored
    if tags:
        session.execute(job_tags.insert(), [{"job_id": job.id, "tag_type_id": t.id} for t in tags])
    if technicians:
        session.execute(
            appointment_technicians.insert(),
            [{"appointment_id": appointment.id, "technician_id": t.id} for t in technicians],
        )
    if lead is not None:
        lead.status, lead.converted_job_id = LeadStatus.CONVERTED, job.id
    if args.get("online_booking_id") is not None:
        from .inbox_intents import accept_online_booking  # the Bookings inbox's Accept

        accept_online_booking(session, args["online_booking_id"], job.id, customer.id)
    warnings = {"number": renumbered} if renumbered else {}
    if suggestions is not None:
        job.needs_reschedule, job.suggested_windows = True, suggestions
        warnings["window"] = FLAGGED
    if args.get("call_id") is not None:
        from .call_intents import bind_booking

        bind_booking(session, args["call_id"], job.id)  # the call is Booked once it ends
    return Applied("job", job.id, [], warnings)  # jobs are found through jobs.number: no document change


def _live_job(session: Session, args: dict[str, Any], allowed: set[JobStatus], verb: str) -> Job:
    job = get_row(session, Job, require_id(args.get("job_id"), "job_id"), "job")
    if JobStatus(job.status) not in allowed:
        raise ValidationFailed({"status": f"A {JobStatus(job.status).value.lower()} job can't be {verb}."})
    return job


def _reason(args: dict[str, Any], what: str) -> str:
    reason = args.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed({"reason": f"Give a reason for the {what}."})
    if len(reason) > 200:
        raise ValidationFailed({"reason": "The reason is too long (at most 200 characters)."})
    return reason.strip()


@intent("reschedule_job")
def reschedule_job(session: Session, args: dict[str, Any]) -> Applied:
    """{job_id, appointment: {day, arrival_window_id}}: a new window, capacity re-checked."""
    job = _live_job(session, args, {JobStatus.SCHEDULED, JobStatus.DISPATCHED, JobStatus.HOLD}, "rescheduled")
    setup = load_setup(session)
    job_type = setup.job_type(job.job_type_id or "")
    duration = job_type.duration_minutes if job_type else 120
    skills = job_type.skills if job_type else ()
    window, day, suggestions = _check_window(
        session,
        setup,
        args,
        section(args, "appointment"),
        job.business_unit_id,
        duration,
        skills,
        exclude_job=job.id,
    )
    appointment = job.appointments[0] if job.appointments else None
    if appointment is None:
        appointment = Appointment(id=own_id(section(args, "appointment"), "appointment_id"), job_id=job.id)
        session.add(appointment)
    times = _appointment_times(setup, window, day, duration)
    for key, value in times.items():
        setattr(appointment, key, value)
    appointment.arrival_window_id = window.id
    job.needs_reschedule = suggestions is not None
    job.suggested_windows = suggestions or []
    if JobStatus(job.status) is JobStatus.HOLD:
        job.status, job.status_reason = JobStatus.SCHEDULED, ""
    return Applied("job", job.id, [], {})


@intent("cancel_job")
def cancel_job(session: Session, args: dict[str, Any]) -> Applied:
    job = _live_job(session, args, {JobStatus.SCHEDULED, JobStatus.DISPATCHED, JobStatus.HOLD}, "canceled")
    job.status, job.status_reason = JobStatus.CANCELED, _reason(args, "cancellation")
    return Applied("job", job.id, [], {})


@intent("hold_job")
def hold_job(session: Session, args: dict[str, Any]) -> Applied:
    job = _live_job(session, args, {JobStatus.SCHEDULED, JobStatus.DISPATCHED}, "put on hold")
    job.status, job.status_reason = JobStatus.HOLD, _reason(args, "hold")
    return Applied("job", job.id, [], {})


@intent("release_hold")
def release_hold(session: Session, args: dict[str, Any]) -> Applied:
    job = _live_job(session, args, {JobStatus.HOLD}, "released")
    job.status, job.status_reason = JobStatus.SCHEDULED, ""
    return Applied("job", job.id, [], {})
