"""`csr-bench floor`: the supervisors' floor board under load (one JSON object). docs/benchmarks.md says
what is measured and how.

Processes (the machine has 2 cores):

- the server: ``python -m bench.floor_server run --http-port 0 …`` — the real `csr-server` with its
  floor's own KPI CPU account written out every half second (bench/floor_server.py), on a SQLite store
  copied from a benchmark cache (demo setup, ``agents`` CSR accounts and a supervisor);
- the CSRs: ``python -m bench.harness listen`` — ``agents`` headless websocket clients signed in
  with tokens (so the floor counts ``agents`` CSRs present, Available), receiving every ``call``
  message as a console would;
- the supervisor: ``python -m bench.console_process --floor-board`` — the real desktop console
  offscreen, signed in as the supervisor, its floor board open (Ctrl+Shift+B's window);
- this process: the phone system, signing each webhook as Twilio does.

The load: ``rate`` call events per second for ``seconds``. Every call plays three, each a signed
webhook: it rings (the voice webhook: its row appears), 0.5 s later a CSR's softphone leg answers
(the row turns Talking), 1 s after that the caller hangs up (the row leaves). Calls start
3 / ``rate`` seconds apart, so a handful are on the board at once, as on a busy floor. The defaults
(20 events/s for 60 s: 400 calls after the warm-up ones, 1,200 events) give the board-update p99 the
1,000 samples it needs (bench/stats.py).

``board_update_ms``: from ``time.time()`` just before a webhook is sent to the end of the board's
first repaint showing its change (one machine, one clock). ``kpi_cpu_ms_per_s``: the floor's KPI
CPU over the event window, per second of wall time.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import (
    PASSWORD,
    PUBLIC_URL,
    Lines,
    Phone,
    child_env,
    cpu,
    cpu_share,
    find_callers,
    load_average,
    prepare,
    spawn,
    start_listeners,
    start_server,
    wind_down,
)
from .stats import summary

SUPERVISOR = "floorsup"
ANSWER_AFTER, END_AFTER = 0.5, 1.5  # seconds after the ring
WARMUP_CALLS = 5


def add_supervisor(db: Path) -> None:
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from sync.auth import Accounts

    engine = open_server_db(str(db))
    try:
        Accounts(sessionmaker(engine)).add_user(SUPERVISOR, "Floor Supervisor", "supervisor", PASSWORD)
    finally:
        engine.dispose()


async def play(
    http: str,
    seconds: float,
    rate: float,
    callers: list[str],
    tracking: list[str],
    agents: list[str],
    seed: int,
) -> dict[str, Any]:
    """Send the calls' webhooks on schedule; {"sent": {"SID:ring|answer|end": t}, "failed": n, "late_ms"}."""
    import aiohttp

    from sync.telephony.twilio import STATUS_PATH, VOICE_PATH

    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    sent: dict[str, float] = {}
    failed = [0]
    late: list[float] = []
    tasks: set[asyncio.Task[Any]] = set()
    gap = 3.0 / rate
    calls = int(seconds / gap) + WARMUP_CALLS
    account = "AC" + "0" * 32

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        phone = Phone(session, http)

        async def event(at: float, key: str, url: str, params: dict[str, str]) -> None:
            await asyncio.sleep(max(0.0, at - loop.time()))
            late.append(max(0.0, loop.time() - at) * 1000)
            stamp: dict[str, Any] = {}
            status, _ = await phone.post(url, params, stamp)
            sent[key] = stamp["t"]
            if status != 200:
                failed[0] += 1

        start = loop.time() + 0.2
        for i in range(calls):
            sid = "CA" + rng.getrandbits(128).to_bytes(16, "big").hex()
            at = start + i * gap
            caller, dialed, agent = rng.choice(callers), rng.choice(tracking), rng.choice(agents)
            parent = {
                "CallSid": sid,
                "AccountSid": account,
                "From": caller,
                "To": dialed,
                "Direction": "inbound",
                "ApiVersion": "2010-04-01",
            }
            leg = {
                "CallSid": "CA" + rng.getrandbits(128).to_bytes(16, "big").hex(),
                "ParentCallSid": sid,
                "AccountSid": account,
                "From": caller,
                "To": f"client:{agent}",
                "Direction": "outbound-dial",
                "CallStatus": "in-progress",
                "SequenceNumber": "1",
                "ApiVersion": "2010-04-01",
            }
            ended = {**parent, "CallStatus": "completed", "CallDuration": "1", "SequenceNumber": "3"}
            for key, when, url, params in (
                (f"{sid}:ring", at, PUBLIC_URL + VOICE_PATH, {**parent, "CallStatus": "ringing"}),
                (f"{sid}:answer", at + ANSWER_AFTER, PUBLIC_URL + STATUS_PATH, leg),
                (f"{sid}:end", at + END_AFTER, PUBLIC_URL + STATUS_PATH, ended),
            ):
                task = asyncio.create_task(event(when, key, url, params))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if i % 20 == 0:
                await asyncio.sleep(0)
        while tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)
    return {"sent": sent, "failed": failed[0], "late_ms": late, "calls": calls}


