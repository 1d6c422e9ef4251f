"""`csr-bench sync`: offline catch-up and fan-out, against a real server process (one JSON object).

- ``catchup_1000_s_sqlite`` / ``catchup_1000_s_postgres``: a headless console (bench/headless.py) that
  synced once goes offline and books 1,000 jobs (50 customers, random fitting windows): 1,000 rows in
  its outbox. Then its sync client starts: seconds from the start until the outbox is empty (every
  booking confirmed by a receipt). ``*_pulled_s`` adds pulling the resulting change log back.
  The server is ``csr-server run`` on a SQLite file or on a fresh PostgreSQL database.
- ``fanout_p99_ms_300``: 300 logged-in websocket clients in another process (``listen`` below) wait for
  pokes; a pusher commits one customer edit at a time. Latency = poke received (listener's
  ``time.time()``) − commit (``time.time()`` in the server process right after the push's transaction
  committed; the server is this module's ``serve``: csr-server's endpoint with an Applier that stamps
  commits). Both clocks are the same machine's wall clock. p50/p99/max over every (commit, client) pair.
- ``initial_sync_rows_per_s`` / ``initial_sync_ui_lag_p99_ms``: a new console — a real console process, Qt
  and qasync — copies a server holding 1M customers with their locations and contacts (5.2M rows) until it
  is online, while a 5 ms QTimer heartbeat on its UI thread measures the event loop's lag
  (bench/initial_sync.py, bench/initial_console.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from .headless import (
    ROOT,
    HeadlessConsole,
    ServerProcess,
    ServerStore,
    Templates,
    build_templates,
    clone,
    init_server_db,
    make_console_cache,
)
from .stats import summary

PG_DEFAULT = os.environ.get("CSR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


# -- catch-up ----------------------------------------------------------------------------------------------
async def _catchup(db: str, cache_path: Path, bookings: int, customers: int) -> dict[str, float]:
    server = ServerProcess(db)
    await server.astart()
    store = ServerStore(db)
    console = HeadlessConsole(cache_path, server.url, store.token(), prefix="KQ7", backoff=(0.05, 0.5))
    rng = random.Random(1000)
    try:
        console.start()
        cids = [console.create_customer(rng, f"catchup-{i}") for i in range(customers)]
        await _until(lambda: console.outbox() == 0 and console.client.status.state == "online", 120)
        await console.stop()
        t = time.perf_counter()
        k = 0
        while len(console.booked) < bookings:
            console.book(rng, cids[k % len(cids)], f"catch-up {k}")
            k += 1
            if console.refused > bookings:
                raise RuntimeError("the setup ran out of capacity for the catch-up bookings")
        queue_s = time.perf_counter() - t
        queued = console.outbox()
        assert queued == bookings, queued
        t0 = time.perf_counter()
        console.start()
        await _until(lambda: console.outbox() == 0, 600)
        confirmed = time.perf_counter() - t0

        def version() -> int:
            from sync.apply import current_version

            with store.sessions() as s:
                return current_version(s)

        target = version()
        await _until(lambda: console.cursor() >= target, 600)
        pulled = time.perf_counter() - t0
        return {
            "confirmed_s": round(confirmed, 3),
            "pulled_s": round(pulled, 3),
            "queue_s": round(queue_s, 1),
            "rejected": len(console.client.problems()),
        }
    finally:
        await console.stop()
        console.close()
        await server.astop()
        store.close()


async def _until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        await asyncio.sleep(0.005)


def catchup_sqlite(templates: Templates, folder: Path, bookings: int = 1000) -> dict[str, float]:
    db = clone(templates.server_db, folder / "catchup-server.sqlite3")
    cache = clone(templates.console_cache, folder / "catchup-console.sqlite3")
    return asyncio.run(_catchup(str(db), cache, bookings, 50))


@contextlib.contextmanager
def temporary_postgres(url: str = PG_DEFAULT):
    """A fresh PostgreSQL database next to ``url``'s (dropped afterwards); its URL."""
    import psycopg

    base = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"csr_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def catchup_postgres(
    templates: Templates, folder: Path, url: str = PG_DEFAULT, bookings: int = 1000
) -> dict[str, float]:
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db

    with temporary_postgres(url) as db:
        init_server_db(db)
        engine = open_server_db(db)
        cache = make_console_cache(sessionmaker(engine), templates.empty_cache, folder / "catchup-pg.sqlite3")
        engine.dispose()
        return asyncio.run(_catchup(db, cache, bookings, 50))


