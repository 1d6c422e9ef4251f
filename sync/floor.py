"""The supervisors' floor (ARCHITECTURE.md "Supervisor"): the live calls, every agent's state and the
KPI tiles, kept by the server and pushed to subscribed supervisors — a full ``floor_snapshot`` when
they subscribe (again after every reconnect: never stale rows), then ``floor_delta`` on every change
(call events, claims, agent state changes, connect / disconnect) and ``floor_kpis`` every tick,
computed once per tick for all subscribers.

The calls: this instance's call commits are applied as they happen (``calls_committed``, the call
desk's own rows: no read of the store, the board sees an event as soon as it is stored), and every
tick while someone watches the store is read again, so calls taken on another instance and calls
that turn stale with time show up too.
Agent presence is this instance's connections (docs/protocol.md "Floor": one instance per floor).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from websockets.asyncio.server import broadcast

from models.agents import AgentState, AgentStateRow, away_reasons, check_choice, effective_state
from models.base import utcnow
from models.callbacks import callback_kpis
from models.calls import Call, CallEvent, CallState
from models.customers import Customer
from models.kpis import day_bounds, live_kpis, load_call_facts, local_day
from models.setup import Campaign, CompanySetting, Role, User
from models.timeutil import as_utc, utc_iso, zone
from models.work_order_inbox import floor_alerts

from .call_desk import call_info
from .protocol import FloorDelta, FloorKpis, FloorSnapshot, encode

log = logging.getLogger("csr.server.floor")
MAX_FLOOR_CALLS = 500
ON_CALL_STATES = (CallState.TALKING, CallState.HELD)


def company_settings(session: Session) -> dict[str, Any]:
    return {s.key: s.value for s in session.scalars(select(CompanySetting))}


def company_zone(settings: dict[str, Any]) -> Any:
    return zone(str((settings.get("company") or {}).get("time_zone") or "") or None)


def _iso(value: datetime | None) -> str | None:
    return utc_iso(value) if value is not None else None


def _same(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """Two rows of one call show the same (``last_event_at`` only feeds the stale flag)."""
    if before is None:
        return False
    return (
        all(before.get(k) == v for k, v in after.items() if k != "last_event_at")
        and before.keys() == after.keys()
    )


class Floor:
    def __init__(
        self,
        sessions: sessionmaker[Session] | None,
        *,
        stale_after: timedelta = timedelta(minutes=120),
        tick: float = 1.0,
        offline_grace: float = 15.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.stale_after = stale_after
        self.tick = tick
        self.offline_grace = timedelta(seconds=offline_grace)
        self.clock = clock
        self.subscribers: set[Any] = set()  # websockets of subscribed supervisors
        self.ticks = 0  # KPI computations so far (one per tick, whoever watches)
        # CPU seconds those ticks cost: the read and the tiles in the worker thread, the message on the
        # loop (``time.thread_time``, so other work on either thread is not counted).
        self.kpi_cpu_s = 0.0
        self._generation = 0  # commits seen by calls_committed
        self._touched: dict[str, int] = {}  # call id -> the generation that last changed it
        self._users: dict[str, dict[str, str]] = {}  # id -> name, username, role
        self._chosen: dict[str, list[Any]] = {}  # id -> [state, reason, since, left_at]
        self._presence: dict[str, int] = {}
        # user id → (softphone state, message) as their console last said (docs/phone.md): "registered",
        # "offline"; forgotten when their last console leaves (they are Offline then anyway).
        self._phones: dict[str, tuple[str, str]] = {}
        self._calls: dict[str, dict[str, Any]] = {}  # active calls as last sent
        self._agents: dict[str, dict[str, Any]] = {}  # agent rows as last sent
        self._kpis: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._loaded = False
        self._started = clock()
        self._ticker: asyncio.Task[None] | None = None
        # Agent rows that changed (whoever watches): the server tells each CSR's own consoles.
        self.on_agents: Callable[[list[dict[str, Any]]], None] = lambda rows: None

    # -- loading ---------------------------------------------------------------------------------------------
    async def ensure_loaded(self) -> None:
        if self._loaded or self.sessions is None:
            return
        users, states = await asyncio.to_thread(self._load)
        if self._loaded:
            return
        self._users.update({k: v for k, v in users.items() if k not in self._users})
        for uid, (state, reason, since, left_at) in states.items():
            # Connected when the server stopped: they left when it stopped (they have the grace to return).
            self._chosen.setdefault(uid, [state, reason, since, left_at or self._started])
        self._loaded = True
        await self.refresh()

    def _load(self) -> tuple[dict[str, dict[str, str]], dict[str, tuple[Any, ...]]]:
        assert self.sessions is not None
        with self.sessions() as session:
            users = {
                u.id: {
                    "name": u.display_name or u.username,
                    "username": u.username,
                    "role": Role(u.role).value if u.role else Role.CSR.value,
                }
                for u in session.scalars(select(User).where(User.active))
            }
            states = {
                r.user_id: (
                    AgentState(r.state),
                    r.reason or "",
                    as_utc(r.since),
                    as_utc(r.left_at) if r.left_at else None,
                )
                for r in session.scalars(select(AgentStateRow))
            }
        return users, states

    def _save(self, user_id: str) -> None:
        if self.sessions is None:
            return
        state, reason, since, left_at = self._chosen[user_id]
        with self.sessions.begin() as session:
            row = session.get(AgentStateRow, user_id)
            if row is None:
                session.add(
                    AgentStateRow(
                        user_id=user_id,
                        state=AgentState(state).value,
                        reason=reason,
                        since=since,
                        left_at=left_at,
                    )
                )
            else:
                row.state, row.reason, row.since, row.left_at = (
                    AgentState(state).value,
                    reason,
                    since,
                    left_at,
                )

    # -- agents ----------------------------------------------------------------------------------------------
    def _on_call(self) -> dict[str, tuple[str, datetime]]:
        """Agent id → (the call they are talking on, since when), from the calls in progress."""
        out: dict[str, tuple[str, datetime]] = {}
        for row in self._calls.values():
            agent = row.get("agent_id")
            if agent and agent not in out and row.get("state") in ON_CALL_STATES:
                out[agent] = (row["id"], datetime.fromisoformat(row.get("answered_at") or row["started_at"]))
        return out

    def _agent_row(
        self, user_id: str, now: datetime, on_call: dict[str, tuple[str, datetime]] | None = None
    ) -> dict[str, Any]:
        on_call = self._on_call() if on_call is None else on_call
        user = self._users.get(user_id, {})
        # Never signed in: Offline since the server started.
        state, reason, since, left_at = self._chosen.get(user_id) or [
            AgentState.AVAILABLE,
            "",
            self._started,
            None,
        ]
        connected = self._presence.get(user_id, 0) > 0 or (
            left_at is not None and now - left_at < self.offline_grace
        )  # a blip is not Offline
        eff = effective_state(
            chosen=AgentState(state),
            reason=reason,
            since=since,
            connected=connected,
            left_at=left_at,
            call=on_call.get(user_id),
        )
        row = {
            "user_id": user_id,
            "name": user.get("name", ""),
            "state": eff.state.value,
            "reason": eff.reason,
            "since": _iso(eff.since),
            "call_id": eff.call_id,
        }
        phone = self._phones.get(user_id)
        if phone is not None:  # only CSRs with a seat have a phone to show
            row["phone"], row["phone_message"] = phone
        return row

    def _agent_ids(self) -> list[str]:
        ids = [uid for uid, u in self._users.items() if u.get("role") == Role.CSR.value]
        ids += [uid for uid in (*self._chosen, *self._presence) if uid in self._users]
        return list(dict.fromkeys(ids))

    def agent_rows(self, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or self.clock()
        on_call = self._on_call()
        rows = [self._agent_row(uid, now, on_call) for uid in self._agent_ids()]
        return sorted(rows, key=lambda r: (r["name"].casefold(), r["user_id"]))

    def available_usernames(self) -> set[str]:
        """The signed-in agents whose floor state is Available now (they are rung first)."""
        now, on_call = self.clock(), self._on_call()
        return {
            self._users[uid]["username"]
            for uid, n in self._presence.items()
            if n > 0
            and uid in self._users
            and self._agent_row(uid, now, on_call)["state"] == AgentState.AVAILABLE.value
        }

    async def connected(self, user: dict[str, Any]) -> None:
        await self.ensure_loaded()
        uid = str(user["id"])
        self._users.setdefault(
            uid,
            {
                "name": str(user.get("display_name") or user.get("username") or ""),
                "username": str(user.get("username") or ""),
                "role": str(user.get("role") or Role.CSR.value),
            },
        )
        now = self.clock()
        before = self._presence.get(uid, 0)
        self._presence[uid] = before + 1
        if before == 0:
            chosen = self._chosen.get(uid)
            if chosen is None or (chosen[3] is not None and now - chosen[3] >= self.offline_grace):
                self._chosen[uid] = [AgentState.AVAILABLE, "", now, None]  # back after being Offline
            else:
                chosen[3] = None  # back within the grace
            await asyncio.to_thread(self._save, uid)
        await self._push_agents()

    async def disconnected(self, user: dict[str, Any]) -> None:
        uid = str(user["id"])
        left = self._presence.get(uid, 0) - 1
        if left > 0:
            self._presence[uid] = left
            return
        self._presence.pop(uid, None)
        self._phones.pop(uid, None)
        chosen = self._chosen.get(uid)
        if chosen is not None:
            chosen[3] = self.clock()
            await asyncio.to_thread(self._save, uid)
        await self._push_agents()

    async def set_state(
        self, user: dict[str, Any], state: str, reason: str
    ) -> tuple[dict[str, Any], list[str]]:
        """The CSR chose a state: (their agent row, the away reasons); ValueError when refused."""
        await self.ensure_loaded()
        uid = str(user["id"])
        reasons = await asyncio.to_thread(self.away_reasons)
        chosen_state, chosen_reason = check_choice(state, reason.strip(), reasons)
        current = self._chosen.get(uid)
        if current is None or (AgentState(current[0]), current[1]) != (chosen_state, chosen_reason):
            self._chosen[uid] = [
                chosen_state,
                chosen_reason,
                self.clock(),
                None if self._presence.get(uid) else (current[3] if current else None),
            ]
            await asyncio.to_thread(self._save, uid)
        await self._push_agents()
        return self._agent_row(uid, self.clock()), reasons

    def away_since(self, user_id: str | None) -> datetime | None:
        """Since when this user has had no console connected (None while one is): the callback sweeper
        releases the claims of a CSR who left (sync/callback_sweeper.py). Not seen since the server
        started: since the start."""
        if not user_id or self._presence.get(user_id, 0) > 0:
            return None
        chosen = self._chosen.get(user_id)
        return (chosen[3] if chosen is not None else None) or self._started

    async def set_phone(self, user: dict[str, Any], state: str, message: str) -> dict[str, Any]:
        """The CSR's console says how its softphone is ("registered", "offline" with why, "none": no
        seat); supervisors see "Phone offline" on the board. Their agent row as it is now."""
        await self.ensure_loaded()
        uid = str(user["id"])
        if state == "none":
            self._phones.pop(uid, None)
        else:
            self._phones[uid] = (state, message.strip()[:300] if state == "offline" else "")
        await self._push_agents()
        return self._agent_row(uid, self.clock())

    def away_reasons(self) -> list[str]:
        if self.sessions is None:
            return away_reasons({})
        with self.sessions() as session:
            return away_reasons(company_settings(session))

    async def _push_agents(self) -> None:
        async with self._lock:
            delta = self._agents_delta(self.clock())
            if delta:
                self._broadcast(encode(FloorDelta(agents=delta)))

    def _agents_delta(self, now: datetime) -> list[dict[str, Any]]:
        changed = []
        for row in self.agent_rows(now):
            if self._agents.get(row["user_id"]) != row:
                self._agents[row["user_id"]] = row
                changed.append(row)
        if changed:
            try:
                self.on_agents(changed)
            except Exception:  # noqa: BLE001 - telling the CSRs must not stop the floor
                log.exception("event=agent_push_failed")
        return changed

    def agent_row(self, user_id: str) -> dict[str, Any]:
        """One agent's row as the floor shows it now."""
        return self._agent_row(str(user_id), self.clock())

    # -- calls and KPIs --------------------------------------------------------------------------------------
    def _read(
        self, now: datetime, kpis: bool
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None, float]:
        """The active calls as floor rows, and (``kpis``) the tiles — one read for every subscriber — and
        the CPU seconds the read took on its thread."""
        started = time.thread_time()
        rows, tiles = self._read_rows(now, kpis)
        return rows, tiles, time.thread_time() - started

    def _read_rows(
        self, now: datetime, kpis: bool
    ) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        assert self.sessions is not None
        with self.sessions() as session:
            calls = list(
                session.scalars(
                    select(Call)
                    .where(Call.state != CallState.ENDED)
                    .order_by(Call.started_at)
                    .limit(MAX_FLOOR_CALLS)
                )
            )
            ids = [c.id for c in calls]
            last = (
                dict(
                    session.execute(
                        select(CallEvent.call_id, func.max(CallEvent.received_at))
                        .where(CallEvent.call_id.in_(ids))
                        .group_by(CallEvent.call_id)
                    ).all()
                )
                if ids
                else {}
            )
            agents = {c.agent_id for c in calls if c.agent_id}
            names = (
                {
                    u.id: u.display_name or u.username
                    for u in session.scalars(select(User).where(User.id.in_(agents)))
                }
                if agents
                else {}
            )
            camp_ids = {c.campaign_id for c in calls if c.campaign_id}
            campaigns = (
                dict(
                    session.execute(select(Campaign.id, Campaign.name).where(Campaign.id.in_(camp_ids))).all()
                )
                if camp_ids
                else {}
            )
            cust_ids = {c.customer_id for c in calls if c.customer_id}
            customers = (
                dict(
                    session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(cust_ids))).all()
                )
                if cust_ids
                else {}
            )
            rows = {}
            for c in calls:
                row = call_info(c, names, campaigns, customers)
                row["answered_by_name"] = self._answered_by_name(row)
                heard = as_utc(last.get(c.id) or c.started_at)
                row["stale"] = now - heard >= self.stale_after
                row["last_event_at"] = utc_iso(heard)
                rows[c.id] = row
            tiles = None
            if kpis:
                tz = company_zone(company_settings(session))
                start, end = day_bounds(local_day(now, tz), tz)
                tiles = live_kpis(load_call_facts(session, start, end, active=True), now, tz)
                # ServiceChannel: work orders late to accept or expiring without a check-in.
                tiles["work_order_alerts"] = floor_alerts(session, now)
                tiles.update(callback_kpis(session, now))  # the callback queue (docs/phone.md)
        return rows, tiles

    def _answered_by_name(self, call: dict[str, Any]) -> str:
        """The name of the CSR whose softphone answered a call nobody claimed ("" otherwise)."""
        identity = call.get("answered_by") or ""
        if not identity or call.get("agent_id"):
            return ""
        return next((u["name"] for u in self._users.values() if u.get("username") == identity), identity)

    def calls_committed(self, calls: list[dict[str, Any]]) -> None:
        """Calls this instance just committed (the call desk's rows, on the loop): on the floor at once,
        without reading the store — a supervisor sees a call event as soon as it is stored. The next
        tick reads the store again (staleness, commits on other instances)."""
        if self.sessions is None or not self._loaded:
            return
        now = self.clock()
        self._generation += 1
        changed, removed = [], []
        agents_moved = False  # only a call with a CSR on it can change an agent's row
        for call in calls:
            cid = str(call["id"])
            self._touched[cid] = self._generation
            before = self._calls.get(cid)
            agents_moved = agents_moved or bool(call.get("agent_id") or (before or {}).get("agent_id"))
            if call.get("state") == CallState.ENDED.value or call.get("closed"):
                if self._calls.pop(cid, None) is not None:
                    removed.append(cid)
                continue
            row = {
                **call,
                "answered_by_name": self._answered_by_name(call),
                "stale": False,
                "last_event_at": utc_iso(now),
            }
            if not _same(before, row):
                self._calls[cid] = row
                changed.append(row)
        agents = self._agents_delta(now) if agents_moved and (changed or removed) else []
        if changed or removed or agents:
            self._broadcast(
                encode(
                    FloorDelta(calls=changed or None, agents=agents or None, removed_calls=removed or None)
                )
            )

    async def refresh(self, kpis: bool = False) -> None:
        if self.sessions is None:
            return
        now = self.clock()
        generation = self._generation
        rows, tiles, read_cpu = await asyncio.to_thread(self._read, now, kpis)
        async with self._lock:
            # A call committed here while the store was being read: what the commit said wins over
            # what the read saw (an ended call must not come back for a moment).
            for cid, seen in list(self._touched.items()):
                if seen > generation:
                    if cid in self._calls:
                        rows[cid] = {**self._calls[cid], "stale": rows.get(cid, {}).get("stale", False)}
                    else:
                        rows.pop(cid, None)
                else:
                    del self._touched[cid]
            changed = [r for cid, r in rows.items() if not _same(self._calls.get(cid), r)]
            removed = [cid for cid in self._calls if cid not in rows]
            self._calls = rows
            agents = self._agents_delta(now)
            if changed or removed or agents:
                self._broadcast(
                    encode(
                        FloorDelta(
                            calls=changed or None, agents=agents or None, removed_calls=removed or None
                        )
                    )
                )
            if tiles is not None:
                started = time.thread_time()
                self.kpi_cpu_s += read_cpu
                self.ticks += 1
                self._kpis = tiles
                self._broadcast(encode(FloorKpis(kpis=tiles)))
                self.kpi_cpu_s += time.thread_time() - started

    # -- subscribers -----------------------------------------------------------------------------------------
    async def subscribe(self, ws: Any, request_id: str | None) -> None:
        """Send the whole floor now, then deltas: nothing between the two is lost or stale."""
        await self.ensure_loaded()
        await self.refresh(kpis=True)
        async with self._lock:
            agents = self._agents_delta(self.clock())
            if agents:  # the other subscribers first: the rows that changed since their last delta
                self._broadcast(encode(FloorDelta(agents=agents)))
            snapshot = FloorSnapshot(
                id=request_id,
                calls=list(self._calls.values()),
                agents=sorted(self._agents.values(), key=lambda r: (r["name"].casefold(), r["user_id"])),
                kpis=self._kpis,
            )
            try:
                await ws.send(encode(snapshot))
            except Exception:  # noqa: BLE001 - a closed socket: nothing to subscribe
                return
            self.subscribers.add(ws)
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def unsubscribe(self, ws: Any) -> None:
        self.subscribers.discard(ws)

    async def _tick(self) -> None:
        while self.subscribers:
            await asyncio.sleep(self.tick)
            if not self.subscribers:
                return
            try:
                await self.refresh(kpis=True)
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("event=floor_tick_failed")

    def _broadcast(self, text: str) -> None:
        if self.subscribers:
            broadcast(list(self.subscribers), text)

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
