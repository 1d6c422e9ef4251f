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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from sqlalchemy import delete, select

from models import search_index
from models.db import Cache
from models.journal import OutboxEntry
from models.sync_tables import SyncState
from models.writer import client_id as cache_client_id
from models.writer import session_executor

from .changes import apply_change
from .protocol import MAX_MUTATIONS_PER_PUSH, PROTOCOL_VERSION

log = logging.getLogger("csr.sync.client")
CURSOR_KEY = "pull_cursor"


@dataclass
class SyncStatus:
    state: str = "offline"                 # offline / connecting / syncing / online / upgrade_required
    pending: int = 0
    last_sync: float = 0.0
    message: str = ""
    rejected: list[dict[str, Any]] = field(default_factory=list)


class SyncClient:
    def __init__(self, cache: Cache, url: str, token: Callable[[], str | None], *,
                 on_status: Callable[[SyncStatus], None] = lambda s: None,
                 on_pulled: Callable[[set[str]], None] = lambda ids: None,
                 backoff: tuple[float, float] = (0.5, 30.0), page: int = 1000) -> None:
        self.cache = cache
        self.url = url
        self.token = token
        self.on_status = on_status
        self.on_pulled = on_pulled
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

    # -- state ---------------------------------------------------------------------------------------------
    def _set(self, **changes: Any) -> None:
        for k, v in changes.items():
            setattr(self.status, k, v)
        self.status.pending = self.pending()
        self.on_status(self.status)

    def pending(self) -> int:
        with self.cache.sessions() as session:
            return len(session.scalars(select(OutboxEntry.seq)).all())

    def cursor(self) -> int:
        with self.cache.sessions() as session:
            row = session.get(SyncState, CURSOR_KEY)
            return row.value if row else 0

    # -- the loop --------------------------------------------------------------------------------------------
    async def run(self) -> None:
        delay = self.backoff_min
        while not self._stopping:
            self._set(state="connecting")
            try:
                async with websockets.connect(self.url, max_size=2**22, open_timeout=10) as ws:
                    delay = self.backoff_min
                    await self._session(ws)
            except (TimeoutError, OSError, websockets.WebSocketException) as exc:
                log.info("sync connection lost: %s", exc)
            except UpgradeRequired as exc:
                self._set(state="upgrade_required", message=str(exc))
                return                      # the queue is kept; a newer console will send it
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
                                  "token": self.token()}))
        welcome = json.loads(await ws.recv())
        if welcome.get("type") == "error":
            if welcome.get("code") == "upgrade_required":
                raise UpgradeRequired(welcome.get("message", ""))
            raise websockets.WebSocketException(welcome.get("message", "refused"))
        self._set(state="syncing")
        await self._push(ws)
        await self._pull(ws)
        self._set(state="online", last_sync=asyncio.get_running_loop().time())
        while not self._stopping:
            recv = asyncio.ensure_future(ws.recv())
            woke = asyncio.ensure_future(self._wake.wait())
            done, _ = await asyncio.wait({recv, woke}, return_when=asyncio.FIRST_COMPLETED)
            if woke in done:
                self._wake.clear()
                recv.cancel()
                await self._push(ws)
                continue
            woke.cancel()
            message = json.loads(recv.result())
            if message.get("type") == "poke":
                await self._pull(ws)

    async def _push(self, ws: Any) -> None:
        while True:
            with self.cache.sessions() as session:
                batch = [{"seq": o.seq, "mutation_id": o.mutation_id, "name": o.name, "args": o.args,
                          "created_at": o.created_at.isoformat()}
                         for o in session.scalars(select(OutboxEntry).order_by(OutboxEntry.seq)
                                                  .limit(MAX_MUTATIONS_PER_PUSH))]
            if not batch:
                self._set()
                return
            await ws.send(json.dumps({"type": "push", "mutations": batch}))
            answer = await self._answer(ws, "receipts")
            receipts = answer["receipts"]
            done = [r["seq"] for r in receipts]
            rejected = [r for r in receipts if r["status"] == "rejected"]
            with self.cache.sessions.begin() as session:
                session.execute(delete(OutboxEntry).where(OutboxEntry.client_id == self.client_id,
                                                          OutboxEntry.seq.in_(done)))
            if rejected:
                self.status.rejected.extend(rejected)
            self._set()

    async def _pull(self, ws: Any) -> None:
        while True:
            cursor = self.cursor()
            await ws.send(json.dumps({"type": "pull", "cursor": cursor, "limit": self.page}))
            answer = await self._answer(ws, "changes")
            touched: set[str] = set()
            with self.cache.sessions.begin() as session:
                for change in answer["changes"]:
                    customer = apply_change(session, change["entity"], change["entity_id"], change["op"],
                                            change.get("data") or {})
                    if customer:
                        touched.add(customer)
                if touched and session.get_bind().dialect.name == "sqlite":
                    search_index.refresh(session_executor(session), sorted(touched))
                state = session.get(SyncState, CURSOR_KEY) or SyncState(key=CURSOR_KEY, value=0)
                state.value = answer["cursor"]
                session.merge(state)
            if touched:
                self.on_pulled(touched)
            if not answer.get("more"):
                return

    async def _answer(self, ws: Any, expected: str) -> dict[str, Any]:
        """The reply to a request; pokes that arrive in between are remembered as a reason to pull."""
        while True:
            message = json.loads(await ws.recv())
            kind = message.get("type")
            if kind == expected:
                return message
            if kind == "error":
                if message.get("code") == "gap":
                    # The server expects an earlier seq: our outbox is ahead of it. Resend from the
                    # start of the outbox (replays are answered from stored receipts).
                    raise websockets.WebSocketException(f"sequence gap: {message.get('details')}")
                raise websockets.WebSocketException(f"{message.get('code')}: {message.get('message')}")


class UpgradeRequired(Exception):
    pass
