"""The callback queue (issue 15 part 5, docs/phone.md "Callback queue").

Every inbound call that ends Abandoned with a caller number — a caller who gave up waiting, a call
nobody claimed, a voicemail (routing sent the caller to voicemail and a message was recorded) — becomes
one open callback item; so does a caller who pressed the key to be called back (at once, not at the end).
The server creates it in the same transaction that classifies the ended call
(models/call_store.reclassify), and it reaches consoles through the ordinary sync (``callbacks`` is in
CONSOLE_TABLES). One item per call, never two; a call that stops being Abandoned later (a manager
attaches the CSR in call review) keeps its item — someone still owes the caller a call.

Order (decided): **longest-waiting first** — by when the call ended, oldest first, so the caller who has
waited longest is called back first; ties by id. Done items leave the queue.

A CSR takes an item with the ``claim_callback`` intent and records how it went with
``record_callback_outcome``. Both run on the console at once and are re-applied by the server, which
arbitrates: an item someone else already claimed is refused ("… already took this callback"), and that
refusal reaches the CSR as a sync problem (durable, like every refused change). Who claimed is the
signed-in user (models/attribution.py), never what the message says.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .attribution import attributed
from .base import Base, IdMixin, StampMixin, utcnow
from .calls import ROUTED_CALLBACK, ROUTED_VOICEMAIL, Call, CallClass, CallDirection, CallState
from .intent_kit import Applied, get_row, intent, require_id
from .setup import Role, User
from .validation import ValidationFailed


class CallbackStatus(enum.StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"


class CallbackOutcome(enum.StrEnum):
    BOOKED = "booked"  # reached and booked
    NOT_BOOKED = "not_booked"  # reached, not booked
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"


OUTCOME_LABELS = {
    CallbackOutcome.BOOKED: "Reached and booked",
    CallbackOutcome.NOT_BOOKED: "Reached, not booked",
    CallbackOutcome.NO_ANSWER: "No answer",
    CallbackOutcome.WRONG_NUMBER: "Wrong number",
}


class Callback(IdMixin, StampMixin, Base):
    """One caller to call back. The id is the call's id (one item per call, the same on every side)."""

    __tablename__ = "callbacks"
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id"), unique=True)
    phone: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"), default=None)
    voicemail: Mapped[bool] = mapped_column(Boolean, default=False)
    requested: Mapped[bool] = mapped_column(Boolean, default=False)  # the caller pressed 1 to be called back
    waiting_since: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(12), default=CallbackStatus.OPEN.value, index=True)
    claimed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(20), default="")
    done_at: Mapped[datetime | None] = mapped_column(default=None)


# -- rules (pure) ------------------------------------------------------------------------------------------
def wants_callback(call: Call) -> bool:
    """An ended inbound call classified Abandoned, with a caller number we can dial; or a caller who
    asked to be called back (nobody has the call: they never reached a CSR)."""
    if (
        call.routed_to == ROUTED_CALLBACK
        and CallDirection(call.direction) is CallDirection.INBOUND
        and call.agent_id is None
        and bool(call.from_number)
    ):
        return True
    return (
        CallState(call.state) is CallState.ENDED
        and CallDirection(call.direction) is CallDirection.INBOUND
        and call.classification is not None
        and CallClass(call.classification) is CallClass.ABANDONED
        and bool(call.from_number)
    )


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def queue_key(item: Callback) -> tuple[datetime, str]:
    """Longest-waiting first (see the module's docstring)."""
    return (_utc(item.waiting_since), item.id)


# -- creation (server side, inside the transaction that classifies the call) ------------------------------
def is_voicemail(call: Call) -> bool:
    """Routing sent the caller to voicemail and they left a message (an unanswered call that a CSR's
    leg recorded — answered, never claimed — is not one)."""
    return call.routed_to == ROUTED_VOICEMAIL and bool(call.recording_url)


