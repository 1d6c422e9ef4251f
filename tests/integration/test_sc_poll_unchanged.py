"""The catch-up poll re-reading work orders the desk accepted stores nothing (the cause of slow status
pushes: every 5 s it re-stored each accepted work order on the server's single SQLite writer). The accept
that went through carries the platform's resulting status at once; a work order whose UpdatedDate moved
but whose content did not is not written again — while a real change on the platform still is. And the
poll's calls wait behind the outbound sends in the rate budget."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from models.sync_tables import ChangeRow
from models.work_orders import WorkOrder
from sync.sc_inbound import Poller
from sync.servicechannel import Budget
from tests.integration.test_servicechannel_outbound import _apply, _book, _drain, _receive, rig


def _version(r) -> int:
    with r.sessions() as s:
        return int(s.scalar(select(func.max(ChangeRow.version))) or 0)


def test_a_poll_after_accepts_stores_nothing_but_a_real_change_is_stored(tmp_path):
    async def scenario():
        async with rig(str(tmp_path / "s.sqlite3")) as r:
            orders = await _receive(r, 3)
            for wo in orders[:2]:
                _apply(r, "accept_work_order", {"work_order_id": wo.id, "job_id": _book(r, wo)})
            client = r.client()
            worker = r.worker(client)
            try:
                await _drain(worker)
                with r.sessions() as s:
                    shown = {
                        wo.sc_id: (wo.platform_status, wo.platform_extended)
                        for wo in s.scalars(select(WorkOrder))
                    }
                # What went through shows at once (a change row: the consoles pull it).
                assert shown[orders[0].sc_id] == ("In Progress", "Dispatch Confirmed")
                assert shown[orders[2].sc_id] == ("Open", "")
                before = _version(r)
                # The platform stamped both accepts with a new UpdatedDate; the poll re-reads all three.
                assert all(
                    r.sim.work_orders[wo.sc_id]["UpdatedDate"] > _iso(wo.platform_updated_at)
                    for wo in orders[:2]
                )
                poller = Poller(client, r.desk)
                await poller.poll_once()
                assert _version(r) == before  # no write the consoles would pull
                assert r.desk.stats["unchanged"] == 2
                await poller.poll_once()  # re-stamped: the next poll skips them on UpdatedDate alone
                assert r.desk.stats["unchanged"] == 2 and _version(r) == before
                # A real change on the platform is stored (and pulled).
                changed = r.sim.work_orders[orders[1].sc_id]
                changed["Description"] = "Now the walk-in freezer too"
                r.sim._touch(changed, "WorkOrderDescriptionChanged")
                await poller.poll_once()
                assert _version(r) > before
                with r.sessions() as s:
                    wo = s.scalar(select(WorkOrder).where(WorkOrder.sc_id == orders[1].sc_id))
                    assert wo.description == "Now the walk-in freezer too"
            finally:
                await client.close()

    asyncio.run(scenario())


def _iso(value) -> str:
    from models.timeutil import as_utc

    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_the_poll_waits_behind_sends_in_the_budget():
    """Two calls a second: a send asked after a poll page is already waiting still goes first."""

    async def scenario():
        budget = Budget(2, 1.0)
        order: list[str] = []

        async def take(name: str, background: bool) -> None:
            await budget.take(background)
            order.append(name)

        await budget.take()  # the window's first grant: every caller below waits for its turn
        poll = asyncio.create_task(take("poll", True))
        await asyncio.sleep(0.05)
        sends = [asyncio.create_task(take(f"send{n}", False)) for n in range(2)]
        await asyncio.gather(poll, *sends)
        return order

    assert asyncio.run(scenario()) == ["send0", "send1", "poll"]
