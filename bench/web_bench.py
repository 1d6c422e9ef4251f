"""`csr-bench web`: the Web Scheduler under load against a real `csr-server run --web-port` process over the
1M-customer, 200k-job benchmark cache (one JSON object; docs/benchmarks.md says how each key is timed).

Processes: the server (``python -m sync.server_cli run --web-port 0``, SQLite store copied from the cache,
online booking opened for every demo job type at a 100 % share, no lead time, no minimum fill time and no
rate limits — the load comes from one address); a real console (bench/web_console.py) signed in with
the Bookings inbox open; this process, the browsers (aiohttp).

- ``page_ttfb``: ``clients`` concurrent clients GET the first two pages (ZIP, services); time to the
  response's headers.
- ``availability``: ``clients`` concurrent clients GET ``/api/slots`` for the job types in turn (the same
  capacity read the time step renders).
- ``submit_to_inbox``: hold → details → submit, one customer after another (about 20 a second); from just
  before the submit POST (time.time()) to the console's trace line for that request (inbox table painted,
  same machine clock). After each submit the bench frees the request's hold (a CSR settling it), so the
  windows never run out.
- the race: one window filled until a single job still fits, then ``racers`` customers at once run the
  whole flow for it: ``last_slot_booked`` = requests stored for it, ``errors_5xx`` = 5xx answers over
  the whole run.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import CONSOLE_USER, PASSWORD, child_env, load_average, prepare, spawn, stop
from .stats import summary

FIELDS = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
ZIP = "75201"


def _configure(server_db: Path) -> list[str]:
    """Open online booking on the server store; the online job type ids."""
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from models.setup import JobType
    from models.web_booking import OnlineJobType, WebSettings, save_web_settings

    engine = open_server_db(str(server_db))
    try:
        with sessionmaker(engine).begin() as s:
            ids = list(s.scalars(select(JobType.id).where(JobType.active).order_by(JobType.name)))
            save_web_settings(
                s,
                WebSettings(
                    enabled=True,
                    job_types=tuple(OnlineJobType(i, "") for i in ids),
                    capacity_share_percent=100,
                    lead_time_hours=0,
                    hold_minutes=10,
                    min_fill_seconds=0,
                    requests_per_phone_per_day=10**9,
                    requests_per_address_per_hour=10**9,
                ),
            )
        return ids
    finally:
        engine.dispose()


def _start_server(db: Path, log: Path) -> tuple[Any, str, str]:
    import subprocess
    import sys

    from .harness import ROOT

    cmd = [sys.executable, "-m", "sync.server_cli", "--db", str(db), "--log-level", "WARNING", "run"]
    cmd += ["--port", "0", "--web-port", "0"]
    with log.open("ab") as err:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            env=child_env(),
        )
    web = ws = ""
    for _ in range(2):
        line = proc.stdout.readline()
        if "web scheduler on " in line:
            web = line.split("web scheduler on ")[1].strip()
        elif "listening on " in line:
            ws = line.split("listening on ")[1].strip()
    if not (web and ws):
        proc.kill()
        raise RuntimeError(f"csr-server did not start (see {log})")
    proc.stdout.close()
    return proc, ws, web


class Run:
    def __init__(self, web: str, server_db: Path, job_types: list[str]) -> None:
        self.web = web
        self.db = server_db
        self.job_types = job_types
        self.errors_5xx = 0
        self.statuses: dict[int, int] = {}

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status >= 500:
            self.errors_5xx += 1

    async def _get(self, http: Any, url: str) -> tuple[float, int, str]:
        t0 = time.perf_counter()
        async with http.get(url, allow_redirects=False) as r:
            ttfb = (time.perf_counter() - t0) * 1000
            body = await r.text()
            self.count(r.status)
            return ttfb, r.status, body

    async def pages(self, http: Any, clients: int, samples: int) -> list[float]:
        out: list[float] = []
        urls = [self.web, f"{self.web}?zip={ZIP}"]

        async def client(k: int) -> None:
            i = k
            while len(out) < samples:
                ttfb, _status, _ = await self._get(http, urls[i % 2])
                out.append(ttfb)
                i += 1

        await asyncio.gather(*(client(k) for k in range(clients)))
        return out

    async def availability(self, http: Any, clients: int, samples: int) -> list[float]:
        out: list[float] = []

        async def client(k: int) -> None:
            i = k
            while len(out) < samples:
                jt = self.job_types[i % len(self.job_types)]
                t0 = time.perf_counter()
                async with http.get(f"{self.web}api/slots?service={jt}") as r:
                    await r.read()
                    self.count(r.status)
                out.append((time.perf_counter() - t0) * 1000)
                i += 1

        await asyncio.gather(*(client(k) for k in range(clients)))
        return out

    async def free_slots(self, http: Any) -> list[tuple[str, str]]:
        found = []
        for jt in self.job_types:
            async with http.get(f"{self.web}api/slots?service={jt}") as r:
                self.count(r.status)
                found += [(jt, s["slot"]) for s in (await r.json()).get("slots", [])]
        return found

    async def flow(self, http: Any, service: str, slot: str, name: str, phone: str) -> tuple[str, float]:
        """One customer: hold → details → submit. ("stored" | "filled" | "refused:<status>", submit time)."""
        async with http.post(
            f"{self.web}hold", data={"zip": ZIP, "service": service, "slot": slot}, allow_redirects=False
        ) as r:
            self.count(r.status)
            await r.read()
            if r.status == 409:
                return "filled", 0.0
            if r.status != 303:
                return f"refused:{r.status}", 0.0
            location = r.headers["Location"]
        _, status, page = await self._get(http, self.web + location)
        if status != 200:
            return f"refused:{status}", 0.0
        fields = dict(FIELDS.findall(page))
        data = {
            **fields,
            "name": name,
            "phone": phone,
            "email": "",
            "street": "1 Main St",
            "unit": "",
            "city": "Dallas",
            "state": "TX",
            "zip": ZIP,
            "notes": "",
            "website": "",
        }
        t0 = time.time()
        async with http.post(f"{self.web}submit", data=data) as r:
            body = await r.text()
            self.count(r.status)
        if r.status == 200 and "Request received" in body:
            return "stored", t0
        return ("filled" if r.status == 409 else f"refused:{r.status}"), t0

    def free_hold(self, name: str) -> None:
        """The bench acting as the CSR who settles the request: its window is held no more."""
        with sqlite3.connect(self.db, timeout=30) as conn:
            conn.execute(
                "DELETE FROM web_holds WHERE request_id IN (SELECT id FROM online_bookings WHERE name = ?)",
                (name,),
            )

    def stored_for(self, prefix: str) -> int:
        with sqlite3.connect(self.db, timeout=30) as conn:
            return conn.execute(
                "SELECT count(*) FROM online_bookings WHERE name LIKE ?", (prefix + "%",)
            ).fetchone()[0]


def _phone(i: int) -> str:
    return f"(214) 555-{i % 10000:04d}" if i < 10000 else f"(972) 555-{i % 10000:04d}"


async def _measure(
    run: Run, clients: int, pages: int, checks: int, submits: int, racers: int, trace: Path
) -> dict:
    import aiohttp

    out: dict[str, Any] = {}
    connector = aiohttp.TCPConnector(limit=max(clients, racers) + 10)
    async with aiohttp.ClientSession(connector=connector) as http:
        await run.pages(http, 4, 20)  # warm-up: setup loaded, connections open
        out.update(summary("page_ttfb", await run.pages(http, clients, pages)))
        out.update(summary("availability", await run.availability(http, clients, checks)))
        # Submit → painted in the console's inbox.
        slots = await run.free_slots(http)
        sent: dict[str, float] = {}
        i = 0
        while len(sent) < submits and slots:
            service, slot = slots[i % len(slots)]
            name = f"Bench {i:05d}"
            outcome, t0 = await run.flow(http, service, slot, name, _phone(i))
            i += 1
            if outcome == "stored":
                sent[name] = t0
                await asyncio.to_thread(run.free_hold, name)
            elif outcome == "filled":
                slots.remove((service, slot))
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 60
        painted: dict[str, float] = {}
        while time.monotonic() < deadline:
            painted = {}
            if trace.exists():
                for line in trace.read_text().splitlines():
                    rec = json.loads(line)
                    painted.setdefault(rec["name"], rec["t"])
            if all(n in painted for n in sent):
                break
            await asyncio.sleep(0.2)
        latencies = [(painted[n] - t0) * 1000 for n, t0 in sent.items() if n in painted]
        out.update(summary("submit_to_inbox", latencies))
        out["submit_to_inbox_missed"] = len(sent) - len(latencies)
        # The race for one last free window.
        slots = await run.free_slots(http)
        service, slot = slots[0]
        filler = 0
        while True:
            name = f"Fill {filler:05d}"
            outcome, _ = await run.flow(http, service, slot, name, _phone(20000 + filler))
            if outcome != "stored":
                break
            filler += 1
        await asyncio.to_thread(run.free_hold, f"Fill {filler - 1:05d}") if filler else None
        before = run.stored_for("Race ")
        outcomes = await asyncio.gather(
            *(run.flow(http, service, slot, f"Race {k:05d}", _phone(30000 + k)) for k in range(racers))
        )
        out["race_racers"] = racers
        out["race_filled_answers"] = sum(1 for o, _ in outcomes if o == "filled")
        out["last_slot_booked"] = run.stored_for("Race ") - before
        out["errors_5xx"] = run.errors_5xx
        out["http_statuses"] = {str(k): v for k, v in sorted(run.statuses.items())}
    return out


def run_web(
    path: Path,
    customers: int,
    jobs: int,
    *,
    clients: int = 50,
    pages: int = 2000,
    checks: int = 1000,
    submits: int = 1000,
    racers: int = 200,
) -> dict:
    from .booking import ensure_jobs
    from .seed import ensure_cache

    ensure_cache(path, customers)
    info = ensure_jobs(path, jobs)
    work = Path(tempfile.mkdtemp(prefix="csr-bench-web-"))
    server = console = None
    try:
        prep = prepare(path, work, 0)
        job_types = _configure(prep.server_db)
        server, ws, web = _start_server(prep.server_db, work / "server.log")
        trace = work / "inbox.jsonl"
        console = spawn(
            [
                "-m",
                "bench.web_console",
                str(prep.console_cache),
                "--url",
                ws,
                "--user",
                CONSOLE_USER,
                "--profile",
                str(work / "profile"),
                "--trace",
                str(trace),
            ],
            work / "console.log",
            child_env(CSR_BENCH_PASSWORD=PASSWORD, QT_QPA_PLATFORM="offscreen", QT_API="pyside6"),
        )
        ready = json.loads(console.stdout.readline() or "{}")
        if not ready.get("ready"):
            raise RuntimeError(f"the console did not sign in (see {work / 'console.log'})")
        out = {"customers": customers, "jobs": jobs, "clients": clients, **load_average()}
        out.update(
            asyncio.run(
                _measure(Run(web, prep.server_db, job_types), clients, pages, checks, submits, racers, trace)
            )
        )
        out["jobs_added"] = info.get("jobs_before", 0) < jobs
        out["ui_stall_max_ms"] = console_stall(console)
        return out
    finally:
        if console is not None and console.poll() is None:
            console.stdin.close()
            try:
                console.wait(20)
            except Exception:  # noqa: BLE001
                console.kill()
        stop(server)
        shutil.rmtree(work, ignore_errors=True)


def console_stall(console: Any) -> float | None:
    """Close the bench console's stdin (its signal to finish) and read the longest UI-thread stall it saw
    while the bench ran (bench/web_console.py's heartbeat); None when it said nothing."""
    try:
        console.stdin.close()
        for line in console.stdout:
            found = json.loads(line)
            if "ui_stall_max_ms" in found:
                return found["ui_stall_max_ms"]
    except (OSError, ValueError):
        pass
    return None
