"""ServiceChannel work orders in, over real HTTP on loopback: the stand-in (csr-scsim's application) signs
and delivers events to the server's receiver, which stores them in a real SQLite store; the catch-up poll
pages through the stand-in's OData list with a real OAuth token. Good, forged, replayed and out-of-order
deliveries; a token expiring mid-run; a 429 storm; odd work orders kept with their problems."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.customers import Customer, Location
from models.db import open_server_db
from models.sync_tables import ChangeRow
from models.work_order_ingest import ScMapping
from models.work_orders import ScDelivery, WorkOrder
from sync.sc_inbound import WEBHOOK_PATH, Poller, Receiver, WorkOrderDesk, make_app
from sync.scsim import Fault, ScSim
from sync.scsim_data import sign
from sync.servicechannel import Budget, ScAuthError, ScClient, ScCredentials, ScError


@dataclass
class Rig:
    sim: ScSim
    sim_url: str
    receiver_url: str
    desk: WorkOrderDesk
    receiver: Receiver
    sessions: sessionmaker

    def client(self, limit: int = 1000, window: float = 60.0) -> ScClient:
        creds = ScCredentials(
            self.sim_url,
            self.sim_url,
            self.sim.client_id,
            self.sim.client_secret,
            self.sim.username,
            self.sim.password,
        )
        return ScClient(creds, Budget(limit, window), backoff=0.01, max_backoff=0.05)

    def count(self, model) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.count()).select_from(model))


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@contextlib.asynccontextmanager
async def rig(tmp_path, **sim_options) -> AsyncIterator[Rig]:
    sessions = sessionmaker(open_server_db(str(tmp_path / "server.sqlite3")), expire_on_commit=False)
    sim = ScSim(retry_seconds=0.05, **sim_options)
    mapping = ScMapping(job_types={("HVAC", "*"): "HVAC Service"})
    desk = WorkOrderDesk(sessions, mapping)
    receiver = Receiver(desk, [sim.signing_key])
    sim_runner, sim_url = await _serve(sim.app())
    rx_runner, rx_url = await _serve(make_app(receiver))
    sim.webhooks[1] = {"Url": rx_url + WEBHOOK_PATH, "Enabled": True}
    try:
        yield Rig(sim, sim_url, rx_url + WEBHOOK_PATH, desk, receiver, sessions)
    finally:
        await sim.close()
        await rx_runner.cleanup()
        await sim_runner.cleanup()


async def _settle(sim: ScSim, sent: int, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if sim.deliveries["sent"] + sim.deliveries["dropped"] >= sent and not sim._tasks:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries did not settle: {sim.deliveries}")


def test_good_deliveries_are_stored_once_with_customer_and_location_matched(tmp_path):
    async def scenario():
        async with rig(tmp_path) as r:
            subscriber = {"Id": 77, "Name": "Glendale Retail Group", "Phone": "8185550100"}
            store = {
                "Id": 501,
                "Name": "Galleria",
                "Address2": "100 W Broadway",
                "City": "Glendale",
                "State": "CA",
                "Zip": "91210",
                "TimeZoneIanaName": "America/Los_Angeles",
            }
            for _ in range(3):
                r.sim.add_work_order(Subscriber=subscriber, Location=store, Trade="HVAC")
            await _settle(r.sim, 3)
            with r.sessions() as s:
                rows = s.scalars(select(WorkOrder)).all()
                assert len(rows) == 3
                assert len({w.customer_id for w in rows}) == 1 and len({w.location_id for w in rows}) == 1
                assert s.scalar(select(func.count()).select_from(Customer)) == 1
                assert s.scalar(select(func.count()).select_from(Location)) == 1
                assert rows[0].time_zone == "America/Los_Angeles" and rows[0].due_at is not None
                assert rows[0].address["street"] == "100 W Broadway"
                # Every work order reached the change log: consoles pull it.
                logged = s.scalars(select(ChangeRow.entity_id).where(ChangeRow.entity == "work_orders")).all()
                assert {w.id for w in rows} <= set(logged)

    asyncio.run(scenario())


def test_forged_and_unsigned_deliveries_are_refused_with_nothing_stored(tmp_path):
    async def scenario():
        async with rig(tmp_path) as r:
            wo = r.sim.add_work_order(deliver=False)
            body = json.dumps({"EventType": "WorkOrderCreated", "Object": wo}).encode()
            assert await r.sim.post_signed(r.receiver_url, body, key="not-the-key") == 403
            tampered = body.replace(b"Open", b"Opem")
            async with aiohttp.ClientSession() as http:
                headers = {"Sign-Type": "HMACSHA256", "Sign-Data": sign(r.sim.signing_key, body)}
                async with http.post(r.receiver_url, data=tampered, headers=headers) as resp:
                    assert resp.status == 403
                async with http.post(r.receiver_url, data=body) as resp:
                    assert resp.status == 401
                headers["Sign-Data"] = "%%%not base64"
                async with http.post(r.receiver_url, data=body, headers=headers) as resp:
                    assert resp.status == 403
            assert r.count(WorkOrder) == 0 and r.count(ScDelivery) == 0
            # The same body, signed right, is stored; the key may also be used base64-decoded.
            raw_key = base64.b64decode(r.sim.signing_key)
            alt = base64.b64encode(hmac.new(raw_key, body, hashlib.sha256).digest()).decode()
            async with aiohttp.ClientSession() as http:
                headers = {"Sign-Type": "HMACSHA256", "Sign-Data": alt}
                async with http.post(r.receiver_url, data=body, headers=headers) as resp:
                    assert resp.status == 200
            assert r.count(WorkOrder) == 1

    asyncio.run(scenario())


def test_replayed_and_out_of_order_deliveries_change_nothing(tmp_path):
    async def scenario():
        async with rig(tmp_path) as r:
            wo = r.sim.add_work_order(deliver=False)
            old = json.dumps({"EventType": "WorkOrderCreated", "Object": wo}).encode()
            newer = dict(
                wo,
                Status={"Primary": "In Progress", "Extended": "Dispatch Confirmed"},
                UpdatedDate="2099-01-01T00:00:00.000Z",
            )
            new = json.dumps({"EventType": "WorkOrderStatusChanged", "Object": newer}).encode()
            assert await r.sim.post_signed(r.receiver_url, new) == 200
            for _ in range(3):  # a replay of the newer one, then the older one late, twice
                assert await r.sim.post_signed(r.receiver_url, new) == 200
                assert await r.sim.post_signed(r.receiver_url, old) == 200
            assert r.count(ScDelivery) == 2 and r.count(WorkOrder) == 1
            with r.sessions() as s:
                stored = s.scalar(select(WorkOrder))
                assert (stored.platform_status, stored.platform_extended) == (
                    "In Progress",
                    "Dispatch Confirmed",
                )
            assert r.desk.stats["duplicates"] == 5 and r.desk.stats["stale"] == 1

    asyncio.run(scenario())


def test_odd_work_orders_land_with_what_is_missing(tmp_path):
    async def scenario():
        async with rig(tmp_path) as r:
            r.sim.add_work_order(
                Location={"Id": 9, "Name": "Kiosk"},
                Trade="ROOFING",
                Currency={"AlphabeticalCode": "CAD"},
                Priority="Whenever",
            )
            await _settle(r.sim, 1)
            with r.sessions() as s:
                wo = s.scalar(select(WorkOrder))
                assert wo.location_id is None and wo.job_type_id is None
                text = " | ".join(wo.problems)
                for expected in (
                    "No store address",
                    "Unknown trade 'ROOFING'",
                    "NTE in CAD",
                    "names no response time",
                ):
                    assert expected in text, text

    asyncio.run(scenario())


def test_poll_catches_up_paged_across_a_token_expiry_and_a_429_storm(tmp_path):
    async def scenario():
        async with rig(tmp_path, token_ttl=0.4) as r:
            r.sim.webhooks.clear()  # every event lost: only the poll brings them in
            for _ in range(120):
                r.sim.add_work_order()
            client = r.client()
            poller = Poller(client, r.desk)
            try:
                assert await poller.poll_once() == 120  # 3 pages of at most 50
                assert r.count(WorkOrder) == 120
                await asyncio.sleep(0.5)  # the token expired: a fresh one (refresh grant), no failure
                r.sim.faults += [Fault(429, 3), Fault(503, 2)]  # each 429 names a Retry-After (HTTP date)
                for _ in range(5):
                    r.sim.add_work_order()
                await poller.poll_once()
                assert r.count(WorkOrder) == 125
                assert (
                    client.stats["throttled"] >= 1
                    and client.stats["token_refreshes"] + client.stats["token_fetches"] >= 2
                )
                # Asking again changes nothing (the overlap re-reads what it stored).
                await poller.poll_once()
                assert r.count(WorkOrder) == 125
            finally:
                await client.close()

    asyncio.run(scenario())


def test_rate_limit_is_honoured_and_a_refusal_carries_the_platform_message(tmp_path):
    async def scenario():
        async with rig(tmp_path, rate_limit=5, rate_window=0.5) as r:
            wo = r.sim.add_work_order(deliver=False)
            client = r.client(limit=5, window=0.5)
            try:
                for _ in range(12):
                    await client.call("GET", f"/workorders/{wo['Id']}")
                assert client.stats["throttled"] == 0  # the budget kept us under the limit
                with pytest.raises(ScError) as refused:
                    await client.call(
                        "PUT",
                        f"/workorders/{wo['Id']}/status",
                        body={"Status": {"Primary": "In Progress", "Extended": "Teleported"}},
                    )
                assert "not configured" in refused.value.message
            finally:
                await client.close()

    asyncio.run(scenario())


def test_a_bad_client_is_told_plainly(tmp_path):
    async def scenario():
        async with rig(tmp_path) as r:
            client = r.client()
            r.sim.client_secret = "rotated"  # the portal changed it; our setup still has the old one
            try:
                with pytest.raises(ScAuthError) as refused:
                    await client.call("GET", "/odata/workorders")
                assert "refused the API credentials" in refused.value.message
            finally:
                await client.close()

    asyncio.run(scenario())
