"""`csr-bench setup`'s ``setup_save_to_other_console_p99_ms``: a manager's setup save → visible in another
console's booking form.

A real server (sync/server.py over loopback websockets, a SQLite store with the demo setup) and two
headless consoles (a cache, the console's LocalWriter and SyncClient each). Each sample: the manager's
console renames an arrival window with ``setup_save`` (the setup screen's intent) and wakes its client;
the clock stops when the other console, told by its client that setup tables changed, reads its setup
the way the booking form reloads it (models/setup_data.py ``load_setup``) and finds the new name.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from .stats import summary

PASSWORD = "bench-password-1"


async def _token(url: str, client_id: str, user: str) -> str:
    import websockets

    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": client_id}))
        await ws.recv()
        await ws.send(json.dumps({"type": "login", "username": user, "password": PASSWORD}))
        return json.loads(await ws.recv())["token"]


async def _saves(folder: Path, saves: int) -> list[float]:
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from models.db import open_cache, open_server_db
    from models.setup import ArrivalWindow
    from models.setup_data import load_setup
    from models.setup_file import demo_setup_path, parse_setup, read_setup_text
    from models.writer import LocalWriter
    from sync.apply import Applier
    from sync.auth import Accounts, token_secret
    from sync.client import SyncClient
    from sync.server import SyncServer
    from sync.server_auth import AccountsAuthenticator
    from sync.setup_sync import import_setup_logged

    engine = open_server_db(str(folder / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    import_setup_logged(sessions, parse_setup(read_setup_text(demo_setup_path())))
    accounts = Accounts(sessions)
    accounts.add_user("manager", "Manager", "manager", PASSWORD)
    accounts.add_user("csr", "CSR", "csr", PASSWORD)
    server = SyncServer(Applier(sessions), AccountsAuthenticator(accounts, token_secret(sessions)))
    endpoint = await server.serve("127.0.0.1", 0)
    url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
    caches = [open_cache(folder / f"console-{n}.sqlite3") for n in ("manager", "csr")]
    seen_name = {"want": "", "event": asyncio.Event()}

    def on_changes(tables: set[str]) -> None:
        if "arrival_windows" in tables and seen_name["want"]:
            with caches[1].sessions() as s:
                names = {w.name for w in load_setup(s).windows}
            if seen_name["want"] in names:
                seen_name["event"].set()

    clients = [
        SyncClient(caches[0], url, token=lambda: None, backoff=(0.05, 0.5)),
        SyncClient(caches[1], url, token=lambda: None, backoff=(0.05, 0.5), on_changes=on_changes),
    ]
    tasks = []
    samples: list[float] = []
    try:
        for client, user in zip(clients, ("manager", "csr"), strict=True):
            token = await _token(url, client.client_id, user)
            client.token = lambda token=token: token
            tasks.append(asyncio.create_task(client.run()))
        deadline = time.monotonic() + 60
        while not all(c.status.state == "online" for c in clients) or not _has_windows(caches[1]):
            if time.monotonic() > deadline:
                raise RuntimeError("the consoles did not come online with the setup")
            await asyncio.sleep(0.05)
        with caches[0].sessions() as s:
            window = s.scalars(select(ArrivalWindow).order_by(ArrivalWindow.name)).first()
            window_id, name = window.id, window.name
        writer = LocalWriter(caches[0].sessions, actor="Manager")
        for i in range(saves):
            new = f"Bench window {i}"
            seen_name["want"], seen_name["event"] = new, asyncio.Event()
            t0 = time.perf_counter()
            writer.execute(
                "setup_save",
                {"kind": "arrival_window", "id": window_id, "values": {"name": new}, "seen": {"name": name}},
            )
            clients[0].wake()
            await asyncio.wait_for(seen_name["event"].wait(), 30)
            samples.append((time.perf_counter() - t0) * 1000)
            name = new
            # Untimed: the manager's own console settles on its save before the next, as a manager saves
            # one change at a time (quick saves are no longer a false conflict: sync/puller.py rebase).
            while _window_name(caches[0], window_id) != new or clients[0].pending():
                await asyncio.sleep(0.005)
    finally:
        for client in clients:
            client.stop()
        for task in tasks:
            await asyncio.wait_for(task, 10)
        endpoint.close()
        await endpoint.wait_closed()
        await server.aclose()
        for cache in caches:
            cache.close()
        engine.dispose()
    return samples


def _window_name(cache: Any, window_id: str) -> str:
    from models.setup import ArrivalWindow

    with cache.sessions() as s:
        return s.get(ArrivalWindow, window_id).name


def _has_windows(cache: Any) -> bool:
    from models.setup_data import load_setup

    with cache.sessions() as s:
        return bool(load_setup(s).windows)


def run_setup_saves(saves: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="csr-bench-setup-save-") as folder:
        samples = asyncio.run(_saves(Path(folder), saves))
    return summary("setup_save_to_other_console", samples)
