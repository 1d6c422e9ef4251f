"""`csr-server`'s websocket endpoint: one task per console connection.

Each frame is validated (sync/protocol.py) before anything acts on it; a bad frame gets an error
message and the connection lives on (unless the error is fatal, e.g. a foreign console id). Database
work runs in a thread so one console's push never stalls another's pull. After every commit, every
connected console gets a ``poke`` and pulls from its cursor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import websockets
from websockets.asyncio.server import ServerConnection, broadcast, serve

from models.validation import ValidationFailed

from .address_limit import DEFAULT_MAX_PER_ADDRESS, AddressLimit, peer_address
from .apply import Applier, current_version
from .floor import Floor
from .phone_seats import NoSeat, SeatRefused, seat_for_user, set_own_devices
from .protocol import (
    MAX_FRAME_BYTES,
    MIN_PROTOCOL_VERSION,
    PATCH_PROTOCOL,
    PROTOCOL_VERSION,
    AgentStateSet,
    CallUpdate,
    Change,
    ClaimCall,
    Claimed,
    CloseStaleCall,
    Dial,
    Dialing,
    Fetch,
    GetRecording,
    Hello,
    ListPhoneSeats,
    LiveCalls,
    LoggedIn,
    Login,
    ManageUser,
    MyDevicesSet,
    PhoneSeatChanged,
    PhoneSeats,
    PhoneState,
    PhoneStateSet,
    Ping,
    Pong,
    ProtocolError,
    Pull,
    Push,
    Receipts,
    RecordingPiece,
    Rows,
    ScorecardRequest,
    ScorecardResult,
    SetAgentState,
    SetMyDevices,
    Snapshot,
    SnapshotPage,
    StaleClosed,
    SubscribeFloor,
    Unsubscribed,
    UnsubscribeFloor,
    UserManaged,
    Welcome,
    encode,
    parse_client_message,
)
from .pull_cache import PullCache

log = logging.getLogger("csr.server")
# Call commits are poked at most this often (seconds): the consoles got the call itself at once.
CALL_POKE_DELAY = 0.2
BROADCAST_SLICE = 64  # consoles written to before the loop may take other work


class Authenticator(Protocol):
    """Accounts as the endpoint needs them (sync/auth.py implements it)."""

    async def login(self, username: str, password: str) -> tuple[str, str, dict[str, Any]]:
        """(token, expires_at ISO, user) or ProtocolError(auth_failed / account_locked)."""

    async def verify(self, token: str) -> dict[str, Any]:
        """The user of a valid token, or ProtocolError(token_expired / token_invalid / token_revoked)."""

    def allowed(self, user: dict[str, Any], message_type: str) -> bool:
        """Whether the user's role may send this message type."""

    # Optional: ``mutation_allowed(user, mutation_name) -> bool`` — whether the role may push this
    # intent (sync/server_auth.py); a push with any refused intent is refused whole with ``forbidden``.
    # Optional: ``manage_user(actor, message)`` and ``phone_seats(actor)`` — the admins' users and seats
    # (sync/server_auth.py); without them those requests are answered ``internal``.


@dataclass
class RateLimit:
    """A token bucket per connection: a burst of ``burst`` messages, then ``per_second``."""

    per_second: float = 50.0
    burst: float = 200.0
    tokens: float = 200.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(eq=False)  # one per socket: identity, hashable, kept in a set
class Connection:
    ws: ServerConnection
    client_id: str = ""
    user: dict[str, Any] | None = None
    limit: RateLimit = field(default_factory=RateLimit)
    on_floor: bool = False  # counted present on the floor (sync/floor.py)
    live: bool = False  # welcomed: live messages (calls, own agent state) may follow
    agent_state: bool = False  # the client asked for its user's agent state to be pushed (hello)
    protocol: int = MIN_PROTOCOL_VERSION  # what its hello said (below PATCH_PROTOCOL: patches expanded)