def ensure_callback(session: Session, call: Call, requested_at: datetime | None = None) -> Callback | None:
    """Open the call's callback item when the call wants one; keep the voicemail and requested flags up
    to date (the recording may arrive after the end). Idempotent: one item per call, whichever way
    (pressed 1, then hung up) it came."""
    existing = session.get(Callback, call.id)
    if existing is not None:
        if is_voicemail(call) and not existing.voicemail:
            existing.voicemail = True
        if call.routed_to == ROUTED_CALLBACK and not existing.requested:
            existing.requested = True
        return existing
    if not wants_callback(call):
        return None
    requested = call.routed_to == ROUTED_CALLBACK
    item = Callback(
        id=call.id,
        call_id=call.id,
        phone=call.from_number,
        customer_id=call.customer_id,
        voicemail=is_voicemail(call),
        requested=requested,
        waiting_since=(requested_at if requested else None) or call.ended_at or utcnow(),
    )
    session.add(item)
    return item


def kind_text(voicemail: bool, requested: bool) -> str:
    """What the caller left us, as the callbacks list and call review say it."""
    if requested:
        return "Asked for a callback"
    return "Voicemail" if voicemail else "Missed call"


# -- reads (consoles, the floor) ---------------------------------------------------------------------------
def open_queue(session: Session, limit: int = 200) -> list[Callback]:
    """Items not done, in queue order (claimed ones included: the list shows who has them)."""
    rows = session.scalars(
        select(Callback)
        .where(Callback.status != CallbackStatus.DONE.value)
        .order_by(Callback.waiting_since, Callback.id)
        .limit(limit)
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class QueueStats:
    open_count: int
    longest_wait_seconds: int  # of the unclaimed ones; 0 when none waits


def queue_stats(items: list[Callback], now: datetime) -> QueueStats:
    waiting = [i for i in items if i.status == CallbackStatus.OPEN.value]
    if not waiting:
        return QueueStats(0, 0)
    oldest = min(_utc(i.waiting_since) for i in waiting)
    return QueueStats(len(waiting), max(0, int((_utc(now) - oldest).total_seconds())))


def callback_kpis(session: Session, now: datetime) -> dict[str, int]:
    """The floor board's Callbacks tile: items nobody has taken yet, and how long the oldest has waited."""
    from sqlalchemy import func

    count, oldest = session.execute(
        select(func.count(), func.min(Callback.waiting_since)).where(
            Callback.status == CallbackStatus.OPEN.value
        )
    ).one()
    wait = max(0, int((_utc(now) - _utc(oldest)).total_seconds())) if oldest is not None else 0
    return {"callbacks_open": int(count or 0), "callbacks_longest_wait_s": wait}


# -- intents -------------------------------------------------------------------------------------------------
def _who(session: Session, user_id: str | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return (user.display_name or user.username) if user is not None else "Someone else"


@intent("claim_callback")
def claim_callback(session: Session, args: dict[str, Any]) -> Applied:
    """{callback_id, user_id?}: the CSR takes the item. First claim wins (the server's order); a second
    CSR is refused and told who has it. Claiming one's own item again changes nothing."""
    item = get_row(session, Callback, require_id(args.get("callback_id"), "callback_id"), "callback")
    user_id = attributed(session, args, "user_id")
    if not user_id:
        raise ValidationFailed({"user_id": "Sign in to take a callback."})
    if item.status == CallbackStatus.DONE.value:
        raise ValidationFailed({"callback": "This callback is already done."})
    if item.claimed_by and item.claimed_by != user_id:
        raise ValidationFailed({"callback": f"{_who(session, item.claimed_by)} already took this callback."})
    if item.claimed_by != user_id:
        item.claimed_by = user_id
        item.claimed_at = session.info.get("now") or utcnow()
        item.status = CallbackStatus.CLAIMED.value
    return Applied("callback", item.id, [], {})


@intent("record_callback_outcome")
def record_callback_outcome(session: Session, args: dict[str, Any]) -> Applied:
    """{callback_id, outcome, user_id?}: how the call-back went; only the CSR who claimed it records it.
    The item is done (it leaves the queue). Recording the same outcome twice changes nothing."""
    item = get_row(session, Callback, require_id(args.get("callback_id"), "callback_id"), "callback")
    user_id = attributed(session, args, "user_id")
    try:
        outcome = CallbackOutcome(str(args.get("outcome") or ""))
    except ValueError:
        raise ValidationFailed(
            {"outcome": "Pick how the call went: " + ", ".join(OUTCOME_LABELS.values()) + "."}
        ) from None
    if item.claimed_by != user_id or not user_id:
        raise ValidationFailed({"callback": "Take this callback before recording how it went."})
    if item.status == CallbackStatus.DONE.value:
        if item.outcome == outcome.value:
            return Applied("callback", item.id, [], {})
        raise ValidationFailed({"callback": "This callback is already done."})
    item.outcome = outcome.value
    item.status = CallbackStatus.DONE.value
    item.done_at = session.info.get("now") or utcnow()
    return Applied("callback", item.id, [], {})


# -- releasing a claim nobody is working on ----------------------------------------------------------------
CLAIM_RELEASE_MINUTES = 30  # default: a claim older than this goes back to the queue (phone settings)
SIGNED_OUT_MINUTES = 5  # its CSR has had no console connected this long (a network blip is not leaving)
RELEASERS = frozenset({Role.SUPERVISOR.value, Role.MANAGER.value, Role.ADMIN.value})
RELEASED_TOO_OLD = "too_old"
RELEASED_SIGNED_OUT = "signed_out"


def stale_claim(item: Callback, now: datetime, max_age: timedelta | None, away_since: datetime | None) -> str:
    """Why a claimed item should go back to the queue ("too_old", "signed_out"), or "" to leave it.
    ``max_age`` None: never by age; ``away_since``: since when its CSR has had no console (None: online)."""
    if item.status != CallbackStatus.CLAIMED.value or not item.claimed_by:
        return ""
    if away_since is not None and _utc(now) - _utc(away_since) >= timedelta(minutes=SIGNED_OUT_MINUTES):
        return RELEASED_SIGNED_OUT
    if max_age and item.claimed_at is not None and _utc(now) - _utc(item.claimed_at) >= max_age:
        return RELEASED_TOO_OLD
    return ""


def _release(item: Callback) -> None:
    item.claimed_by = None
    item.claimed_at = None
    item.status = CallbackStatus.OPEN.value


def release_stale_claims(
    session: Session,
    now: datetime,
    max_age: timedelta | None,
    away_since: Any,
) -> dict[str, str]:
    """Put claims nobody is working on back in the queue (server side, in the caller's transaction):
    ``away_since(user_id)`` says since when a CSR has had no console (None: online). callback id →
    why it was released."""
    released: dict[str, str] = {}
    claimed = session.scalars(select(Callback).where(Callback.status == CallbackStatus.CLAIMED.value))
    for item in claimed:
        why = stale_claim(item, now, max_age, away_since(item.claimed_by))
        if why:
            _release(item)
            released[item.id] = why
    return released


@intent("release_callback")
def release_callback(session: Session, args: dict[str, Any]) -> Applied:
    """{callback_id, user_id?}: the item goes back to the queue for anyone to take. A supervisor,
    manager or admin may release any claim; a CSR only their own. An open item stays open."""
    item = get_row(session, Callback, require_id(args.get("callback_id"), "callback_id"), "callback")
    user_id = attributed(session, args, "user_id")
    user = session.get(User, user_id) if user_id else None
    if user is None:
        raise ValidationFailed({"user_id": "Sign in to release a callback."})
    if item.status == CallbackStatus.DONE.value:
        raise ValidationFailed({"callback": "This callback is already done."})
    if item.status == CallbackStatus.OPEN.value:
        return Applied("callback", item.id, [], {})
    if item.claimed_by != user.id and str(user.role or "") not in RELEASERS:
        raise ValidationFailed(
            {"callback": f"Only a supervisor can put back a callback {_who(session, item.claimed_by)} took."}
        )
    _release(item)
    return Applied("callback", item.id, [], {})
