"""What the call and floor benchmarks share (`csr-bench calls`, `csr-bench floor`): the stores they copy,
the server and console processes they start and stop, the signed-in websocket listeners (the other
consoles of a call centre), and the phone system that signs webhooks as Twilio does.

    python -m bench.harness listen --url ws://… --tokens-file tokens.json     (a listeners process)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .headless import ROOT, checkpoint

MATCH_SQL = (
    "SELECT count(*) FROM (SELECT DISTINCT cm.customer_id FROM contact_methods cm "
    "JOIN customers c ON c.id = cm.customer_id WHERE cm.value = ? AND c.merged_into_id IS NULL LIMIT ?)"
)

PASSWORD = "bench calls password 1"


CONSOLE_USER = "dana"


PUBLIC_URL = "https://calls.bench.example"


AUTH_TOKEN = "csr-bench-calls-0123456789abcdef"


@dataclass
class Prepared:
    console_cache: Path
    server_db: Path
    version: int
    tokens: list[str]  # the listeners'
    agents: list[str]  # every CSR's user name
    tracking: list[str]  # the setup's tracking numbers (E.164)
    seconds: float


def copy_db(src: Path, dst: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    if Path(f"{src}-wal").exists():
        s, d = sqlite3.connect(f"file:{src}?mode=ro", uri=True), sqlite3.connect(str(dst))
        try:
            s.backup(d)
        finally:
            s.close()
            d.close()
    else:
        shutil.copyfile(src, dst)


def prepare(source: Path, work: Path, listeners: int) -> Prepared:
    """The console's cache and the server's store, both copies of ``source`` (same ids): the demo setup
    imported if missing, the server with the CSR accounts, the console marked as holding the server's
    data up to its current version (no initial copy). ``source`` itself is only read."""
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from models.base import utcnow
    from models.db import open_cache, open_server_db
    from models.setup import TrackingNumber, User
    from models.setup_file import demo_setup_path, import_setup_file
    from sync.apply import current_version
    from sync.auth import DEFAULT_TOKEN_TTL, Accounts, issue_token, token_secret
    from sync.snapshot import mark_synced

    t0 = time.perf_counter()
    console = work / "console.sqlite3"
    copy_db(source, console)
    cache = open_cache(console)  # migrates an older benchmark cache
    try:
        with cache.sessions() as s:
            has_setup = s.scalar(select(TrackingNumber.id).limit(1)) is not None
        if not has_setup:
            import_setup_file(cache, demo_setup_path())
    finally:
        cache.close()
    # The console holds the server's data (below): writes the source cache still had queued (another bench
    # booked into it) are already in the server's copy — pushed again, they would clash with themselves.
    # It starts as a new client (no outbox, a fresh client id and sequence, no problems of that other bench).
    conn = sqlite3.connect(str(console))
    for table in ("outbox", "client_state", "drafts", "sync_problems"):
        conn.execute(f"DELETE FROM {table}")
    conn.commit()
    conn.close()
    checkpoint(console)
    Path(f"{console}.lock").unlink(missing_ok=True)
    # The source may hold another bench's unsent changes (`csr-bench booking` books into it): their rows
    # are in both copies already, so the console starts as a new client with an empty outbox — pushed,
    # each would be refused one by one (4,000 of them kept a console from coming online in 120 s).
    conn = sqlite3.connect(str(console))
    for table in ("outbox", "client_state"):
        conn.execute(f"DELETE FROM {table}")
    conn.commit()
    conn.close()
    server = work / "server.sqlite3"
    shutil.copyfile(console, server)
    conn = sqlite3.connect(str(server))
    for table in ("outbox", "client_state", "sync_state", "drafts"):
        conn.execute(f"DELETE FROM {table}")
    conn.commit()
    conn.close()
    engine = open_server_db(str(server))
    try:
        sessions = sessionmaker(engine, expire_on_commit=False)
        secret = token_secret(sessions)
        accounts = Accounts(sessions)
        names = [CONSOLE_USER] + [f"csr{i:03d}" for i in range(1, listeners + 1)]
        for name in names:
            accounts.add_user(name, name.title(), "csr", PASSWORD)
        with sessions() as s:
            users = {u.username: u for u in s.scalars(select(User).where(User.username.in_(names)))}
            tokens = [issue_token(users[n], secret, DEFAULT_TOKEN_TTL, utcnow()) for n in names[1:]]
            tracking = list(s.scalars(select(TrackingNumber.number)))
            version = current_version(s)
    finally:
        engine.dispose()
    cache = open_cache(console)
    try:
        mark_synced(cache, version)
    finally:
        cache.close()
    checkpoint(console)
    Path(f"{console}.lock").unlink(missing_ok=True)
    if not tracking:
        raise RuntimeError("the setup has no tracking numbers")
    return Prepared(console, server, version, tokens, names, tracking, round(time.perf_counter() - t0, 1))


@dataclass
class Callers:
    single: list[str] = field(default_factory=list)  # one customer has this number
    several: list[tuple[str, int]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # a well-formed number nobody has

    def all(self) -> list[str]:
        return self.single + [n for n, _ in self.several] + self.unknown


def find_callers(cache: Path, rng: random.Random, want: int) -> Callers:
    """Phones of customers in the cache, drawn at random rows, with how many customers each matches
    (the console's own rule: models.call_store.match_customers); and numbers one digit-swap away that
    match nobody."""
    from models.call_store import MAX_MATCHES

    conn = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
    out = Callers()
    try:
        top = conn.execute("SELECT max(rowid) FROM contact_methods").fetchone()[0] or 0
        tries = 0
        while (len(out.single) < want or len(out.several) < want // 4) and tries < want * 60 and top:
            tries += 1
            row = conn.execute(
                "SELECT value, kind FROM contact_methods WHERE rowid = ?", (rng.randint(1, top),)
            ).fetchone()
            if row is None or row[1] not in ("Phone", "MobilePhone") or not str(row[0]).startswith("+1"):
                continue
            n = conn.execute(MATCH_SQL, (row[0], MAX_MATCHES)).fetchone()[0]
            if n == 1 and len(out.single) < want:
                out.single.append(row[0])
            elif n > 1 and len(out.several) < want // 4 and all(row[0] != v for v, _ in out.several):
                out.several.append((row[0], n))
        for base in out.single[: max(1, want // 4)]:
            for _ in range(20):
                number = base[:-4] + f"{rng.randrange(10_000):04d}"
                if conn.execute(MATCH_SQL, (number, 1)).fetchone()[0] == 0:
                    out.unknown.append(number)
                    break
    finally:
        conn.close()
    if not out.single:
        raise RuntimeError(f"no customer phones found in {cache}")
    return out


class Lines:
    """A child's stdout, line by line, with a timeout."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.q.put(line)
        self.q.put(None)

    def next(self, timeout: float) -> str:
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no answer from pid {self.proc.pid} in {timeout} s") from None
        if line is None:
            raise RuntimeError(f"pid {self.proc.pid} ended (exit {self.proc.wait()})")
        return line

    def json(self, timeout: float) -> dict[str, Any]:
        while True:
            line = self.next(timeout).strip()
            if line.startswith("{"):
                return json.loads(line)


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def start_server(
    db: Path,
    log: Path,
    stages: Path | None = None,
    *,
    module: str | None = None,
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen, str, str]:
    """``csr-server run`` taking webhooks; with ``stages``, wrapped by bench/timed_server.py (``module``:
    another wrapper, ``env``: more of its environment)."""
    module = module or ("bench.timed_server" if stages else "sync.server_cli")
    cmd = [
        sys.executable,
        "-m",
        module,
        "--db",
        str(db),
        "--log-level",
        "WARNING",
        "run",
        "--port",
        "0",
        "--http-port",
        "0",
        "--public-url",
        PUBLIC_URL,
    ]
    env = child_env(
        CSR_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        **({"CSR_BENCH_STAGES": str(stages)} if stages else {}),
        **(env or {}),
    )
    with log.open("ab") as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True, env=env
        )
    assert proc.stdout is not None
    ws = proc.stdout.readline()
    http = proc.stdout.readline()
    if "listening on " not in ws or "webhooks on " not in http:
        proc.kill()
        raise RuntimeError(f"csr-server did not start: {ws!r} {http!r} (see {log})")
    proc.stdout.close()
    return proc, ws.split("listening on ")[1].strip(), http.split("webhooks on ")[1].strip()


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A Python child talking over stdin/stdout (text), its stderr into ``log``."""
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wind_down(
    children: tuple[subprocess.Popen | None, ...],
    server: subprocess.Popen | None,
    work: Path,
    keep: Path | None,
) -> None:
    """The end of a run, however it ended: the children's stdin closed (they finish), the server stopped,
    the work folder removed unless it is kept."""
    for proc in children:
        if proc is not None and proc.poll() is None:
            if proc.stdin and not proc.stdin.closed:
                proc.stdin.close()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    stop(server)
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)


def start_listeners(url: str, tokens: list[str], work: Path, name: str) -> tuple[subprocess.Popen, Lines]:
    """``listen`` (below) in its own process, one signed-in client per token; returns once all are in."""
    path = work / f"{name}-tokens.json"
    path.write_text(json.dumps(tokens))
    proc = spawn(
        ["-m", "bench.harness", "listen", "--url", url, "--tokens-file", str(path)],
        work / f"{name}.log",
        child_env(),
    )
    out = Lines(proc)
    if out.next(180).strip() != "ready":
        raise RuntimeError(f"the {name} did not sign in")
    return proc, out


def listen(url: str, tokens: list[str]) -> int:
    """One websocket client per token: hello with the token, then every ``call`` message is noted (first
    time each client sees each call: provider call id → [time.time(), …]). Prints "ready"; on a "dump"
    line on stdin prints what it noted (and forgets it); ends when stdin closes."""
    import websockets

    from sync.protocol import PROTOCOL_VERSION

    async def main() -> None:
        seen: dict[str, list[float]] = {}
        ready = asyncio.Event()
        joined = [0]
        stats = {"frames": 0}

        async def one(token: str) -> None:
            mine: set[str] = set()
            async with websockets.connect(url, max_size=2**23, open_timeout=60, compression=None) as ws:
                await ws.send(
                    json.dumps(
                        {
                            "type": "hello",
                            "protocol": PROTOCOL_VERSION,
                            "client_id": uuid.uuid4().hex,
                            "token": token,
                        }
                    )
                )
                while json.loads(await ws.recv()).get("type") != "welcome":
                    pass
                joined[0] += 1
                if joined[0] == len(tokens):
                    ready.set()
                async for frame in ws:
                    t = time.time()
                    stats["frames"] += 1
                    msg = json.loads(frame)
                    if msg.get("type") == "call":
                        key = msg["call"].get("provider_call_id") or ""
                        if key and key not in mine:
                            mine.add(key)
                            seen.setdefault(key, []).append(t)

        tasks = [asyncio.create_task(one(t)) for t in tokens]
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait([waiter, *tasks], timeout=120, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            for t in done:
                t.result()  # a client that failed says why
            raise TimeoutError("listeners did not all sign in")
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            print(json.dumps({"seen": seen, "frames": stats["frames"]}), flush=True)
            seen.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    return 0


class Phone:
    """Signs a webhook as Twilio does (X-Twilio-Signature over the public URL) and sends it to the
    server's webhook port."""

    def __init__(self, session: Any, http: str) -> None:
        from twilio.request_validator import RequestValidator

        self.session = session
        self.base = http.rstrip("/")
        self.validator = RequestValidator(AUTH_TOKEN)

    async def post(
        self, url: str, params: dict[str, str], stamp: dict[str, Any] | None = None
    ) -> tuple[int, str]:
        """(HTTP status, body); status 0 when the request failed. ``stamp["t"]``: time.time() just
        before the request is sent (the signature is computed first: that is the provider's work)."""
        import aiohttp

        from sync.telephony.twilio import SIGNATURE_HEADER

        headers = {
            SIGNATURE_HEADER: self.validator.compute_signature(url, params),
            "User-Agent": "TwilioProxy/1.1",
        }
        address = self.base + url[len(PUBLIC_URL) :] if url.startswith(PUBLIC_URL) else url
        if stamp is not None:
            stamp["t"] = time.time()
        try:
            async with self.session.post(address, data=params, headers=headers) as resp:
                return resp.status, await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            return 0, ""


def cpu(procs: dict[str, subprocess.Popen | None]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each process (Linux /proc; this process: "poster")."""
    out = {"poster": time.process_time()}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for name, proc in procs.items():
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()  # type: ignore[union-attr]
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, AttributeError, IndexError, ValueError):
            pass
    return out


def cpu_share(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used by each process over ``seconds`` (2.0 = both cores of this machine)."""
    return {k: round((after[k] - before[k]) / seconds, 2) for k in after if k in before and seconds > 0}


def load_average() -> dict[str, Any]:
    load1, load5, _ = os.getloadavg()
    return {"load1": round(load1, 2), "load5": round(load5, 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.harness")
    sub = p.add_subparsers(dest="command", required=True)
    li = sub.add_parser("listen", help="signed-in websocket clients noting `call` messages")
    li.add_argument("--url", required=True)
    li.add_argument("--tokens-file", type=Path, required=True, help="a JSON list of tokens (one client each)")
    args = p.parse_args(argv)
    return listen(args.url, json.loads(args.tokens_file.read_text()))


if __name__ == "__main__":
    raise SystemExit(main())
