"""A server store with a known setup and the Web Scheduler open, for the web tests (server, browser).

Capacity as the tests rely on it (tests/unit/booking_setup.py, one technician per unit): on Wednesday
2 Dec 2026 the HVAC group has Ann alone, 08:00–17:00, so the 8–12 window holds 240 technician-minutes;
at a 50 % online share, exactly one AC Not Cooling (120 min) fits online.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models.db import open_server_db
from models.web_booking import OnlineJobType, WebSettings, save_web_settings
from tests.unit.booking_setup import NOW, Ids, build_setup

WEDNESDAY = date(2026, 12, 2)
ALLOWED_ORIGIN = "http://127.0.0.1:1"  # replaced by the embedding page's origin where a test needs it


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class WebStore:
    url: str
    sessions: sessionmaker[Session]
    ids: Ids
    settings: WebSettings
    clock: Clock = field(default_factory=Clock)

    def configure(self, **changes: Any) -> WebSettings:
        from dataclasses import replace

        self.settings = replace(self.settings, **changes)
        with self.sessions.begin() as session:
            save_web_settings(session, self.settings)
        return self.settings


def web_settings(ids: Ids, **overrides: Any) -> WebSettings:
    base = WebSettings(
        enabled=True,
        service_area_zips=frozenset({"75201", "75202"}),
        job_types=(
            OnlineJobType(ids.ac_repair, "My AC isn't cooling"),
            OnlineJobType(ids.drain, "A clogged drain"),
        ),
        capacity_share_percent=50,
        lead_time_hours=2,
        hold_minutes=10,
        allowed_origins=(ALLOWED_ORIGIN,),
        min_fill_seconds=3,
        requests_per_phone_per_day=3,
        requests_per_address_per_hour=1000,
    )
    from dataclasses import replace

    return replace(base, **overrides)


def build_store(url: str, **overrides: Any) -> WebStore:
    engine = open_server_db(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as session:
        ids = build_setup(session, techs_per_unit=1)
        settings = web_settings(ids, **overrides)
        save_web_settings(session, settings)
    return WebStore(url, sessions, ids, settings)


def fresh_postgres(postgres_url: str):  # noqa: ANN201 - a generator of a database URL
    import psycopg

    name = f"csr_web_{uuid.uuid4().hex[:12]}"
    admin = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = (
        make_url(postgres_url)
        .set(drivername="postgresql", database=name)
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RunningScheduler:
    """The Web Scheduler on a real 127.0.0.1 port, served from a thread with its own event loop (so
    browser tests and blocking clients can use it)."""

    def __init__(self, store: WebStore, *, captcha: Any = None, reuse_seconds: float = 0) -> None:
        self.store = store
        self.reuse_seconds = reuse_seconds
        self.captcha = captcha
        self.committed: list[int] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        from sync.web_scheduler import WebScheduler, make_web_app, start_web

        try:
            scheduler = WebScheduler(
                self.store.sessions,
                b"test secret",
                on_committed=self.committed.append,
                clock=self.store.clock,
                captcha=self.captcha,
                reuse_seconds=self.reuse_seconds,  # 0: the tests change settings and capacity between pages
            )
            runner, self.port = await start_web(make_web_app(scheduler), "127.0.0.1", 0)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self._error = exc
            self._ready.set()
            return
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> RunningScheduler:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._loop.close()
