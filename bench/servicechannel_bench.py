"""`csr-bench servicechannel`: work orders by signed webhook into a real csr-server process, through to a
real console's Bookings inbox painted on screen (offscreen), with the catch-up poll running; then accepts
pushed back to the stand-in at its rate limit.

- ``received_to_inbox`` — from the moment the bench starts POSTing a delivery (signed as the stand-in
  signs) to the moment the work order's row has been painted in the Bookings inbox of a real console
  process (bench/web_console.py ``--kind servicechannel``: offscreen, signed in, the inbox tab open; the
  server stored it, poked the console, the console pulled it over its websocket, the inbox read it on its
  worker and the table painted it). ``received_to_cache`` is the same delivery up to the row landing in a
  second, headless console's cache (no window), for comparison.
- ``lost`` — work orders delivered but never painted in the console's inbox (or not an inbox item in the
  headless console's cache); ``duplicated`` — work-order rows, customers or locations beyond one per
  work order / client / store.
- ``status_push`` — from the commit of ``accept_work_order`` (and its job) in the server's store to the
  moment the stand-in carried out the accept, with accepts committed at ``--push-rate`` against a stand-in
  allowing ``--rate-limit`` calls per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from .harness import child_env, spawn, stop
from .headless import PASSWORD, USERNAME, HeadlessConsole, ServerProcess, ServerStore, build_templates, clone
from .stats import summary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _setup_file(folder: Path, sim: Any, url: str, port: int, rate: int, poll: float) -> Path:
    for name, value in (("sc-secret", sim.client_secret), ("sc-password", sim.password)):
        path = folder / name
        path.write_text(value + "\n")
        os.chmod(path, 0o600)
    cfg = folder / "servicechannel.yaml"
    cfg.write_text(
        f"""servicechannel:
  api_base: {url}
  login_base: {url}
  client_id: {sim.client_id}
  client_secret_file: sc-secret
  username: {sim.username}
  password_file: sc-password
  webhook: {{host: 127.0.0.1, port: {port}, public_url: "http://127.0.0.1:{port}"}}
  poll_seconds: {poll}
  outbound_poll_seconds: 0.5
  rate_limit: {{calls: {max(1, int(rate * 0.85))}, seconds: 1}}
  job_types:
    - {{trade: HVAC, category: "*", job_type: AC Not Cooling}}
    - {{trade: PLUMBING, category: "*", job_type: Leak Repair}}
    - {{trade: ELECTRICAL, category: "*", job_type: Outlet/Switch Repair}}
