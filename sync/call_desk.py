"""The server's calls: phone-system events in (the ingress's sink), claims, and live call updates out.

Events are committed in groups: every webhook waiting while a commit runs goes into the next one
(one fsync for many callbacks — a burst of 500 calls a second is a few dozen commits, not 1,500).
Each group is one transaction that stores the events, reduces the calls, and writes the calls' rows to
the change log (consoles pull them, on every instance); after it commits, the callbacks learn their
events are stored (the ingress answers the provider), and the consoles connected here get a ``call``
message at once — the bubble does not wait for a pull.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.call_store import claim_call, record_events
from models.calls import Call, CallDirection, CallEvent, CallEventKind, CallState, NeutralEvent
from models.customers import Customer
from models.setup import Campaign, User
from models.sync_tables import ChangeRow
from models.timeutil import as_utc, utc_iso
from models.validation import ValidationFailed

from .apply import lock_change_log
from .changes import ChangeCollector
from .phone_seats import OverflowGroup, SeatDirectory, phone_settings, ring_order

log = logging.getLogger("csr.server.calls")
# What a console shows when it connects: calls still ringing or talking, and ended calls a CSR claimed
# whose bubble they have not closed yet, from the last hours (an ended call nobody claimed is
# Abandoned: it goes to the managers' review, not to a bubble).
LIVE_WINDOW = timedelta(hours=12)
CLOSED_STALE = "closed-stale"  # the end reason (and provider key prefix) of a call a supervisor closed
MAX_LIVE = 200


def call_info(
    call: Call, names: dict[str, str], campaigns: dict[str, str], customers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A call as consoles receive it (docs/protocol.md, ``call``); ``customers``: id → name of the matched
    customers (the floor board shows the name; a console matches from its own cache)."""

    def iso(value: datetime | None) -> str | None:
        return None if value is None else utc_iso(value)

    return {
        "id": call.id,
        "state": CallState(call.state).value,
        "direction": CallDirection(call.direction).value,
        "from_number": call.from_number,
        "to_number": call.to_number,
        "campaign_id": call.campaign_id,
        "campaign": campaigns.get(call.campaign_id or "", ""),
        "unknown_campaign": bool(call.unknown_campaign),
        "customer_id": call.customer_id,
        "customer_name": (customers or {}).get(call.customer_id or "", ""),
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
        "agent_id": call.agent_id,
        "agent_name": names.get(call.agent_id or "", ""),
        "classification": call.classification.value if call.classification else "",
        "closed": call.closed_at is not None,
        "duration_seconds": call.duration_seconds or 0,
        "recording_url": call.recording_url or "",
        "provider_call_id": call.provider_call_id,
        "answered_by": call.answered_by or "",
    }


