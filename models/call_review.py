"""Manager review of calls (DOMAIN.md "Call classification"): the Abandoned and Unbooked calls of a
period, oldest first, each call's audit history, and the choices the review offers.

The review's edits are intents like any other (models/call_review_intents.py): they work offline,
the server re-applies them, and each leaves an audit entry on both sides. Qt-free.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .call_rules import CallFacts, classify
from .callbacks import OUTCOME_LABELS, Callback, CallbackOutcome, CallbackStatus
from .calls import ROUTED_CALLBACK, ROUTED_VOICEMAIL, Call, CallClass, CallDirection, CallState
from .customers import Customer
from .journal import AuditEntry, OutboxEntry
from .phone import format_phone
from .setup import CallReason, Campaign, Role, User
from .timeutil import as_utc, zone

REVIEW_KINDS = (CallClass.ABANDONED.value, CallClass.UNBOOKED.value)
# Who may review calls, and the intents only they may push (sync/server_auth.py enforces it).
REVIEW_ROLES = frozenset({Role.SUPERVISOR.value, Role.MANAGER.value, Role.ADMIN.value})
REVIEW_INTENTS = frozenset({"attach_agent", "reclassify_call", "excuse_call", "unexcuse_call", "tag_call"})
PERIODS = ("today", "yesterday", "week", "month")
DEFAULT_LIMIT = 2000
UNKNOWN_CALLER = "Unknown caller"
UNKNOWN_CAMPAIGN = "Unknown campaign"


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """One call as the review lists it."""

    id: str
    started_at: datetime  # in the company's time zone
    caller: str  # the number as a CSR reads it, or "Unknown caller"
    caller_e164: str
    customer_id: str | None
    customer_name: str  # "" when the caller matched no single customer
    campaign: str  # the campaign's name, or "Unknown campaign"
    agent_id: str | None
    agent_name: str  # the CSR attached to the call; "" for none
    answered_by: str  # the phone system's name for the agent leg that answered, if it said
    answered: bool
    ring_seconds: int  # from the first ring until answered (or until the caller gave up)
    duration_seconds: int  # talk time
    classification: str  # a CallClass value, now
    kind: str  # what the call is without a manager's excuse (the list it is in)
    call_reason_id: str | None
    reason: str
    excused: bool  # excused by a manager
    excuse_memo: str
    tags: tuple[str, ...]
    recording_url: str
    end_reason: str
    callback: str = ""  # the callback queue item's state (models/callbacks.py): "" when it has none
    routed_to: str = ""  # what routing did with an unanswered caller (models/calls.py ROUTED_*)
    recording_seconds: int = 0

    @property
    def voicemail(self) -> bool:
        """Routing sent the caller to voicemail and they left a message: the recording *is* the message."""
        return self.routed_to == ROUTED_VOICEMAIL and bool(self.recording_url)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One audited change of a call: who, when, what."""

    at: datetime  # in the company's time zone
    actor: str  # the user's name
    action: str  # the intent's name
    text: str  # "Attached Lee Chen", "Excused: wrong department"
    saved_locally: bool  # still waiting in this PC's outbox


@dataclass(frozen=True, slots=True)
class UserChoice:
    id: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class ReasonChoice:
    id: str
    name: str
    is_lead: bool


@dataclass(frozen=True, slots=True)
class ReviewChoices:
    users: tuple[UserChoice, ...]  # active users, by name
    reasons: tuple[ReasonChoice, ...]  # active call reasons, lead reasons first


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """First and last day (inclusive) of "today", "yesterday", "week" (Monday to today) or "month"
    (the 1st to today), as the scorecard counts them."""
    if period == "today":
        return today, today
    if period == "yesterday":
        day = today - timedelta(days=1)
        return day, day
    if period == "week":
        return today - timedelta(days=today.weekday()), today
    if period == "month":
        return today.replace(day=1), today
    raise ValueError(f"unknown period {period!r}")


def _tz(tz: tzinfo | str | None) -> tzinfo:
    return tz if isinstance(tz, tzinfo) else zone(tz)


def _kinds(kinds: Iterable[str]) -> list[CallClass]:
    return [CallClass(k) for k in kinds]


