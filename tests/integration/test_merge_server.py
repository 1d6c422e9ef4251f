"""Merging customers through a real loopback server (sync/server.py): the server refuses a merge from a
CSR or a supervisor (rejected receipt, nothing changed), applies a manager's, answers the second of two
managers merging the same pair with a sentence naming the first, sends the merge to every console's
pull, and undoes it."""

from __future__ import annotations

import pytest

from models.customers import Customer, Location
from models.merge import CustomerMerge
from tests.servers import role_store
from tests.unit.conftest import customer_args
from tests.unit.test_roles import Console, _serve

ROLES = ("csr", "supervisor", "manager", "admin")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with role_store(request, tmp_path) as made:
        yield made


def test_roles_races_pull_and_undo_over_the_wire(store):
    sessions, accounts = store
    outcome: dict = {}

    async def scenario(url: str) -> None:
        manager = await Console.open(url, "manager1")
        admin = await Console.open(url, "admin1")
        csr = await Console.open(url, "csr1")
        supervisor = await Console.open(url, "supervisor1")
        ids = []
        for i, name in enumerate(["Maria Garcia", "Maria Garsia"]):
            args = customer_args(name=name, phone=f"(214) 555-01{30 + i}")
            answer = await manager.push("create_customer", args, seq=i + 1)
            ids.append(answer["receipts"][0]["result"]["id"])
        manager.seq = 2
        pair = {"survivor_id": ids[0], "merged_id": ids[1]}
        for who in (csr, supervisor):
            refused = await who.push("merge_customers", pair, seq=1)
            assert refused["receipts"][0]["status"] == "rejected", refused
            assert "role" in refused["receipts"][0]["errors"]
        first = await manager.push("merge_customers", {**pair, "merge_id": "a" * 32}, seq=3)
        assert first["receipts"][0]["status"] == "applied", first
        # The admin merged the same pair offline (or the other way round): refused with who did it.
        second = await admin.push("merge_customers", {"survivor_id": ids[1], "merged_id": ids[0]}, seq=1)
        receipt = second["receipts"][0]
        assert receipt["status"] == "rejected"
        assert "already merged into Maria Garcia by Manager" in receipt["errors"]["merged_id"]
        pulled = await csr.ask({"type": "pull", "cursor": 0, "limit": 500})
        merges = [c for c in pulled["changes"] if c["entity"] == "customer_merges"]
        assert len(merges) == 1 and merges[0]["data"]["merged_by"] == "Manager"
        moved = [c for c in pulled["changes"] if c["entity"] == "customers" and c["entity_id"] == ids[1]]
        assert moved[-1]["data"]["merged_into_id"] == ids[0]
        refused = await csr.push("undo_merge", {"merge_id": "a" * 32}, seq=2)
        assert refused["receipts"][0]["status"] == "rejected"
        undone = await admin.push("undo_merge", {"merge_id": "a" * 32}, seq=2)
        assert undone["receipts"][0]["status"] == "applied", undone
        outcome["ids"] = ids
        for c in (manager, admin, csr, supervisor):
            await c.ws.close()

    _serve(sessions, accounts, scenario)
    survivor, merged = outcome["ids"]
    with sessions() as s:
        assert s.get(Customer, merged).merged_into_id is None and s.get(Customer, merged).active
        assert s.get(Location, s.get(Customer, merged).locations[0].id).customer_id == merged
        record = s.get(CustomerMerge, "a" * 32)
        assert record.status == "undone" and record.undone_by == "Admin"
