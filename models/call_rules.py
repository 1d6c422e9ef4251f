"""The rules of calls, as pure functions (no database, no clock): reduce a call's phone-system events
to what happened, and classify the call (DOMAIN.md "Call classification").

The reducer reads the *set* of a call's events in one fixed order — by the time the phone system says
each happened, then by the natural order of kinds, then by key — so callbacks that arrive twice, late or
out of order give the same answer as the tidy sequence, and an ended call never reopens: once an
``ended`` event is in the set, the call is over whatever else arrives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from .calls import (
    ROUTED_CALLBACK,
    ROUTED_VOICEMAIL,
    CallClass,
    CallDirection,
    CallEventKind,
    CallState,
    EndReason,
)
from .phone import digits_only, try_parse_phone

# A claimed call this long (talk time) or longer is a lead (DOMAIN.md; ours: the boundary is >= 60 s).
LEAD_SECONDS = 60

# Within one second (providers stamp callbacks to the second) events happen in this order.
_RANK = {
    CallEventKind.OFFERED: 0,
    CallEventKind.QUEUED: 1,
    CallEventKind.ALERTING: 2,
    CallEventKind.ANSWERED: 3,
    CallEventKind.HELD: 4,
    CallEventKind.RESUMED: 5,
    CallEventKind.TRANSFERRED: 6,
    CallEventKind.RECORDING: 7,
    CallEventKind.ENDED: 8,
    CallEventKind.VOICEMAIL: 1,
    CallEventKind.CALLBACK_REQUESTED: 1,
}
# What the caller's number may be instead of a number.
_NO_NUMBER = {"", "anonymous", "restricted", "unknown", "unavailable", "private", "blocked", "client"}


@dataclass(frozen=True, slots=True)
class EventFact:
    """One stored event, as the reducer needs it."""

    provider_key: str
    kind: CallEventKind
    occurred_at: datetime
    agent: str = ""
    end_reason: str = ""
    recording_url: str = ""
    recording_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Telephony:
    """What the phone system's events say about a call."""

    state: CallState
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str
    talk_seconds: int
    answered_by: str  # the provider's identity of the agent leg that answered, if named
    recording_url: str
    recording_seconds: int
    routed_to: str = ""  # ROUTED_VOICEMAIL / ROUTED_CALLBACK (models/calls.py), "" when it just rang
    callback_requested_at: datetime | None = None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def reduce_events(events: Iterable[EventFact]) -> Telephony:
    """The call's telephony facts from its events (any order, duplicates allowed; at least one)."""
    unique = {e.provider_key: e for e in events}
    if not unique:
        raise ValueError("a call has at least one event")
    ordered = sorted(unique.values(), key=lambda e: (_utc(e.occurred_at), _RANK[e.kind], e.provider_key))
    state = CallState.RINGING
    started = _utc(ordered[0].occurred_at)
    answered: datetime | None = None
    ended: datetime | None = None
    end_reason = ""
    answered_by = ""
    recording_url, recording_seconds = "", 0
    routed_to, callback_at = "", None
    for e in ordered:
        at = _utc(e.occurred_at)
        # Routing facts hold whenever they arrive (a late delivery included): the caller asking to be
        # called back outranks having heard the voicemail greeting (the offer comes with it).
        if e.kind is CallEventKind.CALLBACK_REQUESTED:
            routed_to, callback_at = ROUTED_CALLBACK, callback_at or at
            continue
        if e.kind is CallEventKind.VOICEMAIL:
            routed_to = routed_to or ROUTED_VOICEMAIL
            continue
        if e.kind is CallEventKind.RECORDING:
            # A call may be recorded in parts (transfers): keep the longest.
            if e.recording_url and e.recording_seconds >= recording_seconds:
                recording_url, recording_seconds = e.recording_url, e.recording_seconds
            continue
        if ended is not None:
            continue  # over is over: nothing but its recording changes it now
        if e.kind is CallEventKind.ENDED:
            ended, state = at, CallState.ENDED
            end_reason = e.end_reason or (
                EndReason.COMPLETED.value if answered else EndReason.CALLER_HANGUP.value
            )
        elif e.kind is CallEventKind.ANSWERED:
            if answered is None:
                answered = at
            if e.agent:
                answered_by = e.agent
            state = CallState.TALKING
        elif e.kind is CallEventKind.HELD:
            state = CallState.HELD if answered else state
        elif e.kind in (CallEventKind.RESUMED, CallEventKind.TRANSFERRED):
            state = CallState.TALKING if answered else state
            if e.kind is CallEventKind.TRANSFERRED and e.agent:
                answered_by = e.agent
        elif e.kind is CallEventKind.QUEUED:
            state = CallState.QUEUED if answered is None else state
        elif e.kind in (CallEventKind.OFFERED, CallEventKind.ALERTING):
            state = CallState.RINGING if answered is None else state
    if ended is not None and answered is not None and answered > ended:
        answered = ended  # a skewed stamp: the call was answered as it ended
    talk = round((ended - answered).total_seconds()) if ended is not None and answered is not None else 0
    if ended is not None and answered is None and end_reason == EndReason.COMPLETED.value:
        end_reason = EndReason.CALLER_HANGUP.value  # "completed" with nobody answering: the caller gave up
    return Telephony(
        state,
        started,
        answered,
        ended,
        end_reason,
        max(0, talk),
        answered_by,
        recording_url,
        recording_seconds,
        routed_to,
        callback_at,
    )


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What classification depends on."""

    direction: CallDirection
    ended: bool
    agent_id: str | None  # the CSR attached to the call (claimed it, or attached by a manager)
    talk_seconds: int
    booked: bool  # a job was booked while the CSR was bound to the call
    excused: bool = False  # excused by a manager, with a memo
    reason_is_lead: bool | None = None  # the call reason's "Is lead"; None while no reason is given
    # The dialed tracking number's default call type is Lead (True) or Not lead (a vendor line, the
    # parts desk): without a reason, a claimed unbooked call to a Not-lead number is NotLead.
    line_is_lead: bool = True


def classify(facts: CallFacts) -> CallClass | None:
    """ServiceTitan's classification of a call; None while it is not over, and for outbound calls
    (logged and linked, never counted in booking rate — ours)."""
    if not facts.ended or facts.direction is CallDirection.OUTBOUND:
        return None
    if facts.excused:
        return CallClass.EXCUSED
    if not facts.agent_id:
        return CallClass.ABANDONED  # nobody answered, or nobody clicked the bubble
    if facts.booked:
        return CallClass.BOOKED
    if facts.reason_is_lead is False:
        return CallClass.NOT_LEAD
    if facts.reason_is_lead is None and not facts.line_is_lead:
        return CallClass.NOT_LEAD  # the tracking number's default call type (a reason overrides it)
    if facts.reason_is_lead or facts.talk_seconds >= LEAD_SECONDS:
        return CallClass.UNBOOKED  # a lead, and nothing booked: counts against the CSR
    return CallClass.EXCUSED  # claimed, short, not a lead


def caller_number(raw: str, region: str | None = None) -> str:
    """The caller's number in E.164, or "" when the phone system sent none we can use (anonymous,
    "Restricted", empty, a SIP identity, garbage): that caller is shown as "Unknown caller"."""
    text = (raw or "").strip()
    if text.casefold() in _NO_NUMBER or len(text) > 40 or text.startswith("client:") or "@" in text:
        return ""
    parsed = try_parse_phone(text, region)
    if parsed is not None:
        return parsed.e164
    digits = digits_only(text)
    # Numbers phonenumbers won't validate (a fictional 555 exchange) still match when complete.
    if (
        text.startswith("+")
        and 8 <= len(digits) <= 15
        and text[1:].replace(" ", "").replace("-", "").isdigit()
    ):
        return "+" + digits
    if (
        len(digits) == 10
        and text.replace(" ", "").replace("-", "").replace("(", "").replace(")", "").isdigit()
    ):
        return "+1" + digits
    return ""
