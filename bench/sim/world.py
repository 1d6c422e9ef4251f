"""One simulated run (bench/sim): real consoles, a real server, a simulated network and virtual time.

What is real: ``SyncClient`` (sync/client.py), ``SyncServer.handle`` (sync/server.py) with the real
``Applier`` on a real SQLite server file, real console caches (``models.db.open_cache``), the real
write path (``models.writer.LocalWriter``), real tokens checked by the real authenticator.
What is simulated: the network (bench/sim/net.py) and time (bench/sim/clock.py). Everything that
varies — which console does what and when, every frame's delay, every fault — comes from the seed,
so a failing seed replays exactly: ``csr-bench chaos --sim --runs 1 --seed S --verbose``.

A run: 2–4 consoles, each signed in as its own CSR, create customers, book jobs (some into a window
another console fills first — the server accepts and flags them; some a year ahead from a console
whose clock runs days fast — the server refuses them; some "forged" with another CSR as
``booked_by_id``), and edit their own customers, while the network drops, half-opens, goes silent,
duplicates frames, consoles are killed at any await point and the server restarts. Then the network
heals and the run waits (in virtual time) for quiescence: every outbox empty and every cursor at
the server's version. The invariants (``check``):

- lost: a write the console committed that has no receipt on the server, an applied booking or new
  customer missing on the server or a console, an applied edit whose value did not survive;
- duplicated: a booking stored twice (by summary) anywhere, a mutation with two receipts;
- diverged: a synced row that differs between the server and a console (bench/headless.py ``diff``),
  an outbox not empty, a refused booking that exists anyway (counted per run);
- stalled: no quiescence by the virtual deadline, the step cap hit, or a deadlock (per run);
- refusals_unshown: a mutation the server rejected or accepted-and-flagged that is not exactly once in
  its console's durable ``sync_problems`` table, or was never handed to ``on_outcomes`` in any
  incarnation of that console (per mutation);
- misattributed: a job on the server whose ``booked_by_id`` is set and is not the user of the console
  that pushed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from ..headless import (
    PREFIXES,
    SNAPSHOT_DONE,
    HeadlessConsole,
    ServerStore,
    _Store,
    booking_options,
    checkpoint,
    clone,
    copy_setup,
    diff,
    snapshot,
)
from .clock import EPOCH, Deadlock, VirtualLoop, patched, reused_engines
from .net import Faults, Net, broadcaster

# The company of the simulation: as small as a setup gets, so a run costs milliseconds. One technician
# works 08:00–12:00 on weekdays and every job takes two hours, so each arrival window of a day holds
# exactly one job: two consoles booking one window offline is a race the server must accept and flag.
SETUP_YAML = """\
version: 1
company: {name: Sim Home Services, time_zone: America/Chicago}
business_unit_groups: [{name: Service}]
business_units: [{name: Service, group: Service, trade: HVAC}]
job_types:
  - {name: Repair, business_units: [Service], priority: Normal, duration_minutes: 120, skills: [Repair]}
campaign_categories: [{name: Online}]
campaigns: [{name: Web, category: Online}]
arrival_windows:
  - {name: 8-10, start: "08:00", end: "10:00", same_day: false, business_units: [Service]}
  - {name: 10-12, start: "10:00", end: "12:00", same_day: false, business_units: [Service]}
technicians:
  - name: Pat Sim
    business_unit: Service
    skills: [Repair]
    shifts:
      - {weekday: mon, start: "08:00", end: "12:00"}
      - {weekday: tue, start: "08:00", end: "12:00"}
      - {weekday: wed, start: "08:00", end: "12:00"}
      - {weekday: thu, start: "08:00", end: "12:00"}
      - {weekday: fri, start: "08:00", end: "12:00"}
