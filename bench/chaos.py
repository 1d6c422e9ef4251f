"""Seeded randomized sync runs under network faults (`csr-bench chaos`, tests/faults/test_chaos.py).

One run (one seed): a fresh server (in-process ``SyncServer`` on a copy of the template database) and
2–4 headless consoles, each behind its own ``FaultProxy``. The consoles create customers, book jobs
and edit their own customers' fields at random moments while a fault task flips each proxy between
pass, delay, drop, cut mid-frame (either direction) and black-hole, restarts the server now and then
and restarts consoles (close the cache, open it again). Some consoles run with their clock ±24 h off.
Then every proxy is healed and the run waits for quiescence: every outbox empty and every console's
cursor at the server's version. Checks, after quiescence:

- lost: an acknowledged booking (the console saved it and queued it) missing on the server or on any
  console; an acknowledged field edit whose value did not survive (each console edits only its own
  customers' fields unless ``conflicts`` is on);
- duplicated: a booking (by its unique summary) or a customer stored more than once anywhere, or one
  mutation with more than one receipt;
- diverged: any synced row (customers, locations, contact methods, jobs, appointments and their tags)
  that differs between the server and a console, or a pending count that differs from the outbox;
- stalled: quiescence not reached before the deadline.

``lost`` and ``duplicated`` count items; ``diverged`` and ``stalled`` count runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from .faultproxy import FaultProxy
from .headless import (
    PREFIXES,
    HeadlessConsole,
    InProcessServer,
    ServerStore,
    Templates,
    build_templates,
    clone,
    diff,
    snapshot,
)

SKEWS = (timedelta(0), timedelta(0), timedelta(hours=24), timedelta(hours=-24))
FAULTS = ("pass", "pass", "delay", "drop", "cut", "blackhole")


@dataclass
class RunResult:
    seed: int
    lost: int = 0
    duplicated: int = 0
    diverged: bool = False
    stalled: bool = False
    rejected: int = 0  # refusals the consoles stored and showed (durable sync problems)
    flagged: int = 0  # bookings kept and flagged (a full window, a new job number)
    refusals_unshown: int = 0  # a refused or flagged change missing from its console's problems
    misattributed: int = 0  # a job on the server credited to a user who didn't push it
    locked: int = 0  # local saves refused with "database is locked" (see docs/faults.md)
    bookings: int = 0
    seconds: float = 0.0
    settle_s: float = 0.0  # heal → quiescence
    phases: dict[str, float] = field(default_factory=dict)
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


@dataclass
class Params:
    consoles: tuple[int, int] = (2, 3)
    ops: tuple[int, int] = (3, 7)  # writes per console
    gap_ms: tuple[int, int] = (0, 40)  # pause between writes
    fault_every_ms: tuple[int, int] = (20, 150)
    server_restarts: float = 0.15  # chance per run of restarting the server mid-run
    console_restarts: float = 0.25  # chance per console of a restart mid-run
    deadline_s: float = 30.0  # quiescence must come within this
    conflicts: bool = False  # also edit one shared customer's name from every console


async def run_one(seed: int, templates: Templates, workdir: Path, params: Params | None = None) -> RunResult:
    p = params or Params()
    rng = random.Random(seed)
    result = RunResult(seed)
    t0 = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    store = ServerStore(str(clone(templates.server_db, workdir / "server.sqlite3")))
    server = InProcessServer(store)
    await server.start()
    token = store.token()
    n = rng.randint(*p.consoles)
    proxies = [await FaultProxy("127.0.0.1", server.port).start() for _ in range(n)]
    consoles = [
        HeadlessConsole(
            clone(templates.console_cache, workdir / f"console-{i}.sqlite3"),
            proxies[i].url,
            token,
            skew=rng.choice(SKEWS),
            prefix=PREFIXES[i],
            known=rng.random() < 0.6,
        )
        for i in range(n)
    ]
    result.phases["setup"] = round(time.monotonic() - t0, 2)
    expected_fields: dict[tuple[str, str], Any] = {}  # (customer, field) → last acknowledged value
    shared: list[str] = []
    running = True
    try:
        for c in consoles:
            if rng.random() < 0.85:  # some consoles start offline and catch up later
                c.start()

        async def faults() -> None:
            while running:
                await asyncio.sleep(rng.randint(*p.fault_every_ms) / 1000)
                if not running:
                    return
                proxy = rng.choice(proxies)
                kind = rng.choice(FAULTS)
                proxy.set(kind, delay_ms=rng.randint(5, 200), direction=rng.choice(("up", "down", "both")))

        async def server_restart() -> None:
            await asyncio.sleep(rng.uniform(0.05, 0.6))
            await server.stop()
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            await server.start()
            for proxy in proxies:
                proxy.retarget(server.port)

        async def work(i: int, c: HeadlessConsole) -> None:
            crng = random.Random(seed * 1000 + i)
            c.create_customer(crng, f"{seed}-{i}-0")
            restart_at = crng.randint(1, p.ops[1]) if crng.random() < p.console_restarts else -1
            for k in range(crng.randint(*p.ops)):
                await asyncio.sleep(crng.randint(*p.gap_ms) / 1000)
                if k == restart_at:
                    await c.stop()
                    c.reopen()
                    c.start()
                try:
                    await write(c, crng, k)
                except OperationalError as exc:  # a pull page held the cache's write lock > 3 s
                    if "locked" not in str(exc):
                        raise
                    result.locked += 1
            if c.task is None:
                c.start()

        async def write(c: HeadlessConsole, crng: random.Random, k: int) -> None:
            i = consoles.index(c)
            roll = crng.random()
            if roll < 0.06 and c.forge(crng, crng.choice(c.customers), f"forged {seed}-{i}-{k}"):
                pass
            elif roll < 0.6:
                c.book(crng, crng.choice(c.customers), f"chaos {seed}-{i}-{k}")
            elif roll < 0.85:
                cid = crng.choice(c.customers)
                fld, value = crng.choice((("name", f"Chaos {seed}-{i}-{k}"), ("unit", f"#{k}")))
                c.edit_customer(cid, {fld: value})
                expected_fields[(cid, fld)] = value
            elif roll < 0.93 or not shared:
                c.create_customer(crng, f"{seed}-{i}-{k}")
            elif p.conflicts:
                with contextlib.suppress(Exception):  # not pulled here yet
                    c.edit_customer(shared[0], {"name": f"Shared {seed}-{i}-{k}"})

        fault_task = asyncio.create_task(faults())
        restart_task = asyncio.create_task(server_restart()) if rng.random() < p.server_restarts else None
        if p.conflicts:
            shared.append(consoles[0].create_customer(rng, f"{seed}-shared"))
        t_ops = time.monotonic()
        await asyncio.gather(*(work(i, c) for i, c in enumerate(consoles)))
        result.phases["ops"] = round(time.monotonic() - t_ops, 2)
        running = False
        fault_task.cancel()
        if restart_task is not None:
            await restart_task
        for proxy in proxies:
            proxy.set_pass()
        for c in consoles:
            c.start()
            c.client.wake()
        t_heal = time.monotonic()
        result.stalled = not await quiescent(store, consoles, p.deadline_s)
        result.settle_s = round(time.monotonic() - t_heal, 2)
        t_check = time.monotonic()
        check(result, store, consoles, expected_fields, conflicts=p.conflicts)
        result.phases["check"] = round(time.monotonic() - t_check, 2)
    finally:
        t_down = time.monotonic()
        running = False
        for c in consoles:
            await c.stop()
            c.close()
        for proxy in proxies:
            await proxy.close()
        await server.stop()
        store.close()
        result.phases["teardown"] = round(time.monotonic() - t_down, 2)
    result.seconds = round(time.monotonic() - t0, 2)
    return result


def server_version(store: ServerStore) -> int:
    from sync.apply import current_version

    with store.sessions() as s:
        return current_version(s)


async def quiescent(store: ServerStore, consoles: list[HeadlessConsole], deadline_s: float) -> bool:
    """Every outbox empty and every cursor at the server's version, twice in a row 50 ms apart."""
    deadline = time.monotonic() + deadline_s
    calm = 0
    while time.monotonic() < deadline:
        version = server_version(store)
        if all(c.outbox() == 0 and c.cursor() >= version for c in consoles):
            calm += 1
            if calm >= 2:
                return True
        else:
            calm = 0
        await asyncio.sleep(0.05)
    return False