def _kpi_cpu(stats: Path, t0: float, t1: float) -> dict[str, Any]:
    """KPI CPU over [t0, t1] from the server's half-second stats lines."""
    lines = [json.loads(x) for x in stats.read_text().splitlines() if x.strip()]
    inside = [d for d in lines if t0 <= d["t"] <= t1]
    if len(inside) < 2:
        return {"kpi_cpu_ms_per_s": None, "kpi_ticks_per_s": None}
    first, last = inside[0], inside[-1]
    wall = last["t"] - first["t"]
    return {
        "kpi_cpu_ms_per_s": round((last["kpi_cpu_s"] - first["kpi_cpu_s"]) * 1000 / wall, 2),
        "kpi_ticks_per_s": round((last["ticks"] - first["ticks"]) / wall, 2),
        "kpi_cpu_ms_per_tick": round(
            (last["kpi_cpu_s"] - first["kpi_cpu_s"]) * 1000 / max(1, last["ticks"] - first["ticks"]), 2
        ),
    }


def run_floor(
    customers: int = 100_000,
    agents: int = 300,
    rate: float = 20.0,
    seconds: float = 60.0,
    *,
    cache: Path | None = None,
    seed: int = 11,
    keep: Path | None = None,
) -> dict[str, Any]:
    """The whole benchmark (module docstring)."""
    from .cli import bench_cache_path
    from .seed import ensure_cache

    source = cache or bench_cache_path(customers)
    ensure_cache(source, customers)
    work = keep or Path(tempfile.mkdtemp(prefix="csr-bench-floor-"))
    work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {
        "customers": customers,
        "agents": agents,
        "events_per_s": rate,
        "seconds": seconds,
        "load_before": load_average(),
    }
    server = console = listener = None
    try:
        prep = prepare(source, work, agents)
        add_supervisor(prep.server_db)
        out["prepare_s"] = prep.seconds
        callers = find_callers(prep.console_cache, random.Random(seed), 100).all()
        stats, stamps = work / "floor-stats.jsonl", work / "floor-stamps.jsonl"
        server, ws_url, http = start_server(
            prep.server_db,
            work / "server.log",
            module="bench.floor_server",
            env={
                "CSR_BENCH_FLOOR_STATS": str(stats),
                "CSR_BENCH_FLOOR_STAMPS": str(stamps),
                **(
                    {"CSR_BENCH_STAGES": str(work / "stages.jsonl")}
                    if os.environ.get("CSR_BENCH_FLOOR_STAGES")
                    else {}
                ),
            },
        )
        listener, listener_out = start_listeners(ws_url, prep.tokens, work, "agents")
        console = spawn(
            [
                "-m",
                "bench.console_process",
                str(prep.console_cache),
                "--url",
                ws_url,
                "--user",
                SUPERVISOR,
                "--profile",
                str(work / "profile"),
                "--floor-board",
            ],
            work / "console.log",
            child_env(QT_QPA_PLATFORM="offscreen", QT_API="pyside6", CSR_BENCH_PASSWORD=PASSWORD),
        )
        console_out = Lines(console)
        ready = console_out.json(180)
        if not ready.get("ready"):
            raise RuntimeError(f"the supervisor's console did not get its board: {ready}")
        time.sleep(4.0)  # the console's deferred start-up work is done
        out["load_at_start"] = load_average()
        procs = {"server": server, "console": console, "agents": listener}
        before, t0 = cpu(procs), time.time()
        played = asyncio.run(play(http, seconds, rate, callers, prep.tracking, prep.agents[1:], seed))
        t1 = time.time()
        out["cores_during_events"] = cpu_share(before, cpu(procs), t1 - t0)
        time.sleep(1.0)  # the last changes reach the board
        console.stdin.close()
        board = console_out.json(60)
        console.wait(30)
        out.update(_board_figures(played, board, t1 - t0, _server_sent(stamps)))
        out.update(_kpi_cpu(stats, t0, t1))
        listener.stdin.write("dump\n")
        listener.stdin.flush()
        heard = listener_out.json(60)
        out["agent_frames"] = heard.get("frames")
        out["load_after"] = load_average()
        return out
    finally:
        wind_down((console, listener), server, work, keep)