"""
    )
    return cfg


async def _run(
    folder: Path,
    orders: int,
    rate: float,
    repeat: float,
    pushes: int,
    push_rate: float,
    limit: int,
    poll: float,
) -> dict[str, Any]:
    from sync.sc_inbound import WEBHOOK_PATH
    from sync.scsim import ScSim

    templates = build_templates(folder / "templates")
    db = clone(templates.server_db, folder / "server.sqlite3")
    sim = ScSim(rate_limit=limit, rate_window=1.0, retry_seconds=300, seed=18)
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    sim_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    hook_port = _free_port()
    cfg = _setup_file(folder, sim, sim_url, hook_port, limit, poll)
    server = ServerProcess(str(db), extra=("--servicechannel", str(cfg)))
    store = ServerStore(str(db))
    console = gui = None
    try:
        url = await server.astart()
        for _ in range(400):  # the server subscribed its receiver
            if sim.webhooks:
                break
            await asyncio.sleep(0.05)
        receiver = f"http://127.0.0.1:{hook_port}{WEBHOOK_PATH}"
        sim.webhooks.clear()  # the bench delivers (and times) every event itself
        cache = clone(templates.console_cache, folder / "console.sqlite3")
        console = HeadlessConsole(cache, url, store.token(), known=True)
        console.start()
        gui, trace = await asyncio.to_thread(_start_gui, templates.console_cache, folder, url, store)
        seen: dict[int, float] = {}
        sent: dict[int, float] = {}
        sent_wall: dict[int, float] = {}  # time.time(): the console process stamps with the wall clock
        statuses: list[int] = []
        done = threading.Event()

        def watch() -> None:
            """On a thread of its own (the deliveries' loop never waits for it): stamp each work order the
            moment a row for it lands in the console's cache (an incremental read by rowid, light enough
            to run every 2 ms); whether each is an inbox item is checked once at the end."""
            conn = sqlite3.connect(f"file:{cache}?mode=ro", uri=True, check_same_thread=False)
            last = 0
            try:
                while not done.is_set():
                    rows = conn.execute(
                        "SELECT rowid, sc_id FROM work_orders WHERE rowid > ?", (last,)
                    ).fetchall()
                    if rows:
                        now = time.perf_counter()
                        for rowid, sc_id in rows:
                            seen.setdefault(sc_id, now)
                            last = max(last, rowid)
                    time.sleep(0.002)
            finally:
                conn.close()

        watcher = threading.Thread(target=watch, name="inbox-watch", daemon=True)
        watcher.start()

        async def deliver(body: bytes, sc_id: int, first: bool) -> None:
            if first:
                sent_wall[sc_id] = time.time()
                sent[sc_id] = time.perf_counter()
            statuses.append(await sim.post_signed(receiver, body))

        rng = random.Random(18)
        tasks = []
        bodies: list[tuple[bytes, int]] = []
        start = time.perf_counter()
        for n in range(orders):
            wo = sim.add_work_order(deliver=False)
            body = json.dumps({"EventType": "WorkOrderCreated", "Object": wo}).encode()
            bodies.append((body, wo["Id"]))
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(deliver(body, wo["Id"], True)))
            if rng.random() < repeat and bodies:
                again, again_id = rng.choice(bodies)
                tasks.append(asyncio.create_task(deliver(again, again_id, False)))
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + 30
        while len(seen) < orders and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        delivered_seconds = time.perf_counter() - start
        with store.sessions() as s:
            sc_of = {str(i): int(n) for i, n in s.execute(text("SELECT id, sc_id FROM work_orders"))}
        painted: dict[int, float] = {}
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            painted = _painted(trace, sc_of)
            if len(painted) >= orders:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(poll + 1.0)  # a poll runs over what the webhooks brought: nothing new
        from models.work_order_inbox import work_order_inbox_items
        from models.work_orders import WorkOrder

        with console.cache.sessions() as s:
            items = {i.item_id for i in work_order_inbox_items(s)}
            in_inbox = {
                sc_id for wo_id, sc_id in s.execute(select(WorkOrder.id, WorkOrder.sc_id)) if wo_id in items
            }
        cache_latencies = [(seen[k] - sent[k]) * 1000 for k in sent if k in seen and k in in_inbox]
        latencies = [(painted[k] - sent_wall[k]) * 1000 for k in sent_wall if k in painted]
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True) as conn:
            cache_rows, cache_distinct = conn.execute(
                "SELECT count(*), count(DISTINCT sc_id) FROM work_orders"
            ).fetchone()
        with store.sessions() as s:
            wo_rows = s.scalar(text("SELECT count(*) FROM work_orders"))
            customers = s.scalar(text("SELECT count(DISTINCT customer_id) FROM work_orders"))
            locations = s.scalar(text("SELECT count(DISTINCT location_id) FROM work_orders"))
            clients = s.scalar(text("SELECT count(DISTINCT subscriber_id) FROM work_orders"))
            stores = s.scalar(
                text("SELECT count(DISTINCT subscriber_id * 100000 + store_id) FROM work_orders")
            )
            deliveries = s.scalar(text("SELECT count(*) FROM sc_deliveries"))
        out: dict[str, Any] = {
            "work_orders": orders,
            "deliveries": len(statuses),
            "repeated": len(statuses) - orders,
            "answered_2xx": sum(1 for st in statuses if 200 <= st < 300),
            "delivered_per_second": round(orders / delivered_seconds, 1),
            **summary("received_to_inbox", latencies),
            **summary("received_to_cache", cache_latencies),
            "lost": orders - len(set(seen) & in_inbox & set(painted)),
            "lost_samples": sorted(set(sent) - (set(seen) & in_inbox & set(painted)))[:10],
            "duplicated": (cache_rows - cache_distinct)
            + (wo_rows - orders)
            + (customers - clients)
            + (locations - stores),
            "deliveries_stored": deliveries,
        }
        out.update(await _pushes(store, console, sim, min(pushes, orders), push_rate))
        out["stand_in_rate_limit_per_second"] = limit
        out["stand_in_429s"] = sim.deliveries.get("throttled", 0)
        from .web_bench import console_stall

        out["ui_stall_max_ms"] = await asyncio.to_thread(console_stall, gui)  # the inbox console's
        done.set()
        await asyncio.to_thread(watcher.join)
        return out
    finally:
        if gui is not None and gui.poll() is None:
            gui.stdin.close()
            try:
                await asyncio.to_thread(gui.wait, 20)
            except Exception:  # noqa: BLE001 - it is killed below
                stop(gui)
        if console is not None:
            await console.stop()
            console.close()
        await server.astop()
        store.close()
        await sim.close()
        await runner.cleanup()


def _start_gui(template: Path, folder: Path, url: str, store: ServerStore) -> tuple[Any, Path]:
    """The real console (bench/web_console.py): a copy of the console template marked as holding the
    server's data so far, signed in as the bench's CSR, the Bookings inbox open; its trace file."""
    from models.db import open_cache
    from sync.apply import current_version
    from sync.snapshot import mark_synced

    path = clone(template, folder / "gui.sqlite3")
    with store.sessions() as s:
        version = current_version(s)
    cache = open_cache(path)
    try:
        mark_synced(cache, version)
    finally:
        cache.close()
    trace = folder / "inbox-painted.jsonl"
    proc = spawn(
        [
            "-m",
            "bench.web_console",
            str(path),
            "--url",
            url,
            "--user",
            USERNAME,
            "--profile",
            str(folder / "gui-profile"),
            "--trace",
            str(trace),
            "--kind",
            "servicechannel",
        ],
        folder / "gui.log",
        child_env(CSR_BENCH_PASSWORD=PASSWORD, QT_QPA_PLATFORM="offscreen", QT_API="pyside6"),
    )
    ready = json.loads(proc.stdout.readline() or "{}")
    if not ready.get("ready"):
        stop(proc)
        raise RuntimeError(f"the console did not sign in (see {folder / 'gui.log'})")
    return proc, trace


def _painted(trace: Path, sc_of: dict[str, int]) -> dict[int, float]:
    """Work order (platform id) → when the console's inbox had painted it (time.time())."""
    painted: dict[int, float] = {}
    if trace.exists():
        for line in trace.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line being written
            sc_id = sc_of.get(str(rec.get("name")))
            if sc_id is not None:
                painted.setdefault(sc_id, float(rec["t"]))
    return painted