def check(
    result: RunResult,
    store: ServerStore,
    consoles: list[HeadlessConsole],
    expected_fields: dict[tuple[str, str], Any],
    *,
    conflicts: bool = False,
) -> None:
    from models.customers import Customer
    from models.jobs import Job
    from models.sync_tables import ReceiptRow

    booked = [b for c in consoles for b in c.booked]
    result.bookings = len(booked)
    summaries = [b.summary for b in booked]
    created = [cid for c in consoles for cid in c.customers]
    mutation_ids = [b.mutation_id for b in booked]
    server_snap = snapshot(store.sessions)
    places = [("server", store.sessions)] + [
        (f"console {i}", c.cache.sessions) for i, c in enumerate(consoles)
    ]
    for where, sessions in places:
        with sessions() as s:
            jobs = dict(
                s.execute(
                    select(Job.summary, func.count()).where(Job.summary.in_(summaries)).group_by(Job.summary)
                ).all()
            )
            customers = dict(
                s.execute(
                    select(Customer.id, func.count()).where(Customer.id.in_(created)).group_by(Customer.id)
                ).all()
            )
            values = {
                key: getattr(s.get(Customer, key[0]), key[1], None) if s.get(Customer, key[0]) else None
                for key in expected_fields
            }
        for b in booked:
            count = jobs.get(b.summary, 0)
            if count == 0:
                result.lost += 1
                result.problems.append(f"{where}: booking {b.summary!r} ({b.job_id}) missing")
            elif count > 1:
                result.duplicated += 1
                result.problems.append(f"{where}: booking {b.summary!r} stored {count} times")
        for cid in created:
            if customers.get(cid, 0) == 0:
                result.lost += 1
                result.problems.append(f"{where}: customer {cid} missing")
        if not conflicts:
            for key, value in expected_fields.items():
                if values[key] != value:
                    result.lost += 1
                    result.problems.append(f"{where}: edit {key} = {value!r} lost (has {values[key]!r})")
    with store.sessions() as s:
        receipts = dict(
            s.execute(
                select(ReceiptRow.mutation_id, func.count())
                .where(ReceiptRow.mutation_id.in_(mutation_ids))
                .group_by(ReceiptRow.mutation_id)
            ).all()
        )
    for mid, count in receipts.items():
        if count > 1:
            result.duplicated += 1
            result.problems.append(f"server: mutation {mid} has {count} receipts")
    refusals_check(result, store, consoles)
    for i, c in enumerate(consoles):
        differences = diff(server_snap, snapshot(c.cache.sessions))
        outbox, pending = c.outbox(), c.client.status.pending
        if differences or outbox or pending != outbox:
            result.diverged = True
            result.problems += [f"console {i}: {d}" for d in differences[:5]]
            if outbox or pending != outbox:
                result.problems.append(f"console {i}: outbox {outbox}, status.pending {pending}")