capacity: [{group: Service, bookable_percent: 100, overbooking_warn_percent: 100}]
booking_preferences: {required_fields: [summary]}
"""
USERNAMES = ("sim-a", "sim-b", "sim-c", "sim-d")
PASSWORD = "simulated password 1"
# A console's clock: right, a day slow (its "tomorrow" is the server's today: flagged), or three days
# fast (its bookings a year ahead are past the server's horizon: refused).
SKEWS = (timedelta(0), timedelta(0), timedelta(0), timedelta(days=-1), timedelta(days=3))
REPLAY = "csr-bench chaos --sim --runs 1 --seed {seed} --verbose"


@dataclass
class SimTemplates:
    server_db: Path
    console_cache: Path
    user_ids: list[str]
    tokens: list[str]
    # (business unit, job type, windows, campaign) of the setup: plain ids, read once (reading the
    # setup for every console incarnation cost 20 ms each).
    options: list[tuple[str, str, list[str], str]] = field(default_factory=list)


@dataclass
class SimParams:
    consoles: tuple[int, int] = (2, 4)
    ops: tuple[int, int] = (1, 4)  # writes per console after its first customer
    deadline_s: float = 300.0  # virtual seconds from heal to quiescence
    step_cap: int = 400_000  # loop iterations per run
    max_kills: int = 4
    max_restarts: int = 2


@dataclass
class Write:
    console: int
    kind: str  # customer / book / edit
    mutation_id: str
    entity_id: str
    summary: str = ""
    changes: dict[str, Any] = field(default_factory=dict)
    forged: bool = False
    far: bool = False


@dataclass
class SimResult:
    seed: int
    lost: int = 0
    duplicated: int = 0
    diverged: bool = False
    stalled: bool = False
    refusals_unshown: int = 0
    misattributed: int = 0
    writes: int = 0
    rejected: int = 0
    flagged: int = 0
    virtual_s: float = 0.0
    steps: int = 0
    trace: str = ""
    faults: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.diverged
            or self.stalled
            or self.refusals_unshown
            or self.misattributed
        )


# -- templates -------------------------------------------------------------------------------------------
def build_sim_templates(folder: Path) -> SimTemplates:
    """A migrated server database with the tiny setup and four CSRs, their tokens, and a console cache
    that already holds the setup and the users at the server's version (so a run pulls only its own
    changes). Built once under the simulation's clock and seeded ids; copied per run."""
    import sync.auth as auth
    from models.db import open_cache, open_server_db
    from models.setup_file import import_setup_file
    from models.sync_tables import SyncState
    from sync.apply import current_version
    from sync.changes import apply_change, row_data

    folder.mkdir(parents=True, exist_ok=True)
    t = SimTemplates(folder / "sim-server.sqlite3", folder / "sim-console.sqlite3", [], [])
    for p in (t.server_db, t.console_cache):
        for suffix in ("", "-wal", "-shm", ".lock"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)
    (folder / "sim-setup.yaml").write_text(SETUP_YAML)
    rng = random.Random(0)
    with patched(VirtualLoop(), rng), _seeded_secrets(rng):
        engine = open_server_db(str(t.server_db))
        sessions = sessionmaker(engine, expire_on_commit=False)
        import_setup_file(_Store(sessions), folder / "sim-setup.yaml")  # type: ignore[arg-type]
        accounts = auth.Accounts(sessions)
        users = [accounts.add_user(name, f"Sim {name[-1].upper()}", "csr", PASSWORD) for name in USERNAMES]
        secret = auth.token_secret(sessions)
        t.user_ids = [u.id for u in users]
        t.tokens = [auth.issue_token(u, secret, auth.DEFAULT_TOKEN_TTL, EPOCH) for u in users]
        with sessions() as s:
            version = current_version(s)
        cache = open_cache(t.console_cache)
        try:
            copy_setup(sessions, cache.sessions)
            with sessions() as s, cache.sessions.begin() as d:
                from models.setup import User

                for user in s.scalars(select(User)):
                    apply_change(d, "users", user.id, "upsert", row_data(s, user))
                d.merge(SyncState(key="pull_cursor", value=version))
                d.merge(SyncState(key=SNAPSHOT_DONE, value=1))
            t.options = booking_options(cache.sessions)
        finally:
            cache.close()
        engine.dispose()
    for p in (t.server_db, t.console_cache):
        checkpoint(p)
        Path(f"{p}.lock").unlink(missing_ok=True)
    return t


@contextlib.contextmanager
def _seeded_secrets(rng: random.Random) -> Iterator[None]:
    """The token key and token ids from the seed too (sync/auth.py draws them from ``secrets``)."""
    import types

    import sync.auth as auth

    saved = auth.secrets
    auth.secrets = types.SimpleNamespace(  # type: ignore[assignment]
        token_hex=lambda n=32: rng.randbytes(n).hex(),
        token_bytes=lambda n=32: rng.randbytes(n),
        compare_digest=saved.compare_digest,
    )
    try:
        yield
    finally:
        auth.secrets = saved


