"""`csr-bench calls`: screen pop and webhook throughput against a real `csr-server run --http-port` process
(one JSON object). docs/benchmarks.md says what is measured and how.

Processes (the machine has 2 cores; each side keeps its own GIL):

- the server: ``python -m sync.server_cli run --http-port 0 --public-url …`` on a SQLite store that is a
  copy of the N-customer benchmark cache (demo setup with its tracking numbers, 1 + ``listeners``
  CSR accounts);
- the console: ``python -m bench.console_process --trace FILE`` — the real desktop console offscreen over
  another copy of the cache, marked as synced, signed in with its password; it writes one line per call
  bubble when the bubble has finished its first paint (the caller's match in it). Nothing in console/ is
  there for the benchmark: it listens to the signal the calls controller already handles;
- the listeners: ``python -m bench.harness listen`` — ``listeners`` websocket clients signed in with
  tokens, receiving the same ``call`` messages (the other consoles of the call centre);
- this process: the phone system. It signs every webhook as Twilio does (X-Twilio-Signature over the
  public URL) and sends it to the server's webhook port.

Screen pop: ``calls`` voice webhooks, 50–100 ms apart, from callers who are phones of customers in the
cache (most match one customer, some several, some none). Latency = the console's trace ``t`` −
``time.time()`` taken just before the POST was sent (one machine, one wall clock). Each call is ended
(the caller hangs up: the parent leg's ``completed``) ``ring`` seconds after its bubble was shown, so a
handful ring at once and the strip does not fill up.

Throughput: ``concurrency`` simulated calls at a time, each playing the webhooks Twilio sends for it
(twilio_sim: the voice webhook, then — following the server's TwiML — every rung phone's leg callbacks,
the Dial action, the caller's ``completed`` and the recording) back to back, for ``seconds``; then the
calls under way finish. Afterwards the server's database must hold every call once with every event
its answered webhooks carry.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .harness import (
    CONSOLE_USER,
    PASSWORD,
    PUBLIC_URL,
    Callers,
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
    stop,
    wind_down,
)
from .stats import p99, percentile, summary

WARMUP_CALLS = 5


# -- the stores -------------------------------------------------------------------------------------------


# -- callers ------------------------------------------------------------------------------------------------


def pop_plan(callers: Callers, calls: int, rng: random.Random) -> list[tuple[str, int]]:
    """(caller, customers it matches) per call: ~80 % one customer, ~10 % several, ~8 % a number nobody
    has, ~2 % no number at all ("anonymous")."""
    plan = []
    for _ in range(calls):
        r = rng.random()
        if r < 0.10 and callers.several:
            plan.append(rng.choice(callers.several))
        elif r < 0.18 and callers.unknown:
            plan.append((rng.choice(callers.unknown), 0))
        elif r < 0.20:
            plan.append(("anonymous", 0))
        else:
            plan.append((rng.choice(callers.single), 1))
    return plan


# -- processes ------------------------------------------------------------------------------------------------


# -- the listeners (another process) ---------------------------------------------------------------------


# -- the phone system (this process) -------------------------------------------------------------------------


async def screen_pops(
    http: str,
    trace: Path,
    plan: list[tuple[str, int]],
    tracking: list[str],
    seed: int,
    gap: tuple[float, float] = (0.05, 0.10),
    ring: float = 0.5,
    wait: float = 10.0,
) -> dict[str, dict[str, Any]]:
    """Post one voice webhook per planned caller, ``gap`` seconds apart; watch the console's trace file;
    end each call (the caller hangs up) ``ring`` seconds after its bubble was shown, or when the wait
    for it is over. {call sid: {"t": sent, "answered": t, "status", "expected", "shown", "matches",
    "ended"}}."""
    import aiohttp

    from models.base import utcnow
    from sync.telephony.twilio import STATUS_PATH, VOICE_PATH
    from sync.telephony.twilio_sim import DialPlan, Scenario, callbacks, new_call, voice_webhook

    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    calls: dict[str, dict[str, Any]] = {}
    tasks: set[asyncio.Task[Any]] = set()

    def spawn(coro: Any) -> None:
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=50), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        phone = Phone(session, http)

        async def hang_up(sid: str, delay: float) -> None:
            await asyncio.sleep(delay)
            info = calls[sid]
            if "ended" in info:
                return
            info["ended"] = None
            call = replace(info["sim"], ring_seconds=round(max(0.0, time.time() - info["t"]), 2))
            hook = callbacks(call, DialPlan(), PUBLIC_URL + STATUS_PATH)[-1]  # the caller's `completed`
            info["ended"] = (await phone.post(hook.url, hook.params))[0]

        async def voice(sid: str) -> None:
            info = calls[sid]
            hook = voice_webhook(info["sim"], PUBLIC_URL + VOICE_PATH)
            info["status"] = (await phone.post(hook.url, hook.params, info))[0]
            info["answered"] = time.time()

        async def tail() -> None:
            offset, rest = 0, b""
            while True:
                try:
                    with trace.open("rb") as fh:
                        fh.seek(offset)
                        chunk = fh.read()
                except FileNotFoundError:
                    chunk = b""
                offset += len(chunk)
                *lines, rest = (rest + chunk).split(b"\n")
                for line in lines:
                    d = json.loads(line)
                    info = calls.get(d.get("provider_call_id") or "")
                    if info is None:
                        continue
                    if d.get("kind") == "created" and "created" not in info:
                        # The caller hangs up ``ring`` seconds after the bubble came to be, painted or not:
                        # the number of calls ringing at once doesn't depend on what the screen shows.
                        info["created"] = d["t"]
                        spawn(hang_up(d["provider_call_id"], ring))
                    elif d.get("kind") == "painted" and "shown" not in info:
                        info["shown"], info["matches"] = d["t"], d["matches"]
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(tail())
        next_at = loop.time()
        for caller, expected in plan:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            next_at += rng.uniform(*gap)
            sim = new_call(
                rng,
                Scenario.ABANDONED,
                callers=[caller],
                tracking=tracking,
                agents=[],
                started_at=utcnow(),
                odd_callers=0.0,
            )
            calls[sim.call_sid] = {"sim": sim, "expected": expected}
            spawn(voice(sim.call_sid))
        deadline = loop.time() + wait
        while loop.time() < deadline and any("created" not in c for c in calls.values()):
            await asyncio.sleep(0.02)
        for sid, info in calls.items():
            if "created" not in info:
                spawn(hang_up(sid, 0))
        await asyncio.sleep(ring + 0.2)
        while tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    for info in calls.values():
        info.pop("sim")
    return calls


@dataclass
class Flood:
    seconds: float = 0.0  # the measured window (every worker busy)
    elapsed: float = 0.0  # until the last call under way finished
    ok_at: list[float] = field(default_factory=list)  # when each 2xx answer came (s from the start)
    rtt_ms: list[float] = field(default_factory=list)
    failed: int = 0
    calls: list[str] = field(default_factory=list)
    answered: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)  # url, params, waiting


async def flood(
    http: str,
    seconds: float,
    concurrency: int,
    callers: list[str],
    tracking: list[str],
    agents: list[str],
    seed: int,
) -> Flood:
    """``concurrency`` simulated calls at a time, each playing Twilio's webhooks back to back (as fast as
    the server answers), new calls started for ``seconds``; then the calls under way finish."""
    import aiohttp

    from models.base import utcnow
    from sync.telephony.twilio import CLIENT_PREFIX, STATUS_PATH, VOICE_PATH
    from sync.telephony.twilio_sim import MIX, DialPlan, callbacks, new_call, read_twiml, voice_webhook

    out = Flood(seconds=seconds)
    rng = random.Random(seed)
    scenarios, weights = list(MIX), list(MIX.values())
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        phone = Phone(session, http)
        t0 = time.monotonic()
        stop_at = t0 + seconds

        async def send(url: str, params: dict[str, str]) -> tuple[int, str]:
            t = time.monotonic()
            status, body = await phone.post(url, params)
            now = time.monotonic()
            if 200 <= status < 300:
                out.ok_at.append(now - t0)
                out.rtt_ms.append((now - t) * 1000)
            else:
                out.failed += 1
            return status, body

        async def worker(seed: int) -> None:
            r = random.Random(seed)
            while time.monotonic() < stop_at:
                call = new_call(
                    r,
                    r.choices(scenarios, weights)[0],
                    callers=callers,
                    tracking=tracking,
                    agents=agents,
                    started_at=utcnow(),
                    odd_callers=0.02,
                )
                out.calls.append(call.call_sid)
                voice = voice_webhook(call, PUBLIC_URL + VOICE_PATH)
                status, body = await send(voice.url, voice.params)
                plan = DialPlan()
                if status == 200:
                    plan = read_twiml(body, voice.url)
                    softphone = call.caller.startswith(CLIENT_PREFIX)
                    out.answered.append((voice.url, voice.params, plan.waiting and not softphone))
                for hook in callbacks(call, plan, PUBLIC_URL + STATUS_PATH):
                    status, _ = await send(hook.url, hook.params)
                    if status == 200:
                        out.answered.append((hook.url, hook.params, False))

        await asyncio.gather(*(worker(rng.getrandbits(64)) for _ in range(concurrency)))
        out.elapsed = time.monotonic() - t0
    return out


def expected_events(answered: list[tuple[str, dict[str, str], bool]]) -> list[tuple[str, list[str]]]:
    """Per answered webhook: (its call's sid, the provider keys of the events it carries) — the ingress's
    own adapter (sync/telephony/twilio.py) says what a callback means."""
    from models.base import utcnow
    from sync.telephony import twilio

    now = utcnow()
    out = []
    for url, params, waiting in answered:
        path = url[len(PUBLIC_URL) :].split("?")[0]
        if path == twilio.VOICE_PATH:
            events = twilio.voice_events(params, now, waiting=waiting)
        elif path == twilio.RECORDING_PATH:
            events = twilio.recording_events(params, now)
        else:
            events = twilio.status_events(params, now)
        parent = params.get("ParentCallSid") or params["CallSid"]
        out.append((parent, [e.provider_key for e in events]))
    return out


def verify(
    db: Path, flood_calls: list[str], answered: list[tuple[str, dict[str, str], bool]]
) -> dict[str, Any]:
    """Every call sent exists exactly once in the server's database, with every event of every webhook
    the server answered 200 (stored under that call)."""
    expected = expected_events(answered)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        per_call: dict[str, int] = {}
        for pid, n in conn.execute("SELECT provider_call_id, count(*) FROM calls GROUP BY provider_call_id"):
            per_call[pid] = n
        stored = dict(
            conn.execute(
                "SELECT e.provider_key, c.provider_call_id FROM call_events e "
                "JOIN calls c ON c.id = e.call_id"
            )
        )
    finally:
        conn.close()
    sent = set(flood_calls)
    lost = sum(1 for parent, keys in expected if any(stored.get(k) != parent for k in keys))
    return {
        "calls": len(sent),
        "calls_missing": sum(1 for s in sent if per_call.get(s, 0) == 0),
        "calls_duplicated": sum(1 for s in sent if per_call.get(s, 0) > 1),
        "events_expected": sum(len(k) for _, k in expected),
        "webhooks_lost": lost,
    }


# -- the command ---------------------------------------------------------------------------------------------


def run_calls(
    customers: int = 1_000_000,
    calls: int = 1000,
    listeners: int = 50,
    seconds: float = 15.0,
    *,
    cache: Path | None = None,
    concurrency: int = 100,
    ring: float = 0.5,
    seed: int = 7,
    flood_listeners: bool = True,
    keep: Path | None = None,
    server_stages: bool = False,
) -> dict[str, Any]:
    """The whole benchmark (module docstring); ``cache``: the source cache (default: the benchmark cache
    for ``customers``, seeded on first use). ``keep``: leave the work folder (stores, logs, trace) there.
    ``server_stages``: run the server through bench/timed_server.py and split the screen pop's time."""
    from .cli import bench_cache_path
    from .seed import ensure_cache

    source = cache or bench_cache_path(customers)
    ensure_cache(source, customers)
    work = keep or Path(tempfile.mkdtemp(prefix="csr-bench-calls-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out: dict[str, Any] = {
        "customers": customers,
        "screen_pop_calls": calls,
        "listeners": listeners,
        "load_before": load_average(),
    }
    server = console = listener = None
    try:
        prep = prepare(source, work, listeners)
        out["prepare_s"] = prep.seconds
        callers = find_callers(prep.console_cache, rng, max(calls, 50))
        plan = pop_plan(callers, calls + WARMUP_CALLS, rng)
        stages = work / "stages.jsonl" if server_stages else None
        server, ws_url, http = start_server(prep.server_db, work / "server.log", stages)
        listener, listener_out = start_listeners(ws_url, prep.tokens, work, "listeners")
        trace = work / "trace.jsonl"
        console = spawn(
            [
                "-m",
                "bench.console_process",
                str(prep.console_cache),
                "--url",
                ws_url,
                "--user",
                CONSOLE_USER,
                "--profile",
                str(work / "profile"),
                "--trace",
                str(trace),
            ],
            work / "console.log",
            child_env(QT_QPA_PLATFORM="offscreen", QT_API="pyside6", CSR_BENCH_PASSWORD=PASSWORD),
        )
        console_out = Lines(console)
        ready = console_out.json(180)
        if not ready.get("ready"):
            raise RuntimeError(f"the console did not get online: {ready}")
        out["console_start_s"] = ready.get("build_s")
        # Settled: the console's own deferred start-up work (setup, drafts, the ZIP index at 3 s) is done.
        time.sleep(4.0)
        out["load_at_pops"] = load_average()
        procs = {"server": server, "console": console, "listeners": listener}
        before, t = cpu(procs), time.monotonic()
        pops = asyncio.run(screen_pops(http, trace, plan, prep.tracking, seed, ring=ring))
        out["cores_during_pops"] = cpu_share(before, cpu(procs), time.monotonic() - t)
        (work / "pops.json").write_text(json.dumps(pops))
        console.stdin.close()
        console_end = console_out.json(60)
        console.wait(30)
        listener.stdin.write("dump\n")
        listener.stdin.flush()
        heard = listener_out.json(60)["seen"]
        out.update(_pop_figures(pops, console_end, heard, listeners))
        if stages is not None:
            out.update(_stage_figures(pops, console_end.get("arrived", {}), stages))
        if not flood_listeners:
            listener.stdin.close()
            listener.wait(30)
        out["load_at_flood"] = load_average()
        procs = {"server": server, "listeners": listener if flood_listeners else None}
        before, t = cpu(procs), time.monotonic()
        result = asyncio.run(
            flood(http, seconds, concurrency, callers.all(), prep.tracking, prep.agents, seed)
        )
        out["cores_during_flood"] = cpu_share(before, cpu(procs), time.monotonic() - t)
        stop(server)
        server = None
        out.update(_flood_figures(result, concurrency, flood_listeners))
        out.update(verify(prep.server_db, result.calls, result.answered))
        out["webhooks_failed"] = result.failed
        out["load_after"] = load_average()
        return out
    finally:
        wind_down((console, listener), server, work, keep)


def _pop_figures(
    pops: dict[str, dict[str, Any]],
    console_end: dict[str, Any],
    heard: dict[str, list[float]],
    listeners: int,
) -> dict[str, Any]:
    measured = list(pops.items())[WARMUP_CALLS:]
    arrived = console_end.get("arrived", {})
    pop, recv, show, answer, fan = [], [], [], [], []
    wrong = 0
    by_matches = {"0": 0, "1": 0, "2+": 0}
    for sid, info in measured:
        if "t" not in info:
            continue
        if info.get("status") and info.get("answered"):
            answer.append((info["answered"] - info["t"]) * 1000)
        fan.extend((t - info["t"]) * 1000 for t in heard.get(sid, []))
        if "shown" not in info:
            continue
        pop.append((info["shown"] - info["t"]) * 1000)
        if sid in arrived:
            recv.append((arrived[sid] - info["t"]) * 1000)
            show.append((info["shown"] - arrived[sid]) * 1000)
        wrong += info["matches"] != info["expected"]
        by_matches["0" if not info["matches"] else "1" if info["matches"] == 1 else "2+"] += 1
    missed = sum(1 for _, info in measured if "shown" not in info)
    heard_all = sum(1 for sid, _ in measured if len(heard.get(sid, [])) == listeners)
    return {
        **summary("screen_pop", pop),
        "screen_pop_mean_ms": round(statistics.fmean(pop), 2) if pop else None,
        "screen_pop_count": len(pop),
        "screen_pop_missed": missed,
        "screen_pop_match_errors": wrong,
        "screen_pop_by_matches": by_matches,
        "webhook_answered_p50_ms": _round(percentile(answer, 50)),
        "webhook_answered_p99_ms": _round(p99(answer)),
        **summary("post_to_listener", fan),
        "listener_samples": len(fan),
        "listeners_missed_calls": len(measured) - heard_all,
        **summary("post_to_console", recv),
        **summary("console_received_to_shown", show),
        "bubbles_max": console_end.get("bubbles_max"),
        "console_rss_mb": console_end.get("rss_mb"),
        "ui_stall_max_ms": console_end.get("ui_stall_max_ms"),
        "webhooks_not_ok_during_pops": sum(1 for _, i in measured if i.get("status") != 200)
        + sum(1 for _, i in measured if i.get("ended") not in (200, None)),
    }


def _stage_figures(
    pops: dict[str, dict[str, Any]], arrived: dict[str, float], stages: Path
) -> dict[str, Any]:
    """The screen pop split at the server's stamps (bench/timed_server.py), p50 and p99 of each part."""
    first: dict[tuple[str, str], dict[str, Any]] = {}
    for line in stages.read_text().splitlines():
        d = json.loads(line)
        for sid in d.get("sids") or [d.get("sid")]:
            first.setdefault((d["stage"], sid), d)
    parts: dict[str, list[float]] = {}
    for sid, info in list(pops.items())[WARMUP_CALLS:]:
        try:
            h, q = first[("handler", sid)]["t"], first[("queued", sid)]["t"]
            st, sent = first[("store", sid)], first[("sent", sid)]
        except KeyError:
            continue
        if "shown" not in info or sid not in arrived or not st["commit"]:
            continue
        for name, a, b in (
            ("post_to_handler", info["t"], h),
            ("handler_to_desk", h, q),
            ("desk_wait", q, st["t0"]),
            ("transaction", st["t0"], st["commit"]),
            ("commit", st["commit"], st["t1"]),
            ("back_on_loop", st["t1"], sent["t0"]),
            ("send_to_all", sent["t0"], sent["t1"]),
            ("send_start_to_console", sent["t0"], arrived[sid]),
            ("console_received_to_shown", arrived[sid], info["shown"]),
        ):
            parts.setdefault(name, []).append((b - a) * 1000)
    return {
        "server_stages_p50_ms": {k: _round(percentile(v, 50)) for k, v in parts.items()},
        "server_stages_p99_ms": {k: _round(p99(v)) for k, v in parts.items()},
        "server_stages_samples": len(next(iter(parts.values()), [])),
    }


def _flood_figures(result: Flood, concurrency: int, with_listeners: bool) -> dict[str, Any]:
    window = [t for t in result.ok_at if t <= result.seconds]
    buckets = [0] * int(result.seconds)
    for t in window:
        if int(t) < len(buckets):
            buckets[int(t)] += 1
    return {
        "webhooks_per_s": round(len(window) / result.seconds, 1) if result.seconds else None,
        "webhooks_per_s_min_1s": min(buckets) if buckets else None,
        "webhooks_by_second": buckets,
        "webhooks_ok": len(result.ok_at),
        "flood_seconds": result.seconds,
        "flood_elapsed_s": round(result.elapsed, 2),
        "flood_concurrency": concurrency,
        "flood_listeners_connected": with_listeners,
        **summary("webhook_rtt", result.rtt_ms),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
