"""The Web Scheduler's availability under many browsers: one read per (service, minute) at a time, the
others waiting for it (single flight); the answer reused until a booking or hold changes capacity; a
booking made a moment before — even while a read is under way — is never offered as free.

The read is gated (it waits for the test's go) so the 50 askers surely overlap, whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlalchemy import select

from models.customers import Location
from models.writer import LocalWriter
from sync.web_scheduler import WebScheduler
from tests.unit.booking_setup import NOW
from tests.unit.conftest import customer_args
from tests.web_setup import WEDNESDAY, build_store

pytestmark = pytest.mark.timeout(60)
BROWSERS = 50


class GatedScheduler(WebScheduler):
    """Each availability database read waits for ``go`` first (set by the test once every browser is
    asking)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.go = threading.Event()
        self.started = threading.Event()

    def _read_taken(self, *args: Any) -> list:
        self.started.set()
        assert self.go.wait(20), "the test never let the read go"
        return super()._read_taken(*args)


def _wednesday_8_12_free(slots: list, ids: Any) -> bool:
    return next(s.fits for s in slots if s.day == WEDNESDAY and s.window_id == ids.w8_12)


def _book_wednesday_8_12(store: Any) -> None:
    """A CSR's booking of the last online room on Wednesday 8–12 (one AC Not Cooling fits online)."""
    writer = LocalWriter(store.sessions, clock=lambda: NOW)
    cid = writer.execute("create_customer", customer_args()).applied.entity_id
    with store.sessions() as s:
        loc = s.scalar(select(Location.id).where(Location.customer_id == cid))
    ids = store.ids
    writer.execute(
        "book_job",
        {
            "job": {
                "customer_id": cid,
                "location_id": loc,
                "business_unit_id": ids.hvac,
                "job_type_id": ids.ac_repair,
                "campaign_id": ids.google,
                "priority": "Normal",
                "summary": "AC blowing warm air",
            },
            "appointment": {"day": WEDNESDAY.isoformat(), "arrival_window_id": ids.w8_12},
            "booked_at": NOW.isoformat(),
        },
    )


async def _browsers(scheduler: GatedScheduler, ctx: Any, service: str, *, release: bool = True) -> list:
    asking = [asyncio.ensure_future(scheduler.slots(ctx, service, NOW)) for _ in range(BROWSERS)]
    await asyncio.sleep(0.05)  # every browser has asked (and waits) before the read may finish
    if release:
        scheduler.go.set()
    return await asyncio.gather(*asking)


def test_concurrent_browsers_share_one_read_and_see_a_booking_made_just_before(tmp_path: Any) -> None:
    store = build_store(str(tmp_path / "server.sqlite3"))
    scheduler = GatedScheduler(store.sessions, b"secret", clock=store.clock, reuse_seconds=60)
    ids = store.ids

    async def scenario() -> None:
        ctx = scheduler.context()
        first = await _browsers(scheduler, ctx, ids.ac_repair)
        assert scheduler.reads == 1  # 50 browsers, one query
        assert all(answer is first[0] for answer in first) and _wednesday_8_12_free(first[0], ids)
        again = await scheduler.slots(ctx, ids.ac_repair, NOW)
        assert again is first[0] and scheduler.reads == 1  # reused while nothing changed

        # A CSR books the last online room; the server hears of the commit (poke_all → changed).
        await asyncio.to_thread(_book_wednesday_8_12, store)
        scheduler.changed(1)
        scheduler.go.clear()
        after = await _browsers(scheduler, ctx, ids.ac_repair)
        assert scheduler.reads == 2  # one fresh read for all 50, never the kept answer
        assert all(answer is after[0] for answer in after) and not _wednesday_8_12_free(after[0], ids)

    asyncio.run(scenario())
    scheduler.close()