# -- a console ---------------------------------------------------------------------------------------------
@dataclass
class SimConsole(HeadlessConsole):
    """A headless console (bench/headless.py) whose sync client connects through the simulated network
    and who tells the harness every outcome handed to ``on_outcomes`` (kept across incarnations)."""

    index: int = 0
    username: str = ""
    user_id: str = ""
    world: Any = None
    told: dict[str, int] = field(default_factory=dict)  # mutation id → times handed to on_outcomes
    up: asyncio.Event = field(default_factory=asyncio.Event)
    incarnations: int = 0

    def __post_init__(self) -> None:
        from models.base import utcnow
        from models.db import open_cache
        from models.journal import ensure_client
        from models.writer import LocalWriter
        from sync.client import SyncClient

        self.cache = open_cache(self.path)
        with self.cache.sessions.begin() as s:
            state = ensure_client(s)
            if self.prefix and not state.job_prefix:
                state.job_prefix = self.prefix
        self.writer = LocalWriter(
            self.cache.sessions, actor=self.username, clock=lambda: utcnow() + self.skew
        )
        # The client's own backoff (0.5 s … 30 s): virtual time makes waiting free.
        self.client = SyncClient(
            self.cache,
            "sim://server",
            token=lambda: self.token,
            agent_state=False,
            connect=lambda: _Connect(self.world, self.index),
            on_outcomes=self._outcomes,
        )
        self.task = None
        self._ro = None
        self._options = self.world.templates.options
        self.incarnations += 1

    def _outcomes(self, outcomes: list[Any]) -> None:
        for o in outcomes:
            mid = str(o.receipt.get("mutation_id"))
            self.told[mid] = self.told.get(mid, 0) + 1

    def problems_stored(self, mutation_id: str) -> int:
        try:
            return int(
                self._read("SELECT count(*) FROM sync_problems WHERE mutation_id = ?", (mutation_id,)) or 0
            )
        except sqlite3.OperationalError:  # a cache without the table: nothing is stored
            return 0


class _Connect:
    """``SyncClient(connect=...)``: an async context manager yielding the console's end of a new link."""

    def __init__(self, world: World, console: int) -> None:
        self.world = world
        self.console = console
        self.link: Any = None

    async def __aenter__(self) -> Any:
        w = self.world
        await asyncio.sleep(w.net.rng.uniform(0.001, 0.03))  # the upgrade's round trip
        if not w.server_up:
            w.net.counts["refused"] += 1
            raise ConnectionRefusedError("the simulated server is down")
        self.link = w.net.link(self.console)
        w.accept(self.link)
        return self.link.client

    async def __aexit__(self, *exc: object) -> None:
        if self.link is not None:
            await self.link.client.close()


