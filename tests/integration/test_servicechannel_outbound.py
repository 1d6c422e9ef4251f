"""Back to ServiceChannel exactly once, over real HTTP to the stand-in: accept and decline from the inbox's
intents, job actions (hold, release, cancel, reschedule, work, complete) as status updates and check-in/out,
a refused status shown as Action required, 429 storms, an instance dying mid-send, and two instances on
PostgreSQL draining one queue."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from models.attribution import ACTOR_ID
from models.base import new_id
from models.customers import Customer
from models.db import open_server_db
from models.intent_kit import HANDLERS
from models.jobs import Appointment, Job, JobStatus
from models.sc_outbound_queue import claim
from models.sync_tables import ChangeRow
from models.validation import ValidationFailed
from models.work_order_ingest import ScMapping
from models.work_orders import OutboundState, ScOutbound, WorkOrder
from sync.apply import lock_change_log
from sync.changes import ChangeCollector
from sync.sc_inbound import Poller, WorkOrderDesk, log_changes
from sync.sc_outbound import OutboundWorker
from sync.scsim import Fault, ScSim
from sync.servicechannel import Budget, ScClient, ScCredentials
from tests.unit.booking_setup import NOW, build_setup


@dataclass
class Rig:
    sim: ScSim
    url: str
    sessions: sessionmaker
    desk: WorkOrderDesk
    ids: object

    def client(self) -> ScClient:
        s = self.sim
        creds = ScCredentials(self.url, self.url, s.client_id, s.client_secret, s.username, s.password)
        return ScClient(creds, Budget(s.rate_limit, s.rate_window), backoff=0.01, max_backoff=0.05)

    def worker(self, client: ScClient, **options) -> OutboundWorker:
        return OutboundWorker(self.sessions, client, self.desk.mapping, interval=0.05, **options)

    def writes(self) -> Counter:
        return Counter((w["work_order"], w["action"]) for w in self.sim.writes)


@contextlib.asynccontextmanager
async def rig(url: str, **sim_options) -> AsyncIterator[Rig]:
    sessions = sessionmaker(open_server_db(url), expire_on_commit=False)
    with sessions.begin() as s:
        ids = build_setup(s)
    sim = ScSim(retry_seconds=0.05, **sim_options)
    runner = web.AppRunner(sim.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    desk = WorkOrderDesk(sessions, ScMapping(job_types={("HVAC", "*"): "AC Not Cooling"}))
    try:
        yield Rig(sim, base, sessions, desk, ids)
    finally:
        await sim.close()
        await runner.cleanup()


async def _receive(r: Rig, count: int) -> list[WorkOrder]:
    """``count`` new work orders, brought in by the poll (no webhook here)."""
    for _ in range(count):
        r.sim.add_work_order(deliver=False, Trade="HVAC")
    client = r.client()
    try:
        await Poller(client, r.desk).poll_once()
    finally:
        await client.close()
    with r.sessions() as s:
        return list(s.scalars(select(WorkOrder).order_by(WorkOrder.sc_id)))


def _apply(r: Rig, name: str, args: dict) -> None:
    """An intent as the server applies it (its changes into the change log)."""
    with r.sessions.begin() as s:
        lock_change_log(s)
        s.info[ACTOR_ID] = None
        collector = ChangeCollector(s)
        HANDLERS[name](s, args)
        log_changes(s, collector)


def _book(r: Rig, wo: WorkOrder) -> str:
    with r.sessions.begin() as s:
        lock_change_log(s)
        collector = ChangeCollector(s)
        job = Job(
            id=new_id(),
            number=f"SC{wo.sc_id}",
            customer_id=wo.customer_id,
            location_id=wo.location_id,
            job_type_id=wo.job_type_id,
            business_unit_id=r.ids.hvac,
            campaign_id=r.ids.google,
            summary=wo.description,
        )
        s.add(job)
        s.flush()
        s.add(
            Appointment(
                job_id=job.id,
                start=NOW,
                end=NOW + timedelta(hours=2),
                arrival_window_start=NOW,
                arrival_window_end=NOW + timedelta(hours=2),
            )
        )
        log_changes(s, collector)
        return job.id


def _job_action(
    r: Rig, job_id: str, status: JobStatus, reason: str = "", move: timedelta | None = None
) -> None:
    with r.sessions.begin() as s:
        lock_change_log(s)
        collector = ChangeCollector(s)
        job = s.get(Job, job_id)
        job.status, job.status_reason = status, reason
        if move is not None:
            appt = s.scalar(select(Appointment).where(Appointment.job_id == job_id))
            appt.arrival_window_start += move
            appt.arrival_window_end += move
        log_changes(s, collector)


async def _drain(worker: OutboundWorker, rounds: int = 200) -> None:
    for _ in range(rounds):
        await worker.run_once()
        with worker.sessions() as s:
            left = s.scalar(
                select(ScOutbound.id).where(ScOutbound.state.in_(("pending", "sending"))).limit(1)
            )
        if left is None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbound queue did not drain")


def test_accept_decline_and_job_actions_reach_the_platform_once(tmp_path):
    async def scenario():
        async with rig(str(tmp_path / "s.sqlite3")) as r:
            a, b = await _receive(r, 2)
            job = _book(r, a)
            _apply(r, "accept_work_order", {"work_order_id": a.id, "job_id": job})
            with pytest.raises(ValidationFailed):  # a reason is required
                _apply(r, "decline_work_order", {"work_order_id": b.id})
            _apply(
                r,
                "decline_work_order",
                {"work_order_id": b.id, "reason_id": 6, "note": "NTE too low for a roof unit"},
            )
            client = r.client()
            worker = r.worker(client)
            try:
                await _drain(worker)
                _job_action(r, job, JobStatus.HOLD, "Parts on order")
                await _drain(worker)
                _job_action(r, job, JobStatus.SCHEDULED, move=timedelta(days=1))  # released and moved
                await _drain(worker)
                _job_action(r, job, JobStatus.WORKING)
                await _drain(worker)
                _job_action(r, job, JobStatus.COMPLETED, "Replaced the capacitor")
                await _drain(worker)
                _apply(r, "note_work_order", {"work_order_id": a.id, "note": "Invoice follows"})
                _apply(r, "note_work_order", {"work_order_id": a.id, "note": "Filter size 16x25x1"})
                await _drain(worker)
                for _ in range(3):  # the same changes read again (another instance, a restart): nothing new
                    with r.sessions.begin() as s:
                        s.execute(text("UPDATE sync_state SET value = 0 WHERE key = 'sc_outbound_cursor'"))
                    await _drain(worker)
            finally:
                await client.close()
            actions = [(w["work_order"], w["action"]) for w in r.sim.writes]
            # Each work order's actions in order, each once (b's decline went out beside a's accept).
            assert [act for wo_id, act in actions if wo_id == a.sc_id] == [
                "accept",
                "status",
                "status",
                "schedule",
                "check_in",
                "check_out",
                "note",
                "note",
            ]
            assert [act for wo_id, act in actions if wo_id == b.sc_id] == ["decline"]
            assert [n["NoteData"] for n in r.sim.notes[a.sc_id]] == ["Invoice follows", "Filter size 16x25x1"]
            statuses = [w["body"]["Status"] for w in r.sim.writes if w["action"] == "status"]
            assert statuses == [
                {"Primary": "In Progress", "Extended": "On Hold"},
                {"Primary": "In Progress", "Extended": "Dispatch Confirmed"},
            ]
            assert r.sim.work_orders[a.sc_id]["Status"]["Primary"] == "Completed"
            assert [w["body"] for w in r.sim.writes if w["action"] == "decline"] == [
                {"DeclineReasonId": 6, "Note": "NTE too low for a roof unit"}
            ]
            (moved,) = [w["body"]["Value"] for w in r.sim.writes if w["action"] == "schedule"]
            assert moved.startswith((NOW + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))

    asyncio.run(scenario())


def test_a_status_the_client_has_not_configured_is_action_required_on_the_job(tmp_path):
    async def scenario():
        async with rig(str(tmp_path / "s.sqlite3")) as r:
            (wo,) = await _receive(r, 1)
            # This client has no "On Hold" status.
            r.sim.statuses[wo.subscriber_id] = [
                ("Open", ""),
                ("In Progress", "Dispatch Confirmed"),
                ("Completed", "Cancelled"),
            ]
            job = _book(r, wo)
            _apply(r, "accept_work_order", {"work_order_id": wo.id, "job_id": job})
            _job_action(r, job, JobStatus.HOLD, "Waiting on the landlord")
            client = r.client()
            try:
                await _drain(r.worker(client))
            finally:
                await client.close()
            with r.sessions() as s:
                stored = s.get(WorkOrder, wo.id)
                assert "ServiceChannel refused the status change" in stored.action_required
                assert "not configured for this subscriber" in stored.action_required
                refused = s.scalar(select(ScOutbound).where(ScOutbound.action == "status"))
                assert refused.state == OutboundState.REFUSED.value
                # The consoles get it: the work order's row is in the change log with the message.
                last = s.scalar(
                    select(ChangeRow)
                    .where(ChangeRow.entity_id == wo.id)
                    .order_by(ChangeRow.version.desc())
                    .limit(1)
                )
                assert "not configured" in last.data["action_required"]

    asyncio.run(scenario())


def test_do_not_service_customers_are_not_accepted(tmp_path):
    async def scenario():
        async with rig(str(tmp_path / "s.sqlite3")) as r:
            (wo,) = await _receive(r, 1)
            with r.sessions.begin() as s:
                s.get(Customer, wo.customer_id).do_not_service = True
            job = _book(r, wo)
            with pytest.raises(ValidationFailed) as refused:
                _apply(r, "accept_work_order", {"work_order_id": wo.id, "job_id": job})
            assert "Do Not Service" in str(refused.value.errors)

    asyncio.run(scenario())


def test_a_429_storm_delays_but_never_duplicates(tmp_path):
    async def scenario():
        async with rig(str(tmp_path / "s.sqlite3")) as r:
            orders = await _receive(r, 20)
            for wo in orders:
                _apply(r, "accept_work_order", {"work_order_id": wo.id, "job_id": _book(r, wo)})
            r.sim.faults += [Fault(429, 12, "/workorders"), Fault(502, 6, "/workorders")]
            client = r.client()
            client.max_attempts = 3  # give up quickly: the rows come back later (their next_at)
            worker = r.worker(client)
            try:
                for _ in range(400):
                    await worker.run_once()
                    with r.sessions.begin() as s:  # the backoff, shortened for the test
                        s.execute(text("UPDATE sc_outbound SET next_at = created_at WHERE state = 'pending'"))
                    if len(r.sim.writes) == 20 and worker.stats["sent"] == 20:
                        break
                    await asyncio.sleep(0.02)
            finally:
                await client.close()
            assert r.writes() == Counter({(wo.sc_id, "accept"): 1 for wo in orders})
            assert client.stats["throttled"] >= 1

    asyncio.run(scenario())


def test_an_instance_dying_mid_send_is_not_sent_twice(tmp_path):
    async def scenario():
        async with rig(str(tmp_path / "s.sqlite3")) as r:
            a, b = await _receive(r, 2)
            for wo in (a, b):
                _apply(r, "accept_work_order", {"work_order_id": wo.id, "job_id": _book(r, wo)})
            client = r.client()
            try:
                dying = r.worker(client, owner="dead-instance", lease=timedelta(milliseconds=200))
                dying.scan()
                # It leased both rows; it sent a's accept and died before recording it; it never sent b's.
                with r.sessions.begin() as s:
                    leased = claim(s, "dead-instance", dying.clock(), dying.lease, 10)
                assert {row.sc_id for row in leased} == {a.sc_id, b.sc_id}
                await client.call(
                    "PUT", f"/workorders/{a.sc_id}/accept", body={"Note": "Accepted — the job is booked."}
                )
                await asyncio.sleep(0.3)  # its lease runs out
                survivor = r.worker(client, owner="survivor")
                await _drain(survivor)
                assert survivor.stats["verified"] == 1 and survivor.stats["sent"] == 1
            finally:
                await client.close()
            assert r.writes() == Counter({(a.sc_id, "accept"): 1, (b.sc_id, "accept"): 1})

    asyncio.run(scenario())


@pytest.fixture
def pg_db(postgres_url):
    """A fresh database on the test server, dropped afterwards."""
    import psycopg

    name = f"csr_sc_{uuid.uuid4().hex[:12]}"
    admin = make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(postgres_url)
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_two_instances_on_postgresql_share_one_queue(pg_db):
    async def scenario(url: str):
        async with rig(url, rate_limit=1000) as r:
            orders = await _receive(r, 60)
            for wo in orders:
                _apply(r, "accept_work_order", {"work_order_id": wo.id, "job_id": _book(r, wo)})
            # A second instance: its own engine (its own connections) on the same database.
            other = sessionmaker(open_server_db(url), expire_on_commit=False)
            c1, c2 = r.client(), r.client()
            w1 = r.worker(c1, owner="one", batch=4)
            w2 = OutboundWorker(other, c2, r.desk.mapping, owner="two", batch=4, interval=0.05)
            try:
                tasks = [asyncio.create_task(w.run()) for w in (w1, w2)]

                def sent() -> int:
                    with r.sessions() as s:
                        return s.scalar(text("SELECT count(*) FROM sc_outbound WHERE state = 'sent'"))

                for _ in range(600):  # until both have recorded every send
                    if sent() >= 60:
                        break
                    await asyncio.sleep(0.05)
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                await c1.close()
                await c2.close()
                other.kw["bind"].dispose()
            assert r.writes() == Counter({(wo.sc_id, "accept"): 1 for wo in orders})
            assert w1.stats["sent"] > 0 and w2.stats["sent"] > 0  # both really took part
            with r.sessions() as s:
                assert s.scalar(text("SELECT count(*) FROM sc_outbound WHERE state = 'sent'")) == 60

    asyncio.run(scenario(pg_db))