def test_every_service_shares_one_database_read(tmp_path: Any) -> None:
    store = build_store(str(tmp_path / "server.sqlite3"))
    scheduler = GatedScheduler(store.sessions, b"secret", clock=store.clock, reuse_seconds=60)
    ids = store.ids

    async def scenario() -> None:
        ctx = scheduler.context()
        services = [ids.ac_repair, ids.drain] * (BROWSERS // 2)
        asking = [asyncio.ensure_future(scheduler.slots(ctx, service, NOW)) for service in services]
        await asyncio.sleep(0.05)
        scheduler.go.set()
        answers = await asyncio.gather(*asking)
        assert scheduler.reads == 1  # two services, 50 browsers: one query
        assert answers[0] is not answers[1] and answers[0] is answers[2] and answers[1] is answers[3]
        assert _wednesday_8_12_free(answers[0], ids)

    asyncio.run(scenario())
    scheduler.close()


def test_a_read_under_way_when_capacity_changes_is_not_served_to_later_browsers(tmp_path: Any) -> None:
    store = build_store(str(tmp_path / "server.sqlite3"))
    scheduler = GatedScheduler(store.sessions, b"secret", clock=store.clock, reuse_seconds=60)
    ids = store.ids

    async def scenario() -> None:
        ctx = scheduler.context()
        early = asyncio.ensure_future(scheduler.slots(ctx, ids.ac_repair, NOW))
        assert await asyncio.to_thread(scheduler.started.wait, 10)  # its read is under way (gated)
        await asyncio.to_thread(_book_wednesday_8_12, store)
        scheduler.changed(1)  # the booking committed while that read was running
        late = asyncio.ensure_future(scheduler.slots(ctx, ids.ac_repair, NOW))
        await asyncio.sleep(0.05)
        scheduler.go.set()
        await early
        late_slots = await late
        assert scheduler.reads == 2  # the later browser did not take the earlier read
        assert not _wednesday_8_12_free(late_slots, ids)
        # Nor is the earlier read kept for the next browser.
        assert not _wednesday_8_12_free(await scheduler.slots(ctx, ids.ac_repair, NOW), ids)
        assert scheduler.reads == 2

    asyncio.run(scenario())
    scheduler.close()


def test_a_browser_that_goes_away_does_not_cancel_the_read_the_others_wait_for(tmp_path: Any) -> None:
    store = build_store(str(tmp_path / "server.sqlite3"))
    scheduler = GatedScheduler(store.sessions, b"secret", clock=store.clock, reuse_seconds=60)
    ids = store.ids

    async def scenario() -> None:
        ctx = scheduler.context()
        leaving = asyncio.ensure_future(scheduler.slots(ctx, ids.ac_repair, NOW))
        staying = asyncio.ensure_future(scheduler.slots(ctx, ids.ac_repair, NOW))
        await asyncio.sleep(0.05)
        leaving.cancel()  # aiohttp cancels the handler of a closed connection
        scheduler.go.set()
        assert _wednesday_8_12_free(await staying, ids)
        assert scheduler.reads == 1

    asyncio.run(scenario())
    scheduler.close()


def test_the_pages_share_one_setup_read_at_a_time(tmp_path: Any) -> None:
    """The setup and web settings every page needs: 50 pages asking at once cost one read; a reused one
    is handed out without a thread hop."""
    store = build_store(str(tmp_path / "server.sqlite3"))
    scheduler = WebScheduler(store.sessions, b"secret", clock=store.clock, reuse_seconds=60)
    go, reads = threading.Event(), []
    read = scheduler._read_context

    def gated() -> Any:
        reads.append(1)
        assert go.wait(20)
        return read()

    scheduler._read_context = gated  # type: ignore[method-assign]

    async def scenario() -> None:
        pages = [asyncio.ensure_future(scheduler.current_context()) for _ in range(BROWSERS)]
        await asyncio.sleep(0.05)
        go.set()
        contexts = await asyncio.gather(*pages)
        assert len(reads) == 1 and all(c is contexts[0] for c in contexts)
        assert contexts[0].settings.enabled and await scheduler.current_context() is contexts[0]
        assert len(reads) == 1

    asyncio.run(scenario())
    scheduler.close()
