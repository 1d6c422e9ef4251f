"""Fan-out between `csr-server` instances: a commit on one instance pokes the consoles of every other.

Several instances over one PostgreSQL tell each other about commits with LISTEN/NOTIFY on one channel
(payload: the new server version). A notification can be lost (the listener's connection dropped, the
sender's NOTIFY failed after its commit), so each instance also reads ``max(change_log.version)``
every ``poll_interval`` seconds on its listener connection and pokes when it grew: a console is never
left stale for longer than that. The listener reconnects with backoff and jitter and, on reconnect,
catches up with the same check.

A poke is sent only for a version higher than the last one this instance announced (its own commits
count), so an instance does not poke twice for its own NOTIFY coming back. Skipping lower versions is
safe: change-log versions commit in order (sync/apply.py lock_change_log), so whoever pulls after a
poke for ``v`` gets every change up to ``v``.

The same channel carries a second kind of note, ``seat:<user id>``: an admin set or cleared that user's
SIP phone seat through this instance (sync/server.py ManageUser) or with `csr-server phone-seat`
(:func:`notify_seat`, after the command's commit). Every instance hands the user id to
``on_seat`` (SyncServer.seat_noted), which reads the user's seat from the store and sends it to their
consoles connected there; the payload is trusted for nothing beyond the user id, and a malformed one is
logged (``event=fanout_bad_payload``) and ignored. A lost seat note is not made up for by the poll (a
seat is not in the change log): the console gets its seat in the ``welcome`` of its next connection.

With a SQLite store there is one serving instance, but another process (``csr-server setup import``)
may still write; :class:`PollingWatch` reads the version every ``poll_interval`` for that case.

Qt-free, asyncio; psycopg 3 is imported only when PostgreSQL is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from .apply import current_version

log = logging.getLogger("csr.server.fanout")
CHANNEL = "csr_changes"
LISTEN_APP_NAME = "csr-server-listen"
NOTIFY_APP_NAME = "csr-server-notify"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_VERSION_SQL = "SELECT coalesce(max(version), 0) FROM change_log"
SEAT_NOTE = "seat:"  # ``seat:<user id>``: that user's phone seat was set or cleared
_USER_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def is_postgres_url(url: str) -> bool:
    return "://" in url and make_url(url).get_backend_name() == "postgresql"


def pg_conninfo(url: str) -> str:
    """The libpq URL for a server store URL as models/db.open_server_db takes it.

    ``postgresql://…`` is used as is; a SQLAlchemy form with a driver (``postgresql+psycopg://…``)
    loses the driver. Password, host, port, database and query options are kept.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"not a PostgreSQL URL: {parsed.render_as_string(hide_password=True)}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _check_channel(channel: str) -> str:
    if not _IDENTIFIER.fullmatch(channel):
        raise ValueError(f"bad channel name {channel!r}")
    return channel


def notify_version(url: str, version: int, channel: str = CHANNEL) -> None:
    """Tell every instance on this PostgreSQL that the change log reached ``version`` (blocking).

    For commands that write outside a serving instance (``csr-server setup import``).
    """
    import psycopg

    with psycopg.connect(
        pg_conninfo(url), autocommit=True, application_name=NOTIFY_APP_NAME, connect_timeout=10
    ) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (_check_channel(channel), str(int(version))))


def notify_seat(url: str, user_id: str, channel: str = CHANNEL) -> None:
    """Send the ``seat:<user id>`` note (blocking): every instance on this PostgreSQL re-reads the user's
    seat and sends it to their consoles there. For `csr-server phone-seat`, after its commit."""
    import psycopg

    if not _USER_ID.fullmatch(user_id):
        raise ValueError(f"bad user id {user_id!r}")
    with psycopg.connect(
        pg_conninfo(url), autocommit=True, application_name=NOTIFY_APP_NAME, connect_timeout=10
    ) as conn:
        conn.execute("SELECT pg_notify(%s, %s)", (_check_channel(channel), SEAT_NOTE + user_id))


