"""`initial_sync_rows_per_s`: a new console copies a server holding N customers (with their locations
and contacts) through the real websocket endpoint and the real SyncClient, until it is online.

The server store is the seeded benchmark cache for N (csr-bench seed), copied once to a server file;
the server runs in another process (`csr-server run`), so the console's work and the server's don't
share a GIL. Rows/s counts every row copied (all tables) over the whole initial sync, including the
bulk build of the console's search index at the end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .cli import bench_cache_path

PASSWORD = "bench password 1"


def _server_store(customers: int, work: Path) -> Path:
    source = bench_cache_path(customers)
    if not source.exists():
        from .seed import run_seed

        run_seed(source, customers, 2024, False)
    store = work / "server.sqlite3"
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(store))
    try:
        src.backup(dst)
    finally:
        src.close()
    for table in ("outbox", "client_state", "sync_state", "drafts"):
        dst.execute(f"DELETE FROM {table}")
    dst.commit()
    dst.close()
    return store


def run_initial_sync(customers: int, page: int = 5000) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="csr-bench-initial-"))
    server = None
    try:
        store = _server_store(customers, work)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "sync.server_cli", "--db", str(store)]
        subprocess.run([*cmd, "init", "--password-stdin"], input=PASSWORD.encode(), check=True, env=env,
                       capture_output=True)
        server = subprocess.Popen([*cmd, "--log-level", "WARNING", "run", "--port", "0"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env)
        assert server.stdout is not None
        url = ""
        while not url:
            line = server.stdout.readline().decode()
            if not line:
                raise RuntimeError("csr-server did not start")
            if "listening on " in line:
                url = line.strip().split("listening on ", 1)[1]
        return asyncio.run(_copy(url, work / "console.sqlite3", page, customers))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


async def _copy(url: str, cache_path: Path, page: int, customers: int) -> dict[str, Any]:
    from models.db import open_cache
    from sync.client import SyncClient, login

    cache = open_cache(cache_path)
    progress: list[Any] = []
    lags: list[float] = []
    try:
        client = SyncClient(cache, url, token=lambda: None, on_initial=progress.append, snapshot_page=page)
        token, _user = await login(url, client.client_id, "admin", PASSWORD)
        client.token = lambda: token
        stop = asyncio.Event()

        async def heartbeat() -> None:
            # How late a 10 ms timer fires while the copy runs: the UI thread's responsiveness.
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                t = loop.time()
                await asyncio.sleep(0.01)
                lags.append((loop.time() - t - 0.01) * 1000)

        beat = asyncio.create_task(heartbeat())
        t0 = time.perf_counter()
        task = asyncio.create_task(client.run())
        while client.status.state != "online":
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - t0
        stop.set()
        client.stop()
        await asyncio.wait_for(task, 30)
        await beat
        rows = progress[-1].rows_done if progress else 0
        copy_end = next((p for p in progress if p.finished), None)
        lags.sort()
        return {"customers": customers, "rows": rows, "seconds": round(elapsed, 2),
                "initial_sync_rows_per_s": round(rows / elapsed) if elapsed else 0,
                "finished": bool(copy_end), **(copy_end.timings if copy_end else {}),
                "ui_timer_lag_p99_ms": round(lags[int(len(lags) * 0.99) - 1], 1) if lags else None,
                "ui_timer_lag_max_ms": round(lags[-1], 1) if lags else None}
    finally:
        cache.close()
