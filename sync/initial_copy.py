"""A new console's initial sync: the server's tables copied page by page (progress reported), then the
change log pulled from the version read before the first page — a row that changes meanwhile is
copied again by the pull, so the copy converges without locking anything.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .changes import _LINK_TABLES, _MAPPERS
from .channel import Channel, answer
from .puller import REBASED_TABLES, Puller
from .snapshot import SnapshotLoader


@dataclass
class InitialProgress:
    rows_done: int
    rows_total: int
    table: str
    finished: bool = False
    timings: dict[str, float] = field(default_factory=dict)  # the final step's phases (finished only)


async def copy_initial(
    ws: Channel, cache: Any, puller: Puller, page_size: int, on_initial: Callable[[InitialProgress], None]
) -> None:
    await ws.send(json.dumps({"type": "snapshot", "table": "*"}))
    plan = await answer(ws, "snapshot_page")
    start_version = plan["server_version"]
    tables = [(t, int(n)) for t, n in plan["rows"] if t in _MAPPERS or t in _LINK_TABLES]
    total = sum(n for _, n in tables)
    done = 0
    on_initial(InitialProgress(0, total, tables[0][0] if tables else ""))
    loader = SnapshotLoader(cache)
    try:
        for table, _count in tables:
            await ws.send(json.dumps({"type": "snapshot", "table": table, "after": "", "limit": page_size}))
            while True:
                page = await answer(ws, "snapshot_page")
                if not page["done"]:
                    # Ask for the next page before writing this one: the server reads while this
                    # console writes (one request in flight, so answers stay in order).
                    await ws.send(
                        json.dumps(
                            {"type": "snapshot", "table": table, "after": page["after"], "limit": page_size}
                        )
                    )
                await asyncio.to_thread(loader.load, table, page["columns"], page["rows"])
                if table in REBASED_TABLES and "id" in page["columns"] and page["rows"]:
                    # This console's own edits still on their way (or confirmed after the copy was
                    # read) stay visible on the copied rows, as after a pull.
                    at = page["columns"].index("id")
                    await asyncio.to_thread(
                        puller.rebase_copied, table, {r[at] for r in page["rows"]}, start_version
                    )
                done += len(page["rows"])
                on_initial(InitialProgress(done, max(total, done), table))
                if page["done"]:
                    break
        await asyncio.to_thread(loader.finish, start_version)
    finally:
        loader.close()
    on_initial(InitialProgress(done, max(total, done), "", finished=True, timings=loader.timings))