class SyncServer:
    def __init__(
        self,
        applier: Applier,
        auth: Authenticator,
        *,
        on_commit: Callable[[int], None] | None = None,
        stale_call_minutes: float = 120.0,
        floor_tick: float = 1.0,
        agent_offline_seconds: float = 15.0,
        max_connections_per_address: int = DEFAULT_MAX_PER_ADDRESS,
    ) -> None:
        self.applier = applier
        # ``pull`` answers read and encoded once for every console at the same cursor (sync/pull_cache.py).
        self.pulls = PullCache(applier.changes_since)
        # The supervisors' floor (sync/floor.py): agent states, live calls, KPIs.
        self.floor = Floor(
            getattr(applier, "sessions", None),
            stale_after=timedelta(minutes=stale_call_minutes),
            tick=floor_tick,
            offline_grace=agent_offline_seconds,
        )
        self.floor.on_agents = self._agents_changed
        self.auth = auth
        self.connections: set[Connection] = set()
        self.address_limit = AddressLimit(max_connections_per_address)  # sync/address_limit.py
        self.on_commit = on_commit  # e.g. publish to other instances (PostgreSQL NOTIFY / Redis)
        # Told of every committed version, here or on another instance (the Web Scheduler drops its
        # availability reads: sync/web_scheduler.py WebScheduler.changed).
        self.version_listeners: list[Callable[[int], None]] = []
        self.calls: Any = None  # sync/call_desk.CallDesk when the server takes calls
        self._call_poke: asyncio.TimerHandle | None = None  # a coalesced poke after call commits
        self._outgoing: deque[str] = deque()  # ``call`` messages on their way to every console
        self._sender: asyncio.Task[None] | None = None
        self._call_version = 0
        self._poke_to = 0  # the newest version to poke for
        self._poked = 0  # the version of the last poke sent
        self._poke_base = 0  # where up-to-date consoles stand: a poke carries the changes after it
        self._poker: asyncio.Task[None] | None = None
        self.dialer: Any = None  # sync/telephony/twilio_rest.TwilioRest when it places calls too
        self.media: Any = None  # sync/media.MediaFetcher when it can fetch the phone company's recordings
        # Tell the other instances a user's seat changed here (sync/fanout.py PgFanout.publish_seat).
        self.publish_seat: Callable[[str], None] | None = None
        self._seats_noted: dict[str, None] = {}  # user ids whose seat another instance changed, in order
        self._seat_reader: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        """Stop the server's own tasks (the coalesced poke, the call sender, the floor's KPI ticker); call
        after the endpoint closed. Left running, they would outlive the event loop they were made on."""
        if self._call_poke is not None:
            self._call_poke.cancel()
            self._call_poke = None
        for task in (self._sender, self._poker, self._seat_reader):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.floor.close()

    def attach_calls(self, desk: Any) -> None:
        """Take calls: the desk's commits reach every console here at once (``call`` messages)."""
        self.calls = desk
        desk.on_committed = self.calls_committed
        desk.available = self.floor.available_usernames  # Available agents are rung first

    def calls_committed(
        self, version: int, calls: list[dict[str, Any]], taken_from: str | None = None
    ) -> None:
        """Calls changed here: each console gets the calls now, then a poke for the change log."""
        # The floor first: a supervisor's board must not wait behind hundreds of consoles' sends.
        self.floor.calls_committed(calls)
        self._outgoing.extend(encode(CallUpdate(call=call, taken_from=taken_from)) for call in calls)
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_calls())
        if version:
            self._poke_soon(version)
            if self.on_commit:
                self.on_commit(version)

    async def _send_calls(self) -> None:
        """``call`` messages to every signed-in console, in commit order, BROADCAST_SLICE connections at a
        time: between slices the loop takes the next webhook, so a call centre's hundreds of consoles
        don't hold up the next call event (each message still reaches every console in order)."""
        while self._outgoing:
            text = self._outgoing.popleft()
            targets = [c.ws for c in self.connections if c.user is not None]
            for start in range(0, len(targets), BROADCAST_SLICE):
                if start:
                    await asyncio.sleep(0)
                broadcast(targets[start : start + BROADCAST_SLICE], text)

    def _poke_soon(self, version: int) -> None:
        """The poke after a call commit, coalesced over CALL_POKE_DELAY: the consoles already have the call
        (the ``call`` message); the poke only brings the call rows into their caches, and one pull for a
        burst of call events costs every console and the server less than one per event."""
        self._call_version = max(self._call_version, version)
        if self._call_poke is None:
            self._call_poke = asyncio.get_running_loop().call_later(CALL_POKE_DELAY, self._poke_calls)

    def _poke_calls(self) -> None:
        self._call_poke = None
        self.poke_all(self._call_version)

    def signed_in_agents(self) -> list[str]:
        """Who is at a console right now (their user names: the softphone identities to ring)."""
        return list(
            dict.fromkeys(
                c.user.get("username", "")
                for c in self.connections
                if c.user is not None and c.user.get("username")
            )
        )

    async def serve(self, host: str, port: int, ssl: Any = None) -> Any:
        # No per-message deflate: on a call centre's LAN it costs more CPU than the bytes it saves
        # (a 1M-customer initial sync spends more time compressing than reading its pages).
        return await serve(
            self.handle,
            host,
            port,
            max_size=MAX_FRAME_BYTES,
            ssl=ssl,
            compression=None,
            ping_interval=20,
            ping_timeout=20,
        )

    def poke_all(self, version: int) -> None:
        """Tell every authenticated console that the change log grew (also for commits elsewhere)."""
        self.pulls.seen(version)
        for listener in self.version_listeners:
            listener(version)
        self._poke_to = max(self._poke_to, version)
        if self._poker is None or self._poker.done():
            self._poker = asyncio.get_running_loop().create_task(self._send_pokes())

    async def _send_pokes(self) -> None:
        """Pokes in version order, coalesced; each carries the changes since the previous poke when they
        are few (sync/pull_cache.py PullCache.poke), so consoles that are up to date need not pull."""
        while self._poke_to > self._poked:
            version = self._poke_to
            for expand in (False, True):
                targets = [
                    c.ws
                    for c in self.connections
                    if c.user is not None and (c.protocol < PATCH_PROTOCOL) is expand
                ]
                if targets:  # nobody to tell: no change-log read either
                    broadcast(targets, await self.pulls.poke(self._poke_base or None, version, expand=expand))
            self._poked = version
            self._poke_base = max(self._poke_base, version)

    async def handle(self, ws: ServerConnection) -> None:
        address = peer_address(ws.remote_address)
        if not self.address_limit.acquire(address):
            log.warning("event=too_many_connections address=%s limit=%d", address, self.address_limit.limit)
            await ws.close(1008, "too many connections from this address")
            return
        conn = Connection(ws)
        self.connections.add(conn)
        try:
            async for frame in ws:
                if not conn.limit.take():
                    await self._send(conn, ProtocolError("rate_limited").to_message())
                    continue
                request_id = None
                try:
                    message = parse_client_message(frame)
                    request_id = message.id
                    await self._dispatch(conn, message)
                except ProtocolError as exc:
                    await self._send(conn, exc.to_message(request_id))
                    if exc.fatal:
                        await ws.close(1008, exc.code)
                        return
                except Exception:  # noqa: BLE001 - one bad request must not kill the connection
                    log.exception("request from %s failed", conn.client_id or "?")
                    await self._send(conn, ProtocolError("internal").to_message(request_id))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.address_limit.release(address)
            self.connections.discard(conn)
            self.floor.unsubscribe(ws)
            await self._signed_out(conn)

    async def _signed_in(self, conn: Connection, user: dict[str, Any]) -> None:
        """The connection is now this user's: the floor counts them present (once per connection)."""
        await self._signed_out(conn)
        conn.user = user
        try:
            await self.floor.connected(user)
            conn.on_floor = True
        except Exception:  # noqa: BLE001 - the floor is a view: signing in must not fail for it
            log.exception("event=floor_connect_failed user=%s", user.get("id"))

    async def _signed_out(self, conn: Connection) -> None:
        if conn.on_floor and conn.user is not None:
            conn.on_floor = False
            try:
                await self.floor.disconnected(conn.user)
            except Exception:  # noqa: BLE001
                log.exception("event=floor_disconnect_failed user=%s", conn.user.get("id"))

    async def _send(self, conn: Connection, message: Any) -> None:
        try:
            await conn.ws.send(encode(message))
        except websockets.ConnectionClosed:
            pass

    async def _dispatch(self, conn: Connection, message: Any) -> None:
        if isinstance(message, Ping):
            await self._send(conn, Pong(id=message.id))
            return
        if isinstance(message, Hello):
            await self._hello(conn, message)
            return
        if not conn.client_id:
            raise ProtocolError("bad_message", "Say hello first.")
        if isinstance(message, Login):
            extra = {"new_password": message.new_password} if message.new_password else {}
            token, expires_at, user = await self.auth.login(message.username, message.password, **extra)
            await asyncio.to_thread(self.applier.register, conn.client_id, user["id"])
            await self._signed_in(conn, user)
            await self._send(conn, LoggedIn(id=message.id, token=token, expires_at=expires_at, user=user))
            await self._send_live(conn)
            return
        if conn.user is None:
            raise ProtocolError("not_authenticated")
        if not self.auth.allowed(conn.user, message.type):
            raise ProtocolError("forbidden")
        if isinstance(message, Push):
            check = getattr(self.auth, "mutation_allowed", None)
            user = conn.user

            def allowed(name: str) -> bool:
                return check is None or bool(check(user, name))

            result = await asyncio.to_thread(
                self.applier.push, conn.client_id, conn.user["id"], list(message.mutations), allowed
            )
            self.pulls.seen(result.server_version)
            await self._send(conn, Receipts(id=message.id, receipts=result.receipts))
            if any(r.status == "applied" for r in result.receipts):
                self.poke_all(result.server_version)
                if self.on_commit:
                    self.on_commit(result.server_version)
        elif isinstance(message, ClaimCall):
            await self._claim(conn, message)
        elif isinstance(message, Dial):
            await self._dial(conn, message)
        elif isinstance(message, SetAgentState):
            try:
                agent, reasons = await self.floor.set_state(conn.user, message.state, message.reason)
            except ValueError as exc:
                raise ProtocolError("bad_state", str(exc)) from exc
            await self._send(conn, AgentStateSet(id=message.id, agent=agent, away_reasons=reasons))
        elif isinstance(message, SubscribeFloor):
            await self.floor.subscribe(conn.ws, message.id)
        elif isinstance(message, UnsubscribeFloor):
            self.floor.unsubscribe(conn.ws)
            await self._send(conn, Unsubscribed(id=message.id))
        elif isinstance(message, CloseStaleCall):
            await self._close_stale(conn, message)
        elif isinstance(message, ScorecardRequest):
            await self._scorecard(conn, message)
        elif isinstance(message, PhoneState):
            agent = await self.floor.set_phone(conn.user, message.state, message.message)
            await self._send(conn, PhoneStateSet(id=message.id, agent=agent))
        elif isinstance(message, GetRecording):
            await self._recording(conn, message)
        elif isinstance(message, ManageUser):  # admins: users (issue 19, sync/user_admin.py)
            manage = getattr(self.auth, "manage_user", None)
            if manage is None:
                raise ProtocolError("internal")
            managed = await manage(conn.user, message)
            await self._send(conn, UserManaged(id=message.id, action=message.action, user=managed))
            if "phone_seat" in managed:  # set_seat / clear_seat: the user's consoles re-sign their phone
                self._announce_seat(str(managed["id"]), managed["phone_seat"])
        elif isinstance(message, SetMyDevices):  # anyone: the sound devices of their own seat
            await self._set_my_devices(conn, message)
        elif isinstance(message, ListPhoneSeats):  # admins: the Users window's seat column
            seats = getattr(self.auth, "phone_seats", None)
            if seats is None:
                raise ProtocolError("internal")
            await self._send(conn, PhoneSeats(id=message.id, seats=await seats(conn.user)))
        elif isinstance(message, Fetch):
            found = await asyncio.to_thread(self.applier.fetch, [list(k) for k in message.keys])
            await self._send(
                conn,
                Rows(
                    id=message.id,
                    changes=[
                        Change(version=0, entity=e, entity_id=i, op=op, data=d) for e, i, op, d in found
                    ],
                ),
            )
        elif isinstance(message, Snapshot):
            columns, rows, after, done, version = await asyncio.to_thread(
                self.applier.snapshot, message.table, message.after, message.limit
            )
            self.pulls.seen(version)
            # Built by the server itself: no need to validate thousands of rows again.
            await self._send(
                conn,
                SnapshotPage.model_construct(
                    id=message.id,
                    table=message.table,
                    columns=columns,
                    rows=rows,
                    after=after,
                    done=done,
                    server_version=version,
                ),
            )
        elif isinstance(message, Pull):
            text = await self.pulls.answer(
                message.cursor, message.limit, message.id, expand=conn.protocol < PATCH_PROTOCOL
            )
            try:
                await conn.ws.send(text)
            except websockets.ConnectionClosed:
                pass

    async def _hello(self, conn: Connection, message: Hello) -> None:
        if not MIN_PROTOCOL_VERSION <= message.protocol <= PROTOCOL_VERSION:
            raise ProtocolError(
                "upgrade_required", details={"min": MIN_PROTOCOL_VERSION, "max": PROTOCOL_VERSION}, fatal=True
            )
        if conn.client_id and conn.client_id != message.client_id:
            # A connection speaks for one console: swapping ids would let one user's session push into
            # another console's sequence (and jam its outbox).
            raise ProtocolError("client_changed", fatal=True)
        conn.client_id = message.client_id
        conn.agent_state = message.agent_state
        conn.protocol = message.protocol
        prefix = None
        if message.token:
            user = await self.auth.verify(message.token)
            await asyncio.to_thread(self.applier.register, conn.client_id, user["id"])
            await self._signed_in(conn, user)
            prefix = await asyncio.to_thread(
                self.applier.claim_prefix, conn.client_id, user["id"], message.job_prefix
            )
        next_seq = await asyncio.to_thread(self.applier.next_seq, conn.client_id)

        def version() -> int:
            with self.applier.sessions() as session:
                return current_version(session)

        found = await asyncio.to_thread(version)
        self.pulls.seen(found)
        self._poke_base = max(self._poke_base, found)  # where a console that just pulled stands
        await self._send(
            conn,
            Welcome(
                id=message.id,
                server_version=found,
                user=conn.user,
                next_seq=next_seq,
                job_prefix=prefix,
            ),
        )
        if conn.user is not None:
            await self._send_live(conn)

    async def _send_live(self, conn: Connection) -> None:
        """What a console that just signed in shows at once: the calls in progress, and its user's own
        agent state with the company's away reasons."""
        conn.live = True
        if self.calls is not None:
            await self._send(conn, LiveCalls(calls=await asyncio.to_thread(self.calls.live_calls)))
        if conn.user is not None and conn.on_floor and conn.agent_state:
            try:
                reasons = await asyncio.to_thread(self.floor.away_reasons)
                agent = self.floor.agent_row(conn.user["id"])
            except Exception:  # noqa: BLE001 - the floor is a view: signing in must not fail for it
                log.exception("event=agent_state_read_failed user=%s", conn.user.get("id"))
                return
            await self._send(conn, AgentStateSet(agent=agent, away_reasons=reasons))

    def _agents_changed(self, rows: list[dict[str, Any]]) -> None:
        """Agent rows changed: each CSR's own consoles hear their new state (On call, back from Offline…)."""
        listening: dict[str, list[Any]] = {}
        for c in self.connections:
            if c.live and c.agent_state and c.user is not None:
                listening.setdefault(str(c.user.get("id")), []).append(c.ws)
        for row in rows:
            if row["user_id"] in listening:
                broadcast(listening[row["user_id"]], encode(AgentStateSet(agent=row)))

    async def _set_my_devices(self, conn: Connection, message: SetMyDevices) -> None:
        """The signed-in user's own seat, its three device names only: the user is the session's."""
        assert conn.user is not None
        sessions = getattr(self.applier, "sessions", None)
        if sessions is None:
            raise ProtocolError("internal")
        fields = {k: getattr(message, k) for k in ("input_device", "output_device", "ring_device")}
        try:
            seat = await asyncio.to_thread(set_own_devices, sessions, conn.user, fields)
        except NoSeat as exc:
            raise ProtocolError("devices_refused", str(exc), details={"reason": "no_seat"}) from None
        except SeatRefused as exc:
            raise ProtocolError("devices_refused", str(exc), details={"reason": "bad_device"}) from None
        await self._send(conn, MyDevicesSet(id=message.id, seat=seat))
        self._announce_seat(str(conn.user["id"]), seat)

    def _announce_seat(self, user_id: str, seat: dict[str, Any] | None) -> None:
        """A seat stored: the user's consoles here hear it at once, those on other instances by a note."""
        self._seat_changed(user_id, seat)
        if self.publish_seat is not None:
            try:
                self.publish_seat(user_id)
            except Exception:  # noqa: BLE001 - stored and answered: the others get it at reconnect
                log.exception("event=seat_publish_failed user=%s", user_id)

    def _seat_changed(self, user_id: str, seat: dict[str, Any] | None) -> None:
        """A user's seat was set or cleared (an admin), or its devices changed (the user): their consoles
        connected here get it at once. A console that has this very seat already (this instance's own
        ``seat:`` note coming back) gets nothing."""
        targets = []
        for c in self.connections:
            if c.user is not None and str(c.user.get("id")) == user_id:
                if "phone_seat" in c.user and c.user["phone_seat"] == seat:
                    continue
                c.user["phone_seat"] = seat
                targets.append(c.ws)
        if targets:
            broadcast(targets, encode(PhoneSeatChanged(seat=seat)))

    def seat_noted(self, user_id: str) -> None:
        """A ``seat:`` note (sync/fanout.py): some instance changed ``user_id``'s seat. Their consoles here
        get the seat as the store has it now, read off the event loop, one user at a time in the order
        noted (a later read never loses to an earlier one)."""
        self._seats_noted[user_id] = None
        if self._seat_reader is None or self._seat_reader.done():
            self._seat_reader = asyncio.get_running_loop().create_task(self._read_noted_seats())

    async def _read_noted_seats(self) -> None:
        sessions = getattr(self.applier, "sessions", None)
        while self._seats_noted:
            user_id = next(iter(self._seats_noted))
            del self._seats_noted[user_id]
            here = any(c.user is not None and str(c.user.get("id")) == user_id for c in self.connections)
            if not here or sessions is None:
                continue
            try:
                seat = await asyncio.to_thread(seat_for_user, sessions, user_id)
            except Exception:  # noqa: BLE001 - the console gets its seat in its next welcome
                log.warning("event=remote_seat_read_failed user=%s", user_id, exc_info=True)
                continue
            self._seat_changed(user_id, seat)

    async def _claim(self, conn: Connection, message: ClaimCall) -> None:
        if self.calls is None:
            raise ProtocolError("no_telephony")
        assert conn.user is not None
        try:
            version, call, previous = await asyncio.to_thread(
                self.calls.claim, message.call_id, conn.user["id"], message.takeover
            )
        except ValidationFailed as exc:
            raise ProtocolError("claim_refused", next(iter(exc.errors.values()), "")) from exc
        await self._send(conn, Claimed(id=message.id, call=call))
        self.calls_committed(version, [call], taken_from=previous)

    async def _recording(self, conn: Connection, message: GetRecording) -> None:
        """A piece of a call's recording, for a user who may hear it (sync/media.py): the role is checked
        on every piece, and the file comes from the phone company with the server's credentials."""
        from .media import MediaRefused, chunk, recording_of

        assert conn.user is not None
        sessions = getattr(self.applier, "sessions", None)
        if sessions is None:
            raise ProtocolError("no_telephony")
        user = conn.user
        try:
            url = await asyncio.to_thread(lambda: _in_session(sessions, recording_of, message.call_id, user))
            if self.media is None:
                raise MediaRefused(
                    "recording_unavailable",
                    "Recordings need the phone system's account on the server (--twilio-account-sid).",
                )
            body, kind = await self.media.fetch(url)
            data, next_offset, done = chunk(body, message.offset)
        except MediaRefused as exc:
            log.info("event=recording_refused user=%s call=%s code=%s", user.get("username", ""),
                     message.call_id, exc.code)  # fmt: skip
            raise ProtocolError(exc.code, str(exc)) from exc
        if message.offset == 0:
            log.info("event=recording_sent user=%s call=%s bytes=%d", user.get("username", ""),
                     message.call_id, len(body))  # fmt: skip
        await self._send(
            conn,
            RecordingPiece(
                id=message.id,
                call_id=message.call_id,
                content_type=kind,
                offset=message.offset,
                next_offset=next_offset,
                total=len(body),
                done=done,
                data=data,
            ),
        )

    async def _close_stale(self, conn: Connection, message: CloseStaleCall) -> None:
        if self.calls is None:
            raise ProtocolError("no_telephony")
        assert conn.user is not None
        try:
            version, calls = await asyncio.to_thread(
                self.calls.close_stale, message.call_id, conn.user["id"], self.floor.stale_after
            )
        except ValidationFailed as exc:
            raise ProtocolError("close_refused", next(iter(exc.errors.values()), "")) from exc
        log.info("event=close_stale user=%s call=%s", conn.user.get("username", ""), message.call_id)
        await self._send(conn, StaleClosed(id=message.id, call=calls[0]))
        self.calls.committed(version, calls)

    async def _scorecard(self, conn: Connection, message: ScorecardRequest) -> None:
        from datetime import date

        from models.kpis import day_bounds, load_call_facts, local_day, period_days, scorecard
        from models.setup import Role, User

        from .floor import company_settings, company_zone
        from .server_auth import scorecard_allowed

        if not scorecard_allowed(conn.user, message.user_id):
            raise ProtocolError("forbidden", "A CSR may see only their own scorecard.")
        sessions = self.floor.sessions
        if sessions is None:
            raise ProtocolError("internal")

        def compute() -> dict[str, Any]:
            from sqlalchemy import select

            with sessions() as session:
                tz = company_zone(company_settings(session))
                today = local_day(datetime.now(UTC), tz)
                try:
                    first, last = period_days(
                        message.period,
                        today,
                        date.fromisoformat(message.first) if message.first else None,
                        date.fromisoformat(message.last) if message.last else None,
                    )
                except ValueError as exc:
                    raise ProtocolError("bad_period", str(exc)) from exc
                start, _ = day_bounds(first, tz)
                _, end = day_bounds(last, tz)
                facts = load_call_facts(session, start, end)
                users = list(session.scalars(select(User)))
                names = {u.id: u.display_name or u.username for u in users}
                csrs = [u.id for u in users if u.active and Role(u.role or Role.CSR) is Role.CSR]
                return scorecard(facts, first, last, tz, names=names, user_id=message.user_id, everyone=csrs)

        card = await asyncio.to_thread(compute)
        await self._send(conn, ScorecardResult(id=message.id, period=message.period, **card))

    async def _dial(self, conn: Connection, message: Dial) -> None:
        """Click-to-call: the phone system rings the CSR's softphone, then the customer. The call itself
        arrives through the webhooks (Outbound, the CSR's, linked by the number)."""
        from models.call_rules import caller_number

        assert conn.user is not None
        number = caller_number(message.number)
        if not number:
            raise ProtocolError(
                "dial_failed", f"“{message.number.strip()}” isn't a phone number that can be dialed."
            )
        if self.dialer is None:
            raise ProtocolError(
                "dial_failed",
                "Calling out needs the phone system's account (--twilio-account-sid)."
                if self.calls is not None
                else "Calling out needs the phone system: this server takes no calls (--http-port).",
            )
        from .telephony.twilio_rest import DialFailed

        try:
            username = str(conn.user.get("username") or "")
            seats = getattr(self.calls, "seat_addresses", dict)
            seat = (await asyncio.to_thread(seats)).get(username, "")
            if seat:  # a CSR with a SIP seat is rung there (docs/phone.md)
                sid = await self.dialer.place_call(username, number, seat)
            else:
                sid = await self.dialer.place_call(username, number)
        except DialFailed as exc:
            raise ProtocolError("dial_failed", str(exc)) from exc
        log.info(
            "event=dial user=%s customer=%s call=%s",
            conn.user.get("username", ""),
            message.customer_id or "-",
            sid,
        )
        await self._send(conn, Dialing(id=message.id, provider_call_id=sid))


def _in_session(sessions: Any, fn: Callable[..., Any], *args: Any) -> Any:
    with sessions() as session:
        return fn(session, *args)
