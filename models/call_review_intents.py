"""The manager's edits of an ended call in call review: attach the CSR who really took it, change its
reason, excuse it with a memo (or withdraw the excuse), tag it. Each is an intent — applied on the
console at once, queued in the outbox and re-applied by the server, which lets only supervisors,
managers and admins push them (sync/server_auth.py) — and each re-runs the one classification
function (models/call_store.reclassify). The writer and the server keep the audit entries.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .call_store import reclassify
from .calls import Call, CallDirection, CallState
from .intent_kit import Applied, clean_text, intent, tags_named
from .setup import CallReason, User
from .validation import ValidationFailed, max_length

MAX_TAGS = 20
MEMO_LIMIT = max_length(Call, "excuse_memo") or 500


def _id(args: dict[str, Any], key: str, missing: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed({key: missing})
    if len(value) > 32:
        raise ValidationFailed({key: f"Malformed {key.replace('_', ' ')}."})
    return value


def _call(session: Session, args: dict[str, Any]) -> Call:
    """The call being reviewed: known here, inbound, and over."""
    call = session.get(Call, _id(args, "call_id", "Missing call id."))
    if call is None:
        raise ValidationFailed({"call_id": "That call is not on this PC (or the server) any more."})
    if CallDirection(call.direction) is not CallDirection.INBOUND:
        raise ValidationFailed({"call_id": "Outbound calls aren't classified, so they aren't reviewed."})
    if CallState(call.state) is not CallState.ENDED:
        raise ValidationFailed({"call_id": "This call is still going on — review it once it has ended."})
    return call


def _done(session: Session, call: Call) -> Applied:
    reclassify(session, call)
    return Applied("call", call.id, [], {})


@intent("attach_agent")
def attach_agent(session: Session, args: dict[str, Any]) -> Applied:
    """{call_id, agent_id}: the user who really took the call (an Abandoned call nobody claimed, or
    the wrong CSR claimed it). The call is then Unbooked, Excused or Booked by the rules."""
    call = _call(session, args)
    agent_id = _id(args, "agent_id", "Pick the CSR who took the call.")
    user = session.get(User, agent_id)
    if user is None or not user.active:
        raise ValidationFailed({"agent_id": "That user is not an active user any more — pick another CSR."})
    call.agent_id = user.id
    return _done(session, call)


@intent("reclassify_call")
def reclassify_call(session: Session, args: dict[str, Any]) -> Applied:
    """{call_id, call_reason_id}: the call's reason, as the manager judges it (a non-lead reason makes
    a claimed call NotLead, a lead reason makes it a lead)."""
    call = _call(session, args)
    reason_id = _id(args, "call_reason_id", "Pick the call reason.")
    reason = session.get(CallReason, reason_id)
    if reason is None:
        raise ValidationFailed({"call_reason_id": "That call reason no longer exists — pick another."})
    if not reason.active:
        raise ValidationFailed(
            {"call_reason_id": f"The call reason '{reason.name}' is no longer used — pick another."}
        )
    call.call_reason_id = reason.id
    return _done(session, call)


@intent("excuse_call")
def excuse_call(session: Session, args: dict[str, Any]) -> Applied:
    """{call_id, memo}: excused by a manager, with the reason why (required, at most 500 characters).
    Excusing an excused call again replaces its memo."""
    call = _call(session, args)
    memo = args.get("memo")
    memo = clean_text(memo, "memo").strip() if isinstance(memo, str) else ""
    if not memo:
        raise ValidationFailed({"memo": "Write why the call is excused."})
    if len(memo) > MEMO_LIMIT:
        raise ValidationFailed({"memo": f"The memo is too long (at most {MEMO_LIMIT} characters)."})
    call.excused = True
    call.excuse_memo = memo
    return _done(session, call)


@intent("unexcuse_call")
def unexcuse_call(session: Session, args: dict[str, Any]) -> Applied:
    """{call_id}: withdraw a manager's excuse; the call is classified by its facts again. The memo is
    cleared (the audit keeps it). A call that is not excused is left as it is."""
    call = _call(session, args)
    call.excused = False
    call.excuse_memo = ""
    return _done(session, call)


@intent("tag_call")
def tag_call(session: Session, args: dict[str, Any]) -> Applied:
    """{call_id, tags: [names]}: the call's tags, replacing the ones it had (an empty list clears them).
    A name first used here becomes a tag type, as customer tags do."""
    call = _call(session, args)
    names = args.get("tags")
    if not isinstance(names, list):
        raise ValidationFailed({"tags": "Tags must be a list of names."})
    tags = tags_named(session, names)
    if len(tags) > MAX_TAGS:
        raise ValidationFailed({"tags": f"A call can have at most {MAX_TAGS} tags."})
    call.tags = [t.name for t in tags]
    return _done(session, call)