def _select() -> Any:
    return (
        select(
            Call,
            Customer.name,
            Campaign.name,
            User.display_name,
            CallReason.name,
            CallReason.is_lead,
            Callback.status,
            Callback.outcome,
        )
        .outerjoin(Customer, Customer.id == Call.customer_id)
        .outerjoin(Campaign, Campaign.id == Call.campaign_id)
        .outerjoin(User, User.id == Call.agent_id)
        .outerjoin(CallReason, CallReason.id == Call.call_reason_id)
        .outerjoin(Callback, Callback.call_id == Call.id)
        .where(Call.direction == CallDirection.INBOUND, Call.state == CallState.ENDED)
    )


def _where_kinds(stmt: Any, kinds: list[CallClass]) -> Any:
    # A manager-excused call stays in the list it was in, so the excuse can be read and withdrawn.
    return stmt.where(or_(Call.classification.in_(kinds), Call.excused.is_(True)))


def _row(values: Any, tz: tzinfo) -> ReviewRow:
    call, customer, campaign, agent, reason, reason_is_lead, cb_status, cb_outcome = values
    started = as_utc(call.started_at)
    answered = as_utc(call.answered_at) if call.answered_at else None
    ended = as_utc(call.ended_at) if call.ended_at else started
    kind = classify(
        CallFacts(
            direction=CallDirection.INBOUND,
            ended=True,
            agent_id=call.agent_id,
            talk_seconds=call.duration_seconds or 0,
            booked=call.job_id is not None,
            excused=False,
            reason_is_lead=None if reason is None else bool(reason_is_lead),
        )
    )
    number = call.from_number or ""
    return ReviewRow(
        id=call.id,
        started_at=started.astimezone(tz),
        caller=format_phone(number) if number else UNKNOWN_CALLER,
        caller_e164=number,
        customer_id=call.customer_id,
        customer_name=customer or "",
        campaign=campaign or UNKNOWN_CAMPAIGN,
        agent_id=call.agent_id,
        agent_name=agent or "",
        answered_by=call.answered_by or "",
        answered=answered is not None,
        ring_seconds=max(0, round(((answered or ended) - started).total_seconds())),
        duration_seconds=call.duration_seconds or 0,
        classification=CallClass(call.classification).value if call.classification else "",
        kind=kind.value if kind else "",
        call_reason_id=call.call_reason_id,
        reason=reason or "",
        excused=bool(call.excused),
        excuse_memo=call.excuse_memo or "",
        tags=tuple(call.tags or ()),
        recording_url=call.recording_url or "",
        end_reason=call.end_reason or "",
        callback=callback_state(cb_status, cb_outcome, call.routed_to or "", bool(call.recording_url)),
        routed_to=call.routed_to or "",
        recording_seconds=call.recording_seconds or 0,
    )


def callback_state(
    status: str | None, outcome: str | None, routed_to: str = "", recorded: bool = False
) -> str:
    """ "Callback open", "Callback taken", "Called back: No answer", or "" for a call without one;
    prefixed with what the caller left when routing took them ("Voicemail · Callback open", "Asked for
    a callback · Callback taken")."""
    left = ""
    if routed_to == ROUTED_CALLBACK:
        left = "Asked for a callback"
    elif routed_to == ROUTED_VOICEMAIL:
        left = "Voicemail" if recorded else "Voicemail, no message"
    state = ""
    if status == CallbackStatus.DONE.value and outcome:
        try:
            state = f"Called back: {OUTCOME_LABELS[CallbackOutcome(outcome)]}"
        except ValueError:
            state = "Called back"
    elif status:
        state = "Callback taken" if status == CallbackStatus.CLAIMED.value else "Callback open"
    return " · ".join(p for p in (left, state) if p)


