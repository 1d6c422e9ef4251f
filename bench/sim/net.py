"""The simulated network (bench/sim): in-memory websocket links between the real ``SyncClient`` and
the real ``SyncServer.handle``, with every frame's delay and every fault drawn from the run's seed.

A link is one connection. Each direction keeps order (it stands for TCP) and delivers each frame
after a seeded delay. At every frame sent, while faults are on, the dice decide whether to:

- **drop** the connection: both ends see ``ConnectionClosed`` at once; frames in flight are lost;
- **drop half-open** ("reorder"): the console's end closes at once and the console reconnects, but
  the server's end stays open a while and the frames the console had in flight reach the server
  late — after the console's new connection may already have pushed again. The server's answers
  on the dead connection are lost;
- **drop silently**: neither end hears anything until a keepalive would notice (20–40 s virtual);
  everything sent meanwhile is lost;
- **duplicate** a console→server frame (a push sent twice: the server must answer the replay from
  its stored receipts and change nothing; the console then reads a second, stale answer);
- **kill** a console (bench/sim/world.py cancels its sync task wherever it waits, closes the cache
  and starts a new console on it) or **restart** the server (every connection closed, a new
  ``SyncServer`` on the same database).

``broadcast`` (websockets' fire-and-forget fan-out, used by the server for pokes) is replaced for
the run by one that sends on these links in connection order, so fan-out order is the seed's too.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK

UP, DOWN = "up", "down"  # console → server, server → console


@dataclass
class Faults:
    """Chances per frame sent (while faults are on); drawn per run from the seed."""

    drop: float = 0.0
    half_open: float = 0.0
    silent: float = 0.0
    duplicate: float = 0.0
    kill: float = 0.0
    restart: float = 0.0
    delay: tuple[float, float] = (0.0005, 0.02)  # seconds, per frame


class End:
    """One end of a link, shaped like the part of a websockets connection the client and the server
    use: ``send``, ``recv``, ``async for``, ``close``."""

    def __init__(self, link: Link, side: str) -> None:
        self.link = link
        self.side = side  # the direction this end sends in
        self.inbox: deque[str] = deque()
        self.closed = False  # no more sends or reads here
        self.graceful = False  # closed by a close frame (iteration just ends)
        self._waiter: asyncio.Future[None] | None = None

    @property
    def serial(self) -> int:
        return self.link.serial

    @property
    def remote_address(self) -> tuple[str, int]:
        """Each console has an address of its own (the server limits connections per address)."""
        return f"10.0.0.{self.link.console + 1}", 40000 + self.link.serial

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _closed_error(self) -> websockets.ConnectionClosed:
        return ConnectionClosedOK(None, None) if self.graceful else ConnectionClosedError(None, None)

    async def send(self, text: str | bytes) -> None:
        if self.closed:
            raise self._closed_error()
        self.link.transmit(self.side, text if isinstance(text, str) else text.decode())

    def send_nowait(self, text: str) -> None:
        """What ``broadcast`` does: send if the connection is open, skip it otherwise."""
        if not self.closed:
            self.link.transmit(self.side, text)

    async def recv(self) -> str:
        while not self.inbox:
            if self.closed:
                raise self._closed_error()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.inbox.popleft()

    def __aiter__(self) -> End:
        return self

    async def __anext__(self) -> str:
        try:
            return await self.recv()
        except ConnectionClosedOK:
            raise StopAsyncIteration from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.link.close_from(self.side)

    def shut(self, graceful: bool) -> None:
        """This end hears that the connection is gone; unread frames are lost."""
        if not self.closed:
            self.closed, self.graceful = True, graceful
            self.inbox.clear()
            self._wake()


class Link:
    """One connection: two ends, each direction in order, a seeded delay per frame."""

    def __init__(self, net: Net, serial: int, console: int) -> None:
        self.net = net
        self.serial = serial
        self.console = console
        self.client = End(self, UP)
        self.server = End(self, DOWN)
        self._last = {UP: 0.0, DOWN: 0.0}  # delivery time of the last frame each way
        self._pending: dict[str, list[tuple[float, str, asyncio.TimerHandle]]] = {UP: [], DOWN: []}

    def _receiver(self, side: str) -> End:
        return self.server if side == UP else self.client

    def transmit(self, side: str, text: str) -> None:
        net = self.net
        if self.serial in net.deaf:
            return  # a silently dead connection: the frame vanishes
        net.frames += 1
        copies = 1
        if net.faults_on:
            net.roll(self, side)
            if self.client.closed and side == UP or self.server.closed and side == DOWN:
                return  # the roll dropped the connection under this frame
            if side == UP and net.rng.random() < net.faults.duplicate:
                copies = 2
                net.counts["duplicate"] += 1
        for _ in range(copies):
            self._schedule(side, text, net.loop.time() + net.rng.uniform(*net.faults.delay))

    def _schedule(self, side: str, text: str, at: float) -> None:
        at = max(at, self._last[side])
        self._last[side] = at
        entry: list[Any] = [at, text, None]
        entry[2] = self.net.loop.call_at(at, self._deliver, side, entry)
        self._pending[side].append(entry)  # type: ignore[arg-type]

    def _deliver(self, side: str, entry: list[Any]) -> None:
        self._pending[side].remove(entry)  # type: ignore[arg-type]
        target = self._receiver(side)
        text = entry[1]
        if text is _CLOSE:
            self.net.record(self, side, "<close>")
            target.shut(graceful=True)
            return
        if target.closed:
            return
        self.net.record(self, side, text)
        target.inbox.append(text)
        target._wake()

    def close_from(self, side: str) -> None:
        """A close frame from this side: the other end hears it after what was already sent."""
        mine = self.client if side == UP else self.server
        if mine.closed:
            return
        mine.shut(graceful=True)
        for entry in self._pending[DOWN if side == UP else UP]:
            entry[2].cancel()  # frames toward the closed end are never read
        self._pending[DOWN if side == UP else UP].clear()
        self._schedule(side, _CLOSE, self.net.loop.time() + self.net.rng.uniform(*self.net.faults.delay))

    def cut(self) -> None:
        """The connection drops: both ends hear it now; every frame in flight is lost."""
        for side in (UP, DOWN):
            for entry in self._pending[side]:
                entry[2].cancel()
            self._pending[side].clear()
        self.client.shut(graceful=False)
        self.server.shut(graceful=False)

    def half_open(self, hold: float) -> None:
        """The console's end drops now; the server's end lives ``hold`` seconds more and gets the
        console's frames in flight late (after the console may have reconnected)."""
        for entry in self._pending[DOWN]:
            entry[2].cancel()
        self._pending[DOWN].clear()
        self.client.shut(graceful=False)
        late = [e[1] for e in self._pending[UP]]
        for entry in self._pending[UP]:
            entry[2].cancel()
        self._pending[UP].clear()
        now = self.net.loop.time()
        for text in late:
            self._schedule(UP, text, now + self.net.rng.uniform(0.2, hold))
        self.net.loop.call_at(max(self._last[UP], now) + hold, self.cut)

    def silent(self, after: float) -> None:
        """Nothing gets through any more; both ends notice only ``after`` seconds later (keepalive)."""
        for side in (UP, DOWN):
            for entry in self._pending[side]:
                entry[2].cancel()
            self._pending[side].clear()
        self.net.deaf.add(self.serial)
        self.net.loop.call_at(self.net.loop.time() + after, self.cut)


