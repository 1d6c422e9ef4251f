"""The ServiceChannel outbound queue in the database (``sc_outbound``): what the server must tell the
platform, each (work order, action, version) once.

Any number of server instances drain it. A claim takes due rows — the oldest unsent row of each work
order only, so a work order's actions go out in order — and leases them to one instance (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so two instances never pick the same row; every claim is also a guarded
UPDATE, which is what keeps SQLite safe). A lease that runs out means its holder died: the row is
claimed again, marked *uncertain*, and the sender checks the platform before sending it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from .work_orders import OutboundState, ScOutbound, WorkOrder

ACTIONS = ("accept", "decline", "status", "schedule", "note", "check_in", "check_out")


@dataclass(frozen=True)
class Claimed:
    id: int
    sc_id: int
    action: str
    version: int
    payload: dict[str, Any]
    attempts: int
    uncertain: bool  # a previous holder's lease ran out: it may have been sent


def enqueue(
    session: Session, sc_id: int, action: str, version: int, payload: dict[str, Any], now: datetime
) -> bool:
    """Queue one action; False when (work order, action, version) is already queued (nothing changes)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown ServiceChannel action {action!r}")
    values = {
        "sc_id": sc_id,
        "action": action,
        "version": version,
        "payload": payload,
        "state": OutboundState.PENDING.value,
        "attempts": 0,
        "next_at": now,
        "lease_owner": "",
        "error": "",
        "created_at": now,
    }
    dialect = session.get_bind().dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        maker(ScOutbound)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["sc_id", "action", "version"])
    )
    return bool(session.execute(stmt).rowcount)


def claim(session: Session, owner: str, now: datetime, lease: timedelta, limit: int = 10) -> list[Claimed]:
    """Lease up to ``limit`` due rows to ``owner`` (commit the session to make the lease visible)."""
    older = aliased(ScOutbound)
    due = or_(
        and_(ScOutbound.state == OutboundState.PENDING.value, ScOutbound.next_at <= now),
        and_(ScOutbound.state == OutboundState.SENDING.value, ScOutbound.lease_until < now),
    )
    first_of_its_work_order = ~exists().where(
        older.sc_id == ScOutbound.sc_id,
        older.id < ScOutbound.id,
        older.state.in_([OutboundState.PENDING.value, OutboundState.SENDING.value]),
    )
    query = select(ScOutbound).where(due, first_of_its_work_order).order_by(ScOutbound.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    out = []
    for row in session.scalars(query).all():
        uncertain = row.state == OutboundState.SENDING.value
        taken = session.execute(
            update(ScOutbound)
            .where(
                ScOutbound.id == row.id, ScOutbound.state == row.state, ScOutbound.attempts == row.attempts
            )
            .values(
                state=OutboundState.SENDING.value,
                lease_owner=owner,
                lease_until=now + lease,
                attempts=row.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken:
            out.append(
                Claimed(
                    row.id, row.sc_id, row.action, row.version, dict(row.payload), row.attempts + 1, uncertain
                )
            )
    return out


def _mine(row_id: int, owner: str) -> Any:
    return and_(
        ScOutbound.id == row_id,
        ScOutbound.lease_owner == owner,
        ScOutbound.state == OutboundState.SENDING.value,
    )


def mark_sent(session: Session, row_id: int, owner: str, now: datetime) -> bool:
    return bool(
        session.execute(
            update(ScOutbound)
            .where(_mine(row_id, owner))
            .values(state=OutboundState.SENT.value, sent_at=now, lease_until=None, error="")
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def mark_retry(session: Session, row_id: int, owner: str, next_at: datetime, error: str) -> bool:
    return bool(
        session.execute(
            update(ScOutbound)
            .where(_mine(row_id, owner))
            .values(state=OutboundState.PENDING.value, next_at=next_at, lease_until=None, error=error[:2000])
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def mark_refused(session: Session, row_id: int, owner: str, sc_id: int, message: str) -> bool:
    """The platform said no: the row stops, and the work order carries the platform's message as Action
    required (consoles show it on the job) — never a silent failure."""
    done = session.execute(
        update(ScOutbound)
        .where(_mine(row_id, owner))
        .values(state=OutboundState.REFUSED.value, lease_until=None, error=message[:2000])
        .execution_options(synchronize_session=False)
    ).rowcount
    if done:
        wo = session.scalar(select(WorkOrder).where(WorkOrder.sc_id == sc_id))
        if wo is not None:
            wo.action_required = message  # an ORM change: the change log carries it to consoles
    return bool(done)


def last_payload(session: Session, sc_id: int, action: str) -> dict[str, Any] | None:
    """What was last queued for this work order and action (to skip a repeat of the same status)."""
    return session.scalar(
        select(ScOutbound.payload)
        .where(ScOutbound.sc_id == sc_id, ScOutbound.action == action)
        .order_by(ScOutbound.version.desc())
        .limit(1)
    )


def newest_change(session: Session, sc_id: int) -> int:
    """The newest change version already turned into an action for this work order (its accept's change,
    or a job action's): a job change at or before it is the booking itself or history already queued.
    With no accept queued, nothing about the job is told (the work order was not accepted)."""
    accept = session.scalar(
        select(ScOutbound.payload).where(ScOutbound.sc_id == sc_id, ScOutbound.action == "accept").limit(1)
    )
    if accept is None:
        return 2**62
    newest = session.scalar(
        select(func.max(ScOutbound.version)).where(
            ScOutbound.sc_id == sc_id, ScOutbound.action.not_in(("accept", "decline"))
        )
    )
    return max(int(accept.get("_change", 0)), newest or 0)
