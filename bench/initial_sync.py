"""`initial_sync_rows_per_s`: a new console copies a server holding N customers (with their locations
and contacts) through the real websocket endpoint and the real SyncClient, until it is online.

The server store is the seeded benchmark cache for N (csr-bench seed), copied once to a server file;
the server runs in another process (`csr-server run`), so the console's work and the server's don't
share a GIL. Rows/s counts every row copied (all tables) over the whole initial sync, including the
bulk build of the console's search index at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
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
        subprocess.run(
            [*cmd, "init", "--password-stdin"],
            input=PASSWORD.encode(),
            check=True,
            env=env,
            capture_output=True,
        )
        server = subprocess.Popen(
            [*cmd, "--log-level", "WARNING", "run", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert server.stdout is not None
        url = ""
        while not url:
            line = server.stdout.readline().decode()
            if not line:
                raise RuntimeError("csr-server did not start")
            if "listening on " in line:
                url = line.strip().split("listening on ", 1)[1]
        # A real console process (Qt, qasync) does the copy; its UI thread's heartbeat is the lag figure.
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.initial_console",
                str(work / "console.sqlite3"),
                url,
                "admin",
                str(work / "profile"),
            ],
            env={**env, "QT_QPA_PLATFORM": "offscreen", "QT_API": "pyside6", "CSR_BENCH_PASSWORD": PASSWORD},
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"the console process failed:\n{proc.stderr[-3000:]}")
        return {"customers": customers, **json.loads(proc.stdout.strip().splitlines()[-1])}
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
