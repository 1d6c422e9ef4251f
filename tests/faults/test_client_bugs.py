"""Sync-client orderings the fault proxy can only hit by luck, reproduced deterministically with a
scripted server (a websocket stub that sends exactly the frames a real server may send, in the order
it may send them)."""

from __future__ import annotations

import asyncio
import json

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
                if msg["type"] == "snapshot":          # initial sync: an empty server
                    await ws.send(json.dumps({"type": "snapshot_page", "server_version": 0, "rows": [],
                                              "table": "*", "columns": [], "after": "", "done": True}))
                elif msg["type"] == "hello":
                    await ws.send(json.dumps({"type": "welcome", "protocol": 1, "server_version": 0,
                                              "next_seq": 1}))
                elif msg["type"] == "pull":
                    pulls.append(msg["cursor"])
                    if len(pulls) == 1:
                        # version 1 committed while this pull was reading: poke first, then the answer
                        # (which was read before the commit) — the order the real server can produce.
                        await ws.send(json.dumps({"type": "poke", "server_version": 1}))
                        await ws.send(json.dumps({"type": "changes", "changes": [], "cursor": 0, "more": False}))
                    else:
                        second.set()
                        await ws.send(json.dumps({"type": "changes", "changes": [], "cursor": 1, "more": False}))

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
