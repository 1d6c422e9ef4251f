"""Two managers' consoles and a real server over loopback (sync/client.py, sync/server.py): both merge
the same pair while offline, in opposite directions. The first to reconnect wins; the second console is
told why its merge was refused (a rejected outcome with the sentence), and its cache converges to the
server's — one merge, no phantom merge row. An undo from the first console reaches the second live."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models.customers import Customer
from models.merge import CustomerMerge
from tests.integration.test_sync_loopback import _until
from tests.integration.test_sync_merge import Desk, _run
from tests.servers import two_console_world
from tests.unit.conftest import customer_args


@pytest.fixture
def world(tmp_path):
    with two_console_world(
        tmp_path, [("dana", "Dana Reyes", "manager"), ("lee", "Lee Park", "manager")]
    ) as made:
        yield made


def _merged_into(desk, cid):
    return desk.customer(cid).merged_into_id


def _merges(desk):
    with desk.cache.sessions() as s:
        return [tuple(r) for r in s.execute(select(CustomerMerge.id, CustomerMerge.status))]


def test_two_managers_merge_the_same_pair_offline(world):
    async def scenario(url, sessions, caches):
        a, b = Desk(caches["a"], url, "Dana Reyes"), Desk(caches["b"], url, "Lee Park")
        await a.start(url, "dana")
        await b.start(url, "lee")
        one = a.writer.execute("create_customer", customer_args(name="Maria Garcia")).applied.entity_id
        two = a.writer.execute(
            "create_customer", customer_args(name="Maria Garsia", phone="(214) 555-0199", street="9 Oak Ave")
        ).applied.entity_id
        a.client.wake()
        await _until(lambda: a.client.pending() == 0)
        b.client.wake()
        await _until(lambda: _count(b, Customer) == 2)
        await a.stop()
        await b.stop()
        # Offline, each merges the pair — in opposite directions.
        merge_a = a.writer.execute("merge_customers", {"survivor_id": one, "merged_id": two}).args["merge_id"]
        b.writer.execute("merge_customers", {"survivor_id": two, "merged_id": one})
        assert _merged_into(b, one) == two  # B's own merge shows at once on B
        await a.start(url, "dana")
        await _until(lambda: a.client.pending() == 0)
        await b.start(url, "lee")
        await _until(lambda: b.client.pending() == 0 and _merged_into(b, two) == one, timeout=15)
        refused = [o for o in b.outcomes if o.kind == "rejected" and o.name == "merge_customers"]
        assert refused and "already merged into Maria Garcia by Dana Reyes" in str(
            refused[0].receipt["errors"]
        )
        # B converged to the server: one merge (A's), B's own merge row gone, Maria Garcia kept.
        await _until(lambda: _merged_into(b, one) is None and _merges(b) == [(merge_a, "merged")], timeout=15)
        a.writer.execute("undo_merge", {"merge_id": merge_a})
        a.client.wake()
        await _until(lambda: a.client.pending() == 0)
        await _until(lambda: _merges(b) == [(merge_a, "undone")] and _merged_into(b, two) is None, timeout=15)
        await a.stop()
        await b.stop()

    _run(world, scenario)


def _count(desk, model) -> int:
    with desk.cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))