def review_calls(
    session: Session,
    *,
    kinds: Iterable[str] = REVIEW_KINDS,
    first: date,
    last: date,
    tz: tzinfo | str | None,
    limit: int = DEFAULT_LIMIT,
) -> list[ReviewRow]:
    """The ended inbound calls of ``kinds`` that started between local midnight of ``first`` and the
    end of ``last`` in ``tz``, oldest first; a manager-excused call is listed by what it was before."""
    zone_ = _tz(tz)
    wanted = _kinds(kinds)
    start = as_utc(datetime.combine(min(first, last), time(0), tzinfo=zone_))
    end = as_utc(datetime.combine(max(first, last) + timedelta(days=1), time(0), tzinfo=zone_))
    stmt = _where_kinds(_select(), wanted).where(Call.started_at >= start, Call.started_at < end)
    rows = (
        _row(values, zone_)
        for values in session.execute(stmt.order_by(Call.started_at, Call.id).limit(limit))
    )
    names = {k.value for k in wanted}
    return [r for r in rows if r.kind in names]


def review_row(
    session: Session, call_id: str, *, kinds: Iterable[str] = REVIEW_KINDS, tz: tzinfo | str | None
) -> ReviewRow | None:
    """One call as the review lists it, or None when it is not (or no longer) one of ``kinds``."""
    zone_ = _tz(tz)
    wanted = _kinds(kinds)
    values = session.execute(_where_kinds(_select(), wanted).where(Call.id == call_id)).first()
    row = _row(values, zone_) if values is not None else None
    return row if row is not None and row.kind in {k.value for k in wanted} else None


def review_choices(session: Session) -> ReviewChoices:
    """The users a call can be attached to and the call reasons it can be given."""
    users = session.execute(
        select(User.id, User.display_name, User.role).where(User.active).order_by(User.display_name, User.id)
    )
    reasons = session.execute(
        select(CallReason.id, CallReason.name, CallReason.is_lead)
        .where(CallReason.active)
        .order_by(CallReason.is_lead.desc(), CallReason.name)
    )
    return ReviewChoices(
        users=tuple(UserChoice(i, n, Role(r).value if r else Role.CSR.value) for i, n, r in users),
        reasons=tuple(ReasonChoice(i, n, bool(lead)) for i, n, lead in reasons),
    )


# -- history -----------------------------------------------------------------------------------------------
def call_history(session: Session, call_id: str, *, tz: tzinfo | str | None = None) -> list[HistoryEntry]:
    """The call's audited changes on this PC, newest first (the server keeps every console's)."""
    zone_ = _tz(tz)
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == "call", AuditEntry.entity_id == call_id)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        )
    )
    if not entries:
        return []
    user_ids, reason_ids = set(), set()
    for e in entries:
        details = e.details or {}
        user_ids |= {e.actor, str(details.get("agent_id") or "")}
        reason_ids.add(str(details.get("call_reason_id") or ""))
    users = dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids - {""}))).all()
    )
    reasons = dict(
        session.execute(
            select(CallReason.id, CallReason.name).where(CallReason.id.in_(reason_ids - {""}))
        ).all()
    )
    mutation_ids = [e.mutation_id for e in entries if e.mutation_id]
    pending = set(
        session.scalars(select(OutboxEntry.mutation_id).where(OutboxEntry.mutation_id.in_(mutation_ids)))
    )
    return [
        HistoryEntry(
            at=as_utc(e.at).astimezone(zone_),
            actor=users.get(e.actor, e.actor) or "Someone",
            action=e.action,
            text=describe(e.action, e.details or {}, users, reasons),
            saved_locally=e.mutation_id in pending,
        )
        for e in entries
    ]


def describe(action: str, details: dict[str, Any], users: dict[str, str], reasons: dict[str, str]) -> str:
    """A change as a manager reads it in the history."""
    if action == "attach_agent":
        agent = str(details.get("agent_id") or "")
        return f"Attached {users.get(agent, 'a user no longer on this PC')}"
    if action in ("reclassify_call", "close_call"):
        reason = reasons.get(str(details.get("call_reason_id") or ""), "")
        verb = "Call reason set to" if action == "reclassify_call" else "Closed with reason"
        return (
            f"{verb} {reason}" if reason else ("Closed" if action == "close_call" else "Call reason changed")
        )
    if action == "excuse_call":
        return f"Excused: {details.get('memo') or ''}".strip()
    if action == "unexcuse_call":
        return "Excuse withdrawn"
    if action == "tag_call":
        tags = [str(t) for t in details.get("tags") or [] if str(t).strip()]
        return f"Tags: {', '.join(tags)}" if tags else "Tags cleared"
    return action.replace("_", " ").capitalize()