def _server_sent(stamps: Path) -> dict[str, float]:
    """ "SID:ring|answer|end" → when the server had sent the floor delta showing it."""
    out: dict[str, float] = {}
    talking: set[str] = set()
    for line in stamps.read_text().splitlines() if stamps.exists() else ():
        d = json.loads(line)
        for sid, state in d["calls"]:
            out.setdefault(f"{sid}:ring", d["t"])
            if state == "Talking" and sid not in talking:
                talking.add(sid)
                out.setdefault(f"{sid}:answer", d["t"])
            if state == "Ended":
                out.setdefault(f"{sid}:end", d["t"])
    return out


def _board_figures(
    played: dict[str, Any], board: dict[str, Any], wall: float, server: dict[str, float]
) -> dict[str, Any]:
    sent, received, painted = played["sent"], board.get("received", {}), board.get("painted", {})
    began = board.get("paint_began", {})
    order = sorted(sent, key=sent.get)
    warm = {k for k in order if k.endswith(":ring")}
    skip = set()
    for key in order:  # the first calls warm the server and the console up
        if key.endswith(":ring") and len(skip) < WARMUP_CALLS * 3:
            sid = key.split(":")[0]
            skip |= {f"{sid}:ring", f"{sid}:answer", f"{sid}:end"}
    measured = [k for k in order if k not in skip]
    update = [(painted[k] - sent[k]) * 1000 for k in measured if k in painted]
    arrive = [(received[k] - sent[k]) * 1000 for k in measured if k in received]
    by_kind = {  # a third of the events each: their p99 needs a run three times as long
        kind: summary(
            "", [(painted[k] - sent[k]) * 1000 for k in measured if k in painted and k.endswith(":" + kind)]
        )
        for kind in ("ring", "answer", "end")
    }
    return {
        **summary("board_update", update),
        "board_update_missed": sum(1 for k in measured if k not in painted),
        "board_update_by_event": {k: {n.lstrip("_"): v for n, v in d.items()} for k, d in by_kind.items()},
        **summary("event_to_board_model", arrive),
        **summary("event_to_server_sent", [(server[k] - sent[k]) * 1000 for k in measured if k in server]),
        **summary(
            "server_sent_to_board_model",
            [(received[k] - server[k]) * 1000 for k in measured if k in server and k in received],
        ),
        **summary(
            "board_model_to_painted",
            [(painted[k] - received[k]) * 1000 for k in measured if k in painted and k in received],
        ),
        **summary(
            "board_paint_began_to_painted",
            [(painted[k] - began[k]) * 1000 for k in measured if k in painted and k in began],
        ),
        "events_sent": len(sent),
        "events_per_s_sent": round(len(sent) / wall, 1) if wall else None,
        "webhooks_failed": played["failed"],
        **summary("send_late", played["late_ms"]),
        "calls": played["calls"],
        "ring_events": len(warm),
        "board_rows_max": board.get("board_rows_max"),
        "board_agents_rows": board.get("agents_rows"),
        "supervisor_rss_mb": board.get("rss_mb"),
        "ui_stall_max_ms": board.get("ui_stall_max_ms"),
    }