async def _pushes(
    store: ServerStore, console: HeadlessConsole, sim: Any, count: int, rate: float
) -> dict[str, Any]:
    """Accept ``count`` work orders from the console at ``rate`` a second (each its job booked on the
    server beforehand, untimed); time the accept's commit in the console's cache → the stand-in carried
    it out (console push over its websocket, the server applies it and wakes its outbound worker)."""
    from models.base import new_id, utcnow
    from models.jobs import Appointment, Job
    from models.setup import BusinessUnit, Campaign
    from models.work_orders import WorkOrder
    from sync.apply import lock_change_log
    from sync.changes import ChangeCollector
    from sync.sc_inbound import log_changes

    with store.sessions() as s:
        orders = s.execute(
            select(WorkOrder.id, WorkOrder.sc_id, WorkOrder.customer_id, WorkOrder.location_id)
            .where(WorkOrder.location_id.is_not(None))
            .limit(count)
        ).all()
        unit = s.scalar(select(BusinessUnit.id).limit(1))
        campaign = s.scalar(select(Campaign.id).limit(1))
    jobs: dict[str, str] = {}

    def book_all() -> None:
        now = utcnow()
        with store.sessions.begin() as s:
            lock_change_log(s)
            collector = ChangeCollector(s)
            for row in orders:
                job = Job(
                    id=new_id(),
                    number=f"SC{row.sc_id}",
                    customer_id=row.customer_id,
                    location_id=row.location_id,
                    business_unit_id=unit,
                    campaign_id=campaign,
                )
                s.add(job)
                s.add(
                    Appointment(
                        job_id=job.id, start=now, end=now, arrival_window_start=now, arrival_window_end=now
                    )
                )
                jobs[row.id] = job.id
            s.flush()
            log_changes(s, collector)

    for attempt in range(40):  # another process's write may hold the file's lock a moment
        try:
            await asyncio.to_thread(book_all)
            break
        except OperationalError:
            if attempt == 39:
                raise
            await asyncio.sleep(0.1)

    def pulled() -> int:
        with sqlite3.connect(f"file:{console.path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM jobs WHERE number LIKE 'SC%'").fetchone()[0]

    deadline = time.perf_counter() + 120
    while pulled() < len(orders) and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    committed: dict[int, float] = {}

    def accept(row: Any) -> None:
        console.writer.execute("accept_work_order", {"work_order_id": row.id, "job_id": jobs[row.id]})
        committed[row.sc_id] = time.perf_counter()

    start = time.perf_counter()
    for n, row in enumerate(orders):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await asyncio.to_thread(accept, row)
        console.client.wake()
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        if sum(1 for w in sim.writes if w["action"] == "accept") >= len(orders):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # anything sent twice would show now
    accepts = [w for w in sim.writes if w["action"] == "accept"]
    first: dict[int, float] = {}
    for w in accepts:
        first.setdefault(w["work_order"], w["mono"])
    latencies = [(first[k] - committed[k]) * 1000 for k in committed if k in first]
    return {
        **summary("status_push", latencies),
        "status_pushes": len(orders),
        "status_push_lost": len(orders) - len(first),
        "status_push_duplicated": len(accepts) - len(first),
        "status_push_seconds": round(time.perf_counter() - start, 1),
    }


def run_servicechannel(
    orders: int = 1000,
    rate: float = 50.0,
    repeat: float = 0.10,
    pushes: int = 1000,
    push_rate: float = 25.0,
    limit: int = 40,
    poll: float = 5.0,
    keep: Path | None = None,
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="csr-bench-sc-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(_run(folder, orders, rate, repeat, pushes, push_rate, limit, poll))
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
