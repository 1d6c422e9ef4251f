"""The console's sync client (Qt-free, asyncio): one connection at a time to the server, reconnecting
with exponential backoff and jitter on a timer — never waiting for a new local write (ARCHITECTURE.md
sync rules 2, 6). Each part of a session has one home:

- sync/channel.py — the connection's reader, and what a refusal of the session means;
- sync/pusher.py — the outbox in byte-sized batches, receipts, durable refusals and flags;
- sync/puller.py — the change log into the cache;
- sync/initial_copy.py — a new console's copy of the company's records;
- sync/requests.py — claim, dial, agent state, floor and scorecard requests beside the session.

The console wires it to the window with plain callbacks; nothing here knows about Qt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import websockets
from sqlalchemy import func, select, update

from models.db import Cache
from models.journal import ClientState, OutboxEntry, oldest_pending
from models.writer import client_id as cache_client_id

from .channel import LIVE_TYPES, Channel, Gap, SignInRequired, Stuck, UpgradeRequired, refused
from .initial_copy import InitialProgress, copy_initial
from .protocol import ERROR_CODES, PROTOCOL_VERSION
from .puller import APPLY_CHUNK, CURSOR_KEY, Puller
from .pusher import REBASED, Outcome, Pusher, acknowledge, unacknowledged
from .requests import ClaimFailed, DialFailed, RequestFailed, Requests
from .snapshot import SNAPSHOT_KEY

__all__ = [
    "APPLY_CHUNK",
    "CURSOR_KEY",
    "LIVE_TYPES",
    "REBASED",
    "ClaimFailed",
    "DialFailed",
    "Gap",
    "InitialProgress",
    "LoginFailed",
    "Outcome",
    "RequestFailed",
    "SignInRequired",
    "Stuck",
    "SyncClient",
    "SyncStatus",
    "UpgradeRequired",
    "acknowledge",
    "login",
    "unacknowledged",
]

log = logging.getLogger("csr.sync.client")


@dataclass
class SyncStatus:
    # offline / connecting / syncing / online / upgrade_required / stuck / signed_out (the server refused
    # the session: the CSR must sign in again; the queue waits)
    state: str = "offline"
    pending: int = 0
    oldest_pending: datetime | None = None  # when the oldest queued change was made (UTC)
    last_sync: float = 0.0  # time.time() of the last complete push + pull
    message: str = ""
    problems: int = 0  # refusals and flags the CSR has not acknowledged


class SyncClient:
    def __init__(
        self,
        cache: Cache,
        url: str,
        token: Callable[[], str | None],
        *,
        on_status: Callable[[SyncStatus], None] = lambda s: None,
        on_pulled: Callable[[set[str]], None] = lambda ids: None,
        on_outcomes: Callable[[list[Outcome]], None] = lambda outcomes: None,
        on_initial: Callable[[InitialProgress], None] = lambda progress: None,
        on_changes: Callable[[set[str]], None] = lambda entities: None,
        on_calls: Callable[[list[dict[str, Any]], str | None, bool], None] = lambda c, t, full: None,
        on_floor: Callable[[dict[str, Any]], None] = lambda message: None,
        on_seat: Callable[[dict[str, Any] | None], None] = lambda seat: None,
        backoff: tuple[float, float] = (0.5, 30.0),
        page: int = 1000,
        snapshot_page: int = 5000,
        ssl: Any = None,
        agent_state: bool = True,
        connect: Callable[[], Any] | None = None,
    ) -> None:
        self.cache = cache
        self.agent_state = agent_state  # ask the server to push this user's agent state (on_floor)
        self.url = url
        self.token = token
        self.on_status = on_status
        self.on_pulled = on_pulled  # customer ids whose record changed
        self.on_outcomes = on_outcomes  # refused / flagged receipts, stored: tell the CSR at once
        self.on_initial = on_initial  # initial sync progress
        self.on_changes = on_changes  # the entity kinds (tables) a pull touched
        # Live calls from the server: (calls, who had the call before a takeover, whether this is the
        # whole list sent after sign-in). They don't wait for a pull: the bubble must pop while it rings.
        self.on_calls = on_calls
        # The supervisors' floor: every floor_snapshot / floor_delta / floor_kpis message as it arrives
        # (a snapshot replaces everything shown; after a reconnect the client subscribes again itself).
        self.on_floor = on_floor
        # This user's SIP phone seat (or None): from each welcome, and live when an admin changes it.
        self.on_seat = on_seat
        self.ssl = ssl
        # How a connection is opened: a websocket to ``url`` (the deterministic simulation passes its own
        # in-memory link, bench/sim).
        self._connect = connect or (
            lambda: websockets.connect(
                self.url, max_size=2**23, open_timeout=10, ssl=self.ssl, close_timeout=2
            )
        )
        self._channel: Channel | None = None
        self.snapshot_page = snapshot_page
        self.backoff_min, self.backoff_max = backoff
        self.status = SyncStatus()
        self._counting: asyncio.Task[None] | None = None  # the outbox count on a worker thread
        self._recount = False
        self._wake = asyncio.Event()
        self._stopping = False
        self._told_ids: set[str] = set()
        with cache.sessions.begin() as session:
            self.client_id = cache_client_id(session)
        self.puller = Puller(
            cache, page, lambda ids: self.on_pulled(ids), lambda tables: self.on_changes(tables)
        )
        self.pusher = Pusher(
            cache,
            self.client_id,
            self.puller.cursor,
            self.puller.apply,
            lambda outcomes: self._told(outcomes),
            on_settled=lambda: self._set(),
        )
        self.requests = Requests(
            lambda: self._channel if self.status.state in ("online", "syncing") else None
        )

    # -- the UI's entry points ---------------------------------------------------------------------------
    def wake(self) -> None:
        """A local write happened (or the CSR pressed Sync now): push without waiting."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    @property
    def page(self) -> int:
        return self.puller.page

    @property
    def floor_subscribed(self) -> bool:
        return self.requests.floor_subscribed

    async def claim(self, call_id: str, takeover: bool = False, timeout: float = 5.0) -> dict[str, Any]:
        return await self.requests.claim(call_id, takeover, timeout)

    async def dial(self, number: str, customer_id: str | None = None, timeout: float = 15.0) -> str:
        return await self.requests.dial(number, customer_id, timeout)

    async def recording(self, call_id: str, timeout: float = 30.0) -> tuple[bytes, str]:
        return await self.requests.recording(call_id, timeout)

    async def set_agent_state(self, state: str, reason: str = "", timeout: float = 5.0) -> dict[str, Any]:
        return await self.requests.set_agent_state(state, reason, timeout)

    async def subscribe_floor(self, timeout: float = 10.0) -> dict[str, Any]:
        return await self.requests.subscribe_floor(timeout)

    async def unsubscribe_floor(self, timeout: float = 5.0) -> None:
        await self.requests.unsubscribe_floor(timeout)

    async def close_stale_call(self, call_id: str, timeout: float = 5.0) -> dict[str, Any]:
        return await self.requests.close_stale_call(call_id, timeout)

    async def scorecard(
        self,
        period: str = "today",
        first: str | None = None,
        last: str | None = None,
        user_id: str | None = None,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        return await self.requests.scorecard(period, first, last, user_id, timeout)

    async def manage_user(self, fields: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        return await self.requests.manage_user(fields, timeout)

    async def phone_seats(self, timeout: float = 15.0) -> dict[str, dict[str, Any]]:
        return await self.requests.phone_seats(timeout)

    async def set_my_devices(self, devices: dict[str, str], timeout: float = 15.0) -> dict[str, Any]:
        return await self.requests.set_my_devices(devices, timeout)

    def problems(self) -> list[Outcome]:
        """Refusals and flags the CSR has not acknowledged (they survive restarts and sign-outs)."""
        return unacknowledged(self.cache)

    def _live(self, message: dict[str, Any]) -> None:
        if message.get("type") == "phone_seat":
            self._seat(message.get("seat"))
            return
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

    def _seat(self, seat: Any) -> None:
        try:
            self.on_seat(dict(seat) if isinstance(seat, dict) else None)
        except Exception:  # noqa: BLE001 - a seat that can't be shown must not end the sync connection
            log.exception("a phone seat change could not be applied")

    def _told(self, outcomes: list[Outcome]) -> None:
        """Hand refusals and flags to the window, each once per client (they are stored already)."""
        outcomes = [o for o in outcomes if o.mutation_id not in self._told_ids]
        if not outcomes:
            return
        self._told_ids.update(o.mutation_id for o in outcomes)
        try:
            self.on_outcomes(outcomes)
        except Exception:  # noqa: BLE001 - they are stored: the window lists them again at its next start
            log.exception("refused or flagged changes could not be shown now")

    # -- state ---------------------------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        """The new state is told at once with the last known counts; the outbox is counted again on a
        worker thread and told when the count changed. Counting here, on the event loop — the
        console's UI thread — waited for the cache's write gate while the puller applied a chunk
        (60 of 100 UI stalls > 40 ms in a traced `csr-bench calls`)."""
        for k, v in changes.items():
            setattr(self.status, k, v)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a test helper): count here
            self.status.pending, self.status.oldest_pending = self._counts()
            self.on_status(self.status)
            return
        self.on_status(self.status)
        self._recount = True
        if self._counting is None or self._counting.done():
            self._counting = loop.create_task(self._count())

    async def _count(self) -> None:
        while self._recount:
            self._recount = False
            try:
                counts = await asyncio.to_thread(self._counts)
            except Exception:  # noqa: BLE001 - a count that failed is retried at the next change
                log.warning("the outbox could not be counted", exc_info=True)
                return
            if counts != (self.status.pending, self.status.oldest_pending):
                self.status.pending, self.status.oldest_pending = counts
                self.on_status(self.status)

    def _counts(self) -> tuple[int, datetime | None]:
        with self.cache.sessions() as session:
            pending = session.scalar(select(func.count()).select_from(OutboxEntry)) or 0
            return pending, oldest_pending(session) if pending else None

    def pending(self) -> int:
        with self.cache.sessions() as session:
            return session.scalar(select(func.count()).select_from(OutboxEntry)) or 0

    def oldest_pending(self) -> datetime | None:
        with self.cache.sessions() as session:
            return oldest_pending(session)

    def cursor(self) -> int:
        return self.puller.cursor()

    # -- the loop --------------------------------------------------------------------------------------------
    async def run(self) -> None:
        self._stopping = False
        self._wake.clear()
        delay = self.backoff_min
        # What a crash, a drop or a sign-out left unacknowledged is told again before anything else.
        self._told(await asyncio.to_thread(unacknowledged, self.cache))
        while not self._stopping:
            self._set(state="connecting")
            try:
                async with self._connect() as ws:
                    delay = self.backoff_min
                    channel = Channel(ws, self._live)
                    try:
                        await self._session(channel)
                    finally:
                        self._channel = None
                        await channel.close()
            except (TimeoutError, OSError, websockets.WebSocketException, ValueError) as exc:
                log.info("sync connection lost: %s", exc)
            except SignInRequired as exc:
                # Not a network failure: the token expired or was revoked (a password change). The queue
                # is kept and waits for a new sign-in (a new client with a fresh token sends it).
                log.warning("sync session refused: %s", exc.code)
                self._set(state="signed_out", message=str(exc))
                return
            except Stuck as exc:
                # The server misses changes this console no longer has (e.g. its database was
                # restored from an old backup): say so, keep the queue, retry slowly.
                log.error("sync stuck: %s", exc)
                self._set(state="stuck", message=str(exc))
                await self._sleep(self.backoff_max)
                continue
            except UpgradeRequired as exc:
                self._set(state="upgrade_required", message=str(exc))
                return  # the queue is kept; a newer console will send it
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

    async def _session(self, ws: Channel) -> None:
        prefix, confirmed = await asyncio.to_thread(self._prefix)
        hello: dict[str, Any] = {
            "type": "hello",
            "protocol": PROTOCOL_VERSION,
            "client_id": self.client_id,
            "token": self.token(),
            "agent_state": self.agent_state,
        }
        if prefix and not confirmed:
            hello["job_prefix"] = prefix  # minted offline: the server confirms it or issues another
        await ws.send(json.dumps(hello))
        welcome = await ws.next()
        while welcome.get("type") == "poke":  # a commit elsewhere raced our handshake
            ws.poked = True
            welcome = await ws.next()
        if welcome.get("type") == "error":
            raise refused(welcome)
        if welcome.get("type") != "welcome":
            raise websockets.WebSocketException(f"unexpected answer to hello: {welcome.get('type')}")
        if welcome.get("job_prefix"):
            await asyncio.to_thread(self._confirm_prefix, str(welcome["job_prefix"]))
        if isinstance(welcome.get("user"), dict):
            # The seat as it is now: one changed while this console was away (or by
            # `csr-server phone-seat` on a SQLite store, which can't tell a running server).
            self._seat(welcome["user"].get("phone_seat"))
        self._set(state="syncing", message="")
        self._channel = ws
        if self.requests.floor_subscribed:
            # A reconnecting supervisor gets a whole new snapshot (through on_floor): never stale rows.
            ws.background(self.requests.resubscribe(ws))
        # Rows a refused change wrote are put back first (a crash may have come between the receipt and
        # the restore), before anything else is sent or pulled.
        await self.pusher.restore(ws)
        # A drop or a crash may have come between storing a refusal or flag and telling the CSR: whatever is
        # stored and not yet told by this client is told now (found by csr-bench chaos --sim, seed 1201).
        self._told(await asyncio.to_thread(unacknowledged, self.cache))
        await self._push(ws)
        if not await asyncio.to_thread(self._flag, SNAPSHOT_KEY):
            await copy_initial(ws, self.cache, self.puller, self.snapshot_page, self.on_initial)
        await self.puller.pull(ws)
        self._set(state="online", last_sync=time.time())
        while not self._stopping:
            if ws.poked:
                ws.poked = False
                await self.puller.pull(ws)
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
                await self.puller.pull(ws)  # "Sync now" also pulls
                self._set(state="online", last_sync=time.time())
                continue
            woke.cancel()
            message = incoming.result()
            if message.get("type") == "poke":
                if await self._follow(ws, message):
                    self._set(state="online", last_sync=time.time())
                else:
                    ws.poked = True
            elif message.get("type") == "error":
                raise refused(message)

    async def _follow(self, ws: Channel, poke: dict[str, Any]) -> bool:
        """Apply the changes a poke carries — with those of the pokes already waiting behind it, in one
        transaction — when this cache is exactly where they start. False: pull instead (it covers every
        poke taken here)."""
        first = poke.get("after")
        if not isinstance(first, int):
            return False
        changes: list[dict[str, Any]] = []
        version = first
        for p in (poke, *ws.take_pokes()):
            more, after, to = p.get("changes"), p.get("after"), p.get("server_version")
            if not isinstance(more, list) or after != version or not isinstance(to, int):
                return False
            changes += more
            version = to
        if len(changes) > APPLY_CHUNK:
            return False
        return await self.puller.follow(changes, first, version)

    async def _push(self, ws: Channel) -> None:
        await self.pusher.push(ws)
        self._set()

    def _prefix(self) -> tuple[str, bool]:
        with self.cache.sessions() as session:
            state = session.scalar(select(ClientState).where(ClientState.client_id == self.client_id))
            return (state.job_prefix, bool(state.prefix_confirmed)) if state is not None else ("", False)

    def _confirm_prefix(self, prefix: str) -> None:
        """The server registered this console's job-number prefix (docs/job-numbers.md): later numbers use
        it. Numbers already given out with a provisional prefix the server renumbers if it must, and says so."""
        with self.cache.sessions.begin() as session:
            state = session.scalar(select(ClientState).where(ClientState.client_id == self.client_id))
            if state is None or (state.job_prefix == prefix and state.prefix_confirmed):
                return
            values: dict[str, Any] = {"job_prefix": prefix, "prefix_confirmed": True}
            if state.job_prefix != prefix:
                values["next_job_no"] = 1
            session.execute(
                update(ClientState).where(ClientState.client_id == self.client_id).values(**values)
            )

    def _flag(self, key: str) -> int:
        from models.sync_tables import SyncState

        with self.cache.sessions() as session:
            row = session.get(SyncState, key)
            return row.value if row else 0


class LoginFailed(Exception):
    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code  # the server's error code ("password_change_required": ask for a new one)


async def login(
    server: str,
    console_id: str,
    user: str,
    password: str,
    timeout: float = 15.0,
    new_password: str = "",
) -> tuple[str, dict]:
    """hello + login over a short websocket; the token and the user, or LoginFailed in plain words."""
    try:
        async with websockets.connect(
            server,
            open_timeout=timeout,
            close_timeout=2,
            ssl=ssl.create_default_context() if server.startswith("wss://") else None,
        ) as ws:
            await ws.send(
                json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION, "client_id": console_id})
            )
            welcome = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if welcome.get("type") == "error":
                raise LoginFailed(welcome.get("message") or ERROR_CODES.get(welcome.get("code"), "Refused."))
            message = {"type": "login", "username": user, "password": password}
            if new_password:  # after an admin's reset: the user's own new password
                message["new_password"] = new_password
            await ws.send(json.dumps(message))
            while True:
                answer = json.loads(await asyncio.wait_for(ws.recv(), 90))
                if answer.get("type") != "poke":
                    break
    except LoginFailed:
        raise
    except (OSError, TimeoutError, websockets.WebSocketException, ValueError) as exc:
        raise LoginFailed(
            f"The server at {server} can't be reached ({exc.__class__.__name__}). "
            "Check the address, or work offline: bookings are kept on this PC."
        ) from exc
    if answer.get("type") == "logged_in":
        return answer["token"], answer["user"]
    raise LoginFailed(answer.get("message") or "Wrong user name or password.", str(answer.get("code") or ""))
