"""Headless consoles and a server to sync with, for the fault suite (tests/faults/, `csr-bench chaos`)
and the sync benchmarks (`csr-bench sync`). Qt-free: a console here is exactly what the desktop
console runs under its window — ``open_cache`` + ``LocalWriter`` + ``SyncClient`` on asyncio.

Templates (a migrated server database with the demo company's setup and one CSR account, and a
migrated console cache with the same setup) are built once and copied per run: migrating a cache
costs about a second, a file copy a millisecond.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

ROOT = Path(__file__).resolve().parents[1]
USERNAME = "chaos"
OTHER_USERNAME = "chaos-lead"
PASSWORD = "chaos password 1"
SETUP_TABLES = (
    "company_settings",
    "business_unit_groups",
    "business_units",
    "services",
    "tag_types",
    "job_types",
    "campaign_categories",
    "campaigns",
    "arrival_windows",
    "technicians",
    "capacity_settings",
    "business_hours",
    "booking_preferences",
    "call_reasons",
    "tracking_numbers",
)
# What travels and must converge: these tables and the link tables carried inside their rows.
SYNCED_TABLES = ("customers", "locations", "contact_methods", "jobs", "appointments")
# Reserved per console so two consoles of one run never draw the same job-number prefix (the server's
# prefix registration is planned, docs/job-numbers.md): chaos is about the network, not that.
SNAPSHOT_DONE = "snapshot_done"  # sync/snapshot.py SNAPSHOT_KEY
PREFIXES = [a + b + "7" for a in "ACDEFHJKMNPQRTWXY" for b in "ACDEFHJKMNPQRTWXY"]


# -- files ---------------------------------------------------------------------------------------------------
def checkpoint(path: Path) -> None:
    """Fold the WAL into the main file so a plain copy is the whole database."""
    conn = sqlite3.connect(str(path))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


def clone(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    return dst


def copy_setup(src: sessionmaker[Session], dst: sessionmaker[Session]) -> None:
    """The server's setup rows into a console cache, same ids (what setup sync will carry)."""
    from models.base import Base
    from sync.changes import apply_change, primary_key, row_data

    with src() as s, dst.begin() as d:
        for table in Base.metadata.sorted_tables:
            if table.name not in SETUP_TABLES:
                continue
            mapper = next(m for m in Base.registry.mappers if m.local_table is table)
            for obj in s.scalars(select(mapper.class_)):
                apply_change(d, table.name, primary_key(obj), "upsert", row_data(s, obj))


@dataclass
class Templates:
    server_db: Path  # migrated, demo setup, the CSR account, the token key
    console_cache: Path  # migrated, the same setup (same ids)
    empty_cache: Path  # migrated, nothing else (for a server built elsewhere, e.g. PostgreSQL)


@dataclass
class _Store:
    sessions: sessionmaker[Session]


def init_server_db(url: str) -> None:
    """Demo setup, the CSR account and the token key into a migrated server database."""
    from models.db import open_server_db
    from models.setup_file import demo_setup_path, import_setup_file
    from sync.auth import Accounts, token_secret

    engine = open_server_db(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    import_setup_file(_Store(sessions), demo_setup_path())  # type: ignore[arg-type]
    Accounts(sessions).add_user(USERNAME, "Chaos Monkey", "csr", PASSWORD)
    # Whose name a forged booking puts in booked_by_id (the server must refuse it: models/attribution.py).
    Accounts(sessions).add_user(OTHER_USERNAME, "Chaos Lead", "supervisor", PASSWORD)
    token_secret(sessions)
    engine.dispose()


def build_templates(folder: Path) -> Templates:
    from models.db import open_cache, open_server_db

    folder.mkdir(parents=True, exist_ok=True)
    t = Templates(
        folder / "server-template.sqlite3",
        folder / "console-template.sqlite3",
        folder / "empty-template.sqlite3",
    )
    if all(p.exists() for p in (t.server_db, t.console_cache, t.empty_cache)):
        return t
    for p in (t.server_db, t.console_cache, t.empty_cache):
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)
    init_server_db(str(t.server_db))
    cache = open_cache(t.empty_cache)
    cache.close()
    checkpoint(t.empty_cache)
    Path(f"{t.empty_cache}.lock").unlink(missing_ok=True)
    engine = open_server_db(str(t.server_db))
    make_console_cache(sessionmaker(engine), t.empty_cache, t.console_cache)
    engine.dispose()
    checkpoint(t.server_db)
    return t


