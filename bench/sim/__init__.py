"""Deterministic simulation of consoles, server and network (`csr-bench chaos --sim`, issue 12).

The real sync client, server, applier and caches run on a virtual-time event loop over a simulated
network whose delays and faults come from a seed (bench/sim/clock.py, net.py, world.py), in the style
of FoundationDB's and TigerBeetle's simulators: thousands of seeds in minutes, and any failing seed
replays exactly. The TCP fault-proxy chaos runs (bench/chaos.py) stay as a smaller second line: they
exercise the real websockets stack, real threads and real time, which the simulation replaces.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .world import REPLAY, SimParams, SimResult, SimTemplates, build_sim_templates, run_one_sim

__all__ = [
    "REPLAY",
    "SimParams",
    "SimResult",
    "SimTemplates",
    "build_sim_templates",
    "run_one_sim",
    "run_sim",
]

KEYS = (
    "runs",
    "lost",
    "duplicated",
    "diverged",
    "stalled",
    "refusals_unshown",
    "misattributed",
    "rejected",
    "flagged",
)


def run_sim(
    runs: int, seed: int = 1, params: SimParams | None = None, verbose: bool = False, jobs: int | None = None
) -> dict[str, Any]:
    """``runs`` seeds from ``seed``: the invariants summed (``diverged`` and ``stalled`` count runs), and
    the wall time. Each failing seed prints its replay command (and, verbose, its details) to stderr.
    ``jobs`` processes share the seeds (default: one per CPU); each seed is deterministic wherever
    it runs."""
    t0 = time.monotonic()
    totals: dict[str, Any] = {k: 0 for k in KEYS}
    seeds = range(seed, seed + runs)
    jobs = max(1, min(jobs or os.cpu_count() or 1, runs))
    if jobs == 1:
        _start_worker(params, verbose)
        rows: Iterable[dict[str, Any]] = map(_run_seed, seeds)
        _add(totals, rows)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            jobs, mp_context=ctx, initializer=_start_worker, initargs=(params, verbose)
        ) as pool:
            _add(totals, pool.map(_run_seed, seeds, chunksize=8))
    totals["seconds"] = round(time.monotonic() - t0, 1)
    return totals


def _add(totals: dict[str, Any], rows: Iterable[dict[str, Any]]) -> None:
    for row in rows:
        for k in KEYS:
            totals[k] += row[k]


_WORKER: dict[str, Any] = {}


def _start_worker(params: SimParams | None, verbose: bool) -> None:
    """Each process builds its own templates (about a second) in a scratch folder that lives as long
    as the process (removed at exit)."""
    import atexit
    import logging

    logging.disable(logging.CRITICAL)  # the real code logs every lost connection
    tmp = tempfile.TemporaryDirectory(prefix="csr-sim-", dir=scratch_dir())
    atexit.register(tmp.cleanup)
    base = Path(tmp.name)
    _WORKER.update(
        base=base, templates=build_sim_templates(base / "templates"), params=params, verbose=verbose, tmp=tmp
    )


def _run_seed(s: int) -> dict[str, Any]:
    w = _WORKER
    r = run_one_sim(s, w["templates"], w["base"] / "run", w["params"], keep_trace=w["verbose"])
    if w["verbose"] or not r.ok:
        print(json.dumps(describe(r, w["verbose"])), file=sys.stderr, flush=True)
    if not r.ok:
        print(f"seed {s} failed; replay: {REPLAY.format(seed=s)}", file=sys.stderr, flush=True)
    return {
        "runs": 1,
        "lost": r.lost,
        "duplicated": r.duplicated,
        "diverged": int(r.diverged),
        "stalled": int(r.stalled),
        "refusals_unshown": r.refusals_unshown,
        "misattributed": r.misattributed,
        "rejected": r.rejected,  # the workload reached the server's refusal path …
        "flagged": r.flagged,  # … and its accept-and-flag path
    }


def scratch_dir() -> str | None:
    """Where runs keep their databases: /dev/shm when there is one (SQLite's fsyncs cost nothing on
    tmpfs, and a run's durability against power loss is not what the simulation tests)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def describe(r: SimResult, verbose: bool) -> dict[str, Any]:
    out = {
        "seed": r.seed,
        "ok": r.ok,
        "lost": r.lost,
        "duplicated": r.duplicated,
        "diverged": r.diverged,
        "stalled": r.stalled,
        "refusals_unshown": r.refusals_unshown,
        "misattributed": r.misattributed,
        "writes": r.writes,
        "rejected": r.rejected,
        "flagged": r.flagged,
        "virtual_s": r.virtual_s,
        "steps": r.steps,
        "trace": r.trace[:16],
        "faults": r.faults,
    }
    out["problems"] = r.problems if verbose else r.problems[:10]
    return out
