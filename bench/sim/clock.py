"""Virtual time for the deterministic simulation (bench/sim): an asyncio loop whose clock only moves
when every task waits, and patches that make the real code read that clock and a seeded random source.

Why a loop of its own rather than a fast-forwarding mock: the real ``SyncClient`` and ``SyncServer``
use ``asyncio.sleep``, ``wait_for`` timeouts and timers (reconnect backoff, the server's coalesced
pokes). Under this loop a 30 s backoff costs nothing, and which callback runs next depends only on
the virtual time at which it was scheduled and the order of scheduling, i.e. on the seed.

The selector is a stand-in: nothing here opens a socket (the network is bench/sim/net.py), so
``select(timeout)`` just moves the clock to the next timer and returns no events. A ``select`` with
no timer at all means every task waits for something no timer will bring: a deadlock, reported as
such. ``steps`` counts loop iterations so a run that livelocks (a reconnect storm that never ends)
is cut off by a step cap instead of running forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import selectors
import sys
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

# The virtual wall clock starts here (a Monday, 09:00 in Chicago): bookings, outbox stamps, change-log
# stamps and token times all read it, so a seed replays to the same bytes.
EPOCH = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class Deadlock(RuntimeError):
    """Every task waits and no timer is pending: nothing can ever happen again."""


class _VirtualSelector(selectors.SelectSelector):
    """Registers the loop's self-pipe like a real selector, but never waits: time jumps instead."""

    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._vloop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            raise Deadlock("every task waits and no timer is pending")
        if timeout > 0:
            self._vloop.now += timeout
        return []


class VirtualLoop(asyncio.SelectorEventLoop):
    """``time()`` is virtual; ``on_step`` is called once per loop iteration (the step cap)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.steps = 0
        self.on_step: Callable[[int], None] = lambda steps: None
        # Unhandled task errors (e.g. the client's orphaned reads after a kill) are counted, not
        # printed: thousands of runs would bury the report under them.
        self.unhandled: list[str] = []
        super().__init__(_VirtualSelector(self))
        self._clock_resolution = 1e-9
        self.set_exception_handler(lambda _loop, context: self.unhandled.append(str(context.get("message"))))

    def time(self) -> float:
        return self.now

    def _run_once(self) -> None:
        self.steps += 1
        self.on_step(self.steps)
        super()._run_once()  # type: ignore[misc]


class _FakeDatetime(datetime):
    """``models.base.datetime`` during a run: ``now()`` is the virtual wall clock."""

    loop: VirtualLoop | None = None
    reads = 0

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        # Each read moves the clock on by a microsecond, as a real clock moves between two statements:
        # code running in zero virtual time must not see two equal "now"s where a real clock never
        # would (a frozen clock makes a batch's create and edit of one row share updated_at; see
        # docs/faults.md on what that does to apply_change).
        cls.reads += 1
        loop = cls.loop
        at = EPOCH + timedelta(seconds=loop.now if loop is not None else 0.0, microseconds=cls.reads)
        return at if tz is not None else at.replace(tzinfo=None)


async def _inline_to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``asyncio.to_thread`` in the simulation: the function runs on the loop (one thread, so the
    order of database work is the seed's), with a scheduling point before and after it. The one
    after is where a kill lands "between the commit and the next line" — the crash window that
    matters (a receipt stored, the outbox row not yet deleted; an outbox row deleted, the problem not
    yet shown)."""
    await asyncio.sleep(0)
    result = func(*args, **kwargs)
    await asyncio.sleep(0)
    return result


_ENGINES: dict[str, Any] = {}


@contextlib.contextmanager
def reused_engines() -> Iterator[None]:
    """One SQLAlchemy engine per database path for the whole process.

    SQLAlchemy caches compiled statements per engine (its dialect is part of the cache key), and a
    run opens a new server store and two to four caches, and again after every console kill: with
    fresh engines every run would compile the same few hundred statements again, which costs more
    than everything else in it. Runs use the same paths (bench/sim/__init__.py), so the engine of a
    path is kept and only disposed (its connections closed; the file under it is a new copy)."""
    import models.db as db

    make = db.make_sqlite_engine

    def cached(path: Any) -> Any:
        key = str(path)
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = make(path)
        else:
            engine.dispose()
        return engine

    db.make_sqlite_engine = cached  # type: ignore[assignment]
    try:
        yield
    finally:
        db.make_sqlite_engine = make  # type: ignore[assignment]


@contextlib.contextmanager
def patched(loop: VirtualLoop, rng: random.Random) -> Iterator[None]:
    """Make the real code deterministic for one run, and undo it afterwards.

    - ids: ``models.base.new_id`` mints from the wall clock and ``os.urandom``; its module's ``time``
      and ``os`` are swapped for virtual ones (the function object itself is bound as a column default
      in every model, so it can't simply be replaced);
    - wall clock: ``models.base.utcnow`` (and through it every ``default=utcnow`` column, the writer's
      and the server's clocks, token checks) reads ``models.base.datetime``;
    - jitter: the client's reconnect backoff uses the ``random`` module: seeded;
    - threads: ``asyncio.to_thread`` runs inline (see ``_inline_to_thread``);
    - ``time.sleep`` in the client (a 1 ms pause between pulled chunks) would cost real time only.
    """
    import models.base as base

    _FakeDatetime.loop, _FakeDatetime.reads = loop, 0
    fake_time = types.SimpleNamespace(
        time_ns=lambda: int((EPOCH.timestamp() + loop.now) * 1e9), time=lambda: EPOCH.timestamp() + loop.now
    )
    fake_os = types.SimpleNamespace(urandom=lambda n: rng.randbytes(n))
    saved_random = random.getstate()
    random.seed(rng.getrandbits(64))
    restore: list[tuple[Any, str, Any]] = [
        (base, "time", base.time),
        (base, "os", base.os),
        (base, "datetime", base.datetime),
        (asyncio, "to_thread", asyncio.to_thread),
    ]
    base.time, base.os, base.datetime = fake_time, fake_os, _FakeDatetime  # type: ignore[assignment]
    asyncio.to_thread = _inline_to_thread  # type: ignore[assignment]
    # The client's modules (sync/client.py, being split into several) call time.sleep / time.time.
    sim_time = types.SimpleNamespace(
        sleep=lambda s: None,
        time=fake_time.time,
        monotonic=loop.time,
        perf_counter=loop.time,
        thread_time=loop.time,
    )
    for name, module in list(sys.modules.items()):
        if name.startswith("sync.client") and getattr(module, "time", None) is __import__("time"):
            restore.append((module, "time", module.time))
            module.time = sim_time  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for obj, attr, value in reversed(restore):
            setattr(obj, attr, value)
        random.setstate(saved_random)
        _FakeDatetime.loop = None
