"""The console's sync client (Qt-free, asyncio): pushes the outbox in order, drops each entry once
its receipt arrives, pulls the change log by cursor into the cache, and reconnects with exponential
backoff and jitter on a timer — never waiting for a new local write (ARCHITECTURE.md sync rules 2, 6).

The console wires it to the window with plain callbacks; nothing here knows about Qt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import websockets
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import search_index
from models.db import Cache
from models.journal import OutboxEntry, oldest_pending
from models.sync_tables import NOT_SYNCED, AckedEdit, SyncState
from models.writer import client_id as cache_client_id
from models.writer import session_executor

from .changes import _LINK_TABLES, _MAPPERS, apply_change
from .protocol import ERROR_CODES, MAX_FETCH_KEYS, MAX_MUTATIONS_PER_PUSH, PROTOCOL_VERSION
from .snapshot import SNAPSHOT_KEY, SnapshotLoader

log = logging.getLogger("csr.sync.client")
CURSOR_KEY = "pull_cursor"
# Messages handed on as they arrive (never queued for the session): live calls and the floor.
LIVE_TYPES = frozenset({"call", "live_calls", "floor_snapshot", "floor_delta", "floor_kpis", "agent_state"})



APPLY_CHUNK = 200              # pulled changes per cache transaction (a few ms each)
REBASED = {"update_customer": ("customers", "customer_id"), "update_location": ("locations", "location_id"),
           "update_contact": ("contact_methods", "contact_id")}
_REBASED_TABLES = frozenset(table for table, _key in REBASED.values())


@dataclass
class SyncStatus:
    state: str = "offline"        # offline / connecting / syncing / online / upgrade_required / stuck
    pending: int = 0
    oldest_pending: datetime | None = None  # when the oldest queued change was made (UTC)
    last_sync: float = 0.0                  # time.time() of the last complete push + pull
    message: str = ""
    rejected: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    """A receipt worth telling the CSR about: a refused change, or a booking the server flagged."""

    kind: str                     # "rejected" / "flagged"
    name: str                     # the intent
    args: dict[str, Any]
    receipt: dict[str, Any]


@dataclass
class InitialProgress:
    rows_done: int
    rows_total: int
    table: str
    finished: bool = False
    timings: dict[str, float] = field(default_factory=dict)   # the final step's phases (finished only)


class SyncClient:
    def __init__(self, cache: Cache, url: str, token: Callable[[], str | None], *,
                 on_status: Callable[[SyncStatus], None] = lambda s: None,
                 on_pulled: Callable[[set[str]], None] = lambda ids: None,
                 on_outcomes: Callable[[list[Outcome]], None] = lambda outcomes: None,
                 on_initial: Callable[[InitialProgress], None] = lambda progress: None,
                 on_changes: Callable[[set[str]], None] = lambda entities: None,
                 on_calls: Callable[[list[dict[str, Any]], str | None, bool], None] = lambda c, t, full: None,
                 on_floor: Callable[[dict[str, Any]], None] = lambda message: None,
                 backoff: tuple[float, float] = (0.5, 30.0), page: int = 1000,
                 snapshot_page: int = 5000, ssl: Any = None, agent_state: bool = True) -> None:
        self.cache = cache
        self.agent_state = agent_state      # ask the server to push this user's agent state (on_floor)
        self.url = url
        self.token = token
        self.on_status = on_status
        self.on_pulled = on_pulled          # customer ids whose record changed
        self.on_outcomes = on_outcomes      # refused / flagged receipts: tell the CSR at once
        self.on_initial = on_initial        # initial sync progress
        self.on_changes = on_changes        # the entity kinds (tables) a pull touched
        # Live calls from the server: (calls, who had the call before a takeover, whether this is the
        # whole list sent after sign-in). They don't wait for a pull: the bubble must pop while it rings.
        self.on_calls = on_calls
        # The supervisors' floor: every floor_snapshot / floor_delta / floor_kpis message as it arrives
        # (a snapshot replaces everything shown; after a reconnect the client subscribes again itself).
        self.on_floor = on_floor
        self.floor_subscribed = False
        self._channel: _Channel | None = None
        self._request_no = 0
        self.snapshot_page = snapshot_page
        self.ssl = ssl
        self.backoff_min, self.backoff_max = backoff
        self.page = page
        self.status = SyncStatus()
        self._wake = asyncio.Event()
        self._stopping = False
        with cache.sessions.begin() as session:
            self.client_id = cache_client_id(session)

    # -- the UI's entry points ---------------------------------------------------------------------------
    def wake(self) -> None:
        """A local write happened (or the CSR pressed Sync now): push without waiting."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def claim(self, call_id: str, takeover: bool = False, timeout: float = 5.0) -> dict[str, Any]:
        """Claim a ringing call (the CSR clicked its bubble): the server decides. The call as claimed,
        or ClaimFailed with a sentence for the CSR (offline, someone else has it, it ended)."""
        channel = self._channel
        if channel is None or self.status.state not in ("online", "syncing"):
            raise ClaimFailed("Claiming needs the server — you're offline.")
        self._request_no += 1
        request_id = f"claim-{self._request_no}"
        try:
            answer = await channel.request({"type": "claim_call", "id": request_id, "call_id": call_id,
                                            "takeover": takeover}, timeout)
        except (TimeoutError, websockets.WebSocketException) as exc:
            raise ClaimFailed("The server didn't answer — try again.") from exc
        if answer.get("type") == "claimed":
            return answer["call"]
        raise ClaimFailed(answer.get("message") or "The call can't be claimed.")

    async def dial(self, number: str, customer_id: str | None = None, timeout: float = 15.0) -> str:
        """Click-to-call: the server asks the phone system to ring this CSR's softphone, then ``number``.
        The provider's call id, or DialFailed with a sentence for the CSR."""
        channel = self._channel
        if channel is None or self.status.state not in ("online", "syncing"):
            raise DialFailed("Calling out needs the server — you're offline.")
        self._request_no += 1
        message: dict[str, Any] = {"type": "dial", "id": f"dial-{self._request_no}", "number": number}
        if customer_id:
            message["customer_id"] = customer_id
        try:
            answer = await channel.request(message, timeout)
        except (TimeoutError, websockets.WebSocketException) as exc:
            raise DialFailed("The server didn't answer — try again.") from exc
        if answer.get("type") == "dialing":
            return str(answer.get("provider_call_id") or "")
        raise DialFailed(answer.get("message") or "The call couldn't be placed.")

    async def _request(self, message: dict[str, Any], expected: str, timeout: float,
                       offline: str = "That needs the server — you're offline.") -> dict[str, Any]:
        """Send a request beside the session and return its answer, or RequestFailed (code, message)."""
        channel = self._channel
        if channel is None or self.status.state not in ("online", "syncing"):
            raise RequestFailed("offline", offline)
        self._request_no += 1
        message = {**message, "id": f"{message['type']}-{self._request_no}"}
        try:
            answer = await channel.request(message, timeout)
        except (TimeoutError, websockets.WebSocketException) as exc:
            raise RequestFailed("no_answer", "The server didn't answer — try again.") from exc
        if answer.get("type") == expected:
            return answer
        raise RequestFailed(str(answer.get("code") or "error"),
                            answer.get("message") or ERROR_CODES.get(str(answer.get("code")), "Refused."))

    async def set_agent_state(self, state: str, reason: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """This CSR's state: "Available", "Away" (``reason`` one of the company's away reasons) or
        "Wrap-up". The ``agent_state`` answer: {"agent": row, "away_reasons": [...]}; RequestFailed
        (``bad_state``, ``offline``, …) otherwise."""
        return await self._request({"type": "set_agent_state", "state": state, "reason": reason},
                                   "agent_state", timeout)

    async def subscribe_floor(self, timeout: float = 10.0) -> dict[str, Any]:
        """Supervisors: the floor's snapshot (also handed to ``on_floor``), then deltas and KPIs through
        ``on_floor``; re-subscribed automatically after every reconnect. RequestFailed(``forbidden``) for
        a CSR."""
        answer = await self._request({"type": "subscribe_floor"}, "floor_snapshot", timeout)
        self.floor_subscribed = True
        return answer

    async def unsubscribe_floor(self, timeout: float = 5.0) -> None:
        self.floor_subscribed = False
        if self._channel is not None:
            await self._request({"type": "unsubscribe_floor"}, "floor_unsubscribed", timeout)

    async def close_stale_call(self, call_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Supervisors: end a stale call (the server records an ``ended`` event ``closed-stale``). The
        call as now ended and classified; RequestFailed(``close_refused`` / ``forbidden`` / …)."""
        answer = await self._request({"type": "close_stale_call", "call_id": call_id}, "stale_closed", timeout)
        return answer["call"]

    async def scorecard(self, period: str = "today", first: str | None = None, last: str | None = None,
                        user_id: str | None = None, timeout: float = 15.0) -> dict[str, Any]:
        """Scorecards of a period ("today", "yesterday", "week", "month", "custom" with ISO ``first`` /
        ``last``); a CSR must pass their own ``user_id`` (else RequestFailed(``forbidden``)). The
        ``scorecard_result`` message (rows, abandoned, campaigns, calls_per_hour, booking_rate_by_day)."""
        message: dict[str, Any] = {"type": "scorecard", "period": period}
        for key, value in (("first", first), ("last", last), ("user_id", user_id)):
            if value:
                message[key] = value
        return await self._request(message, "scorecard_result", timeout)

    async def _resubscribe(self, channel: Any) -> None:
        try:
            await channel.request({"type": "subscribe_floor", "id": "floor-resubscribe"}, 10.0)
        except (TimeoutError, websockets.WebSocketException):
            log.info("re-subscribing to the floor failed; the next reconnect tries again")

    def _live(self, message: dict[str, Any]) -> None:
        if str(message.get("type") or "").startswith("floor_") or message.get("type") == "agent_state":
            try:
                self.on_floor(message)
            except Exception:  # noqa: BLE001 - a bad floor message must not end the sync connection
                log.exception("a floor message could not be shown")
            return
        try:
            if message.get("type") == "call" and isinstance(message.get("call"), dict):
                self.on_calls([message["call"]], message.get("taken_from"), False)
            elif message.get("type") == "live_calls" and isinstance(message.get("calls"), list):
                self.on_calls([c for c in message["calls"] if isinstance(c, dict)], None, True)
        except Exception:  # noqa: BLE001 - a bad call message must not end the sync connection
            log.exception("a live call message could not be shown")

    # -- state ---------------------------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(self.status, k, v)
        self.status.pending = self.pending()
        self.status.oldest_pending = self.oldest_pending() if self.status.pending else None
        self.on_status(self.status)

    def pending(self) -> int:
        with self.cache.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxEntry)) or 0

    def oldest_pending(self) -> datetime | None:
        with self.cache.sessions() as session:
            return oldest_pending(session)

    def cursor(self) -> int:
        with self.cache.sessions() as session:
            row = session.get(SyncState, CURSOR_KEY)
            return row.value if row else 0

    # -- the loop --------------------------------------------------------------------------------------------
    async def run(self) -> None:
        self._stopping = False
        self._wake.clear()
        delay = self.backoff_min
        while not self._stopping:
            self._set(state="connecting")
            try:
                async with websockets.connect(self.url, max_size=2**23, open_timeout=10, ssl=self.ssl,
                                              close_timeout=2) as ws:
                    delay = self.backoff_min
                    channel = _Channel(ws, self._live)
                    try:
                        await self._session(channel)
                    finally:
                        self._channel = None
                        await channel.close()
            except (TimeoutError, OSError, websockets.WebSocketException, ValueError) as exc:
                log.info("sync connection lost: %s", exc)
            except Stuck as exc:
                # The server misses changes this console no longer has (e.g. its database was
                # restored from an old backup): say so, keep the queue, retry slowly.
                log.error("sync stuck: %s", exc)
                self._set(state="stuck", message=str(exc))
                await self._sleep(self.backoff_max)
                continue
            except UpgradeRequired as exc:
                self._set(state="upgrade_required", message=str(exc))
                return                      # the queue is kept; a newer console will send it
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - sync must outlive any one failure; it retries
                log.exception("sync step failed; retrying")
                self.status.message = f"Sync failed ({exc.__class__.__name__}); retrying."
            if self._stopping:
                break
            self._set(state="offline")
            # Exponential backoff with full jitter, on a timer: a network that comes back is noticed
            # within the delay even if the CSR writes nothing.
            await self._sleep(random.uniform(0, delay))
            delay = min(self.backoff_max, delay * 2)
        self._set(state="offline")

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        except TimeoutError:
            pass
        self._wake.clear()

    async def _session(self, ws: Any) -> None:
        await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client_id": self.client_id,
                                  "token": self.token(), "agent_state": self.agent_state}))
        welcome = await ws.next()
        while welcome.get("type") == "poke":            # a commit elsewhere raced our handshake
            ws.poked = True
            welcome = await ws.next()
        if welcome.get("type") == "error":
            if welcome.get("code") == "upgrade_required":
                raise UpgradeRequired(welcome.get("message", ""))
            raise websockets.WebSocketException(welcome.get("message", "refused"))
        if welcome.get("type") != "welcome":
            raise websockets.WebSocketException(f"unexpected answer to hello: {welcome.get('type')}")
        self._set(state="syncing", message="")
        self._channel = ws
        if self.floor_subscribed:
            # A reconnecting supervisor gets a whole new snapshot (through on_floor): never stale rows.
            ws.background(self._resubscribe(ws))
        await self._push(ws)
        if not self._flag(SNAPSHOT_KEY):
            await self._initial_sync(ws)
        await self._pull(ws)
        self._set(state="online", last_sync=time.time())
        while not self._stopping:
            if ws.poked:
                ws.poked = False
                await self._pull(ws)
                self._set(state="online", last_sync=time.time())
                continue
            incoming = asyncio.ensure_future(ws.next())
            woke = asyncio.ensure_future(self._wake.wait())
            done, _ = await asyncio.wait({incoming, woke}, return_when=asyncio.FIRST_COMPLETED)
            if woke in done:
                self._wake.clear()
                if incoming in done:
                    ws.unread(incoming.result())
                else:
                    incoming.cancel()
                    await asyncio.gather(incoming, return_exceptions=True)
                if self._stopping:
                    return
                await self._push(ws)
                await self._pull(ws)            # "Sync now" also pulls
                self._set(state="online", last_sync=time.time())
                continue
            woke.cancel()
            message = incoming.result()
            if message.get("type") == "poke":
                ws.poked = True

    async def _push(self, ws: Any) -> None:
        while True:
            with self.cache.sessions() as session:
                entries = {o.seq: o for o in session.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)
                                                             .limit(MAX_MUTATIONS_PER_PUSH))}
                for o in entries.values():
                    session.expunge(o)
            if not entries:
                self._set()
                return
            batch = [{"seq": o.seq, "mutation_id": o.mutation_id, "name": o.name, "args": o.args,
                      "created_at": o.created_at.isoformat()} for o in entries.values()]
            await ws.send(json.dumps({"type": "push", "mutations": batch}))
            try:
                answer = await self._answer(ws, "receipts")
            except Gap as gap:
                first = min(entries)
                if gap.expected < first:
                    raise Stuck(f"The server expects change #{gap.expected} from this PC, which it no longer "
                                f"has (its queue starts at #{first}). Call support; nothing here is lost.") \
                        from gap
                raise websockets.WebSocketException(str(gap)) from gap
            receipts = answer["receipts"]
            done = [r["seq"] for r in receipts if r["seq"] in entries]
            outcomes: list[Outcome] = []
            refetch: list[list[str]] = []
            cursor = self.cursor()
            acked: list[AckedEdit] = []
            for r in receipts:
                entry = entries.get(r["seq"])
                if entry is None:
                    continue
                if r["status"] == "applied" and entry.name in REBASED and r.get("server_version", 0) > cursor:
                    # Confirmed, not pulled yet: older pulled copies of the row get it again (models/sync_tables).
                    acked.append(AckedEdit(seq=entry.seq, server_version=int(r["server_version"]), name=entry.name,
                                           args=entry.args or {}))
                if r["status"] == "rejected":
                    outcomes.append(Outcome("rejected", entry.name, entry.args, r))
                    refetch += [list(k) for k in (entry.touched or [])]
                elif (r.get("result") or {}).get("warnings", {}).get("window"):
                    outcomes.append(Outcome("flagged", entry.name, entry.args, r))
            with self.cache.sessions.begin() as session:
                session.execute(delete(OutboxEntry).where(OutboxEntry.client_id == self.client_id,
                                                          OutboxEntry.seq.in_(done)))
                for edit in acked:
                    session.merge(edit)
            if refetch:
                # Undo what the refused changes did here: take the server's version of those rows.
                await self._refetch(ws, refetch)
            if outcomes:
                self.status.rejected.extend(o.receipt for o in outcomes if o.kind == "rejected")
                self.on_outcomes(outcomes)
            self._set()

    async def _refetch(self, ws: Any, keys: list[list[str]]) -> None:
        unique = list(dict.fromkeys(tuple(k) for k in keys))
        for start in range(0, len(unique), MAX_FETCH_KEYS):
            chunk = [list(k) for k in unique[start:start + MAX_FETCH_KEYS]]
            await ws.send(json.dumps({"type": "fetch", "keys": chunk}))
            answer = await self._answer(ws, "rows")
            touched, tables = await asyncio.to_thread(self._apply_changes, answer["changes"], None)
            if touched:
                self.on_pulled(touched)
            if tables:
                self.on_changes(tables)

    async def _pull(self, ws: Any) -> None:
        while True:
            cursor = self.cursor()
            await ws.send(json.dumps({"type": "pull", "cursor": cursor, "limit": self.page}))
            answer = await self._answer(ws, "changes")
            # Applied off the UI thread (a page can be thousands of rows), in one transaction with
            # the new cursor: a crash leaves either both or neither.
            touched, tables = await asyncio.to_thread(self._apply_changes, answer["changes"], answer["cursor"])
            if touched:
                self.on_pulled(touched)
            if tables:
                self.on_changes(tables)
            if not answer.get("more"):
                return

    def _apply_changes(self, changes: list[dict[str, Any]], cursor: int | None) -> tuple[set[str], set[str]]:
        """Apply pulled changes in short transactions (APPLY_CHUNK changes each), so a CSR's save never
        waits long for the cache's write lock; the cursor moves in the last one. Cut short, the page
        is pulled and applied again from the old cursor (applying a change twice is harmless)."""
        touched: set[str] = set()
        tables: set[str] = set()
        chunks = [changes[i:i + APPLY_CHUNK] for i in range(0, len(changes), APPLY_CHUNK)] or [[]]
        for n, chunk in enumerate(chunks):
            last = cursor if cursor is not None and n == len(chunks) - 1 else None
            try:
                with self.cache.sessions.begin() as session:
                    chunk_touched, chunk_tables = self._apply_chunk(session, chunk, last)
            except IntegrityError:
                # A row pointing at one this cache doesn't have (yet). The server checked it; a replica
                # that refused it would never sync again — apply it, and say so in the log.
                log.warning("pulled changes refer to rows this cache lacks; applied without reference checks",
                            exc_info=True)
                with self.cache.engine.connect() as conn:
                    raw = conn.connection.driver_connection     # outside any transaction: the pragma holds
                    raw.execute("PRAGMA foreign_keys = OFF")
                    try:
                        with Session(bind=conn) as session, session.begin():
                            chunk_touched, chunk_tables = self._apply_chunk(session, chunk, last)
                    finally:
                        raw.execute("PRAGMA foreign_keys = ON")
            touched |= chunk_touched
            tables |= chunk_tables
            time.sleep(0.001)           # let a waiting save in before the next chunk
        return touched, tables

    def _apply_chunk(self, session: Any, chunk: list[dict[str, Any]], cursor: int | None) -> tuple[set[str], set[str]]:
        # Fetched rows (version 0) are the server's current rows: every confirmed edit is in them.
        newest = max((c.get("version") or 0 for c in chunk), default=0)
        keys: set[tuple[str, str]] = set()
        tables: set[str] = set()
        touched: set[str] = set()
        for change in chunk:
            entity = change["entity"]
            if entity in NOT_SYNCED:
                continue                # never ours to write, whatever a server sends
            tables.add(entity)
            keys.add((entity, change["entity_id"]))
            customer = apply_change(session, entity, change["entity_id"], change["op"], change.get("data") or {})
            if customer:
                touched.add(customer)
        later = [(a.server_version, a.seq, a.name, a.args or {}) for a in session.scalars(
            select(AckedEdit).where(AckedEdit.server_version > newest))] if newest and keys else []
        touched |= self._rebase(session, keys, later)
        if touched:
            search_index.refresh(session_executor(session), sorted(touched))
        if cursor is not None:
            state = session.get(SyncState, CURSOR_KEY) or SyncState(key=CURSOR_KEY, value=0)
            state.value = cursor
            session.merge(state)
            session.execute(delete(AckedEdit).where(AckedEdit.server_version <= cursor))
        return touched, tables

    def _rebase(self, session: Any, keys: set[tuple[str, str]],
                acked: Sequence[tuple[int, int, str, dict[str, Any]]] = ()) -> set[str]:
        """Changes still in the outbox stay visible: a pulled row that one of them edits gets the
        edit again (the server will merge it when it arrives), so a CSR never sees their own
        unsent edit flicker back. ``acked``: confirmed edits newer than the pulled rows, the same."""
        touched: set[str] = set()
        if not keys:
            return touched
        pending = [(entry.seq, entry.name, entry.args or {}) for entry in session.scalars(
            select(OutboxEntry).where(OutboxEntry.name.in_(list(REBASED))).order_by(OutboxEntry.seq))]
        for _seq, name, args in sorted([(seq, name, args) for _v, seq, name, args in acked] + pending,
                                       key=lambda e: e[0]):
            table, id_key = REBASED[name]
            row_id = args.get(id_key)
            if (table, row_id) not in keys:
                continue
            mapper = _MAPPERS[table]
            row = session.get(mapper.class_, row_id)
            if row is None:
                continue
            for field_name, pair in (args.get("changes") or {}).items():
                if field_name in mapper.columns and isinstance(pair, list) and len(pair) == 2:
                    try:
                        setattr(row, field_name, pair[1])
                    except (TypeError, ValueError):
                        continue
            touched.add(row.customer_id if table != "customers" else row.id)
        session.flush()
        return touched

    def _rebase_copied(self, table: str, ids: set[str], since: int) -> None:
        with self.cache.sessions.begin() as session:
            acked = [(a.server_version, a.seq, a.name, a.args or {}) for a in session.scalars(
                select(AckedEdit).where(AckedEdit.server_version > since))]
            self._rebase(session, {(table, i) for i in ids}, acked)

    def _flag(self, key: str) -> int:
        with self.cache.sessions() as session:
            row = session.get(SyncState, key)
            return row.value if row else 0

    # -- initial sync ------------------------------------------------------------------------------------
    async def _initial_sync(self, ws: Any) -> None:
        """A new console copies the server's tables page by page (progress reported), then pulls the
        change log from the version read before the first page: a row that changes meanwhile is
        copied again by the pull, so the copy converges without locking anything."""
        await ws.send(json.dumps({"type": "snapshot", "table": "*"}))
        plan = await self._answer(ws, "snapshot_page")
        start_version = plan["server_version"]
        tables = [(t, int(n)) for t, n in plan["rows"] if t in _MAPPERS or t in _LINK_TABLES]
        total = sum(n for _, n in tables)
        done = 0
        self.on_initial(InitialProgress(0, total, tables[0][0] if tables else ""))
        loader = SnapshotLoader(self.cache)
        try:
            for table, _count in tables:
                await ws.send(json.dumps({"type": "snapshot", "table": table, "after": "",
                                          "limit": self.snapshot_page}))
                while True:
                    page = await self._answer(ws, "snapshot_page")
                    if not page["done"]:
                        # Ask for the next page before writing this one: the server reads while
                        # this console writes (one request in flight, so answers stay in order).
                        await ws.send(json.dumps({"type": "snapshot", "table": table, "after": page["after"],
                                                  "limit": self.snapshot_page}))
                    await asyncio.to_thread(loader.load, table, page["columns"], page["rows"])
                    if table in _REBASED_TABLES and "id" in page["columns"] and page["rows"]:
                        # This console's own edits still on their way (or confirmed after the copy was
                        # read) stay visible on the copied rows, as after a pull.
                        at = page["columns"].index("id")
                        await asyncio.to_thread(self._rebase_copied, table, {r[at] for r in page["rows"]},
                                                start_version)
                    done += len(page["rows"])
                    self.on_initial(InitialProgress(done, max(total, done), table))
                    if page["done"]:
                        break
            await asyncio.to_thread(loader.finish, start_version)
        finally:
            loader.close()
        self.on_initial(InitialProgress(done, max(total, done), "", finished=True, timings=loader.timings))

    async def _answer(self, ws: Any, expected: str) -> dict[str, Any]:
        """The reply to a request; pokes that arrive in between are remembered as a reason to pull."""
        while True:
            message = await ws.next()
            kind = message.get("type")
            if kind == expected:
                return message
            if kind == "poke":
                ws.poked = True
                continue
            if kind == "error":
                if message.get("code") == "gap":
                    raise Gap(int((message.get("details") or {}).get("expected_seq") or 0))
                raise websockets.WebSocketException(f"{message.get('code')}: {message.get('message')}")


class _Channel:
    """One reader task per connection: messages are read in order into a queue, so a request's
    answer and the pokes in between are never read by two coroutines at once."""

    def __init__(self, ws: Any, live: Callable[[dict[str, Any]], None] = lambda m: None) -> None:
        self.ws = ws
        self.poked = False
        self._live = live               # call updates: handed on as they arrive, never queued
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}     # requests made beside the session
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())
        self._tasks: set[asyncio.Task[Any]] = set()

    def background(self, coroutine: Any) -> None:
        """Run a request beside the session (cancelled with the connection)."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send a request whose answer (same ``id``) is routed here, not to the session's queue."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[message["id"]] = future
        try:
            await self.ws.send(json.dumps(message))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(message["id"], None)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                try:
                    message = json.loads(frame)
                except ValueError:
                    log.warning("ignored a frame from the server that is not JSON")
                    continue
                if not isinstance(message, dict):
                    continue
                kind = message.get("type")
                if kind in LIVE_TYPES:
                    self._live(message)
                    if message.get("id") in self._waiting:         # a floor_snapshot answering a request
                        future = self._waiting.pop(message["id"])
                        if not future.done():
                            future.set_result(message)
                elif message.get("id") in self._waiting:
                    future = self._waiting.pop(message["id"])
                    if not future.done():
                        future.set_result(message)
                else:
                    self._queue.put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(websockets.WebSocketException("the server closed the connection"))
            self._queue.put_nowait(None)

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def next(self) -> dict[str, Any]:
        message = await self._queue.get()
        if message is None:
            self._queue.put_nowait(None)          # every later reader learns it too
            raise websockets.WebSocketException("the server closed the connection")
        return message

    def unread(self, message: dict[str, Any]) -> None:
        """Put back a message taken by a wait that lost its race (it is read next)."""
        rest = []
        while not self._queue.empty():
            rest.append(self._queue.get_nowait())
        for m in (message, *rest):
            self._queue.put_nowait(m)

    async def close(self) -> None:
        self._reader.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(self._reader, *self._tasks, return_exceptions=True)


class UpgradeRequired(Exception):
    pass


class Stuck(Exception):
    pass


class Gap(Exception):
    def __init__(self, expected: int) -> None:
        super().__init__(f"the server expects change #{expected}")
        self.expected = expected


class LoginFailed(Exception):
    pass


class ClaimFailed(Exception):
    """A claim the server refused or couldn't be asked; the message is for the CSR."""


class RequestFailed(Exception):
    """A floor / agent state / scorecard request the server refused or couldn't be asked: ``code`` is the
    protocol's error code (or "offline" / "no_answer"), the message is for the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DialFailed(Exception):
    """A click-to-call the server refused or couldn't be asked; the message is for the CSR."""


async def login(server: str, console_id: str, user: str, password: str, timeout: float = 15.0) -> tuple[str, dict]:
    """hello + login over a short websocket; the token and the user, or LoginFailed in plain words."""
    try:
        async with websockets.connect(server, open_timeout=timeout, close_timeout=2,
                                      ssl=ssl.create_default_context() if server.startswith("wss://") else None) as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client_id": console_id}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if welcome.get("type") == "error":
                raise LoginFailed(welcome.get("message") or ERROR_CODES.get(welcome.get("code"), "Refused."))
            await ws.send(json.dumps({"type": "login", "username": user, "password": password}))
            while True:
                answer = json.loads(await asyncio.wait_for(ws.recv(), 90))
                if answer.get("type") != "poke":
                    break
    except LoginFailed:
        raise
    except (OSError, TimeoutError, websockets.WebSocketException, ValueError) as exc:
        raise LoginFailed(f"The server at {server} can't be reached ({exc.__class__.__name__}). "
                          "Check the address, or work offline: bookings are kept on this PC.") from exc
    if answer.get("type") == "logged_in":
        return answer["token"], answer["user"]
    raise LoginFailed(answer.get("message") or "Wrong user name or password.")
