"""csr-server with ServiceChannel, as real processes: the setup file and its secret files, signed
deliveries from the stand-in to the server's receiver, and the server killed (SIGKILL) while an accept it
sent is still unanswered and while another accept is stored but unsent — after a restart each reaches the
platform exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.orm import sessionmaker

from models.db import open_server_db
from models.work_orders import WorkOrder
from sync.sc_inbound import WorkOrderDesk
from sync.scsim import Fault, ScSim
from tests.integration.test_servicechannel_outbound import Rig, _apply, _book, pg_db  # noqa: F401 - fixture
from tests.unit.booking_setup import build_setup

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _setup_file(tmp_path: Path, sim: ScSim, url: str, *, secret_mode: int = 0o600, port: int = 0) -> Path:
    (tmp_path / "sc-secret").write_text(sim.client_secret + "\n")
    (tmp_path / "sc-password").write_text(sim.password + "\n")
    os.chmod(tmp_path / "sc-secret", secret_mode)
    os.chmod(tmp_path / "sc-password", 0o600)
    cfg = tmp_path / "servicechannel.yaml"
    cfg.write_text(
        f"""servicechannel:
  api_base: {url}
  login_base: {url}
  client_id: {sim.client_id}
  client_secret_file: sc-secret
  username: {sim.username}
  password_file: sc-password
  webhook: {{host: 127.0.0.1, port: {port}, public_url: "http://127.0.0.1:{port}"}}
  poll_seconds: 0.5
  outbound_lease_seconds: 1
  rate_limit: {{calls: 200, seconds: 1}}
  job_types:
    - {{trade: HVAC, category: "*", job_type: AC Not Cooling}}
"""
    )
    return cfg


async def _start(db: str, cfg: Path) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sync.server_cli",
        "--db",
        db,
        "run",
        "--port",
        "0",
        "--servicechannel",
        str(cfg),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert line, (await proc.stderr.read()).decode()
        if "ServiceChannel webhooks on" in line:
            return proc, int(line.rsplit(":", 1)[1])


async def _until(predicate, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def test_killed_server_sends_each_accept_exactly_once_after_restart(tmp_path):
    async def scenario():
        sim = ScSim(retry_seconds=0.2)
        runner = web.AppRunner(sim.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        db = str(tmp_path / "server.sqlite3")
        sessions = sessionmaker(open_server_db(db), expire_on_commit=False)
        with sessions.begin() as s:
            ids = build_setup(s)
        cfg = _setup_file(tmp_path, sim, url, port=_free_port())
        proc = None
        try:
            proc, port = await _start(db, cfg)
            # The server subscribed its receiver; a new work order arrives by signed webhook.
            await _until(lambda: bool(sim.webhooks))
            assert sim.webhooks[1]["Url"] == f"http://127.0.0.1:{port}/servicechannel/events"
            a = sim.add_work_order(Trade="HVAC")
            b = sim.add_work_order(Trade="HVAC")

            def stored() -> int:
                with sessions() as s:
                    return s.scalar(text("SELECT count(*) FROM work_orders"))

            await _until(lambda: stored() == 2)
            rig = Rig(sim, url, sessions, WorkOrderDesk(sessions, None), ids)
            with sessions() as s:
                wo_a = s.scalar(select(WorkOrder).where(WorkOrder.sc_id == a["Id"]))
                wo_b = s.scalar(select(WorkOrder).where(WorkOrder.sc_id == b["Id"]))
            # The platform will carry out a's accept but hold its answer: the server dies waiting.
            sim.faults.append(Fault(0, 1, f"/workorders/{a['Id']}/accept", stall=5))
            _apply(rig, "accept_work_order", {"work_order_id": wo_a.id, "job_id": _book(rig, wo_a)})
            await _until(lambda: len(sim.writes) == 1)
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
            # While it is down, b is accepted: stored, not sent.
            _apply(rig, "accept_work_order", {"work_order_id": wo_b.id, "job_id": _book(rig, wo_b)})
            proc, _ = await _start(db, cfg)

            def states() -> list[str]:
                with sessions() as s:
                    return list(s.scalars(text("SELECT state FROM sc_outbound ORDER BY id")))

            await _until(lambda: states() == ["sent", "sent"])
            await asyncio.sleep(1.5)  # a lease's length: nothing else goes out
            assert sorted((w["work_order"], w["action"]) for w in sim.writes) == sorted(
                [(a["Id"], "accept"), (b["Id"], "accept")]
            )
        finally:
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 30)
            await sim.close()
            await runner.cleanup()
            sessions.kw["bind"].dispose()

    asyncio.run(scenario())


def test_a_secret_file_others_can_read_stops_the_server_with_a_sentence(tmp_path):
    sim = ScSim()
    cfg = _setup_file(tmp_path, sim, "http://127.0.0.1:9", secret_mode=0o644)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sync.server_cli",
            "--db",
            str(tmp_path / "s.sqlite3"),
            "run",
            "--port",
            "0",
            "--servicechannel",
            str(cfg),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "readable by other users — chmod 600" in done.stderr


@pytest.mark.postgres
def test_two_server_processes_on_postgresql_receive_and_send_once(tmp_path, pg_db):  # noqa: F811
    """Two csr-server processes on one PostgreSQL database, each with its own receiver subscribed: every
    event reaches both (stored once), and the accepts committed to the shared queue go out once."""

    async def scenario():
        sim = ScSim(retry_seconds=0.2, rate_limit=1000, rate_window=1.0)
        runner = web.AppRunner(sim.app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        sessions = sessionmaker(open_server_db(pg_db), expire_on_commit=False)
        with sessions.begin() as s:
            ids = build_setup(s)
        procs = []
        try:
            for n in (1, 2):
                folder = tmp_path / f"instance{n}"
                folder.mkdir()
                procs.append((await _start(pg_db, _setup_file(folder, sim, url, port=_free_port())))[0])
            await _until(lambda: len(sim.webhooks) == 2)
            made = [sim.add_work_order(Trade="HVAC") for _ in range(30)]

            def count(sql: str) -> int:
                with sessions() as s:
                    return s.scalar(text(sql))

            await _until(lambda: count("SELECT count(*) FROM work_orders") == 30)
            await _until(lambda: sim.deliveries["sent"] == 60)  # each event to both receivers, both 2xx
            assert count("SELECT count(*) FROM sc_deliveries") == 30
            assert count("SELECT count(DISTINCT customer_id) FROM work_orders") == 2  # two clients
            rig = Rig(sim, url, sessions, WorkOrderDesk(sessions, None), ids)
            with sessions() as s:
                orders = list(s.scalars(select(WorkOrder)))
            for wo in orders:
                _apply(rig, "accept_work_order", {"work_order_id": wo.id, "job_id": _book(rig, wo)})
            await _until(lambda: count("SELECT count(*) FROM sc_outbound WHERE state = 'sent'") == 30, 60)
            await asyncio.sleep(1.5)
            accepts = sorted(w["work_order"] for w in sim.writes if w["action"] == "accept")
            assert accepts == sorted(w["Id"] for w in made)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.wait_for(proc.wait(), 30)
            await sim.close()
            await runner.cleanup()
            sessions.kw["bind"].dispose()

    asyncio.run(scenario())