def make_console_cache(server: sessionmaker[Session], empty: Path, dst: Path) -> Path:
    """A console cache holding the server's setup (what a first sync will bring once setup syncs)."""
    from models.db import open_cache

    clone(empty, dst)
    cache = open_cache(dst)
    try:
        copy_setup(server, cache.sessions)
    finally:
        cache.close()
    checkpoint(dst)
    Path(f"{dst}.lock").unlink(missing_ok=True)
    return dst


# -- the server ------------------------------------------------------------------------------------------------
class ServerStore:
    """A server database as the harness sees it: tokens for the CSR account, rows for the checks."""

    def __init__(self, url: str) -> None:
        from models.db import open_server_db
        from sync.auth import token_secret

        self.url = url
        self.engine = open_server_db(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.secret = token_secret(self.sessions)

    def token(self, now: datetime | None = None) -> str:
        from models.base import utcnow
        from models.setup import User
        from sync.auth import DEFAULT_TOKEN_TTL, issue_token

        with self.sessions() as s:
            user = s.scalar(select(User).where(User.username == USERNAME))
            return issue_token(user, self.secret, DEFAULT_TOKEN_TTL, now or utcnow())

    def close(self) -> None:
        self.engine.dispose()


class InProcessServer:
    """``SyncServer`` on this event loop (what the tests and short chaos runs use)."""

    def __init__(self, store: ServerStore) -> None:
        self.store = store
        self.endpoint: Any = None
        self.server: Any = None
        self.url = ""

    async def start(self, port: int = 0) -> str:
        from sync.apply import Applier
        from sync.auth import Accounts
        from sync.server import SyncServer
        from sync.server_auth import AccountsAuthenticator

        self.server = SyncServer(
            Applier(self.store.sessions),
            AccountsAuthenticator(Accounts(self.store.sessions), self.store.secret),
        )
        self.endpoint = await self.server.serve("127.0.0.1", port)
        self.url = f"ws://127.0.0.1:{self.endpoint.sockets[0].getsockname()[1]}"
        return self.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def stop(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            await self.endpoint.wait_closed()
            self.endpoint = None
            await self.server.aclose()


class ServerProcess:
    """A real ``csr-server run`` process (kill -9 tests, benchmarks)."""

    def __init__(self, db: str, *, module: str = "sync.server_cli", extra: tuple[str, ...] = ()) -> None:
        self.db = db
        self.module = module
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, port: int = 0) -> str:
        cmd = [
            sys.executable,
            "-m",
            self.module,
            "--db",
            self.db,
            "--log-level",
            "WARNING",
            "run",
            "--port",
            str(port),
            *self.extra,
        ]
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            self.proc.kill()
            raise RuntimeError(f"csr-server did not start: {line!r}")
        self.url = line.split("listening on ")[1].strip()
        return self.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._closed()

    def _closed(self) -> None:
        if self.proc and self.proc.poll() is not None and self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()

    async def astart(self, port: int = 0) -> str:
        """``start`` off the event loop (consoles and proxies on this loop keep running)."""
        return await asyncio.to_thread(self.start, port)

    async def astop(self) -> None:
        """SIGTERM and wait without blocking the loop: the server's close handshakes with consoles
        on this loop (through proxies on this loop) must be able to finish."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            for _ in range(400):
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
        self.kill9()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self.kill9()


# -- a console -------------------------------------------------------------------------------------------------
@dataclass
class Booked:
    job_id: str
    mutation_id: str
    summary: str


@dataclass
class HeadlessConsole:
    """A console without a window: its cache, its write path and its sync client."""

    path: Path
    url: str
    token: str
    skew: timedelta = timedelta(0)
    prefix: str = ""
    backoff: tuple[float, float] = (0.05, 0.5)
    booked: list[Booked] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    refused: int = 0
    forged: list[str] = field(default_factory=list)  # mutation ids of bookings credited to another user
    # An existing console: its initial copy is done (it holds the setup; the change log brings the
    # rest). False: a new console, whose first session copies the server's tables (initial sync).
    known: bool = False

    def __post_init__(self) -> None:
        from models.base import utcnow
        from models.db import open_cache
        from models.journal import ensure_client
        from models.writer import LocalWriter
        from sync.client import SyncClient

        self.cache = open_cache(self.path)
        if self.prefix or self.known:
            from models.sync_tables import SyncState

            with self.cache.sessions.begin() as s:
                state = ensure_client(s)
                if self.prefix and not state.job_prefix:
                    state.job_prefix = self.prefix
                if self.known and s.get(SyncState, SNAPSHOT_DONE) is None:
                    s.add(SyncState(key=SNAPSHOT_DONE, value=1))
        self.writer = LocalWriter(self.cache.sessions, actor=USERNAME, clock=lambda: utcnow() + self.skew)
        # No state button here: the server's agent_state pushes would only be extra frames on the wire.
        self.client = SyncClient(
            self.cache, self.url, token=lambda: self.token, backoff=self.backoff, agent_state=False
        )
        self.task: asyncio.Task | None = None
        self._ro: Any = None
        self._options = booking_options(self.cache.sessions)

    def now(self) -> datetime:
        return self.writer.clock()

    # -- sync ------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.task is None or self.task.done():
            self.client._stopping = False
            self.task = asyncio.create_task(self.client.run())

    async def stop(self) -> None:
        if self.task is not None:
            self.client.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self.task), timeout=2)
            except TimeoutError:
                self.task.cancel()
                try:
                    await self.task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
            except Exception:  # noqa: BLE001 - a client that died is reported by the checks
                pass
            self.task = None

    def close(self) -> None:
        if self._ro is not None:
            self._ro.close()
            self._ro = None
        self.cache.close()

    def reopen(self) -> None:
        """The console quits and starts again on the same cache (sync must be stopped first)."""
        booked, customers, refused, forged = self.booked, self.customers, self.refused, self.forged
        self.close()
        self.__post_init__()
        self.booked, self.customers, self.refused, self.forged = booked, customers, refused, forged

    # The harness watches through a read-only connection: WAL readers never wait for the sync
    # client's write transactions (a pull page is applied in one transaction).
    def _read(self, sql: str, params: tuple = ()) -> Any:
        if self._ro is None:
            self._ro = self.cache.raw_connection(read_only=True)
        row = self._ro.execute(sql, params).fetchone()
        return row[0] if row else None

    def outbox(self) -> int:
        return int(self._read("SELECT count(*) FROM outbox") or 0)

    def cursor(self) -> int:
        return int(self._read("SELECT value FROM sync_state WHERE key = ?", ("pull_cursor",)) or 0)

    # -- writes -----------------------------------------------------------------------------------------
    def create_customer(self, rng: random.Random, tag: str) -> str:
        phone = f"(214) 555-{rng.randrange(100, 200):04d}"
        args = {
            "customer": {
                "name": f"Chaos {tag}",
                "street": f"{rng.randrange(1, 9999)} Main St",
                "city": "Dallas",
                "state": "TX",
                "zip": "75201",
            },
            "locations": [
                {
                    "street": f"{rng.randrange(1, 9999)} Elm St",
                    "city": "Dallas",
                    "state": "TX",
                    "zip": "75201",
                }
            ],
            "contacts": [{"kind": "MobilePhone", "value": phone}],
        }
        cid = self.writer.execute("create_customer", args).applied.entity_id
        self.customers.append(cid)
        self.client.wake()
        return cid

    def book(self, rng: random.Random, customer_id: str, summary: str) -> Booked | None:
        """A valid booking on a random fitting window; None when the console refused it (full)."""
        from models.customers import Location
        from models.validation import ValidationFailed

        with self.cache.sessions() as s:
            location = s.scalar(select(Location.id).where(Location.customer_id == customer_id).limit(1))
        today = self.now().date()
        for _ in range(8):
            bu, job_type, windows, campaign = rng.choice(self._options)
            day = today + timedelta(days=rng.randrange(3, 60))
            if day.weekday() >= 5:
                day -= timedelta(days=2)
            args = {
                "job": {
                    "customer_id": customer_id,
                    "location_id": location,
                    "business_unit_id": bu,
                    "job_type_id": job_type,
                    "campaign_id": campaign,
                    "summary": summary,
                },
                "appointment": {"day": day.isoformat(), "arrival_window_id": rng.choice(windows)},
            }
            try:
                result = self.writer.execute("book_job", args)
            except ValidationFailed:
                continue
            booked = Booked(result.applied.entity_id, result.mutation_id, summary)
            self.booked.append(booked)
            self.client.wake()
            return booked
        self.refused += 1
        return None

    def forge(self, rng: random.Random, customer_id: str, summary: str) -> bool:
        """A booking that names another user as its booker (valid in this cache, which knows that user):
        the server must refuse it, and the CSR must be told. False when the other user isn't pulled yet."""
        from models.setup import User

        with self.cache.sessions() as s:
            other = s.scalar(select(User.id).where(User.username == OTHER_USERNAME))
        if other is None:
            return False
        before = len(self.booked)
        original = self.writer.execute

        def forged(name: str, args: dict[str, Any]) -> Any:
            args["job"]["booked_by_id"] = other
            return original(name, args)

        self.writer.execute = forged  # type: ignore[method-assign]
        try:
            booked = self.book(rng, customer_id, summary)
        finally:
            del self.writer.execute
        if booked is None:
            return False
        del self.booked[before:]  # not an acknowledged booking: the server must refuse it
        self.forged.append(booked.mutation_id)
        return True

    def edit_customer(self, customer_id: str, changes: dict[str, Any]) -> None:
        from models.customers import Customer

        with self.cache.sessions() as s:
            c = s.get(Customer, customer_id)
            pairs = {k: [getattr(c, k), v] for k, v in changes.items()}
        self.writer.execute("update_customer", {"customer_id": customer_id, "changes": pairs})
        self.client.wake()


def booking_options(sessions: sessionmaker[Session]) -> list[tuple[str, str, list[str], str]]:
    """(business unit, job type, windows offered to it, campaign) combinations of the setup."""
    from models.setup_data import load_setup

    with sessions() as s:
        setup = load_setup(s)
    campaign = setup.campaigns[0].id
    out = []
    for bu in setup.business_units:
        windows = [w.id for w in setup.windows if w.allows(bu.id)]
        for jt in setup.job_types_for(bu.id):
            if windows:
                out.append((bu.id, jt.id, windows, campaign))
    if not out:
        raise RuntimeError("the setup offers nothing to book")
    return out


# -- convergence -------------------------------------------------------------------------------------------
def snapshot(sessions: sessionmaker[Session]) -> dict[str, dict[str, dict[str, Any]]]:
    """{table: {id: row data (columns + link ids)}} of every synced table."""
    from models.base import Base
    from sync.changes import primary_key, row_data

    out: dict[str, dict[str, dict[str, Any]]] = {}
    mappers = {m.local_table.name: m for m in Base.registry.mappers}
    with sessions() as s:
        for table in SYNCED_TABLES:
            out[table] = {primary_key(o): row_data(s, o) for o in s.scalars(select(mappers[table].class_))}
    return out


def _same_instant(value: Any) -> Any:
    # PostgreSQL hands timestamps back with "+00:00"; a SQLite cache stores the same UTC instant naive.
    return value.removesuffix("+00:00") if isinstance(value, str) else value


def _normal(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {c: _same_instant(v) for c, v in row.items()} for k, row in rows.items()}


def diff(a: dict[str, dict[str, dict[str, Any]]], b: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Human-readable differences between two snapshots (empty when equal)."""
    out = []
    for table in SYNCED_TABLES:
        ra, rb = _normal(a.get(table, {})), _normal(b.get(table, {}))
        for key in sorted(set(ra) | set(rb)):
            if key not in ra or key not in rb:
                out.append(f"{table}:{key} only on {'server' if key in ra else 'console'}")
            elif ra[key] != rb[key]:
                cols = sorted(k for k in set(ra[key]) | set(rb[key]) if ra[key].get(k) != rb[key].get(k))
                out.append(
                    f"{table}:{key} differs in {cols}: {[(ra[key].get(c), rb[key].get(c)) for c in cols]}"
                )
    return out
