"""Intents of the Bookings inbox for Web Scheduler requests: claim / release one, dismiss one (with a
reason, optionally making a lead), and accept one (``book_job`` with ``online_booking_id``).

One CSR works a request at a time: a claim held by someone else is refused unless it is older than
:data:`CLAIM_STALE` (then it is taken over). On the server the claimant is the signed-in user
(models/attribution.py), never what the message says.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .attribution import ACTOR_ID, attributed
from .base import utcnow
from .intent_kit import Applied, get_row, intent, require_id
from .jobs import Lead, LeadStatus, OnlineBooking
from .setup import Campaign, User
from .timeutil import as_utc
from .validation import ValidationFailed
from .web_booking import DISMISS_REASONS, RequestStatus, load_web_settings
from .web_capacity import release_request_hold

CLAIM_STALE = timedelta(minutes=15)


def _now(session: Session) -> datetime:
    now = session.info.get("now")
    return as_utc(now) if isinstance(now, datetime) else utcnow()


def _open_request(session: Session, args: dict[str, Any]) -> OnlineBooking:
    request = get_row(
        session, OnlineBooking, require_id(args.get("online_booking_id"), "online_booking_id"), "request"
    )
    if request.status != RequestStatus.NEW.value:
        raise ValidationFailed({"status": f"That request is already {request.status.lower()}."})
    return request


def _name(session: Session, user_id: str | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return (user.display_name or user.username) if user else "another CSR"


def _check_claim(session: Session, request: OnlineBooking, user_id: str | None) -> None:
    """Refuse when someone else holds a fresh claim on the request."""
    if request.claimed_by_id and request.claimed_by_id != user_id and request.claimed_at is not None:
        if _now(session) - as_utc(request.claimed_at) < CLAIM_STALE:
            raise ValidationFailed(
                {"claim": f"{_name(session, request.claimed_by_id)} is working on this request."}
            )


@intent("claim_online_booking")
def claim_online_booking(session: Session, args: dict[str, Any]) -> Applied:
    """{online_booking_id, claimed_by_id?}: this CSR works the request now."""
    request = _open_request(session, args)
    user_id = attributed(session, args, "claimed_by_id")
    _check_claim(session, request, user_id)
    request.claimed_by_id, request.claimed_at = user_id, _now(session)
    return Applied("online_booking", request.id, [], {})


@intent("release_online_booking")
def release_online_booking(session: Session, args: dict[str, Any]) -> Applied:
    """{online_booking_id, claimed_by_id?}: let another CSR work it (only the claimant releases)."""
    request = _open_request(session, args)
    user_id = attributed(session, args, "claimed_by_id")
    _check_claim(session, request, user_id)
    request.claimed_by_id, request.claimed_at = None, None
    return Applied("online_booking", request.id, [], {})


@intent("dismiss_online_booking")
def dismiss_online_booking(session: Session, args: dict[str, Any]) -> Applied:
    """{online_booking_id, reason, make_lead?, lead_id?, claimed_by_id?}: close it; its window is freed."""
    request = _open_request(session, args)
    user_id = attributed(session, args, "claimed_by_id")
    _check_claim(session, request, user_id)
    reason = args.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationFailed({"reason": f"Give a reason ({', '.join(DISMISS_REASONS)})."})
    if len(reason.strip()) > 200:
        raise ValidationFailed({"reason": "The reason is too long (at most 200 characters)."})
    request.status, request.dismiss_reason = RequestStatus.DISMISSED.value, reason.strip()
    request.claimed_by_id, request.claimed_at = user_id, _now(session)
    if args.get("make_lead"):
        settings = load_web_settings(session)
        campaign = session.scalar(
            select(Campaign.id).where(Campaign.name == (request.utm_campaign or settings.campaign))
        )
        if campaign is None:
            campaign = session.scalar(select(Campaign.id).where(Campaign.name == settings.campaign))
        lead_id = args.get("lead_id") or None
        if lead_id is not None:
            require_id(lead_id, "lead_id")
        lead = Lead(
            status=LeadStatus.OPEN,
            customer_id=request.customer_id,
            name=request.name[:100],
            phone=request.phone,
            summary=f"Web Scheduler request dismissed ({request.dismiss_reason}). {request.summary}".strip()[
                :5000
            ],
            campaign_id=campaign,
            business_unit_id=request.business_unit_id,
            job_type_id=request.job_type_id,
            created_by_id=user_id,
        )
        if lead_id:
            lead.id = lead_id
        session.add(lead)
        session.flush()
        args["lead_id"] = lead.id  # the outbox row carries it: the server makes the same lead
        request.lead_id = lead.id
    release_request_hold(session, request.id)
    return Applied("online_booking", request.id, [], {})


def accept_online_booking(session: Session, request_id: Any, job_id: str, customer_id: str) -> None:
    """``book_job`` with ``online_booking_id``: the request is Accepted with its job; its hold is freed."""
    request = _open_request(session, {"online_booking_id": request_id})
    user_id = session.info.get(ACTOR_ID)
    if user_id is not None:  # the server decides who holds the claim; a console books what it claimed
        _check_claim(session, request, user_id)
    request.status, request.job_id, request.customer_id = RequestStatus.ACCEPTED.value, job_id, customer_id
    release_request_hold(session, request.id)
