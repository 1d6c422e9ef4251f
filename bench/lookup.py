"""`csr-bench lookup`: query latencies over the N-customer cache, and — in a separate console
process offscreen — start-up to interactive, keystroke-to-paint in the real widget, and RSS."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from models.phone import format_phone
from models.search import CustomerSearch, prewarm

from .seed import ensure_cache
from .stats import summary


def _sample(
    conn: sqlite3.Connection, table: str, columns: str, where: str, n: int, rng: random.Random
) -> list:
    top = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0
    out: list = []
    tries = 0
    while len(out) < n and tries < n * 20:
        tries += 1
        row = conn.execute(
            f"SELECT {columns} FROM {table} WHERE rowid = ? AND {where}", (rng.randrange(1, top + 1),)
        ).fetchone()
        if row:
            out.append(row)
    return out


def build_queries(conn: sqlite3.Connection, n: int, seed: int = 7) -> dict[str, list[str]]:
    """Realistic queries of each kind, drawn from the cache itself (deterministic)."""
    rng = random.Random(seed)
    phones = [r[0] for r in _sample(conn, "contact_methods", "value", "kind != 'Email'", n, rng)]
    styles = [
        format_phone,  # (214) 555-0134
        lambda e: f"{e[2:5]}.{e[5:8]}.{e[8:]}",  # 214.555.0134
        lambda e: f"+1 {e[2:5]} {e[5:8]} {e[8:]}",  # +1 214 555 0134
        lambda e: e[2:],
    ]  # 2145550134
    exact = [styles[i % len(styles)](p) for i, p in enumerate(phones)]
    partial = [p[-rng.randrange(4, 8) :] for p in phones]
    names = [r[0] for r in _sample(conn, "customers", "name", "1", n, rng)]
    name_q = []
    for i, name in enumerate(names):
        words = name.split()
        kind = i % 4
        if kind == 0:
            name_q.append(name)  # full name
        elif kind == 1:
            name_q.append(words[-1])  # last name only
        elif kind == 2 and len(words) > 1:
            name_q.append(f"{words[0]} {words[-1][:3]}")  # "john smi"
        else:
            name_q.append(words[0][: rng.randrange(3, 6)])  # first letters
    streets = _sample(conn, "locations", "street, city", "street != ''", n, rng)
    addr_q = []
    for i, (street, city) in enumerate(streets):
        parts = street.split()
        kind = i % 3
        if kind == 0:
            addr_q.append(" ".join(parts[:2]))  # "1234 Maple"
        elif kind == 1:
            addr_q.append(street)  # "1234 Maple Ave"
        else:
            addr_q.append(f"{' '.join(parts[1:])} {city}")  # "Maple Ave Dallas"
    return {"phone_exact": exact, "phone_partial": partial, "name": name_q, "address": addr_q}


def time_queries(search: CustomerSearch, queries: list[str]) -> tuple[list[float], int]:
    times, found = [], 0
    for q in queries:
        t = time.perf_counter()
        result = search.search(q)
        times.append((time.perf_counter() - t) * 1000)
        found += bool(result.ids)
    return times, found


def run_lookup(path: Path, customers: int, n_queries: int, keystrokes: int) -> dict:
    ensure_cache(path, customers)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    actual = conn.execute("SELECT count(*) FROM customers").fetchone()[0]
    queries = build_queries(conn, n_queries)
    search = CustomerSearch(conn)
    # The console reads its search indexes into the OS cache at start (models.search.prewarm); do
    # the same, so the figures are those of a running console, not of the first call after a reboot.
    t = time.perf_counter()
    prewarm(conn)
    out: dict = {"customers": actual, "prewarm_s": round(time.perf_counter() - t, 2)}
    for kind, qs in queries.items():
        times, found = time_queries(search, qs)
        out.update(summary(kind, times, digits=3))
        out[f"{kind}_found_pct"] = round(100 * found / max(1, len(qs)), 1)
    conn.close()
    probe = _run_probe(path, queries, keystrokes)
    out.update(probe)
    return out


def _run_probe(path: Path, queries: dict[str, list[str]], keystrokes: int) -> dict:
    """Start a fresh console process on the cache and let it measure itself (see bench/probe.py)."""
    typed = [q for pair in zip(queries["phone_exact"], queries["name"], strict=False) for q in pair]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_API="pyside6")
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.probe", str(path), str(started), str(keystrokes)],
        input=json.dumps(typed),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if proc.returncode != 0:
        raise SystemExit(f"csr-bench: console probe failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