class VersionWatch:
    """Pokes through ``poke(version)`` whenever a version above the last announced one is seen."""

    def __init__(self, poke: Callable[[int], None]) -> None:
        self.poke = poke
        self.last_version: int | None = None  # None: not known yet (the first look is silent)
        self.pokes = 0  # how many pokes this watch sent (for tests/logs)
        # Told the user id of a ``seat:`` note from any instance (SyncServer.seat_noted); PgFanout only.
        self.on_seat: Callable[[str], None] | None = None

    def publish_seat(self, user_id: str) -> None:
        """This instance changed ``user_id``'s phone seat and told its own consoles. One instance (SQLite):
        nobody else to tell."""

    def published(self, version: int) -> None:
        """This instance committed ``version`` and poked its own consoles (SyncServer.on_commit)."""
        if self.last_version is None or version > self.last_version:
            self.last_version = version

    def seen(self, version: int, *, source: str) -> None:
        if self.last_version is None:
            self.last_version = version
            return
        if version > self.last_version:
            self.last_version = version
            self.pokes += 1
            log.debug("event=remote_commit version=%d source=%s", version, source)
            self.poke(version)

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError


class PollingWatch(VersionWatch):
    """A single SQLite instance: read the version every ``poll_interval`` (another process may write)."""

    def __init__(
        self, sessions: sessionmaker[Session], poke: Callable[[int], None], *, poll_interval: float = 1.0
    ) -> None:
        super().__init__(poke)
        self.sessions = sessions
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None

    def _read(self) -> int:
        with self.sessions() as session:
            return current_version(session)

    async def start(self) -> None:
        self.seen(await asyncio.to_thread(self._read), source="start")
        self._task = asyncio.create_task(self._run(), name="csr-version-poll")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                self.seen(await asyncio.to_thread(self._read), source="poll")
            except Exception:  # noqa: BLE001 - a locked or busy file: try again next time
                log.warning("event=version_poll_failed", exc_info=True)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class PgFanout(VersionWatch):
    """LISTEN/NOTIFY between instances on one PostgreSQL, with a polling fallback and reconnects."""

    def __init__(
        self,
        url: str,
        poke: Callable[[int], None],
        *,
        channel: str = CHANNEL,
        poll_interval: float = 1.0,
        backoff: tuple[float, float] = (0.2, 10.0),
        query_timeout: float = 10.0,
    ) -> None:
        super().__init__(poke)
        self.conninfo = pg_conninfo(url)
        self.channel = _check_channel(channel)
        self.poll_interval = poll_interval
        self.backoff_min, self.backoff_max = backoff
        self.query_timeout = query_timeout
        self.listening = asyncio.Event()  # set while LISTEN is active (tests wait on it)
        self.reconnects = 0
        self._to_send = 0
        self._sent = 0  # the newest version sent
        self._seats_to_send: dict[str, None] = {}  # user ids, in order, each once
        self._send_wanted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- the server's side ---------------------------------------------------------------------------------
    def published(self, version: int) -> None:
        """Called on the event loop after a local commit that this instance already poked for."""
        super().published(version)
        if version > self._to_send:
            self._to_send = version
            self._send_wanted.set()

    def publish_seat(self, user_id: str) -> None:
        """Called on the event loop after a seat change committed here (and went to this instance's
        consoles): every instance, this one included, re-reads the seat and tells its consoles."""
        if not _USER_ID.fullmatch(user_id):
            raise ValueError(f"bad user id {user_id!r}")
        self._seats_to_send[user_id] = None
        self._send_wanted.set()

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._listen_loop(), name="csr-fanout-listen"),
            asyncio.create_task(self._send_loop(), name="csr-fanout-notify"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.listening.clear()

    async def _connect(self, app_name: str) -> Any:
        import psycopg

        # Keepalives: a connection whose peer vanished (no RST) is noticed within about a minute even
        # if no query is waiting on it; the poll's query timeout catches it sooner.
        return await psycopg.AsyncConnection.connect(
            self.conninfo,
            autocommit=True,
            application_name=app_name,
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=15,
            keepalives_interval=5,
            keepalives_count=3,
        )

    # -- LISTEN and the fallback poll ----------------------------------------------------------------------
    async def _listen_loop(self) -> None:
        import psycopg

        delay = self.backoff_min
        while not self._stopping:
            try:
                conn = await self._connect(LISTEN_APP_NAME)
                try:
                    await conn.execute(f"LISTEN {self.channel}")
                    self.listening.set()
                    delay = self.backoff_min
                    log.info("event=fanout_listening channel=%s", self.channel)
                    await self._check(conn, "catch_up")  # whatever committed while we weren't listening
                    while not self._stopping:
                        async for note in conn.notifies(timeout=self.poll_interval):
                            self._on_notify(note.payload)
                        await self._check(conn, "poll")
                finally:
                    self.listening.clear()
                    with contextlib.suppress(Exception):
                        await conn.close()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError, TimeoutError) as exc:
                self.reconnects += 1
                log.warning("event=fanout_listener_lost error=%r retry_in=%.1fs", exc, delay)
            except Exception:  # noqa: BLE001 - never let the fan-out die for good
                self.reconnects += 1
                log.exception("event=fanout_listener_failed retry_in=%.1fs", delay)
            if self._stopping:
                break
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(self.backoff_max, delay * 2)

    def _on_notify(self, payload: str) -> None:
        if payload.startswith(SEAT_NOTE):
            user_id = payload[len(SEAT_NOTE) :]
            if not _USER_ID.fullmatch(user_id):
                log.warning("event=fanout_bad_payload payload=%r", payload[:40])
                return
            log.debug("event=remote_seat user=%s", user_id)
            if self.on_seat is not None:
                self.on_seat(user_id)
            return
        try:
            version = int(payload)
        except ValueError:
            log.warning("event=fanout_bad_payload payload=%r", payload[:40])
            return
        self.seen(version, source="notify")

    async def _check(self, conn: Any, source: str) -> None:
        cursor = await asyncio.wait_for(conn.execute(_VERSION_SQL), self.query_timeout)
        row = await cursor.fetchone()
        self.seen(int(row[0] if row else 0), source=source)

    # -- NOTIFY ------------------------------------------------------------------------------------------
    async def _send_loop(self) -> None:
        conn = None
        try:
            while not self._stopping:
                await self._send_wanted.wait()
                self._send_wanted.clear()
                seats, self._seats_to_send = list(self._seats_to_send), {}
                for user_id in seats:
                    conn = await self._notify(conn, SEAT_NOTE + user_id)
                version = self._to_send  # coalesced: the newest version is enough
                if version > self._sent:
                    self._sent = version
                    conn = await self._notify(conn, str(version))
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()

    async def _notify(self, conn: Any, payload: str) -> Any:
        """Send one NOTIFY; a connection found dead is replaced and the NOTIFY tried once more."""
        import psycopg

        for attempt in (1, 2):
            try:
                if conn is None or conn.closed:
                    conn = await self._connect(NOTIFY_APP_NAME)
                await asyncio.wait_for(
                    conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload)), self.query_timeout
                )
                return conn
            except (psycopg.Error, OSError, TimeoutError) as exc:
                # Given up after the retry: the other instances' fallback poll will see this version; a
                # seat reaches consoles elsewhere at their next connection.
                log.warning(
                    "event=fanout_notify_failed payload=%s attempt=%d error=%r", payload, attempt, exc
                )
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
                conn = None
        return None


def make_watch(
    url: str,
    sessions: sessionmaker[Session],
    poke: Callable[[int], None],
    *,
    poll_interval: float = 1.0,
    channel: str = CHANNEL,
) -> VersionWatch:
    """The right watch for a store URL: LISTEN/NOTIFY for PostgreSQL, a plain poll for SQLite."""
    if is_postgres_url(url):
        return PgFanout(url, poke, channel=channel, poll_interval=poll_interval)
    return PollingWatch(sessions, poke, poll_interval=poll_interval)