# -- the world -------------------------------------------------------------------------------------------
class World:
    """The server, the consoles, the network and the workload of one run."""

    def __init__(
        self, seed: int, templates: SimTemplates, workdir: Path, params: SimParams, loop: VirtualLoop
    ) -> None:
        self.seed = seed
        self.params = params
        self.loop = loop
        self.rng = random.Random(seed)
        self.templates = templates
        self.workdir = workdir
        self.faults = self._faults()
        self.net = Net(loop, random.Random(self.rng.getrandbits(64)), self.faults)
        self.net.on_kill = self.kill
        self.net.on_restart = self.restart
        self.net.redact = [(tok, f"<token-{i}>") for i, tok in enumerate(templates.tokens)]
        self.store = ServerStore(str(clone(templates.server_db, workdir / "server.sqlite3")))
        self.server: Any = None
        self.server_up = False
        self.server_tasks: set[asyncio.Task[None]] = set()
        self.consoles: list[SimConsole] = []
        self.writes: list[Write] = []
        self.chores: set[asyncio.Task[None]] = set()  # kills and restarts in progress
        self.kills = 0
        self.restarts = 0
        self.restarting = False
        self.problems: list[str] = []

    def _faults(self) -> Faults:
        r = self.rng

        def maybe(lo: float, hi: float) -> float:
            return r.uniform(lo, hi) if r.random() < 0.6 else 0.0

        return Faults(
            drop=maybe(0.005, 0.06),
            half_open=maybe(0.005, 0.05),
            silent=maybe(0.001, 0.01),
            duplicate=maybe(0.02, 0.2),
            kill=maybe(0.005, 0.04),
            restart=maybe(0.002, 0.01),
            delay=(0.0005, r.choice((0.005, 0.02, 0.2))),
        )

    # -- server -----------------------------------------------------------------------------------------
    def start_server(self) -> None:
        from sync.apply import Applier
        from sync.auth import Accounts
        from sync.server import SyncServer
        from sync.server_auth import AccountsAuthenticator

        self.server = SyncServer(
            Applier(self.store.sessions),
            AccountsAuthenticator(Accounts(self.store.sessions), self.store.secret),
        )
        self.server_up = True

    def accept(self, link: Any) -> None:
        task = self.loop.create_task(self._serve(self.server, link))
        self.server_tasks.add(task)
        task.add_done_callback(self.server_tasks.discard)

    @staticmethod
    async def _serve(server: Any, link: Any) -> None:
        try:
            await server.handle(link.server)
        finally:
            link.close_from("down")  # the handler returned: the server closes the socket

    async def stop_server(self) -> None:
        self.server_up = False
        self.net.all_cut()
        for task in list(self.server_tasks):
            task.cancel()
        await asyncio.gather(*self.server_tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.aclose()

    def restart(self) -> None:
        if self.restarting or self.restarts >= self.params.max_restarts:
            return
        self.restarts += 1
        self.restarting = True
        self._chore(self._restart())

    async def _restart(self) -> None:
        try:
            await self.stop_server()
            await asyncio.sleep(self.rng.uniform(0.05, 3.0))
            self.start_server()
        finally:
            self.restarting = False

    # -- consoles ---------------------------------------------------------------------------------------
    def kill(self, index: int) -> None:
        c = self.consoles[index]
        if not c.up.is_set() or self.kills >= self.params.max_kills:
            return
        self.kills += 1
        c.up.clear()
        self._chore(self._kill(c))

    async def _kill(self, c: SimConsole) -> None:
        """The console dies wherever its sync task waits (the cancel lands at its next await), its
        cache is closed, and a new console process opens the same cache a moment later."""
        if c.task is not None:
            c.task.cancel()
            await asyncio.gather(c.task, return_exceptions=True)
            c.task = None
        c.close()
        await asyncio.sleep(self.rng.uniform(0.0, 2.0))
        c.__post_init__()
        c.start()
        c.up.set()

    def _chore(self, coroutine: Any) -> None:
        task = self.loop.create_task(coroutine)
        self.chores.add(task)
        task.add_done_callback(self.chores.discard)

    def make_consoles(self) -> None:
        n = self.rng.randint(*self.params.consoles)
        self.net.consoles = n
        for i in range(n):
            c = SimConsole(
                clone(self.templates.console_cache, self.workdir / f"console-{i}.sqlite3"),
                "sim://server",
                self.templates.tokens[i],
                skew=self.rng.choice(SKEWS),
                prefix=PREFIXES[i],
                index=i,
                username=USERNAMES[i],
                user_id=self.templates.user_ids[i],
                world=self,
            )
            c.up.set()
            self.consoles.append(c)

    # -- the workload -------------------------------------------------------------------------------------
    async def work(self, c: SimConsole) -> None:
        crng = random.Random(self.seed * 1000 + c.index)
        if crng.random() < 0.8:
            c.start()
        else:
            self.loop.call_later(crng.uniform(1.0, 20.0), c.start)  # worked offline first
        await asyncio.sleep(crng.uniform(0.0, 1.0))
        await c.up.wait()
        self.create_customer(c, crng, 0)
        for k in range(1, crng.randint(*self.params.ops) + 1):
            await asyncio.sleep(crng.uniform(0.0, 1.5))
            await c.up.wait()
            roll = crng.random()
            if roll < 0.40:
                self.book(c, crng, k)
            elif roll < 0.50:
                self.book(c, crng, k, far=c.skew > timedelta(0))
            elif roll < 0.60 and len(self.consoles) > 1:
                self.book(c, crng, k, forged=True)
            elif roll < 0.85:
                self.edit(c, crng, k)
            else:
                self.create_customer(c, crng, k)

    def _write(self, c: SimConsole, name: str, args: dict[str, Any]) -> Any:
        result = c.writer.execute(name, args)
        c.client.wake()
        return result

    def create_customer(self, c: SimConsole, crng: random.Random, k: int) -> None:
        tag = f"{self.seed}-{c.index}-{k}"
        args = {
            "customer": {
                "name": f"Sim {tag}",
                "street": f"{crng.randrange(1, 9999)} Main St",
                "city": "Dallas",
                "state": "TX",
                "zip": "75201",
            },
            "locations": [
                {
                    "street": f"{crng.randrange(1, 9999)} Elm St",
                    "city": "Dallas",
                    "state": "TX",
                    "zip": "75201",
                }
            ],
            "contacts": [{"kind": "MobilePhone", "value": f"(214) 555-{crng.randrange(100, 200):04d}"}],
        }
        result = self._write(c, "create_customer", args)
        c.customers.append(result.applied.entity_id)
        self.writes.append(Write(c.index, "customer", result.mutation_id, result.applied.entity_id))

    def _days(self, c: SimConsole, far: bool) -> list[date]:
        today = (EPOCH + timedelta(seconds=self.loop.time()) + c.skew).date()
        first = today + timedelta(days=363 if far else 1)
        days = [first + timedelta(days=i) for i in range(8)]
        return [d for d in days if d.weekday() < 5][:3]

    def book(
        self, c: SimConsole, crng: random.Random, k: int, *, far: bool = False, forged: bool = False
    ) -> None:
        from models.customers import Location
        from models.validation import ValidationFailed

        customer = crng.choice(c.customers)
        with c.cache.sessions() as s:
            location = s.scalar(select(Location.id).where(Location.customer_id == customer).limit(1))
        bu, job_type, windows, campaign = c._options[0]
        summary = f"sim {self.seed}-{c.index}-{k}"
        job: dict[str, Any] = {
            "customer_id": customer,
            "location_id": location,
            "business_unit_id": bu,
            "job_type_id": job_type,
            "campaign_id": campaign,
            "summary": summary,
        }
        if forged:
            other = crng.choice([x for x in self.consoles if x is not c])
            job["booked_by_id"] = other.user_id
        slots = [(d, w) for d in self._days(c, far) for w in windows]
        crng.shuffle(slots)
        for day, window in slots[:4]:
            args = {"job": job, "appointment": {"day": day.isoformat(), "arrival_window_id": window}}
            try:
                result = self._write(c, "book_job", args)
            except ValidationFailed:
                continue  # full on this console: the CSR picks another window
            self.writes.append(
                Write(
                    c.index,
                    "book",
                    result.mutation_id,
                    result.applied.entity_id,
                    summary=summary,
                    forged=forged,
                    far=far,
                )
            )
            return
        c.refused += 1

    def edit(self, c: SimConsole, crng: random.Random, k: int) -> None:
        from models.customers import Customer

        cid = crng.choice(c.customers)
        fld, value = crng.choice((("name", f"Sim {self.seed}-{c.index}-{k} edited"), ("unit", f"#{k}")))
        with c.cache.sessions() as s:
            old = getattr(s.get(Customer, cid), fld)
        result = self._write(c, "update_customer", {"customer_id": cid, "changes": {fld: [old, value]}})
        self.writes.append(Write(c.index, "edit", result.mutation_id, cid, changes={fld: value}))

    # -- the run -------------------------------------------------------------------------------------------
    async def main(self, result: SimResult) -> None:
        self.start_server()
        self.make_consoles()
        await asyncio.gather(*(self.work(c) for c in self.consoles))
        # Heal: no more faults; the kills and restarts under way finish; every console runs.
        self.net.faults_on = False
        while self.chores:
            await asyncio.gather(*list(self.chores), return_exceptions=True)
        if not self.server_up:
            self.start_server()
        for c in self.consoles:
            if c.task is not None and c.task.done() and not c.task.cancelled() and c.task.exception():
                self.problems.append(f"console {c.index}: sync task died: {c.task.exception()!r}")
            c.start()
            c.client.wake()
        result.stalled = not await self.quiescent(self.params.deadline_s)

    async def quiescent(self, deadline_s: float) -> bool:
        """Every outbox empty and every cursor at the server's version, twice in a row 0.5 s apart."""
        from sync.apply import current_version

        deadline = self.loop.time() + deadline_s
        calm = 0
        while self.loop.time() < deadline:
            with self.store.sessions() as s:
                version = current_version(s)
            if all(c.outbox() == 0 and c.cursor() >= version for c in self.consoles):
                calm += 1
                if calm >= 2:
                    return True
            else:
                calm = 0
            await asyncio.sleep(0.5)
        return False

    async def teardown(self) -> None:
        for c in self.consoles:
            if c.task is not None:
                c.task.cancel()
                await asyncio.gather(c.task, return_exceptions=True)
                c.task = None
        for task in list(self.chores):
            task.cancel()
        await asyncio.gather(*self.chores, return_exceptions=True)
        await self.stop_server()

    def close(self) -> None:
        for c in self.consoles:
            with contextlib.suppress(Exception):
                c.close()
        self.store.close()


# -- the checks --------------------------------------------------------------------------------------------
def check(world: World, result: SimResult) -> None:
    from models.customers import Customer
    from models.jobs import Job
    from models.sync_tables import ReceiptRow

    store, consoles, writes = world.store, world.consoles, world.writes
    result.writes = len(writes)
    with store.sessions() as s:
        receipts: dict[str, list[ReceiptRow]] = {}
        for r in s.scalars(select(ReceiptRow)):
            receipts.setdefault(r.mutation_id, []).append(r)
        server_jobs = {j.id: j for j in s.scalars(select(Job))}
        for j in server_jobs.values():
            s.expunge(j)
    booked_by_console = {w.entity_id: w.console for w in writes if w.kind == "book"}
    places = [("server", store.sessions)] + [(f"console {c.index}", c.cache.sessions) for c in consoles]
    summaries = [w.summary for w in writes if w.kind == "book"]
    last_edit: dict[tuple[str, str], Any] = {}
    for w in writes:
        rows = receipts.get(w.mutation_id, [])
        if not rows:
            result.lost += 1
            result.problems.append(
                f"console {w.console}: {w.kind} {w.mutation_id} has no receipt on the server"
            )
            continue
        if len(rows) > 1:
            result.duplicated += 1
            result.problems.append(f"server: mutation {w.mutation_id} has {len(rows)} receipts")
        r = rows[0]
        response = r.response or {}
        flagged = bool(((response.get("result") or {}).get("warnings") or {}).get("window"))
        if r.status == "rejected" or flagged:
            result.rejected += r.status == "rejected"
            result.flagged += flagged
            c = consoles[w.console]
            stored, told = c.problems_stored(w.mutation_id), c.told.get(w.mutation_id, 0)
            if stored != 1 or told == 0:
                result.refusals_unshown += 1
                result.problems.append(
                    f"console {w.console}: {r.status}{' (flagged)' if flagged else ''} "
                    f"{w.kind} {w.mutation_id}: {stored} in sync_problems, handed to "
                    f"on_outcomes {told} times"
                )
        if r.status == "rejected":
            if w.kind == "book" and w.entity_id in server_jobs:
                result.diverged = True
                result.problems.append(f"server: refused booking {w.summary!r} stored anyway")
            continue
        if w.kind == "edit":
            for fld, value in w.changes.items():
                last_edit[(w.entity_id, fld)] = value
    for where, sessions in places:
        with sessions() as s:
            counts = dict(
                s.execute(
                    select(Job.summary, func.count()).where(Job.summary.in_(summaries)).group_by(Job.summary)
                ).all()
            )
            ids = set(s.scalars(select(Job.id).where(Job.id.in_(list(booked_by_console)))))
            customers = {
                c.id: c
                for c in s.scalars(
                    select(Customer).where(
                        Customer.id.in_([w.entity_id for w in writes if w.kind in ("customer", "edit")])
                    )
                )
            }
            values = {
                key: getattr(customers[key[0]], key[1]) if key[0] in customers else None for key in last_edit
            }
        for w in writes:
            rows = receipts.get(w.mutation_id, [])
            if not rows or rows[0].status != "applied":
                continue
            if w.kind == "book":
                if w.entity_id not in ids:
                    result.lost += 1
                    result.problems.append(f"{where}: booking {w.summary!r} ({w.entity_id}) missing")
                if counts.get(w.summary, 0) > 1:
                    result.duplicated += 1
                    result.problems.append(f"{where}: booking {w.summary!r} stored {counts[w.summary]} times")
            elif w.kind == "customer" and w.entity_id not in customers:
                result.lost += 1
                result.problems.append(f"{where}: customer {w.entity_id} missing")
        for key, value in last_edit.items():
            if values[key] != value:
                result.lost += 1
                result.problems.append(f"{where}: edit {key} = {value!r} lost (has {values[key]!r})")
    for job_id, index in booked_by_console.items():
        job = server_jobs.get(job_id)
        if job is not None and job.booked_by_id is not None and job.booked_by_id != consoles[index].user_id:
            result.misattributed += 1
            result.problems.append(
                f"server: job {job.summary!r} pushed by {consoles[index].username} is "
                f"booked by {job.booked_by_id}"
            )
    server_snap = snapshot(store.sessions)
    for c in consoles:
        differences = diff(server_snap, snapshot(c.cache.sessions))
        outbox = c.outbox()
        if differences or outbox:
            result.diverged = True
            result.problems += [f"console {c.index}: {d}" for d in differences[:5]]
            if outbox:
                result.problems.append(f"console {c.index}: outbox {outbox}")


# -- running --------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _patched_broadcast() -> Iterator[None]:
    import sync.floor
    import sync.server

    saved = sync.server.broadcast, sync.floor.broadcast
    sync.server.broadcast = sync.floor.broadcast = broadcaster()  # type: ignore[assignment]
    try:
        yield
    finally:
        sync.server.broadcast, sync.floor.broadcast = saved


def run_one_sim(
    seed: int,
    templates: SimTemplates,
    workdir: Path,
    params: SimParams | None = None,
    keep_trace: bool = False,
) -> SimResult:
    """One seeded run in virtual time; the result carries the invariants and the trace's hash."""
    params = params or SimParams()
    result = SimResult(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    loop = VirtualLoop()
    for p in workdir.glob("*.sqlite3*"):  # the same paths every run: their engines are reused
        p.unlink()
    with patched(loop, random.Random(seed ^ 0x5EED)), _patched_broadcast(), reused_engines():
        asyncio.set_event_loop(loop)
        world = World(seed, templates, workdir, params, loop)
        if keep_trace:
            world.net.trace_lines = []
        main = loop.create_task(world.main(result))

        def cap(steps: int) -> None:
            if steps == params.step_cap and not main.done():
                world.problems.append(f"step cap ({params.step_cap}) hit at {loop.time():.1f} s virtual")
                main.cancel()

        loop.on_step = cap
        try:
            loop.run_until_complete(main)
        except asyncio.CancelledError:
            result.stalled = True
        except Deadlock as exc:
            result.stalled = True
            world.problems.append(f"deadlock at {loop.time():.1f} s virtual: {exc}")
        result.virtual_s = round(loop.time(), 3)
        result.steps = loop.steps
        try:
            check(world, result)
        except Exception as exc:  # noqa: BLE001 - a check that can't read is a failure to show, not a crash
            result.diverged = True
            result.problems.append(f"check failed: {exc!r}")
        loop.on_step = lambda steps: None
        with contextlib.suppress(Deadlock):
            loop.run_until_complete(world.teardown())
            rest = asyncio.all_tasks(loop)
            for task in rest:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*rest, return_exceptions=True))
        world.close()
        loop.close()
        result.faults["unhandled_task_errors"] = len(loop.unhandled)
        asyncio.set_event_loop(None)
    result.problems = world.problems + result.problems
    result.trace = world.net.trace.hexdigest()
    result.faults = dict(world.net.counts, frames=world.net.frames, **result.faults)
    if keep_trace:
        result.faults["trace_lines"] = len(world.net.trace_lines or [])
        world_trace = world.net.trace_lines
        result.problems += [] if result.ok else [f"trace: {line[:200]}" for line in (world_trace or [])[-20:]]
    return result
