"""The server's shared ``pull`` answers (sync/pull_cache.py): one change-log read for every console at the
same cursor, never a kept answer that stops short of a commit a console was told of."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass

import pytest

from sync.pull_cache import PullCache


@dataclass
class Row:
    version: int
    entity: str = "customers"
    entity_id: str = "c1"
    op: str = "upsert"
    data: dict | None = None


class Log:
    """A change log in memory, read like Applier.changes_since (slowly, so pulls overlap)."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.reads = 0
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def commit(self) -> int:
        version = len(self.rows) + 1
        self.rows.append(Row(version, entity_id=f"c{version}", data={"n": version}))
        return version

    def read(self, cursor: int, limit: int):
        self.gate.wait(5)
        self.reads += 1
        if self.fail:
            raise RuntimeError("the database went away")
        rows = [r for r in self.rows if r.version > cursor][: limit + 1]
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (rows[-1].version if rows else cursor), more


def test_consoles_at_one_cursor_share_one_read_and_keep_their_request_ids():
    log = Log()
    cache = PullCache(log.read)
    cache.seen(log.commit())

    async def main():
        log.gate.clear()
        pulls = [asyncio.create_task(cache.answer(0, 1000, f"r{i}" if i % 2 else None)) for i in range(300)]
        await asyncio.sleep(0.05)
        log.gate.set()
        return await asyncio.gather(*pulls)

    answers = asyncio.run(main())
    assert log.reads == 1
    for i, text in enumerate(answers):
        msg = json.loads(text)
        assert msg["type"] == "changes" and msg["cursor"] == 1 and msg["more"] is False
        assert [c["version"] for c in msg["changes"]] == [1]
        assert msg.get("id") == (f"r{i}" if i % 2 else None)


def test_a_kept_last_page_is_read_again_once_a_newer_commit_is_announced():
    log = Log()
    cache = PullCache(log.read)
    cache.seen(log.commit())

    async def main():
        first = json.loads(await cache.answer(0, 1000, None))
        v2 = log.commit()
        # Not announced yet: a console that pulls now is as if it had pulled a moment earlier.
        early = json.loads(await cache.answer(0, 1000, None))
        cache.seen(v2)  # the poke for v2 goes out after this
        poked = json.loads(await cache.answer(0, 1000, None))
        return first, early, poked

    first, early, poked = asyncio.run(main())
    assert first["cursor"] == 1 and early["cursor"] == 1
    assert poked["cursor"] == 2 and [c["version"] for c in poked["changes"]] == [1, 2]
    assert log.reads == 2


def test_a_full_page_is_kept_for_good():
    log = Log()
    cache = PullCache(log.read)
    for _ in range(5):
        cache.seen(log.commit())

    async def main():
        page = json.loads(await cache.answer(0, 2, None))
        cache.seen(log.commit())
        again = json.loads(await cache.answer(0, 2, None))
        return page, again

    page, again = asyncio.run(main())
    assert page == again and page["more"] is True and page["cursor"] == 2
    assert log.reads == 1


def test_a_read_that_began_before_an_announced_commit_is_not_handed_to_the_poked_console():
    log = Log()
    gate = threading.Event()
    began: list[int] = []

    def read(cursor, limit):
        rows = [r for r in log.rows if r.version > cursor]  # what the log holds when the read begins
        began.append(len(log.rows))
        gate.wait(5)
        return rows[:limit], (rows[:limit][-1].version if rows else cursor), len(rows) > limit

    cache = PullCache(read)
    cache.seen(log.commit())

    async def main():
        early = asyncio.create_task(cache.answer(0, 1000, None))
        await asyncio.sleep(0.05)  # that read is under way
        cache.seen(log.commit())
        late = asyncio.create_task(cache.answer(0, 1000, None))  # poked for v2: waits, then reads again
        await asyncio.sleep(0.05)
        gate.set()
        return json.loads(await early), json.loads(await late)

    early, late = asyncio.run(main())
    assert early["cursor"] == 1
    assert late["cursor"] == 2 and [c["version"] for c in late["changes"]] == [1, 2]
    assert began == [1, 2]


def test_a_failed_read_fails_its_pull_and_the_next_pull_reads_again():
    log = Log()
    cache = PullCache(log.read)
    cache.seen(log.commit())
    log.fail = True
    with pytest.raises(RuntimeError):
        asyncio.run(cache.answer(0, 1000, None))
    log.fail = False
    msg = json.loads(asyncio.run(cache.answer(0, 1000, None)))
    assert msg["cursor"] == 1 and log.reads == 2


def test_a_protocol_1_console_gets_patches_as_partial_upserts_and_a_plain_poke():
    """A ``patch`` entry (many rows' columns in one) is kept for consoles that apply it; an older console's
    pull gets one upsert per row holding those columns, and its poke carries no changes (it pulls)."""
    log = Log()
    log.commit()
    patch = {"columns": ["status"], "rows": [["n1", "sent"], ["n2", "delivered"]]}
    log.rows.append(Row(2, entity="notifications", entity_id="", op="patch", data=patch))
    cache = PullCache(log.read)

    async def run():
        cache.seen(2)
        new = json.loads(await cache.answer(0, 100, "a"))
        old = json.loads(await cache.answer(0, 100, "b", expand=True))
        return new, old, await cache.poke(1, 2), await cache.poke(1, 2, expand=True)

    new, old, poke_new, poke_old = asyncio.run(run())
    assert [c["op"] for c in new["changes"]] == ["upsert", "patch"] and new["changes"][1]["data"] == patch
    assert [(c["op"], c["entity_id"], c["data"], c["version"]) for c in old["changes"][1:]] == [
        ("upsert", "n1", {"id": "n1", "status": "sent"}, 2),
        ("upsert", "n2", {"id": "n2", "status": "delivered"}, 2),
    ]
    assert old["cursor"] == new["cursor"] == 2 and not old["more"]
    assert json.loads(poke_new)["changes"][0]["op"] == "patch"
    assert all(c["op"] != "patch" for c in json.loads(poke_old).get("changes") or [])
