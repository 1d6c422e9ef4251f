"""A TCP fault proxy between consoles and the server, switchable at run time.

    proxy = FaultProxy("127.0.0.1", server_port)
    await proxy.start()                 # listens on 127.0.0.1:<proxy.port>
    proxy.delay(150)                    # every chunk arrives 150 ms late (order kept)
    proxy.drop()                        # close every connection; refuse new ones until set_pass()
    proxy.cut()                         # forward part of the next chunk of each connection, then close
    proxy.blackhole()                   # accept and forward nothing, keep the sockets open
    proxy.set_pass()                    # back to normal (held black-hole connections are reset)
    proxy.retarget(new_port)            # the server restarted elsewhere

Modes act on live connections, not only new ones. ``direction`` limits delay/cut/blackhole to one
way: "up" (console → server), "down" (server → console) or "both". A cut in the "down" direction is
the lost ack: the server committed and answered, the console never heard it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

UP, DOWN, BOTH = "up", "down", "both"
CHUNK = 65536


@dataclass
class Mode:
    name: str = "pass"  # pass / delay / drop / cut / blackhole
    delay_ms: float = 0.0
    direction: str = BOTH
    after: int = 0  # black-hole: let this many chunks of each link through first

    def applies(self, direction: str) -> bool:
        return self.direction in (BOTH, direction)


@dataclass(eq=False)
class _Link:
    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    server_reader: asyncio.StreamReader | None = None
    server_writer: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    held: bool = False  # swallowed data while black-holed: the stream can't be resumed
    ended: int = 0  # directions that reached end of stream
    chunks: dict[str, int] = field(default_factory=lambda: {UP: 0, DOWN: 0})

    def abort(self) -> None:
        for w in (self.client_writer, self.server_writer):
            if w is not None:
                with contextlib.suppress(Exception):
                    w.transport.abort()
        for t in self.tasks:
            if t is not asyncio.current_task():
                t.cancel()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target_host, self.target_port = target_host, target_port
        self.host, self._port = host, port
        self.mode = Mode()
        self.links: set[_Link] = set()
        self._server: asyncio.AbstractServer | None = None
        self.stats = {"connections": 0, "cut": 0, "dropped": 0, "bytes_up": 0, "bytes_down": 0}

    # -- life -----------------------------------------------------------------------------------------
    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self._port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for link in list(self.links):
                link.abort()
            await self._server.wait_closed()
            self._server = None
        self.links.clear()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- modes ----------------------------------------------------------------------------------------
    def set_pass(self, reset_held: bool = True) -> None:
        """Back to normal. Connections that were black-holed are reset (a stream that lost bytes
        can only be reset) — or, with ``reset_held=False``, stay dead and silent while new
        connections pass: only the endpoints' own keepalives can notice them."""
        self.mode = Mode()
        if reset_held:
            for link in [lk for lk in self.links if lk.held]:
                self._drop(link)

    def delay(self, ms: float, direction: str = BOTH) -> None:
        self.set_pass()
        self.mode = Mode("delay", ms, direction)

    def drop(self) -> None:
        """Close every connection now, and every new one until the mode changes."""
        self.mode = Mode("drop")
        for link in list(self.links):
            self._drop(link)

    def cut(self, direction: str = BOTH) -> None:
        """The next chunk of every connection (in ``direction``) goes through in part, then the
        connection closes — a frame cut in the middle."""
        self.set_pass()
        self.mode = Mode("cut", 0, direction)

    def blackhole(self, direction: str = BOTH, after: int = 0) -> None:
        """Bytes go in and nothing comes out; sockets stay open (a dead path, not a refused one).
        ``after``: each connection first passes that many chunks in ``direction`` (e.g. 2 down: the
        HTTP upgrade and the welcome get through, the receipts of the first push do not)."""
        self.mode = Mode("blackhole", 0, direction, after)

    def retarget(self, port: int, host: str | None = None) -> None:
        self.target_port = port
        if host:
            self.target_host = host

    def set(self, name: str, *, delay_ms: float = 0, direction: str = BOTH) -> None:
        {
            "pass": lambda: self.set_pass(),
            "drop": self.drop,
            "delay": lambda: self.delay(delay_ms, direction),
            "cut": lambda: self.cut(direction),
            "blackhole": lambda: self.blackhole(direction),
        }[name]()

    # -- plumbing ------------------------------------------------------------------------------------
    def _drop(self, link: _Link) -> None:
        self.stats["dropped"] += 1
        link.abort()
        self.links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(reader, writer)
        self.stats["connections"] += 1
        if self.mode.name == "drop":
            self.stats["dropped"] += 1
            writer.transport.abort()
            return
        self.links.add(link)
        try:
            link.server_reader, link.server_writer = await asyncio.wait_for(
                asyncio.open_connection(self.target_host, self.target_port), timeout=5
            )
        except (OSError, TimeoutError):
            self._drop(link)  # the server is down: the console sees a refused connection
            return
        if link not in self.links:  # dropped while connecting
            link.abort()
            return
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, link.server_writer, UP)),
            asyncio.create_task(self._pump(link, link.server_reader, writer, DOWN)),
        ]

    async def _pump(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        # Delayed chunks go through a queue so a delay adds latency, not a throughput cap.
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(link, queue, writer))
        link.tasks.append(sender)
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    queue.put_nowait((0.0, None))
                    return
                mode = self.mode
                link.chunks[direction] += 1
                if mode.name == "drop":
                    self._drop(link)
                    return
                if (
                    mode.applies(direction)
                    and mode.name == "blackhole"
                    and link.chunks[direction] > mode.after
                ):
                    link.held = True
                    continue
                if link.held:
                    continue  # black-holed earlier: nothing more goes through this link
                if mode.applies(direction) and mode.name == "cut":
                    part = data[: max(1, len(data) // 2)] if len(data) > 1 else b""
                    queue.put_nowait((0.0, part))
                    queue.put_nowait((0.0, None))
                    await asyncio.sleep(0)
                    self.stats["cut"] += 1
                    await queue.join()
                    self._drop(link)
                    return
                due = time.monotonic() + (
                    mode.delay_ms / 1000 if mode.name == "delay" and mode.applies(direction) else 0.0
                )
                self.stats["bytes_up" if direction == UP else "bytes_down"] += len(data)
                queue.put_nowait((due, data))
        except (ConnectionError, OSError):
            self._drop(link)
        except asyncio.CancelledError:
            pass

    async def _send(self, link: _Link, queue: asyncio.Queue, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                due, data = await queue.get()
                try:
                    if data is None:
                        with contextlib.suppress(Exception):
                            if writer.can_write_eof():
                                writer.write_eof()
                        link.ended += 1
                        if link.ended >= 2:
                            link.abort()
                            self.links.discard(link)
                        return
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    writer.write(data)
                    await writer.drain()
                finally:
                    queue.task_done()
        except (ConnectionError, OSError):
            self._drop(link)
        except asyncio.CancelledError:
            pass
