"""The supervisors' floor (ARCHITECTURE.md "Supervisor"): the live calls, every agent's state and the
KPI tiles, kept by the server and pushed to subscribed supervisors — a full ``floor_snapshot`` when
they subscribe (again after every reconnect: never stale rows), then ``floor_delta`` on every change
(call events, claims, agent state changes, connect / disconnect) and ``floor_kpis`` every tick,
computed once per tick for all subscribers.

The calls come from the store (a refresh after every commit that touched calls, and every tick while
someone watches), so calls taken on another instance and calls that turn stale with time show up too.
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
from models.calls import Call, CallEvent, CallState
from models.customers import Customer
from models.kpis import day_bounds, live_kpis, load_call_facts, local_day
from models.setup import Campaign, CompanySetting, Role, User
from models.timeutil import as_utc, zone

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
    return as_utc(value).isoformat() if value is not None else None


class Floor:
    def __init__(self, sessions: sessionmaker[Session] | None, *, stale_after: timedelta = timedelta(minutes=120),
                 tick: float = 1.0, offline_grace: float = 15.0,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.stale_after = stale_after
        self.tick = tick
        self.offline_grace = timedelta(seconds=offline_grace)
        self.clock = clock
        self.subscribers: set[Any] = set()          # websockets of subscribed supervisors
        self.ticks = 0                              # KPI computations so far (one per tick, whoever watches)
        # CPU seconds those ticks cost: the read and the tiles in the worker thread, the message on the
        # loop (``time.thread_time``, so other work on either thread is not counted).
        self.kpi_cpu_s = 0.0
        self._users: dict[str, dict[str, str]] = {}     # id -> name, username, role
        self._chosen: dict[str, list[Any]] = {}         # id -> [state, reason, since, left_at]
        self._presence: dict[str, int] = {}
        self._calls: dict[str, dict[str, Any]] = {}     # active calls as last sent
        self._agents: dict[str, dict[str, Any]] = {}    # agent rows as last sent
        self._kpis: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._loaded = False
        self._started = clock()
        self._ticker: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self._again = False
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
            users = {u.id: {"name": u.display_name or u.username, "username": u.username,
                            "role": Role(u.role).value if u.role else Role.CSR.value}
                     for u in session.scalars(select(User).where(User.active))}
            states = {r.user_id: (AgentState(r.state), r.reason or "", as_utc(r.since),
                                  as_utc(r.left_at) if r.left_at else None)
                      for r in session.scalars(select(AgentStateRow))}
        return users, states

    def _save(self, user_id: str) -> None:
        if self.sessions is None:
            return
        state, reason, since, left_at = self._chosen[user_id]
        with self.sessions.begin() as session:
            row = session.get(AgentStateRow, user_id)
            if row is None:
                session.add(AgentStateRow(user_id=user_id, state=AgentState(state).value, reason=reason, since=since,
                                          left_at=left_at))
            else:
                row.state, row.reason, row.since, row.left_at = AgentState(state).value, reason, since, left_at

    # -- agents ----------------------------------------------------------------------------------------------
    def _on_call(self, user_id: str) -> tuple[str, datetime] | None:
        for row in self._calls.values():
            if row.get("agent_id") == user_id and row.get("state") in ON_CALL_STATES:
                return row["id"], datetime.fromisoformat(row.get("answered_at") or row["started_at"])
        return None

    def _agent_row(self, user_id: str, now: datetime) -> dict[str, Any]:
        user = self._users.get(user_id, {})
        # Never signed in: Offline since the server started.
        state, reason, since, left_at = self._chosen.get(user_id) or [AgentState.AVAILABLE, "", self._started, None]
        connected = self._presence.get(user_id, 0) > 0 or (
            left_at is not None and now - left_at < self.offline_grace)      # a blip is not Offline
        eff = effective_state(chosen=AgentState(state), reason=reason, since=since, connected=connected,
                              left_at=left_at, call=self._on_call(user_id))
        return {"user_id": user_id, "name": user.get("name", ""), "state": eff.state.value, "reason": eff.reason,
                "since": _iso(eff.since), "call_id": eff.call_id}

    def _agent_ids(self) -> list[str]:
        ids = [uid for uid, u in self._users.items() if u.get("role") == Role.CSR.value]
        ids += [uid for uid in (*self._chosen, *self._presence) if uid in self._users]
        return list(dict.fromkeys(ids))

    def agent_rows(self, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or self.clock()
        rows = [self._agent_row(uid, now) for uid in self._agent_ids()]
        return sorted(rows, key=lambda r: (r["name"].casefold(), r["user_id"]))

    def available_usernames(self) -> set[str]:
        """The signed-in agents whose floor state is Available now (they are rung first)."""
        now = self.clock()
        return {self._users[uid]["username"] for uid, n in self._presence.items()
                if n > 0 and uid in self._users and self._agent_row(uid, now)["state"] == AgentState.AVAILABLE.value}

    async def connected(self, user: dict[str, Any]) -> None:
        await self.ensure_loaded()
        uid = str(user["id"])
        self._users.setdefault(uid, {"name": str(user.get("display_name") or user.get("username") or ""),
                                     "username": str(user.get("username") or ""),
                                     "role": str(user.get("role") or Role.CSR.value)})
        now = self.clock()
        before = self._presence.get(uid, 0)
        self._presence[uid] = before + 1
        if before == 0:
            chosen = self._chosen.get(uid)
            if chosen is None or (chosen[3] is not None and now - chosen[3] >= self.offline_grace):
                self._chosen[uid] = [AgentState.AVAILABLE, "", now, None]      # back after being Offline
            else:
                chosen[3] = None                                                # back within the grace
            await asyncio.to_thread(self._save, uid)
        await self._push_agents()

    async def disconnected(self, user: dict[str, Any]) -> None:
        uid = str(user["id"])
        left = self._presence.get(uid, 0) - 1
        if left > 0:
            self._presence[uid] = left
            return
        self._presence.pop(uid, None)
        chosen = self._chosen.get(uid)
        if chosen is not None:
            chosen[3] = self.clock()
            await asyncio.to_thread(self._save, uid)
        await self._push_agents()

    async def set_state(self, user: dict[str, Any], state: str, reason: str) -> tuple[dict[str, Any], list[str]]:
        """The CSR chose a state: (their agent row, the away reasons); ValueError when refused."""
        await self.ensure_loaded()
        uid = str(user["id"])
        reasons = await asyncio.to_thread(self.away_reasons)
        chosen_state, chosen_reason = check_choice(state, reason.strip(), reasons)
        current = self._chosen.get(uid)
        if current is None or (AgentState(current[0]), current[1]) != (chosen_state, chosen_reason):
            self._chosen[uid] = [chosen_state, chosen_reason, self.clock(), None if self._presence.get(uid) else
                                 (current[3] if current else None)]
            await asyncio.to_thread(self._save, uid)
        await self._push_agents()
        return self._agent_row(uid, self.clock()), reasons

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
    def _read(self, now: datetime, kpis: bool) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None, float]:
        """The active calls as floor rows, and (``kpis``) the tiles — one read for every subscriber."""
        assert self.sessions is not None
        started = time.thread_time()
        rows, tiles = self._read_rows(now, kpis)
        return rows, tiles, time.thread_time() - started

    def _read_rows(self, now: datetime, kpis: bool) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        assert self.sessions is not None
        with self.sessions() as session:
            calls = list(session.scalars(select(Call).where(Call.state != CallState.ENDED)
                                         .order_by(Call.started_at).limit(MAX_FLOOR_CALLS)))
            ids = [c.id for c in calls]
            last = dict(session.execute(select(CallEvent.call_id, func.max(CallEvent.received_at))
                                        .where(CallEvent.call_id.in_(ids)).group_by(CallEvent.call_id)).all()) \
                if ids else {}
            agents = {c.agent_id for c in calls if c.agent_id}
            names = {u.id: u.display_name or u.username
                     for u in session.scalars(select(User).where(User.id.in_(agents)))} if agents else {}
            camp_ids = {c.campaign_id for c in calls if c.campaign_id}
            campaigns = dict(session.execute(select(Campaign.id, Campaign.name)
                                             .where(Campaign.id.in_(camp_ids))).all()) if camp_ids else {}
            cust_ids = {c.customer_id for c in calls if c.customer_id}
            customers = dict(session.execute(select(Customer.id, Customer.name)
                                             .where(Customer.id.in_(cust_ids))).all()) if cust_ids else {}
            rows = {}
            for c in calls:
                row = call_info(c, names, campaigns)
                heard = as_utc(last.get(c.id) or c.started_at)
                row["customer_name"] = customers.get(c.customer_id or "", "") or ""
                row["stale"] = now - heard >= self.stale_after
                row["last_event_at"] = heard.isoformat()
                rows[c.id] = row
            tiles = None
            if kpis:
                tz = company_zone(company_settings(session))
                start, end = day_bounds(local_day(now, tz), tz)
                tiles = live_kpis(load_call_facts(session, start, end, active=True), now, tz)
        return rows, tiles

    def poke(self) -> None:
        """Calls changed (a commit here): refresh the floor from the store (coalesced)."""
        if self.sessions is None or not self._loaded:
            return
        if self._refreshing is not None and not self._refreshing.done():
            self._again = True
            return
        self._refreshing = asyncio.get_running_loop().create_task(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while True:
            self._again = False
            try:
                await self.refresh()
            except Exception:  # noqa: BLE001 - the next change or tick tries again
                log.exception("event=floor_refresh_failed")
            if not self._again:
                return

    async def refresh(self, kpis: bool = False) -> None:
        if self.sessions is None:
            return
        now = self.clock()
        rows, tiles, read_cpu = await asyncio.to_thread(self._read, now, kpis)
        async with self._lock:
            changed = [r for cid, r in rows.items() if self._calls.get(cid) != r]
            removed = [cid for cid in self._calls if cid not in rows]
            self._calls = rows
            agents = self._agents_delta(now)
            if changed or removed or agents:
                self._broadcast(encode(FloorDelta(calls=changed or None, agents=agents or None,
                                                  removed_calls=removed or None)))
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
            if agents:          # the other subscribers first: the rows that changed since their last delta
                self._broadcast(encode(FloorDelta(agents=agents)))
            snapshot = FloorSnapshot(id=request_id, calls=list(self._calls.values()),
                                     agents=sorted(self._agents.values(),
                                                   key=lambda r: (r["name"].casefold(), r["user_id"])),
                                     kpis=self._kpis)
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
        for task in (self._ticker, self._refreshing):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
