"""The Web Scheduler's reads, shared by the browsers of one ``csr-server`` instance: the setup and web
settings (``PageContext``) and each service's free windows. Under 50 browsers a fresh read per page (~20 ms
of a core) would queue them, so each is read **once at a time** (single flight: the browsers asking
meanwhile wait for it), reused briefly, and — for availability — dropped at once when capacity changes
(:meth:`WebReads.changed`, called for every committed version the server hears of and for this instance's
own holds). The race-safety never rests on these reads: a hold and a submit re-check capacity under the
(group, day) row lock (models/web_capacity.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.setup_data import SetupData, load_setup
from models.timeutil import as_utc
from models.web_booking import WebSettings, load_web_settings
from models.web_capacity import offer_for, online_slots_from, taken_capacity

log = logging.getLogger("csr.server.web")

# The pages' reads (setup, settings, each service's free windows) are reused for this long by one
# instance: under 50 browsers a read costs ~20 ms of a core, so re-reading per page would queue them;
# and one availability read runs at a time per (service, day), the browsers asking meanwhile waiting
# for it (WebScheduler.slots), over one database read shared by every service. Every committed change
# the server hears of (a CSR's booking, a request stored on any instance) and this instance's holds drop
# the reuse at once (WebScheduler.changed). A window shown free may still have filled since (another
# instance's hold, which is not in the change log); the hold and the submit re-check it under the row
# lock, so it is answered "that window just filled" — never double booked.
READ_REUSE_SECONDS = 1.0
STALE_FACTOR = 5  # up to 5 s old while a background read refreshes it


def reader_sessions(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions for the page's reads. A SQLite store's sessions take the write lock when they begin
    (models/db.py: BEGIN IMMEDIATE), so 50 browsers reading availability would queue one by one behind
    each other and every writer; a read-only connection of the WAL file reads beside them. PostgreSQL's
    sessions already do."""
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite" or not bind.url.database:
        return sessions
    from sqlalchemy import create_engine, event

    from models.db import sqlite_pragmas

    engine = create_engine(f"sqlite:///file:{bind.url.database}?mode=ro&uri=true")
    event.listen(engine, "connect", lambda conn, _record: sqlite_pragmas(conn, read_only=True))
    return sessionmaker(engine, expire_on_commit=False)


@dataclass(frozen=True)
class _Slots:
    at: float  # time.monotonic() of the read
    generation: int
    slots: list


@dataclass
class PageContext:
    setup: SetupData
    settings: WebSettings