_CLOSE: Any = object()


class Net:
    """Every link of a run, the dice, and the trace (every frame delivered, in order)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rng: random.Random, faults: Faults) -> None:
        self.loop = loop
        self.rng = rng
        self.faults = faults
        self.faults_on = True
        self.links: dict[int, Link] = {}
        self.deaf: set[int] = set()  # silently dead links: frames vanish
        self.frames = 0
        self.trace = hashlib.sha256()
        self.trace_lines: list[str] | None = None  # kept when verbose
        self.redact: list[tuple[str, str]] = []  # (secret text, stand-in) for the trace
        self.counts = {
            k: 0
            for k in ("drop", "half_open", "silent", "duplicate", "kill", "restart", "connections", "refused")
        }
        # Set by the world: what a kill and a restart do (they need the consoles and the server).
        self.on_kill: Callable[[int], None] = lambda console: None
        self.on_restart: Callable[[], None] = lambda: None
        self.consoles = 0

    def link(self, console: int) -> Link:
        serial = len(self.links) + 1
        link = Link(self, serial, console)
        self.links[serial] = link
        self.counts["connections"] += 1
        return link

    def roll(self, link: Link, side: str) -> None:
        """The fault dice at one step (one frame sent)."""
        f, r = self.faults, self.rng.random()
        if r < f.drop:
            self.counts["drop"] += 1
            link.cut()
        elif r < f.drop + f.half_open:
            self.counts["half_open"] += 1
            link.half_open(self.rng.uniform(0.5, 4.0))
        elif r < f.drop + f.half_open + f.silent:
            self.counts["silent"] += 1
            link.silent(self.rng.uniform(20.0, 40.0))
        r = self.rng.random()
        if r < f.kill and self.consoles:
            self.counts["kill"] += 1
            self.on_kill(self.rng.randrange(self.consoles))
        elif r < f.kill + f.restart:
            self.counts["restart"] += 1
            self.on_restart()

    def record(self, link: Link, side: str, text: str) -> None:
        for secret, stand_in in self.redact:
            text = text.replace(secret, stand_in)
        line = f"{self.loop.time():.6f} {link.serial} {side} {text}"
        self.trace.update(line.encode())
        self.trace.update(b"\n")
        if self.trace_lines is not None:
            self.trace_lines.append(line)

    def all_cut(self) -> None:
        for link in self.links.values():
            link.cut()


def broadcaster() -> Callable[[Iterable[Any], str], None]:
    """A stand-in for ``websockets.asyncio.server.broadcast`` over simulated ends, in connection order."""

    def broadcast(connections: Iterable[Any], message: str, raise_exceptions: bool = False) -> None:
        for end in sorted(connections, key=lambda e: e.serial):
            end.send_nowait(message)

    return broadcast