def refusals_check(result: RunResult, store: ServerStore, consoles: list[HeadlessConsole]) -> None:
    """Every change the server refused (or kept and flagged) is in its console's durable problems list
    exactly once; every forged booking was refused; no job is credited to a user who didn't push it."""
    from models.jobs import Job
    from models.setup import User
    from models.sync_tables import ReceiptRow, SyncProblem

    from .headless import USERNAME

    with store.sessions() as s:
        told = {
            r.mutation_id: r
            for r in s.scalars(
                select(ReceiptRow).where(ReceiptRow.client_id.in_([c.client.client_id for c in consoles]))
            )
        }
        chaos_user = s.scalar(select(User.id).where(User.username == USERNAME))
        result.misattributed += (
            s.scalar(select(func.count()).select_from(Job).where(Job.booked_by_id != chaos_user)) or 0
        )
    for i, c in enumerate(consoles):
        with c.cache.sessions() as s:
            problems = {p.mutation_id: p.kind for p in s.scalars(select(SyncProblem))}
        result.rejected += sum(1 for k in problems.values() if k == "rejected")
        result.flagged += sum(1 for k in problems.values() if k != "rejected")
        for mid, r in told.items():
            warnings = ((r.response or {}).get("result") or {}).get("warnings") or {}
            worth_telling = r.status == "rejected" or warnings.get("window") or warnings.get("number")
            if r.client_id == c.client.client_id and worth_telling and mid not in problems:
                result.refusals_unshown += 1
                result.problems.append(f"console {i}: refusal of {mid} never shown")
        for mid in c.forged:
            if told.get(mid) is not None and told[mid].status != "rejected":
                result.misattributed += 1
                result.problems.append(f"console {i}: forged booking {mid} was accepted")


def run_chaos(
    runs: int, seed: int = 1, params: Params | None = None, folder: Path | None = None, verbose: bool = False
) -> dict[str, Any]:
    """``runs`` seeded runs from ``seed``; {"runs", "lost", "duplicated", "diverged", "stalled"}."""
    with tempfile.TemporaryDirectory(prefix="csr-chaos-") as tmp:
        base = Path(tmp)
        templates = build_templates(folder or base / "templates")
        totals = {
            "runs": 0,
            "lost": 0,
            "duplicated": 0,
            "diverged": 0,
            "stalled": 0,
            "refusals_unshown": 0,
            "misattributed": 0,
            "refusals_shown": 0,
            "flagged": 0,
        }
        for s in range(seed, seed + runs):
            r = asyncio.run(run_one(s, templates, base / f"run-{s}", params))
            totals["runs"] += 1
            totals["lost"] += r.lost
            totals["duplicated"] += r.duplicated
            totals["diverged"] += int(r.diverged)
            totals["stalled"] += int(r.stalled)
            totals["refusals_unshown"] += r.refusals_unshown
            totals["misattributed"] += r.misattributed
            totals["refusals_shown"] += r.rejected
            totals["flagged"] += r.flagged
            if not r.ok or verbose:
                print(
                    json.dumps(
                        {
                            "seed": s,
                            "ok": r.ok,
                            "bookings": r.bookings,
                            "seconds": r.seconds,
                            "lost": r.lost,
                            "duplicated": r.duplicated,
                            "diverged": r.diverged,
                            "locked": r.locked,
                            "refusals_unshown": r.refusals_unshown,
                            "misattributed": r.misattributed,
                            "stalled": r.stalled,
                            "problems": r.problems[:10],
                        }
                    ),
                    file=sys.stderr,
                    flush=True,
                )
            import shutil

            shutil.rmtree(base / f"run-{s}", ignore_errors=True)
        return totals
