"""Calls in the database: phone-system events stored append-only and reduced into ``Call`` rows, the
claim (who took the call), and the classification kept up to date (models/call_rules.py).

Runs inside the caller's transaction (the server wraps it with change capture, sync/call_desk.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .base import new_id, utcnow
from .call_rules import CallFacts, EventFact, caller_number, classify, reduce_events
from .callbacks import ensure_callback
from .calls import Call, CallDirection, CallEvent, CallEventKind, CallState, NeutralEvent
from .customers import ContactMethod, Customer
from .setup import CallReason, CallType, TrackingNumber, User
from .validation import ValidationFailed

MAX_MATCHES = 10  # more customers than this on one number: list the first ten


@dataclass(frozen=True, slots=True)
class Recorded:
    """What one batch of events did: the calls it touched (new ones first seen here flagged)."""

    calls: list[Call]
    new_call_ids: set[str]
    duplicates: int  # events already stored (a redelivered callback): ignored


def record_events(session: Session, events: Sequence[NeutralEvent], *, region: str | None = None) -> Recorded:
    """Store the events not seen before (deduplicated on their provider key) and bring every call
    they touch up to date. A call first heard of through a late callback is created from it."""
    keys = list(dict.fromkeys(e.provider_key for e in events))
    seen = (
        set(session.scalars(select(CallEvent.provider_key).where(CallEvent.provider_key.in_(keys))))
        if keys
        else set()
    )
    fresh: dict[str, NeutralEvent] = {}
    for e in events:
        if e.provider_key not in seen and e.provider_key not in fresh:
            fresh[e.provider_key] = e
    duplicates = len(events) - len(fresh)
    calls: dict[str, Call] = {}
    new_ids: set[str] = set()
    by_call: dict[str, list[NeutralEvent]] = {}
    for e in fresh.values():
        by_call.setdefault(e.provider_call_id, []).append(e)
    if not by_call:
        return Recorded([], set(), duplicates)
    existing = {
        c.provider_call_id: c
        for c in session.scalars(select(Call).where(Call.provider_call_id.in_(list(by_call))))
    }
    for provider_call_id, call_events in by_call.items():
        call = existing.get(provider_call_id)
        if call is None:
            call = _new_call(session, call_events, region)
            new_ids.add(call.id)
        elif (
            not call.from_number
            and not call.to_number
            and any(e.from_number or e.to_number for e in call_events)
        ):
            # First heard of through a callback that named no numbers (an agent's leg): now we know them.
            _set_numbers(session, call, call_events, region)
        for e in call_events:
            session.add(
                CallEvent(
                    call_id=call.id,
                    provider_key=e.provider_key,
                    kind=e.kind.value,
                    occurred_at=e.occurred_at,
                    payload=_plain(e),
                )
            )
        calls[call.id] = call
    session.flush()
    for call in calls.values():
        _reduce(session, call)
    return Recorded(list(calls.values()), new_ids, duplicates)


def _new_call(session: Session, events: list[NeutralEvent], region: str | None) -> Call:
    first = min(events, key=lambda e: e.occurred_at)
    direction = next((e.direction for e in events if e.kind is CallEventKind.OFFERED), first.direction)
    call = Call(
        id=new_id(),
        provider=first.provider,
        provider_call_id=first.provider_call_id,
        direction=direction,
        started_at=first.occurred_at,
        state=CallState.RINGING,
    )
    session.add(call)
    _set_numbers(session, call, events, region)
    if direction is CallDirection.OUTBOUND:
        # A CSR dialed it from their softphone: the call is theirs from the start (it is never claimed).
        agent = next((e.agent for e in events if e.kind is CallEventKind.OFFERED and e.agent), "")
        user = session.scalar(select(User).where(User.username == agent)) if agent else None
        if user is not None:
            call.agent_id, call.claimed_at = user.id, first.occurred_at
    return call


def _set_numbers(session: Session, call: Call, events: list[NeutralEvent], region: str | None) -> None:
    """The caller's and the company's numbers, the campaign of the dialed tracking number (unknown →
    flagged for the admin), and the customer when exactly one has the caller's number."""
    raw_from = next((e.from_number for e in events if e.from_number), "")
    raw_to = next((e.to_number for e in events if e.to_number), "")
    inbound = CallDirection(call.direction) is CallDirection.INBOUND
    ours, theirs = (raw_to, raw_from) if inbound else (raw_from, raw_to)
    company_number = caller_number(ours, region)
    party = caller_number(theirs, region)
    call.from_number, call.to_number = (party, company_number) if inbound else (company_number, party)
    tracking = (
        session.scalar(select(TrackingNumber).where(TrackingNumber.number == company_number))
        if company_number
        else None
    )
    if tracking is not None:
        call.tracking_number_id, call.campaign_id, call.unknown_campaign = (
            tracking.id,
            tracking.campaign_id,
            False,
        )
    elif inbound and (raw_from or raw_to):
        call.unknown_campaign = True  # recorded, and flagged for the admin: a number nobody set up
    matches = match_customers(session, party)
    if len(matches) == 1:
        call.customer_id = matches[0]


