"""Sync-client orderings the fault proxy can only hit by luck, reproduced deterministically with a
scripted server (a websocket stub that sends exactly the frames a real server may send, in the order
it may send them)."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.server import serve

from sync.client import SyncClient


def test_a_poke_that_arrives_during_a_pull_is_not_forgotten(cache):
    """The server answers a pull with what it had when it read the change log. A commit that lands
    meanwhile is announced by a poke that can reach the console *before* that answer. The client
    must pull again; today it ignores the poke and sits at the old cursor until something else is
    committed — in a quiet office, for hours."""
    pulls: list[int] = []
    got_second_pull = asyncio.Event

    async def scenario() -> None:
        second = got_second_pull()

        async def handler(ws) -> None:
            async for frame in ws:
                msg = json.loads(frame)
                if msg["type"] == "snapshot":  # initial sync: an empty server
                    await ws.send(
                        json.dumps(
                            {
                                "type": "snapshot_page",
                                "server_version": 0,
                                "rows": [],
                                "table": "*",
                                "columns": [],
                                "after": "",
                                "done": True,
                            }
                        )
                    )
                elif msg["type"] == "hello":
                    await ws.send(
                        json.dumps({"type": "welcome", "protocol": 1, "server_version": 0, "next_seq": 1})
                    )
                elif msg["type"] == "pull":
                    pulls.append(msg["cursor"])
                    if len(pulls) == 1:
                        # version 1 committed while this pull was reading: poke first, then the answer
                        # (which was read before the commit) — the order the real server can produce.
                        await ws.send(json.dumps({"type": "poke", "server_version": 1}))
                        await ws.send(
                            json.dumps({"type": "changes", "changes": [], "cursor": 0, "more": False})
                        )
                    else:
                        second.set()
                        await ws.send(
                            json.dumps({"type": "changes", "changes": [], "cursor": 1, "more": False})
                        )

        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            client = SyncClient(cache, f"ws://127.0.0.1:{port}", token=lambda: "t", backoff=(0.05, 0.2))
            task = asyncio.create_task(client.run())
            try:
                await asyncio.wait_for(second.wait(), 3)
            except TimeoutError:
                pass
            client.stop()
            await asyncio.wait_for(task, 5)
        assert len(pulls) >= 2 and pulls[1] == 0, f"pulls: {pulls}"

    asyncio.run(scenario())


@pytest.mark.parametrize("restart", [False, True])
def test_a_confirmed_edit_survives_an_older_page_pulled_after_its_receipt(cache, restart):
    """The console edits a customer; the server confirms the edit (version 2), then the console pulls
    from cursor 0 and the first page ends at version 1, the row as created. The outbox is empty by
    then, so nothing re-applied the edit: the CSR saw the old name again until the next page, and an
    edit made in that moment carried the old name as its base — a false conflict on the server that
    kept the wrong name (found by `csr-bench chaos`, seed 1108). ``restart``: the console is restarted
    between the receipt and the pull (the confirmed edit must be remembered on disk)."""
    from models.customers import Customer
    from models.writer import LocalWriter

    writer = LocalWriter(cache.sessions)
    cid = writer.execute(
        "create_customer",
        {
            "customer": {
                "name": "Old Name",
                "street": "1 Main St",
                "city": "Dallas",
                "state": "TX",
                "zip": "75201",
            },
            "locations": [{"street": "1 Main St", "city": "Dallas", "state": "TX", "zip": "75201"}],
            "contacts": [{"kind": "MobilePhone", "value": "(214) 555-0101"}],
        },
    ).applied.entity_id
    with cache.sessions() as s:
        created = {c.key: getattr(s.get(Customer, cid), c.key) for c in Customer.__mapper__.column_attrs}
    created = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in created.items()}
    writer.execute("update_customer", {"customer_id": cid, "changes": {"name": ["Old Name", "New Name"]}})
    seen_between_pages: list[str] = []

    async def scenario() -> None:
        done = asyncio.Event()
        receipted = asyncio.Event()

        async def handler(ws) -> None:
            async for frame in ws:
                msg = json.loads(frame)
                if restart and msg["type"] == "pull" and not receipted.is_set():
                    receipted.set()  # the console stops before it hears the answer
                    continue
                if msg["type"] == "hello":
                    await ws.send(
                        json.dumps({"type": "welcome", "protocol": 1, "server_version": 0, "next_seq": 1})
                    )
                elif msg["type"] == "snapshot":
                    await ws.send(
                        json.dumps(
                            {
                                "type": "snapshot_page",
                                "server_version": 0,
                                "rows": [],
                                "table": "*",
                                "columns": [],
                                "after": "",
                                "done": True,
                            }
                        )
                    )
                elif msg["type"] == "push":
                    await ws.send(
                        json.dumps(
                            {
                                "type": "receipts",
                                "receipts": [
                                    {
                                        "seq": m["seq"],
                                        "mutation_id": m["mutation_id"],
                                        "status": "applied",
                                        "server_version": m["seq"],
                                    }
                                    for m in msg["mutations"]
                                ],
                            }
                        )
                    )
                elif msg["type"] == "pull" and msg["cursor"] == 0:
                    await ws.send(
                        json.dumps(
                            {
                                "type": "changes",
                                "cursor": 1,
                                "more": True,
                                "changes": [
                                    {
                                        "version": 1,
                                        "entity": "customers",
                                        "entity_id": cid,
                                        "op": "upsert",
                                        "data": created,
                                    }
                                ],
                            }
                        )
                    )
                elif msg["type"] == "pull" and msg["cursor"] == 1:
                    with cache.sessions() as s:
                        seen_between_pages.append(s.get(Customer, cid).name)
                    await ws.send(
                        json.dumps(
                            {
                                "type": "changes",
                                "cursor": 2,
                                "more": False,
                                "changes": [
                                    {
                                        "version": 2,
                                        "entity": "customers",
                                        "entity_id": cid,
                                        "op": "upsert",
                                        "data": {**created, "name": "New Name"},
                                    }
                                ],
                            }
                        )
                    )
                    done.set()
                elif msg["type"] == "pull":
                    await ws.send(
                        json.dumps({"type": "changes", "cursor": msg["cursor"], "more": False, "changes": []})
                    )

        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            client = SyncClient(cache, f"ws://127.0.0.1:{port}", token=lambda: "t", backoff=(0.05, 0.2))
            task = asyncio.create_task(client.run())
            if restart:
                await asyncio.wait_for(receipted.wait(), 5)
                task.cancel()  # the console is closed while its pull waits
                await asyncio.gather(task, return_exceptions=True)
                assert client.pending() == 0
                client = SyncClient(cache, f"ws://127.0.0.1:{port}", token=lambda: "t", backoff=(0.05, 0.2))
                task = asyncio.create_task(client.run())
            await asyncio.wait_for(done.wait(), 5)
            client.stop()
            await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    assert seen_between_pages == ["New Name"]
    with cache.sessions() as s:
        assert s.get(Customer, cid).name == "New Name"


def test_an_edit_made_during_the_initial_copy_stays_on_the_copied_row(cache):
    """A console that worked offline before its first sign-in pushes, then copies the server's tables.
    An edit made after the push read the outbox is not on the server yet: the copied row (as created)
    replaced it on this PC, so the CSR saw the old name and their next edit carried it as its base — a
    false conflict on the server that kept the older edit (`csr-bench chaos`, seed 1118)."""
    from models.customers import Customer
    from models.writer import LocalWriter

    writer = LocalWriter(cache.sessions)
    cid = writer.execute(
        "create_customer",
        {
            "customer": {
                "name": "Old Name",
                "street": "1 Main St",
                "city": "Dallas",
                "state": "TX",
                "zip": "75201",
            },
            "locations": [{"street": "1 Main St", "city": "Dallas", "state": "TX", "zip": "75201"}],
            "contacts": [{"kind": "MobilePhone", "value": "(214) 555-0101"}],
        },
    ).applied.entity_id
    columns = [c.key for c in Customer.__mapper__.column_attrs]
    with cache.sessions() as s:
        row = s.get(Customer, cid)
        created = [
            getattr(row, k).isoformat() if hasattr(getattr(row, k), "isoformat") else getattr(row, k)
            for k in columns
        ]

    async def scenario() -> str:
        done = asyncio.Event()

        async def handler(ws) -> None:
            async for frame in ws:
                msg = json.loads(frame)
                if msg["type"] == "hello":
                    await ws.send(
                        json.dumps({"type": "welcome", "protocol": 1, "server_version": 1, "next_seq": 1})
                    )
                elif msg["type"] == "push":
                    await ws.send(
                        json.dumps(
                            {
                                "type": "receipts",
                                "receipts": [
                                    {
                                        "seq": m["seq"],
                                        "mutation_id": m["mutation_id"],
                                        "status": "applied",
                                        "server_version": 1,
                                    }
                                    for m in msg["mutations"]
                                ],
                            }
                        )
                    )
                elif msg["type"] == "snapshot" and msg["table"] == "*":
                    # The CSR edits the name while the copy starts (after the push read the outbox).
                    writer.execute(
                        "update_customer", {"customer_id": cid, "changes": {"name": ["Old Name", "New Name"]}}
                    )
                    await ws.send(
                        json.dumps(
                            {
                                "type": "snapshot_page",
                                "server_version": 1,
                                "table": "*",
                                "columns": ["table", "rows"],
                                "rows": [["customers", 1]],
                                "after": "",
                                "done": True,
                            }
                        )
                    )
                elif msg["type"] == "snapshot":
                    await ws.send(
                        json.dumps(
                            {
                                "type": "snapshot_page",
                                "server_version": 1,
                                "table": "customers",
                                "columns": columns,
                                "rows": [created],
                                "after": cid,
                                "done": True,
                            }
                        )
                    )
                elif msg["type"] == "pull":
                    await ws.send(
                        json.dumps(
                            {"type": "changes", "cursor": msg["cursor"] or 1, "more": False, "changes": []}
                        )
                    )
                    done.set()

        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            client = SyncClient(cache, f"ws://127.0.0.1:{port}", token=lambda: "t", backoff=(0.05, 0.2))
            task = asyncio.create_task(client.run())
            await asyncio.wait_for(done.wait(), 10)
            with cache.sessions() as s:
                seen = s.get(Customer, cid).name
            client.stop()
            await asyncio.wait_for(task, 5)
            return seen

    assert asyncio.run(scenario()) == "New Name"


def test_a_pulled_row_pointing_at_a_row_this_cache_lacks_does_not_stop_sync(cache):
    """A call answered by a CSR this console has never heard of (their user row not pulled yet) used to
    fail the page's commit on the reference check — every retry too: the console stayed offline."""
    from models.calls import Call

    call = {
        "id": "call1",
        "provider": "twilio",
        "provider_call_id": "CA1",
        "direction": "Outbound",
        "from_number": "",
        "to_number": "+14155550123",
        "state": "Talking",
        "agent_id": "someone-new",
        "started_at": "2026-11-27T15:00:00+00:00",
        "created_at": "2026-11-27T15:00:00+00:00",
        "updated_at": "2026-11-27T15:00:00+00:00",
        "tags": [],
    }

    async def scenario() -> None:
        done = asyncio.Event()

        async def handler(ws) -> None:
            async for frame in ws:
                msg = json.loads(frame)
                if msg["type"] == "hello":
                    await ws.send(
                        json.dumps({"type": "welcome", "protocol": 1, "server_version": 0, "next_seq": 1})
                    )
                elif msg["type"] == "snapshot":
                    await ws.send(
                        json.dumps(
                            {
                                "type": "snapshot_page",
                                "server_version": 0,
                                "rows": [],
                                "table": "*",
                                "columns": [],
                                "after": "",
                                "done": True,
                            }
                        )
                    )
                elif msg["type"] == "pull" and msg["cursor"] == 0:
                    await ws.send(
                        json.dumps(
                            {
                                "type": "changes",
                                "cursor": 1,
                                "more": False,
                                "changes": [
                                    {
                                        "version": 1,
                                        "entity": "calls",
                                        "entity_id": "call1",
                                        "op": "upsert",
                                        "data": call,
                                    }
                                ],
                            }
                        )
                    )
                elif msg["type"] == "pull":
                    done.set()
                    await ws.send(
                        json.dumps({"type": "changes", "cursor": msg["cursor"], "more": False, "changes": []})
                    )

        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            client = SyncClient(cache, f"ws://127.0.0.1:{port}", token=lambda: "t", backoff=(0.05, 0.2))
            task = asyncio.create_task(client.run())
            while client.status.state != "online" and not done.is_set():
                await asyncio.sleep(0.02)
                if task.done():
                    break
            await asyncio.sleep(0.1)
            state = client.status.state
            client.stop()
            await asyncio.wait_for(task, 5)
            assert state == "online" and client.cursor() == 1

    asyncio.run(scenario())
    with cache.sessions() as s:
        assert s.get(Call, "call1").agent_id == "someone-new"


