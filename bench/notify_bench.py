"""`csr-bench notify` (docs/notifications.md): the notifications sender under load.

Part 1 — reminders falling due at once: ``count`` reminders in a fresh PostgreSQL database, all due at
the same moment, drained by ``instances`` real `csr-server run` processes into the Messages API stand-in
(sync/msgsim.py, real HTTP, signed status callbacks back to the servers). With ``kill``, one instance is
killed with SIGKILL once a third of the texts are out. ``sent`` counts rows the stand-in took,
``duplicates`` texts it got more than once, ``lost`` reminders it never got; ``due_to_sent`` is each
reminder's due time → the stand-in accepted it (our ``sent_at``).

Part 2 — booking → confirmation sent: ``bookings`` bookings applied one after another through the
server's write path (sync/apply.py) while an in-process sender with the stand-in runs; each sample is
the booking's commit → its confirmation's ``sent_at``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from models.base import new_id, utcnow
from models.db import open_server_db
from models.notifications import Channel, NoticeKind, NoticeStatus, Notification
from models.setup import CompanySetting
from models.timeutil import as_utc
from sync.msgsim import MessagesSim, serve

from .harness import cpu
from .notify_rig import ACCOUNT, COMPANY_NUMBER, TOKEN
from .stats import summary

ROOT = Path(__file__).resolve().parents[1]
PG_DEFAULT = os.environ.get("CSR_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
SETTINGS = {
    "enabled": True,
    "company_phone": "(972) 555-0100",
    "quiet_hours": {},
    "reminder": {"hours_before": 24},
}


@contextlib.contextmanager
def fresh_database(url: str):
    """A new, empty PostgreSQL database beside ``url``'s, dropped afterwards."""
    import psycopg

    admin = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"csr_notify_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(url).set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SimThread:
    """The Messages API stand-in on its own event loop thread (the servers are other processes)."""

    def __init__(self, callback_delay: float = 0.05) -> None:
        self.sim = MessagesSim(ACCOUNT, TOKEN, callback_delay=callback_delay)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="msgsim", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the Messages API stand-in did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        runner, self.port = await serve(self.sim)
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self) -> int:
        return len(self.sim.messages)

    def close(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


class ServerProcess:
    """One `csr-server run` with texting on, sending to the stand-in; its log goes to a file."""

    def __init__(
        self, db: str, api_base: str, work: Path, name: str, *, rate: float | None, lease: float
    ) -> None:
        token_file = work / "token"
        token_file.write_text(TOKEN)
        self.log = work / f"{name}.log"
        self._log = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        cmd = [
            sys.executable,
            "-m",
            "sync.server_cli",
            "--db",
            db,
            "--log-level",
            "WARNING",
            "run",
            "--port",
            "0",
            "--http-port",
            "0",
            "--twilio-auth-token-file",
            str(token_file),
            "--twilio-account-sid",
            ACCOUNT,
            "--twilio-api-base",
            api_base,
            "--sms-from",
            COMPANY_NUMBER,
            "--notify-lease",
            str(lease),
            "--poll-interval",
            "0.5",
        ]
        if rate:
            cmd += ["--notify-rate", str(rate)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"csr-server did not start: {line!r}\n{self.log.read_text()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._log.close()


def _mid_batch(sessions: sessionmaker, server: ServerProcess) -> bool:
    """Whether ``server``'s sender holds claims right now (a kill then lands in the middle of a batch)."""
    with sessions() as s:
        return (
            s.scalar(
                select(Notification.id)
                .where(
                    Notification.status == NoticeStatus.SENDING,
                    Notification.claimed_by == f"{socket.gethostname()}:{server.proc.pid}",
                )
                .limit(1)
            )
            is not None
        )


def seed_reminders(sessions: sessionmaker, count: int, due: datetime) -> None:
    with sessions.begin() as s:
        s.add(CompanySetting(key="company", value={"name": "Bench Co", "time_zone": "America/Chicago"}))
        s.add(CompanySetting(key="notifications", value=SETTINGS))
    rows = [
        {
            "id": new_id(),
            "key": f"bench-appt-{i}:reminder:1|sms:+1214{i:07d}",
            "kind": NoticeKind.REMINDER,
            "channel": Channel.SMS,
            "status": NoticeStatus.PENDING,
            "to_address": f"+1214{i:07d}",
            "subject": "",
            "body": f"Bench Co: reminder {i}, we'll see you tomorrow between 8 AM and 12 PM.",
            "due_at": due,
            "next_attempt_at": due,
            "attempts": 0,
            "claimed_by": "",
            "provider_id": "",
            "error_code": "",
            "error": "",
            "created_at": utcnow(),
            "updated_at": utcnow(),
        }
        for i in range(count)
    ]
    with sessions.begin() as s:
        for start in range(0, count, 2000):
            s.execute(insert(Notification), rows[start : start + 2000])


def postgres_cpu() -> float:
    """CPU seconds used so far by every process named postgres on this machine (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().rpartition(")")
        except OSError:
            continue
        if head.endswith("(postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


def run_reminders(
    postgres: str,
    count: int = 10_000,
    instances: int = 2,
    *,
    kill: bool = True,
    rate: float | None = None,
    lease: float = 5.0,
    timeout: float = 600.0,
) -> dict[str, Any]:
    with fresh_database(postgres) as db, tempfile.TemporaryDirectory(prefix="csr-notify-bench-") as tmp:
        work = Path(tmp)
        engine = open_server_db(db)
        sessions = sessionmaker(engine, expire_on_commit=False)
        sim = SimThread()
        servers: list[ServerProcess] = []
        killed = False
        out: dict[str, Any] = {}
        try:
            due = datetime.now(UTC) + timedelta(seconds=6)  # every instance is up before they fall due
            seed_reminders(sessions, count, due)
            servers = [
                ServerProcess(db, sim.url, work, f"server-{i}", rate=rate, lease=lease)
                for i in range(instances)
            ]
            deadline = time.monotonic() + timeout
            procs = {f"server_{i}": server.proc for i, server in enumerate(servers)}
            cpu_start = {**cpu(procs), "postgres": postgres_cpu()}
            cpu_seen = dict(cpu_start)
            while time.monotonic() < deadline:
                for name, used in {**cpu(procs), "postgres": postgres_cpu()}.items():
                    cpu_seen[name] = max(cpu_seen.get(name, 0.0), used)  # a killed server keeps its last
                n = sim.count()
                if kill and not killed and n >= count // 3 and _mid_batch(sessions, servers[0]):
                    servers[0].kill()
                    killed = True
                with sessions() as s:
                    waiting = s.scalar(
                        select(Notification.id)
                        .where(Notification.status.in_([NoticeStatus.PENDING, NoticeStatus.SENDING]))
                        .limit(1)
                    )
                if waiting is None and n >= count:
                    break
                time.sleep(0.2)
            time.sleep(0.5)
            with sessions() as s:
                rows = list(
                    s.execute(
                        select(
                            Notification.body,
                            Notification.due_at,
                            Notification.sent_at,
                            Notification.provider_id,
                        )
                    )
                )
            bodies = Counter(m.body for m in sim.sim.messages)
            wanted = {r.body for r in rows}
            samples = [
                (as_utc(r.sent_at) - as_utc(r.due_at)).total_seconds() for r in rows if r.sent_at is not None
            ]
            out.update(
                {
                    "reminders": count,
                    "instances": instances,
                    "killed_one": killed,
                    "rate_per_second": rate or 0,
                    "sent": sum(1 for b in wanted if bodies.get(b)),
                    "duplicates": sum(c - 1 for c in bodies.values() if c > 1),
                    "lost": sum(1 for b in wanted if not bodies.get(b)),
                    "recorded": sum(1 for r in rows if r.provider_id),
                    **summary("due_to_sent", samples, unit="s", digits=3),
                }
            )
            # Where the CPU went while the texts drained (2 cores here): the servers, this process (the
            # Messages API stand-in — Twilio's cloud in production — and the bench's polling), and
            # PostgreSQL (every postgres process on the machine).
            used = {k: round(cpu_seen[k] - cpu_start[k], 1) for k in cpu_seen if k in cpu_start}
            servers_s = round(sum(v for k, v in used.items() if k.startswith("server_")), 1)
            out["cpu_s_during_drain"] = {
                "servers": servers_s,
                "stand_in_and_bench": used.get("poster", 0.0),
                "postgres": used.get("postgres", 0.0),
            }
            if out["sent"]:
                out["server_cpu_ms_per_text"] = round(1000 * servers_s / out["sent"], 2)
                out["all_cpu_ms_per_text"] = round(
                    1000 * sum(out["cpu_s_during_drain"].values()) / out["sent"], 2
                )
        finally:
            for server in servers:
                server.stop()
            sim.close()
            engine.dispose()
            if servers:
                # Claims the killed instance left behind, taken over by the survivor (it logs each).
                logs = "".join(s.log.read_text() for s in servers[1:])
                out["taken_over"] = logs.count("event=notify_claim_expired")
                out["adopted"] = logs.count("event=notify_adopted")
    return out


def run_booking_confirmations(bookings: int = 1000, pace: float = 0.02) -> dict[str, Any]:
    """In-process: bookings applied through the server's write path, a sender and the stand-in."""
    return asyncio.run(_booking_confirmations(bookings, pace))


async def _booking_confirmations(bookings: int, pace: float) -> dict[str, Any]:
    from models.customers import Location
    from models.setup import ArrivalWindow, BusinessUnit, Campaign, JobType
    from models.setup_file import demo_setup_path, import_setup, parse_setup
    from sync.apply import Applier
    from sync.notify_sender import NotifySender
    from sync.protocol import Mutation

    from .notify_rig import start_rig

    with tempfile.TemporaryDirectory(prefix="csr-notify-book-") as tmp:
        engine = open_server_db(str(Path(tmp) / "server.sqlite3"))
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions.begin() as s:
            import_setup(s, parse_setup(demo_setup_path().read_text(encoding="utf-8")))
            s.merge(CompanySetting(key="notifications", value=SETTINGS))
        with sessions() as s:
            unit = s.scalar(select(BusinessUnit).where(BusinessUnit.active).order_by(BusinessUnit.name))
            job_type = next(
                j for j in s.scalars(select(JobType).where(JobType.active)) if unit in j.business_units
            )
            campaign = s.scalar(select(Campaign.id).where(Campaign.active).limit(1))
            windows = [w.id for w in s.scalars(select(ArrivalWindow).where(ArrivalWindow.active))]
        applier = Applier(sessions)
        rig = await start_rig(sessions)
        stop = asyncio.Event()
        sender = NotifySender(sessions, sms=rig.sms(), poll_interval=0.5)
        runner = asyncio.create_task(sender.run(stop))
        committed: dict[str, float] = {}
        seq = 0
        try:
            for i in range(bookings):
                seq += 1
                create = Mutation(
                    seq=seq,
                    mutation_id=new_id(),
                    name="create_customer",
                    args={
                        "customer": {
                            "name": f"Bench Customer {i}",
                            "street": "12 Main St",
                            "city": "Dallas",
                            "state": "TX",
                            "zip": "75201",
                        },
                        "locations": [
                            {"street": "12 Main St", "city": "Dallas", "state": "TX", "zip": "75201"}
                        ],
                        "contacts": [{"kind": "MobilePhone", "value": f"+1214555{i % 10000:04d}"}],
                    },
                )
                receipt = (await asyncio.to_thread(applier.push, "bench", "bench", [create])).receipts[0]
                if receipt.status != "applied":
                    raise RuntimeError(f"bench customer refused: {receipt.errors}")
                cid = receipt.result["id"]
                with sessions() as s:
                    loc = s.scalar(select(Location.id).where(Location.customer_id == cid))
                seq += 1
                day = (datetime.now(UTC) + timedelta(days=2 + i % 10)).date()
                book = Mutation(
                    seq=seq,
                    mutation_id=new_id(),
                    name="book_job",
                    args={
                        "job": {
                            "customer_id": cid,
                            "location_id": loc,
                            "business_unit_id": unit.id,
                            "job_type_id": job_type.id,
                            "campaign_id": campaign,
                            "summary": "Bench booking",
                        },
                        "appointment": {
                            "day": day.isoformat(),
                            "arrival_window_id": windows[i % len(windows)],
                        },
                    },
                )
                result = await asyncio.to_thread(applier.push, "bench", "bench", [book])
                if result.receipts[0].status != "applied":
                    raise RuntimeError(f"bench booking refused: {result.receipts[0].errors}")
                done = time.time()
                committed[result.receipts[0].result.get("id", "")] = done
                sender.wake()  # as the server does after a push commits (sync/server_cli.py)
                await asyncio.sleep(pace)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with sessions() as s:
                    left = s.scalar(
                        select(Notification.id)
                        .where(Notification.kind == NoticeKind.CONFIRMATION, Notification.sent_at.is_(None))
                        .limit(1)
                    )
                if left is None:
                    break
                await asyncio.sleep(0.2)
            with sessions() as s:
                sent = dict(
                    s.execute(
                        select(Notification.job_id, Notification.sent_at).where(
                            Notification.kind == NoticeKind.CONFIRMATION
                        )
                    ).all()
                )
            samples = [
                (as_utc(sent[job]).timestamp() - at) * 1000
                for job, at in committed.items()
                if sent.get(job) is not None
            ]
            return {"bookings": bookings, **summary("booking_to_confirmation_sent", samples)}
        finally:
            stop.set()
            await runner
            await rig.close()
            engine.dispose()


def run_notify(
    postgres: str | None, reminders: int, instances: int, bookings: int, kill: bool, rate: float | None
) -> dict:
    out: dict[str, Any] = {}
    if postgres:
        out.update(run_reminders(postgres, reminders, instances, kill=kill, rate=rate))
    if bookings:
        out.update(run_booking_confirmations(bookings))
    return out