# The screen pop's match on a plain sqlite3 connection (the console's match worker): the same rows as
# ``match_customers``, with the names, in one statement and without an ORM session — it runs while the UI
# thread paints the bubble, and every bit of Python it saves is GIL the UI thread keeps.
_CALLER_SQL = (
    "SELECT DISTINCT cm.customer_id, c.name FROM contact_methods AS cm"
    " JOIN customers AS c ON c.id = cm.customer_id"
    " WHERE cm.value = ? AND c.merged_into_id IS NULL LIMIT ?"
)


def caller_matches(conn: sqlite3.Connection, e164: str, limit: int = MAX_MATCHES) -> list[tuple[str, str]]:
    """(customer id, name) of the customers with this phone on them or on one of their locations."""
    if not e164:
        return []
    return [(str(cid), str(name or "")) for cid, name in conn.execute(_CALLER_SQL, (e164, limit))]


def match_customers(session: Session, e164: str, limit: int = MAX_MATCHES) -> list[str]:
    """The customers with this phone number on them or on one of their locations (merged ones not)."""
    if not e164:
        return []
    rows = session.scalars(
        select(ContactMethod.customer_id)
        .join(Customer, Customer.id == ContactMethod.customer_id)
        .where(ContactMethod.value == e164, Customer.merged_into_id.is_(None))
        .distinct()
        .limit(limit)
    )
    return list(rows)


def _reduce(session: Session, call: Call) -> None:
    events = session.scalars(select(CallEvent).where(CallEvent.call_id == call.id))
    facts = reduce_events(
        EventFact(
            e.provider_key,
            CallEventKind(e.kind),
            e.occurred_at,
            agent=str((e.payload or {}).get("agent") or ""),
            end_reason=str((e.payload or {}).get("end_reason") or ""),
            recording_url=str((e.payload or {}).get("recording_url") or ""),
            recording_seconds=int((e.payload or {}).get("recording_seconds") or 0),
        )
        for e in events
    )
    call.state = facts.state
    call.started_at = facts.started_at
    call.answered_at = facts.answered_at
    call.ended_at = facts.ended_at
    call.end_reason = facts.end_reason
    call.duration_seconds = facts.talk_seconds
    call.answered_by = facts.answered_by[:80]
    call.recording_url = facts.recording_url[:500]
    call.recording_seconds = facts.recording_seconds
    call.routed_to = facts.routed_to
    reclassify(session, call)
    # An Abandoned call with a number, or a caller who asked: someone calls them back.
    ensure_callback(session, call, requested_at=facts.callback_requested_at)


def reclassify(session: Session, call: Call) -> None:
    """Run the one classification function on the call's current facts (when it ends, when a job is
    booked on it, when it is closed with a reason, when a manager edits it)."""
    reason = session.get(CallReason, call.call_reason_id) if call.call_reason_id else None
    line = session.get(TrackingNumber, call.tracking_number_id) if call.tracking_number_id else None
    result = classify(
        CallFacts(
            direction=CallDirection(call.direction),
            ended=CallState(call.state) is CallState.ENDED,
            agent_id=call.agent_id,
            talk_seconds=call.duration_seconds or 0,
            booked=call.job_id is not None,
            excused=bool(call.excused),
            reason_is_lead=None if reason is None else bool(reason.is_lead),
            line_is_lead=line is None or CallType(line.default_call_type) is not CallType.NOT_LEAD,
        )
    )
    call.classification = result


# -- the claim ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Claimed:
    call: Call
    previous_agent_id: str | None  # who had it before a takeover (to be told), else None


def claim_call(
    session: Session, call_id: str, user_id: str, *, takeover: bool = False, now: datetime | None = None
) -> Claimed:
    """The CSR clicked the bubble. First claim wins; a call someone else has is taken over only when
    the CSR confirmed (``takeover``). An ended call can't be claimed any more (a manager attaches
    the CSR in call review)."""
    call = session.get(Call, call_id)
    if call is None:
        raise ValidationFailed({"call": "That call is not known to the server."})
    if CallState(call.state) is CallState.ENDED and call.agent_id != user_id:
        raise ValidationFailed({"call": "That call has ended — it can't be claimed now."})
    previous = call.agent_id
    if previous == user_id:
        return Claimed(call, None)  # a second click (or a retry): nothing changes
    if previous is not None and not takeover:
        raise ValidationFailed({"call": "Someone else has this call — confirm to take it over."})
    call.agent_id = user_id
    call.claimed_at = now or utcnow()
    reclassify(session, call)
    return Claimed(call, previous)


def _plain(e: NeutralEvent) -> dict:
    """The event's facts for the append-only log (the reducer reads these back)."""
    return {
        "agent": e.agent,
        "end_reason": e.end_reason,
        "recording_url": e.recording_url,
        "recording_seconds": e.recording_seconds,
        "direction": e.direction.value,
        "from": e.from_number,
        "to": e.to_number,
        "raw": e.payload,
    }