class WebReads:
    """Mixed into WebScheduler, which sets ``readers`` and ``pool`` and calls :meth:`_init_reads`."""

    readers: sessionmaker[Session]
    pool: Any

    def _init_reads(self, reuse_seconds: float) -> None:
        self.reuse_seconds = reuse_seconds
        self._context: tuple[float, PageContext] | None = None
        self._context_reading: asyncio.Future | None = None
        self._slots: dict[tuple[str, str], _Slots] = {}
        self._flights: dict[tuple[str, str], tuple[int, asyncio.Future]] = {}
        self._generation = 0  # bumped by every capacity change: older reads are not served
        self.reads = 0  # availability reads run (tests, the benchmark)
        # The shared read of booked appointments and holds: ((day, generation), when, its future).
        self._taken_read: tuple[tuple[str, int], float, asyncio.Future] | None = None

    def context(self) -> PageContext:
        """The setup and the web settings (read, or reused for ``reuse_seconds``). Blocking: a thread's."""
        cached = self._context
        if cached is not None and time.monotonic() - cached[0] < self.reuse_seconds:
            return cached[1]
        with self.readers() as session:
            ctx = PageContext(load_setup(session), load_web_settings(session))
        self._context = (time.monotonic(), ctx)
        return ctx

    async def current_context(self) -> PageContext:
        """:meth:`context` for a page, on the event loop: a reused one without a thread hop; one read at a
        time (the pages asking meanwhile wait for it); up to ``STALE_FACTOR`` times older while one
        refresh reads in the background (a setup change shows within seconds)."""
        cached = self._context
        if cached is not None:
            age = time.monotonic() - cached[0]
            if age < self.reuse_seconds:
                return cached[1]
            if age < self.reuse_seconds * STALE_FACTOR:
                self._context_flight()
                return cached[1]
        return await asyncio.shield(self._context_flight())

    def _context_flight(self) -> asyncio.Future:
        if self._context_reading is None or self._context_reading.done():
            self._context_reading = asyncio.get_running_loop().run_in_executor(self.pool, self._read_context)
            self._context_reading.add_done_callback(_log_failure)
        return self._context_reading

    def _read_context(self) -> PageContext:
        with self.readers() as session:
            ctx = PageContext(load_setup(session), load_web_settings(session))
        self._context = (time.monotonic(), ctx)
        return ctx

    async def slots(self, ctx: PageContext, job_type_id: str, now: datetime) -> list:
        """The service's windows with online room, worked out at most once at a time per (service, day):
        browsers asking meanwhile wait for that answer (single flight) instead of each running it; and the
        database read under it (the booked appointments and holds of every group, :meth:`_taken`) is
        one for all services. An answer is reused for ``reuse_seconds``, and up to ``STALE_FACTOR`` times
        longer while one refresh works in the background — unless a booking or hold changed since
        (:meth:`changed`): then every browser waits for one fresh read, so a window booked a moment ago is
        never offered."""
        key = (job_type_id, as_utc(now).date().isoformat())
        generation = self._generation
        cached = self._slots.get(key)
        if cached is not None and cached.generation == generation:
            age = time.monotonic() - cached.at
            if age < self.reuse_seconds:
                return cached.slots
            if age < self.reuse_seconds * STALE_FACTOR:
                self._flight(ctx, job_type_id, now, key)  # one refresh, in the background
                return cached.slots
        return await asyncio.shield(self._flight(ctx, job_type_id, now, key))

    def _flight(
        self, ctx: PageContext, job_type_id: str, now: datetime, key: tuple[str, str]
    ) -> asyncio.Future:
        """The answer for ``key`` under way since the last change, or a new one. Each waiter shields it:
        a browser that goes away does not cancel the work the others wait for."""
        generation = self._generation
        flight = self._flights.get(key)
        if flight is not None and flight[0] == generation:
            return flight[1]
        future = asyncio.ensure_future(self._work_out(ctx, job_type_id, now))
        self._flights[key] = (generation, future)
        future.add_done_callback(lambda f: self._landed(key, generation, f))
        return future

    async def _work_out(self, ctx: PageContext, job_type_id: str, now: datetime) -> list:
        taken = await asyncio.shield(self._taken(ctx, now))
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, self._read_slots, ctx, job_type_id, now, taken
        )

    def _taken(self, ctx: PageContext, now: datetime) -> asyncio.Future:
        """The booked appointments and live holds over the horizon: read since the last change (and less
        than ``reuse_seconds`` ago), under way, or read now — one database read for every service."""
        key = as_utc(now).date().isoformat()
        generation = self._generation
        kept = self._taken_read
        if kept is not None and kept[0] == (key, generation):
            future = kept[2]
            if not future.done() or (
                not future.cancelled()
                and future.exception() is None
                and time.monotonic() - kept[1] < self.reuse_seconds
            ):
                return future
        future = asyncio.get_running_loop().run_in_executor(self.pool, self._read_taken, ctx, now)
        future.add_done_callback(_retrieve)
        self._taken_read = ((key, generation), time.monotonic(), future)
        return future

    def _landed(self, key: tuple[str, str], generation: int, future: asyncio.Future) -> None:
        if self._flights.get(key, (None, None))[1] is future:
            del self._flights[key]
        if future.cancelled() or future.exception() is not None:
            if not future.cancelled():
                log.warning("event=web_slots_read_failed", exc_info=future.exception())
            return  # the next browser reads again
        if generation != self._generation:
            return  # read before a change: its waiters asked before it too, later ones read afresh
        if len(self._slots) > 1000:
            self._slots.clear()
        self._slots[key] = _Slots(time.monotonic(), generation, future.result())

    def _read_taken(self, ctx: PageContext, now: datetime) -> list:
        """The database read (on the pool): every group's booked appointments and live holds."""
        with self.readers() as session:
            taken = taken_capacity(session, ctx.setup, ctx.settings, now)
        self.reads += 1
        return taken

    def _read_slots(self, ctx: PageContext, job_type_id: str, now: datetime, taken: list) -> list:
        """One service's windows from the shared read (on the pool; no database)."""
        offer = offer_for(ctx.setup, ctx.settings, job_type_id)
        return online_slots_from(taken, ctx.setup, ctx.settings, offer, now)

    def changed(self, _version: int = 0) -> None:
        """A booking or a hold changed capacity (here, through a console, or on another instance — the
        server's commit hook calls this for every committed version): no page is served from an earlier
        read; the next ones wait for one fresh read. Runs on the event loop."""
        self._generation += 1
        self._slots.clear()
        self._taken_read = None


def _retrieve(future: asyncio.Future) -> None:
    """A failed shared read is logged by the answers that waited for it; nobody left to ask is fine."""
    if not future.cancelled():
        future.exception()


def _log_failure(future: asyncio.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("event=web_context_read_failed", exc_info=future.exception())