# -- fan-out ---------------------------------------------------------------------------------------------------
def serve(db: str, port: int) -> int:
    """csr-server's endpoint with an Applier that prints {"v": version, "t": time.time()} per commit."""
    import logging

    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from sync.apply import Applier
    from sync.auth import Accounts, token_secret
    from sync.server import SyncServer
    from sync.server_auth import AccountsAuthenticator

    logging.basicConfig(level=logging.WARNING)

    class StampingApplier(Applier):
        def _apply_batch(self, *args: Any, **kwargs: Any) -> Any:
            receipts, error = super()._apply_batch(*args, **kwargs)  # its transaction has committed here
            stamp = time.time()
            for receipt in receipts:
                if receipt.status == "applied":
                    print(json.dumps({"v": receipt.server_version, "t": stamp}), flush=True)
            return receipts, error

    async def main() -> None:
        sessions = sessionmaker(open_server_db(db), expire_on_commit=False)
        server = SyncServer(
            StampingApplier(sessions), AccountsAuthenticator(Accounts(sessions), token_secret(sessions))
        )
        endpoint = await server.serve("127.0.0.1", port)
        print(f"csr-server: listening on ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    return 0


def listen(url: str, token: str, clients: int, pull: bool = True) -> int:
    """``clients`` logged-in connections that pull on each poke they can't follow, as consoles do; print
    "ready", then one JSON
    line when stdin closes: {"v": [...], "t": [...]} (server version, time.time() when each poke was read)."""

    async def main() -> None:
        import websockets

        pokes: list[tuple[int, float]] = []

        async def one(i: int, ready: asyncio.Event, go: list[int]) -> None:
            async with websockets.connect(url, max_size=2**23, open_timeout=60) as ws:
                await ws.send(
                    json.dumps(
                        {"type": "hello", "protocol": 1, "client_id": uuid.uuid4().hex, "token": token}
                    )
                )
                while (welcome := json.loads(await ws.recv())).get("type") != "welcome":
                    pass
                cursor, pulling = welcome["server_version"], False
                go[0] += 1
                if go[0] == clients:
                    ready.set()
                async for frame in ws:
                    t = time.time()
                    msg = json.loads(frame)
                    if msg.get("type") == "poke":
                        pokes.append((msg["server_version"], t))
                        if not pulling and msg.get("changes") is not None and msg.get("after") == cursor:
                            # As a console does: a poke carrying the changes that follow its cursor needs
                            # no pull (sync/client.py _follow).
                            cursor = msg["server_version"]
                        elif pull and not pulling and msg["server_version"] > cursor:
                            # As a console does: pull from its cursor (the server's real load per commit; the
                            # rows are not applied here — the timed consoles do that, in bench "applied").
                            pulling = True
                            await ws.send(json.dumps({"type": "pull", "cursor": cursor, "limit": 1000}))
                    elif msg.get("type") == "changes":
                        cursor, pulling = msg["cursor"], False

        ready = asyncio.Event()
        go = [0]
        tasks = [asyncio.create_task(one(i, ready, go)) for i in range(clients)]
        await asyncio.wait_for(ready.wait(), 120)
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        for t in tasks:
            t.cancel()
        print(json.dumps({"v": [v for v, _ in pokes], "t": [t for _, t in pokes]}), flush=True)

    asyncio.run(main())
    return 0


def applied(url: str, token: str, caches: list[str]) -> int:
    """Real headless consoles (SyncClient over a real cache each): print "ready" when all are online, then,
    when stdin closes, one JSON line {"applied": [[(cursor, time.time()), ...] per console]}: each time a
    pull's rows were applied in that console's cache (the client's own ``on_changes``, called after the
    apply transaction committed) and the cursor it reached."""
    import logging

    from .headless import HeadlessConsole

    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        consoles = [HeadlessConsole(Path(c), url, token, known=True) for c in caches]
        marks: list[list[tuple[int, float]]] = [[] for _ in consoles]
        for i, c in enumerate(consoles):

            def changed(_tables: set[str], i: int = i, c: HeadlessConsole = consoles[i]) -> None:
                marks[i].append((c.client.cursor(), time.time()))

            c.client.on_changes = changed
            c.start()
        await _until(lambda: all(c.client.status.state == "online" for c in consoles), 120)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for c in consoles:
            await c.stop()
            c.close()
        print(json.dumps({"applied": marks}), flush=True)

    asyncio.run(main())
    return 0


async def _push_edits(url: str, token: str, commits: int, gap_s: float) -> None:
    import websockets

    async with websockets.connect(url, max_size=2**23) as ws:

        async def answer(kind: str) -> dict:
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == kind:
                    return msg
                if msg.get("type") == "error":
                    raise RuntimeError(msg)

        await ws.send(
            json.dumps({"type": "hello", "protocol": 1, "client_id": uuid.uuid4().hex, "token": token})
        )
        welcome = await answer("welcome")
        seq = welcome["next_seq"]
        customer = {
            "customer": {
                "name": "Fan Out",
                "street": "1 Main St",
                "city": "Dallas",
                "state": "TX",
                "zip": "75201",
            },
            "locations": [{"street": "1 Main St", "city": "Dallas", "state": "TX", "zip": "75201"}],
            "contacts": [{"kind": "MobilePhone", "value": "(214) 555-0150"}],
        }

        async def push(name: str, args: dict) -> dict:
            nonlocal seq
            await ws.send(
                json.dumps(
                    {
                        "type": "push",
                        "mutations": [
                            {
                                "seq": seq,
                                "mutation_id": uuid.uuid4().hex,
                                "name": name,
                                "args": args,
                                "created_at": "",
                            }
                        ],
                    }
                )
            )
            seq += 1
            receipt = (await answer("receipts"))["receipts"][0]
            if receipt["status"] != "applied":
                raise RuntimeError(receipt)
            return receipt

        cid = (await push("create_customer", customer))["result"]["id"]
        name = "Fan Out"
        for k in range(commits):
            await asyncio.sleep(gap_s)
            new = f"Fan Out {k}"
            await push("update_customer", {"customer_id": cid, "changes": {"name": [name, new]}})
            name = new


def fanout(
    templates: Templates,
    folder: Path,
    clients: int = 300,
    commits: int = 200,
    gap_s: float = 0.05,
    procs: int = 1,
    timed: int = 10,
) -> dict[str, Any]:
    """``clients`` consoles connected: ``timed`` of them real headless consoles (their caches timed), the rest
    websocket clients that pull on every poke as consoles do. ``fanout_applied_*``: commit → the change
    applied in a timed console's cache; ``fanout_poke_*``: commit → poke read by a client."""
    db = str(clone(templates.server_db, folder / "fanout-server.sqlite3"))
    store = ServerStore(db)
    token = store.token()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.sync_bench", "serve", "--db", db],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    listeners: list[subprocess.Popen] = []
    try:
        line = server.stdout.readline()
        url = line.split("listening on ")[1].strip()
        share = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
        timed = min(timed, clients)
        share = [
            (clients - timed) // procs + (1 if i < (clients - timed) % procs else 0) for i in range(procs)
        ]
        for n in share:
            listeners.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.sync_bench",
                        "listen",
                        "--url",
                        url,
                        "--token",
                        token,
                        "--clients",
                        str(n),
                    ],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        caches = [
            str(clone(templates.console_cache, folder / f"fanout-console-{i}.sqlite3")) for i in range(timed)
        ]
        consoles = subprocess.Popen(
            [sys.executable, "-m", "bench.sync_bench", "applied", "--url", url, "--token", token, *caches],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in [*listeners, consoles]:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a listener did not get ready")
        commit_times: dict[int, float] = {}
        # The server prints commit stamps as it goes: read them in a thread while pushing.
        import threading

        def read_commits() -> None:
            for raw in server.stdout:
                with contextlib.suppress(ValueError, KeyError):
                    d = json.loads(raw)
                    commit_times[d["v"]] = d["t"]

        reader = threading.Thread(target=read_commits, daemon=True)
        reader.start()
        asyncio.run(_push_edits(url, token, commits, gap_s))
        time.sleep(1.0)  # the last pokes land
        out, _ = consoles.communicate("", timeout=120)
        applied_ms: list[float] = []
        not_applied = 0
        for marks in json.loads(out.strip().splitlines()[-1])["applied"]:
            for v, committed in commit_times.items():
                at = next((t for cursor, t in marks if cursor >= v), None)
                if at is None:
                    not_applied += 1
                else:
                    applied_ms.append((at - committed) * 1000)
        latencies: list[float] = []
        missing = 0
        for p in listeners:
            out, _ = p.communicate("", timeout=60)
            data = json.loads(out.strip().splitlines()[-1])
            received: dict[int, int] = {}
            for v, t in zip(data["v"], data["t"], strict=True):
                received[v] = received.get(v, 0) + 1
                if v in commit_times:
                    latencies.append((t - commit_times[v]) * 1000)
            missing += sum(1 for v in commit_times if v not in received)
        return {
            **summary("fanout_applied", applied_ms, suffix=f"_{clients}"),
            "fanout_not_applied": not_applied,
            **summary("fanout_poke", latencies, suffix=f"_{clients}"),
            "fanout_poke_missed": missing,
            "fanout_clients": clients,
            "fanout_timed_consoles": timed,
            "fanout_commits": len(commit_times),
        }
    finally:
        for p in [*listeners, *([consoles] if "consoles" in locals() else [])]:
            if p.poll() is None:
                p.kill()
        server.kill()
        server.wait()
        store.close()


# -- initial sync -------------------------------------------------------------------------------------------
def measure_initial_sync(customers: int) -> dict[str, Any]:
    """A new console's initial sync from a server holding ``customers`` (bench/initial_sync.py)."""
    from .initial_sync import run_initial_sync

    r = run_initial_sync(customers)
    return {
        "initial_sync_rows_per_s": r["initial_sync_rows_per_s"],
        "initial_sync_rows": r["rows"],
        "initial_sync_s": r["seconds"],
        "initial_sync_customers": customers,
        **{k: v for k, v in r.items() if k.startswith("initial_sync_ui_lag")},
        "initial_sync_ui_stall_max_ms": r.get("ui_stall_max_ms"),
        **{f"initial_sync_{k}": v for k, v in r.items() if k in ("indexes_s", "documents_s", "full_text_s")},
    }


# -- the command ---------------------------------------------------------------------------------------------
def run_sync(
    bookings: int = 1000,
    clients: tuple[int, ...] = (300, 1000),
    commits: int = 200,
    postgres: str | None = PG_DEFAULT,
    procs: int = 1,
    initial_customers: int = 1_000_000,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="csr-bench-sync-") as tmp:
        folder = Path(tmp)
        templates = build_templates(folder / "templates")
        r = catchup_sqlite(templates, folder, bookings)
        out["catchup_1000_s_sqlite"] = r["confirmed_s"]
        out["catchup_1000_pulled_s_sqlite"] = r["pulled_s"]
        if postgres:
            try:
                r = catchup_postgres(templates, folder, postgres, bookings)
                out["catchup_1000_s_postgres"] = r["confirmed_s"]
                out["catchup_1000_pulled_s_postgres"] = r["pulled_s"]
            except Exception as exc:  # noqa: BLE001 - report, don't hide the other numbers
                out["catchup_1000_s_postgres"] = None
                out["postgres_error"] = f"{type(exc).__name__}: {exc}"[:300]
        for n in clients:
            out.update(fanout(templates, folder, n, commits, procs=procs))
        if initial_customers:
            out.update(measure_initial_sync(initial_customers))
        out["bookings"] = bookings
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync_bench")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--db", required=True)
    s.add_argument("--port", type=int, default=0)
    li = sub.add_parser("listen")
    li.add_argument("--url", required=True)
    li.add_argument("--token", required=True)
    li.add_argument("--clients", type=int, default=300)
    ap = sub.add_parser("applied")
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("caches", nargs="+")
    args = p.parse_args(argv)
    if args.command == "serve":
        return serve(args.db, args.port)
    if args.command == "applied":
        return applied(args.url, args.token, args.caches)
    return listen(args.url, args.token, args.clients)


if __name__ == "__main__":
    raise SystemExit(main())
