"""What Accept books for a ServiceChannel work order (the console's inbox action): the client's customer
and the store's location, the job type the setup maps the trade to, the campaign "ServiceChannel", and the
free arrival window nearest the work order's scheduled date. Qt-free; read from the console's cache."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .capacity import availability, booked_slots, nearest_free
from .customers import Customer, Location
from .setup_data import load_setup
from .timeutil import as_utc, days_from, zone
from .validation import ValidationFailed
from .work_orders import WorkOrder, WorkOrderState

CAMPAIGN = "ServiceChannel"
SEARCH_DAYS = 14


def accept_plan(session: Session, work_order_id: str, now: datetime) -> dict[str, Any]:
    """The ``book_job`` arguments for accepting this work order; ValidationFailed says what stops it."""
    wo = session.get(WorkOrder, work_order_id)
    if wo is None:
        raise ValidationFailed(
            {"work_order": "That work order is not on this PC any more — refresh the inbox."}
        )
    if wo.state != WorkOrderState.NEW.value:
        raise ValidationFailed({"work_order": f"Work order {wo.number} was already {wo.state.lower()}."})
    customer = session.get(Customer, wo.customer_id) if wo.customer_id else None
    if customer is None:
        raise ValidationFailed(
            {"customer": "The client of this work order has no customer yet — wait for the sync."}
        )
    if customer.do_not_service:
        raise ValidationFailed(
            {"customer": f"{customer.name} is marked Do Not Service — decline the work order."}
        )
    location = session.get(Location, wo.location_id) if wo.location_id else None
    if location is None:
        raise ValidationFailed(
            {
                "location": "The store has no address, so there is no location to send a technician to — "
                "add the store as a location of the customer, or decline."
            }
        )
    setup = load_setup(session)
    job_type = setup.job_type(wo.job_type_id or "")
    if job_type is None:
        raise ValidationFailed(
            {
                "job_type": f"No job type is mapped for the trade '{wo.trade}' — add it to the ServiceChannel "
                "setup (job_types), or decline."
            }
        )
    campaign = next((c for c in setup.campaigns if c.name == CAMPAIGN), None)
    if campaign is None:
        raise ValidationFailed(
            {"campaign": f"The setup has no campaign named '{CAMPAIGN}' — add it to the setup file."}
        )
    units = sorted(job_type.business_unit_ids)
    if not units:
        raise ValidationFailed({"job_type": f"The job type '{job_type.name}' has no business unit."})
    tz = zone(setup.time_zone)
    wanted = max(as_utc(wo.scheduled_at), as_utc(now)) if wo.scheduled_at else as_utc(now)
    wanted = wanted.astimezone(tz)
    days = days_from(as_utc(now).astimezone(tz).date(), SEARCH_DAYS)
    booked = booked_slots(session, setup, days[0], days[-1])
    for unit in units:
        slots = availability(setup, unit, job_type.duration_minutes, job_type.skills, booked, days, now)
        best = nearest_free(slots, wanted.date(), wanted.hour * 60 + wanted.minute, count=1)
        if best:
            slot = best[0]
            summary = f"ServiceChannel WO {wo.number} (PO {wo.purchase_number}): {wo.description}".strip()
            return {
                "job": {
                    "customer_id": customer.id,
                    "location_id": location.id,
                    "business_unit_id": unit,
                    "job_type_id": job_type.id,
                    "campaign_id": campaign.id,
                    "summary": summary[:2000],
                },
                "appointment": {"day": slot.day.isoformat(), "arrival_window_id": slot.window.id},
            }
    raise ValidationFailed(
        {
            "appointment": f"No arrival window is free in the next {SEARCH_DAYS} days for {job_type.name} — "
            "book it from the booking form, or decline."
        }
    )
