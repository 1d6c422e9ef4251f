"""One sync connection as the console sees it: a reader task that routes each message (answers to
requests made beside the session, live calls and floor messages, everything else in order to the
session), and the failures a connection can end with.

Every path that reads the session's messages goes through :func:`answer`, so a refusal of the
session itself (an expired token, a sequence gap, a protocol the server no longer speaks) is told
apart from a network failure in one place.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import websockets

from .protocol import ERROR_CODES

log = logging.getLogger("csr.sync.client")
# Messages handed on as they arrive (never queued for the session): live calls and the floor.
LIVE_TYPES = frozenset(
    {"call", "live_calls", "floor_snapshot", "floor_delta", "floor_kpis", "agent_state", "phone_seat"}
)
# The server no longer accepts this console's session: the CSR must sign in again (the queue waits).
SIGN_IN_CODES = frozenset({"token_expired", "token_revoked", "token_invalid", "not_authenticated"})


class UpgradeRequired(Exception):
    pass


class Stuck(Exception):
    pass


class SignInRequired(Exception):
    """The server refused the session (expired, revoked or invalid token): the CSR must sign in again.
    ``code`` is the protocol's error code; the message is for the CSR."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Gap(Exception):
    def __init__(self, expected: int) -> None:
        super().__init__(f"the server expects change #{expected}")
        self.expected = expected


class Channel:
    """One reader task per connection: messages are read in order into a queue, so a request's
    answer and the pokes in between are never read by two coroutines at once."""

    def __init__(self, ws: Any, live: Callable[[dict[str, Any]], None] = lambda m: None) -> None:
        self.ws = ws
        self.poked = False
        self._live = live  # call updates: handed on as they arrive, never queued
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}  # requests made beside the session
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
                    if message.get("id") in self._waiting:  # a floor_snapshot answering a request
                        self._resolve(message)
                elif message.get("id") in self._waiting:
                    self._resolve(message)
                else:
                    self._queue.put_nowait(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(websockets.WebSocketException("the server closed the connection"))
            self._queue.put_nowait(None)

    def _resolve(self, message: dict[str, Any]) -> None:
        future = self._waiting.pop(message["id"])
        if not future.done():
            future.set_result(message)

    async def send(self, text: str) -> None:
        await self.ws.send(text)

    async def next(self) -> dict[str, Any]:
        message = await self._queue.get()
        if message is None:
            self._queue.put_nowait(None)  # every later reader learns it too
            raise websockets.WebSocketException("the server closed the connection")
        return message

    def take_pokes(self) -> list[dict[str, Any]]:
        """The pokes already read and waiting at the head of the queue, taken out (a console behind by
        several commits applies their changes in one transaction)."""
        taken: list[dict[str, Any]] = []
        rest: list[dict[str, Any] | None] = []
        while not self._queue.empty():
            message = self._queue.get_nowait()
            if not rest and message is not None and message.get("type") == "poke":
                taken.append(message)
            else:
                rest.append(message)
        for m in rest:
            self._queue.put_nowait(m)
        return taken

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


def refused(message: dict[str, Any]) -> Exception:
    """The exception an ``error`` message on the session means."""
    code = str(message.get("code") or "")
    if code == "gap":
        return Gap(int((message.get("details") or {}).get("expected_seq") or 0))
    if code in SIGN_IN_CODES:
        return SignInRequired(code, message.get("message") or ERROR_CODES.get(code, "Sign in again."))
    if code == "upgrade_required":
        return UpgradeRequired(message.get("message", ""))
    return websockets.WebSocketException(f"{code}: {message.get('message')}")


async def answer(ws: Channel, expected: str) -> dict[str, Any]:
    """The reply to a request on the session; pokes that arrive in between are remembered as a reason
    to pull, and an error is raised as what it means (:func:`refused`)."""
    while True:
        message = await ws.next()
        kind = message.get("type")
        if kind == expected:
            return message
        if kind == "poke":
            ws.poked = True
            continue
        if kind == "error":
            raise refused(message)
