"""A CSR's save while the sync client applies a big pull page.

Every cache transaction starts with BEGIN IMMEDIATE (models/db.py) and waits at most busy_timeout
(3 s) for the write lock. SyncClient applies a whole pull page — up to 5,000 changes, plus the search
documents of the customers they touch — in ONE write transaction. A page that takes longer than 3 s
to apply makes a booking or customer save in the window fail with "database is locked" (and any
shorter one blocks the UI thread for as long as it lasts; ARCHITECTURE.md allows 50 ms).
"""

from __future__ import annotations

import asyncio
import random
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bench.headless import HeadlessConsole, InProcessServer, ServerStore, clone
from models.base import new_id
from models.sync_tables import ChangeRow
from sync.client import SyncClient

CHANGES = 5000


def _fill_change_log(store: ServerStore, tmp_console: HeadlessConsole) -> int:
    """CHANGES customer upserts in the server's change log (copies of one real customer's row)."""
    with store.sessions.begin() as s:
        template = s.scalar(select(ChangeRow).where(ChangeRow.entity == "customers"))
        assert template is not None
        for k in range(CHANGES):
            data = dict(template.data, id=new_id(), name=f"Bulk Customer {k}")
            s.add(ChangeRow(entity="customers", entity_id=data["id"], op="upsert", data=data))
    with store.sessions() as s:
        return max(s.scalars(select(ChangeRow.version)))


@pytest.mark.slow
def test_a_local_save_during_a_big_pull_is_not_refused(templates, tmp_path):
    async def scenario() -> None:
        store = ServerStore(str(clone(templates.server_db, tmp_path / "server.sqlite3")))
        server = InProcessServer(store)
        url = await server.start()
        seeder = HeadlessConsole(
            clone(templates.console_cache, tmp_path / "seed.sqlite3"),
            url,
            store.token(),
            known=True,
            prefix="KQ7",
        )
        console = HeadlessConsole(
            clone(templates.console_cache, tmp_path / "console.sqlite3"),
            url,
            store.token(),
            known=True,
            prefix="WX4",
        )
        try:
            seeder.create_customer(random.Random(1), "seed")
            seeder.start()
            while seeder.outbox():
                await asyncio.sleep(0.05)
            await seeder.stop()
            target = _fill_change_log(store, seeder)
            console.client = SyncClient(console.cache, url, token=lambda: console.token, page=CHANGES)
            failures: list[str] = []
            done = threading.Event()

            def csr_saves() -> None:
                rng = random.Random(2)
                while not done.is_set():
                    try:
                        console.create_customer(rng, "during pull")
                    except OperationalError as exc:
                        failures.append(str(exc.orig))
                    done.wait(0.1)

            saver = threading.Thread(target=csr_saves)
            console.start()
            saver.start()
            try:
                while console.cursor() < target:
                    await asyncio.sleep(0.05)
            finally:
                done.set()
                await asyncio.to_thread(saver.join)
            assert failures == []
        finally:
            for c in (seeder, console):
                await c.stop()
                c.close()
            await server.stop()
            store.close()

    asyncio.run(scenario())