class CallDesk:
    """Implements the ingress's CallSink; the websocket endpoint asks it for claims and live calls.
    ``on_committed(version, calls)`` runs on the event loop after each commit that changed calls."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        region: str | None = None,
        on_committed: Callable[[int, list[dict[str, Any]]], None] | None = None,
        agents: Callable[[], list[str]] = list,
        available: Callable[[], set[str]] = set,
    ) -> None:
        self.sessions = sessions
        self.region = region
        self.on_committed = on_committed
        self._agents = agents
        self.available = available  # the signed-in agents whose floor state is Available
        self.seats = SeatDirectory(sessions)  # CSRs rung at a SIP seat (sync/phone_seats.py)
        self.overflow = OverflowGroup(sessions)  # the second group
        self._queue: list[tuple[list[NeutralEvent], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    # -- the ingress's sink ------------------------------------------------------------------------------
    def agents_to_ring(self) -> list[str]:
        """Everyone signed in, the Available ones first (then Away, Wrap-up, On call: the call must still
        reach someone); with a second group set (phone settings' overflow), its CSRs ring only when no
        one of the first group is Available (sync/phone_seats.ring_order)."""
        agents = self._agents()
        available = self.available()
        overflow = self.overflow.names()
        if overflow:
            return ring_order(agents, available, overflow)
        return [a for a in agents if a in available] + [a for a in agents if a not in available]

    async def voicemail_reason(self, provider_call_id: str, now: datetime) -> str:
        """Why this caller goes to voicemail ("after_hours", "max_wait"), or "" to ring as before."""
        return await asyncio.to_thread(self._voicemail_reason, provider_call_id, now)

    def _voicemail_reason(self, provider_call_id: str, now: datetime) -> str:
        from models.routing import RING, RoutingPolicy, route
        from models.setup_data import load_setup

        if self.sessions is None:
            return ""
        phone = phone_settings(self.sessions)
        if not phone["after_hours_voicemail"] and not phone["max_wait_seconds"]:
            return ""
        with self.sessions() as s:
            setup = load_setup(s)
            started = s.scalar(select(Call.started_at).where(Call.provider_call_id == provider_call_id))
        policy = RoutingPolicy.from_settings(phone, setup.business_hours, setup.time_zone)
        waited = (as_utc(now) - as_utc(started)).total_seconds() if started is not None else None
        reason = route(policy, as_utc(now), waited)
        return "" if reason == RING else reason

    async def offers_callback(self) -> bool:
        """Whether a caller sent to voicemail is first offered a callback (phone settings)."""
        if self.sessions is None:
            return False
        return await asyncio.to_thread(lambda: phone_settings(self.sessions)["offer_callback"])

    def seat_addresses(self) -> dict[str, str]:
        """username → the SIP address of their seat, for those who have one."""
        return self.seats.addresses()

    async def record(self, events: list[NeutralEvent]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((events, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await future

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = self._queue, []
            try:
                version, calls = await asyncio.to_thread(
                    self._store, [e for events, _ in group for e in events]
                )
            except Exception:  # noqa: BLE001 - store each callback alone: one bad one fails alone
                log.warning("event=call_group_failed size=%d", len(group), exc_info=True)
                for events, future in group:
                    try:
                        version, calls = await asyncio.to_thread(self._store, events)
                    except Exception as exc:  # noqa: BLE001 - the ingress answers 500: the provider retries
                        if not future.done():
                            future.set_exception(exc)
                        continue
                    if not future.done():
                        future.set_result(None)
                    self._committed(version, calls)
                continue
            for _, future in group:
                if not future.done():
                    future.set_result(None)
            self._committed(version, calls)

    def _committed(self, version: int, calls: list[dict[str, Any]]) -> None:
        if calls and self.on_committed is not None:
            self.on_committed(version, calls)

    def _store(self, events: Sequence[NeutralEvent]) -> tuple[int, list[dict[str, Any]]]:
        with self.sessions.begin() as session:
            lock_change_log(session)
            collector = ChangeCollector(session)
            recorded = record_events(session, events, region=self.region)
            version = _log_changes(session, collector)
            return version, self._infos(session, recorded.calls)

    # -- the endpoint's requests ---------------------------------------------------------------------------
    def claim(self, call_id: str, user_id: str, takeover: bool) -> tuple[int, dict[str, Any], str | None]:
        """(version, the call, who had it before a takeover); ValidationFailed when refused."""
        with self.sessions.begin() as session:
            lock_change_log(session)
            collector = ChangeCollector(session)
            claimed = claim_call(session, call_id, user_id, takeover=takeover, now=utcnow())
            version = _log_changes(session, collector)
            return version, self._infos(session, [claimed.call])[0], claimed.previous_agent_id

    def close_stale(
        self, call_id: str, user_id: str, stale_after: timedelta, now: datetime | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """A supervisor closes a call the phone system never ended: an ENDED event with reason
        ``closed-stale`` (provider key ``closed-stale:<call id>``, stamped at the call's last event so
        the talk time isn't inflated by the wait), then the call reduces to Ended and is classified.
        (version, the calls) — hand them to :meth:`committed` on the event loop; ValidationFailed when
        the call is unknown, over, or not stale."""
        now = now or utcnow()
        with self.sessions.begin() as session:
            lock_change_log(session)
            call = session.get(Call, call_id)
            if call is None:
                raise ValidationFailed({"call": "That call is not known to the server."})
            if CallState(call.state) is CallState.ENDED:
                raise ValidationFailed({"call": "That call has already ended."})
            heard, occurred = session.execute(
                select(func.max(CallEvent.received_at), func.max(CallEvent.occurred_at)).where(
                    CallEvent.call_id == call.id
                )
            ).one()
            last = as_utc(heard or call.started_at)
            if now - last < stale_after:
                minutes = int((now - last).total_seconds() // 60)
                raise ValidationFailed(
                    {"call": f"That call isn't stale: the phone system spoke of it {minutes} minutes ago."}
                )
            event = NeutralEvent(
                provider=call.provider,
                provider_call_id=call.provider_call_id,
                provider_key=f"{CLOSED_STALE}:{call.id}",
                kind=CallEventKind.ENDED,
                occurred_at=as_utc(occurred or call.started_at),
                direction=CallDirection(call.direction),
                end_reason=CLOSED_STALE,
                payload={"closed_by": user_id, "closed_at": utc_iso(now)},
            )
            collector = ChangeCollector(session)
            recorded = record_events(session, [event], region=self.region)
            version = _log_changes(session, collector)
            return version, self._infos(session, recorded.calls)

    def committed(self, version: int, calls: list[dict[str, Any]]) -> None:
        """Tell the consoles (on the event loop) about calls this desk changed outside the ingress."""
        self._committed(version, calls)

    def live_calls(self, now: datetime | None = None) -> list[dict[str, Any]]:
        since = (now or utcnow()) - LIVE_WINDOW
        with self.sessions() as session:
            calls = list(
                session.scalars(
                    select(Call)
                    .where(
                        Call.started_at >= since,
                        Call.closed_at.is_(None),
                        or_(Call.state != CallState.ENDED, Call.agent_id.is_not(None)),
                    )
                    .order_by(Call.started_at.desc())
                    .limit(MAX_LIVE)
                )
            )
            return self._infos(session, list(reversed(calls)))

    @staticmethod
    def _infos(session: Session, calls: list[Call]) -> list[dict[str, Any]]:
        users = {c.agent_id for c in calls if c.agent_id}
        names = (
            {
                u.id: u.display_name or u.username
                for u in session.scalars(select(User).where(User.id.in_(users)))
            }
            if users
            else {}
        )
        ids = {c.campaign_id for c in calls if c.campaign_id}
        campaigns = (
            {c.id: c.name for c in session.scalars(select(Campaign).where(Campaign.id.in_(ids)))}
            if ids
            else {}
        )
        matched = {c.customer_id for c in calls if c.customer_id}
        customers = (
            dict(session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(matched))).all())
            if matched
            else {}
        )
        return [call_info(c, names, campaigns, customers) for c in calls]


def _log_changes(session: Session, collector: ChangeCollector) -> int:
    """The transaction's rows into the change log; the last version written (0 if none)."""
    changes = collector.collect()
    if not changes:
        return 0
    versions = list(
        session.execute(
            insert(ChangeRow.__table__).returning(
                ChangeRow.__table__.c.version, sort_by_parameter_order=True
            ),
            [{"entity": e, "entity_id": i, "op": op, "data": data} for e, i, op, data in changes],
        ).scalars()
    )
    return versions[-1]
