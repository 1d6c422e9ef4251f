"""`csr-bench seed`: a large deterministic cache, timed."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def run_seed(path: Path, customers: int, seed: int, force: bool = False) -> dict:
    from models.demo import generate

    if path.exists():
        if not force:
            raise SystemExit(f"csr-bench: {path} exists; use --force to replace it")
        _remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    last = [t0]

    def progress(done: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 5:
            last[0] = now
            print(f"  {done:,} customers ({now - t0:.0f} s)", file=sys.stderr, flush=True)

    counts = generate(path, customers, seed=seed, progress=progress)
    return {
        "customers": customers,
        "path": str(path),
        "seconds": round(time.perf_counter() - t0, 2),
        "size_mb": round(path.stat().st_size / 2**20, 1),
        **counts,
    }


def ensure_cache(path: Path, customers: int) -> None:
    """Seed the benchmark cache on first use (a 1M cache takes a few minutes once)."""
    if path.exists():
        return
    print(
        f"csr-bench: seeding {customers:,} customers into {path} (first run only)…",
        file=sys.stderr,
        flush=True,
    )
    run_seed(path, customers, 2024)
