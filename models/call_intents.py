"""Intents about calls that work offline like any other write: closing a call's bubble with its reason
(and the lead it makes), applied on the console at once and re-applied by the server (ARCHITECTURE.md
sync rules). Claiming is not one of them: only the server can say who was first (sync/call_desk.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .base import utcnow
from .call_store import reclassify
from .calls import Call
from .intent_kit import Applied, get_row, intent, require_id
from .leads import create_lead
from .setup import CallReason
from .validation import ValidationFailed


@intent("close_call")
def close_call(session: Session, args: dict[str, Any]) -> Applied:
    """{call_id, call_reason_id?, lead?: {create_lead's fields}}: the CSR closed the call's bubble.
    The reason is required when the company has call reasons; a lead reason's lead is created with it
    (even without a customer). Closing twice changes nothing."""
    call = get_row(session, Call, require_id(args.get("call_id"), "call_id"), "call")
    if call.closed_at is not None:
        return Applied("call", call.id, [], {})
    reason_id = args.get("call_reason_id")
    reason = None
    if reason_id is not None:
        reason = get_row(session, CallReason, require_id(reason_id, "call_reason_id"), "call reason")
        if not reason.active:
            raise ValidationFailed(
                {"reason": f"The call reason '{reason.name}' is no longer used — pick another."}
            )
    elif session.scalar(select(func.count()).select_from(CallReason).where(CallReason.active)):
        raise ValidationFailed({"reason": "Pick the reason for the call."})
    lead = args.get("lead")
    if lead is not None:
        if not isinstance(lead, dict):
            raise ValidationFailed({"lead": "Malformed lead."})
        if reason is None or not reason.is_lead:
            raise ValidationFailed({"lead": "Only a lead reason makes a lead."})
        lead = {**lead, "call_reason_id": reason.id}
        if call.campaign_id and "campaign_id" not in lead:
            lead["campaign_id"] = call.campaign_id
        if call.customer_id and "customer_id" not in lead and "name" not in lead:
            lead["customer_id"] = call.customer_id
        made = create_lead(session, {"lead": lead})
        session.flush()  # the lead row first: the call points at it
        call.lead_id = made.entity_id
    call.call_reason_id = reason.id if reason else None
    call.closed_at = session.info.get("now") or utcnow()
    reclassify(session, call)
    return Applied("call", call.id, [], {})


def bind_booking(session: Session, call_id: Any, job_id: str) -> None:
    """Book Job on a call: the job is the call's and the call needs no classifying (``closed_at``); it is
    Booked once it ends, when a CSR had claimed it (DOMAIN.md: booked while the CSR was bound to the
    call). Its bubble stays while the call lasts. A call id that is not a known call is ignored on the
    console and on the server alike: the job is what matters."""
    call = session.get(Call, require_id(call_id, "call_id"))
    if call is None:
        return  # not pulled here yet: the booking stands; the server (which has it) binds them
    call.job_id = job_id
    if call.closed_at is None:
        call.closed_at = session.info.get("now") or utcnow()
    reclassify(session, call)
