"""`csr-bench booking`: save, availability and form-ready latencies in a real console process,
over the 1M-customer cache with 200k jobs (added to the benchmark cache on first use)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .seed import ensure_cache


def ensure_jobs(path: Path, jobs: int) -> dict:
    """The demo company's setup and ``jobs`` jobs in the cache (once)."""
    from models.db import open_cache
    from models.demo_jobs import generate_jobs
    from models.setup_file import demo_setup_path, import_setup_file

    conn = sqlite3.connect(path)
    have = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    has_setup = conn.execute("SELECT count(*) FROM job_types").fetchone()[0]
    conn.close()
    info = {"jobs_before": have}
    if not has_setup:
        cache = open_cache(path)
        try:
            import_setup_file(cache, demo_setup_path())
        finally:
            cache.close()
    if have < jobs:
        t = time.perf_counter()
        print(
            f"csr-bench: adding {jobs - have:,} jobs to {path} (first run only)…", file=sys.stderr, flush=True
        )
        info.update(generate_jobs(path, jobs - have))
        info["jobs_seconds"] = round(time.perf_counter() - t, 1)
    return info


def run_booking(path: Path, customers: int, jobs: int, bookings: int) -> dict:
    ensure_cache(path, customers)
    prep = ensure_jobs(path, jobs)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    counts = {
        "customers": conn.execute("SELECT count(*) FROM customers").fetchone()[0],
        "jobs": conn.execute("SELECT count(*) FROM jobs").fetchone()[0],
    }
    conn.close()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.booking_probe", str(path), str(bookings)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"csr-bench: booking probe failed:\n{proc.stderr[-3000:]}")
    return {
        **counts,
        **json.loads(proc.stdout.strip().splitlines()[-1]),
        **{k: v for k, v in prep.items() if k != "jobs_before"},
    }