def test_the_outbox_is_counted_off_the_event_loop(cache):
    """The event loop is the console's UI thread: a state change is told at once and the outbox is
    counted on a worker thread (counting on the loop waited for the cache's write gate while the
    puller applied a chunk — most of the UI stalls a traced `csr-bench calls` caught). Many changes
    in a row count once more, not once each, and the count that lands is told."""
    import threading

    from models.writer import LocalWriter
    from tests.unit.conftest import customer_args

    client = SyncClient(cache, "ws://127.0.0.1:9", token=lambda: "t")
    threads: list[int] = []
    counts = client._counts

    def counting():
        threads.append(threading.get_ident())
        return counts()

    client._counts = counting
    told: list[tuple[str, int]] = []
    client.on_status = lambda status: told.append((status.state, status.pending))

    async def scenario() -> None:
        loop_thread = threading.get_ident()
        LocalWriter(cache.sessions).execute("create_customer", customer_args())
        for _ in range(20):
            client._set(state="offline")
        assert told[0] == ("offline", 0)  # told at once, with the last count known
        await asyncio.wait_for(client._counting, 5)
        assert threads and loop_thread not in threads
        assert len(threads) <= 2  # twenty changes, counted once (or twice, if one landed mid-count)
        assert told[-1] == ("offline", 1)  # the count that landed is told

    asyncio.run(scenario())
