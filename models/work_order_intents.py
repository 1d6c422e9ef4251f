"""The inbox's decisions on a ServiceChannel work order, as intents (applied on the console at once, then
by the server): accept it once its job is booked, or decline it with one of the platform's reason codes.
The server's outbound worker (sync/sc_outbound.py) reads the committed change and tells the platform,
exactly once."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .attribution import attributed
from .base import utcnow
from .customers import Customer
from .intent_kit import Applied, clean_text, intent, require_id
from .jobs import Job, JobStatus
from .validation import ValidationFailed
from .work_orders import WorkOrder, WorkOrderState

# The platform's decline reasons (PUT /workorders/{id}/decline, DeclineReasonId).
DECLINE_REASONS = {
    1: "Can't make ETA",
    2: "Trade not serviced",
    3: "Location not serviced",
    4: "Not under warranty",
    5: "Other",
    6: "NTE too low",
}


def _open_work_order(session: Session, args: dict[str, Any]) -> WorkOrder:
    wo = session.get(WorkOrder, require_id(args.get("work_order_id"), "work_order_id"))
    if wo is None:
        raise ValidationFailed(
            {"work_order_id": "That work order is not on this PC (or the server) any more."}
        )
    if wo.state != WorkOrderState.NEW.value:
        raise ValidationFailed(
            {"work_order_id": f"Work order {wo.number or wo.sc_id} was already {wo.state.lower()}."}
        )
    return wo


@intent("accept_work_order")
def accept_work_order(session: Session, args: dict[str, Any]) -> Applied:
    """{work_order_id, job_id, accepted_by_id?}: the job booked for it (book_job, just before); the
    platform is then told Dispatch Confirmed."""
    wo = _open_work_order(session, args)
    job = session.get(Job, require_id(args.get("job_id"), "job_id"))
    if job is None:
        raise ValidationFailed({"job_id": "The job for this work order was not booked — book it again."})
    customer = session.get(Customer, wo.customer_id) if wo.customer_id else None
    if customer is not None and customer.do_not_service:
        raise ValidationFailed(
            {"work_order_id": f"{customer.name} is marked Do Not Service — decline the work order."}
        )
    wo.state = WorkOrderState.ACCEPTED.value
    wo.job_id = job.id
    wo.accepted_by_id = attributed(session, args, "accepted_by_id")
    return Applied("work_order", wo.id, [], {})


@intent("decline_work_order")
def decline_work_order(session: Session, args: dict[str, Any]) -> Applied:
    """{work_order_id, reason_id (1–6, the platform's codes), note?}"""
    wo = _open_work_order(session, args)
    reason = args.get("reason_id")
    if isinstance(reason, bool) or reason not in DECLINE_REASONS:
        raise ValidationFailed({"reason_id": "Pick why the work order is declined."})
    note = clean_text(str(args.get("note") or "").strip()[:1000], "note")
    if reason == 5 and not note:
        raise ValidationFailed({"note": "Say why (the reason is Other)."})
    wo.state = WorkOrderState.DECLINED.value
    wo.decline_reason_id = int(reason)
    wo.decline_note = note
    return Applied("work_order", wo.id, [], {})


def _accepted(session: Session, args: dict[str, Any]) -> tuple[WorkOrder, Job]:
    wo = session.get(WorkOrder, require_id(args.get("work_order_id"), "work_order_id"))
    if wo is None:
        raise ValidationFailed(
            {"work_order_id": "That work order is not on this PC (or the server) any more."}
        )
    job = session.get(Job, wo.job_id) if wo.job_id else None
    if wo.state != WorkOrderState.ACCEPTED.value or job is None:
        raise ValidationFailed({"work_order_id": "Accept the work order (and book its job) first."})
    return wo, job


@intent("check_in_work_order")
def check_in_work_order(session: Session, args: dict[str, Any]) -> Applied:
    """{work_order_id}: the technician is on site — the job is Working; the platform gets the check-in."""
    wo, job = _accepted(session, args)
    if wo.checked_in_at is not None:
        raise ValidationFailed({"work_order_id": "The technician is already checked in."})
    if JobStatus(job.status) in (JobStatus.CANCELED, JobStatus.COMPLETED):
        raise ValidationFailed({"work_order_id": f"The job is {JobStatus(job.status).value.lower()}."})
    job.status = JobStatus.WORKING
    wo.checked_in_at = utcnow()
    return Applied("work_order", wo.id, [], {})


@intent("check_out_work_order")
def check_out_work_order(session: Session, args: dict[str, Any]) -> Applied:
    """{work_order_id, resolution}: the work is done — the job is Completed; the platform gets the
    check-out with the resolution."""
    wo, job = _accepted(session, args)
    if wo.checked_in_at is None:
        raise ValidationFailed({"work_order_id": "Check the technician in first."})
    resolution = clean_text(str(args.get("resolution") or "").strip()[:200], "resolution")
    if not resolution:
        raise ValidationFailed({"resolution": "Say what was done."})
    job.status = JobStatus.COMPLETED
    job.status_reason = resolution
    wo.checked_out_at = utcnow()
    return Applied("work_order", wo.id, [], {})


@intent("note_work_order")
def note_work_order(session: Session, args: dict[str, Any]) -> Applied:
    """{work_order_id, note}: a note to the client on the work order (sent once, in order)."""
    wo = session.get(WorkOrder, require_id(args.get("work_order_id"), "work_order_id"))
    if wo is None:
        raise ValidationFailed(
            {"work_order_id": "That work order is not on this PC (or the server) any more."}
        )
    note = clean_text(str(args.get("note") or "").strip()[:2000], "note")
    if not note:
        raise ValidationFailed({"note": "Write the note."})
    wo.note_seq = (wo.note_seq or 0) + 1
    wo.last_note = note
    return Applied("work_order", wo.id, [], {})
