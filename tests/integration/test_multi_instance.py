"""Several `csr-server run` processes over one PostgreSQL (each test gets a fresh database, dropped after):

- a push through instance A pokes consoles connected to instance B (LISTEN/NOTIFY), and B's console
  pulls the change; a setup imported with `csr-server setup import` reaches them the same way;
- a commit nobody announced (a lost notification) is still poked within the fallback poll interval;
- the listener reconnects after its connection is killed;
- an admin's phone seat change through instance A reaches the user's console on instance B at once
  (a ``seat:<user id>`` note on the same channel), A's own consoles get it once, and a malformed note
  changes nothing; a seat set or cleared with `csr-server phone-seat` reaches them on both instances;
- commit-order-safe cursor: many concurrent pushes through both instances while readers pull by cursor
  in small pages; every reader ends with every change-log version exactly once, in order, none skipped
  (sync/apply.py lock_change_log).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import websockets
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from models.customers import Customer
from models.db import open_cache
from models.setup import BusinessUnit
from models.sync_tables import ChangeRow
from models.writer import LocalWriter
from sync.client import SyncClient
from sync.fanout import LISTEN_APP_NAME
from tests.unit.conftest import customer_args

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "dana password 1"


# -- a fresh database per test -----------------------------------------------------------------------------
def _admin_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def pg_db(postgres_url):
    import psycopg

    name = f"csr_mi_{uuid.uuid4().hex[:12]}"
    admin = _admin_conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = (
        make_url(postgres_url)
        .set(drivername="postgresql", database=name)
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sync.server_cli", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _init(db: str, *, setup: bool = False) -> None:
    done = _cli("--db", db, "init", "--password-stdin", stdin="admin password 1\n")
    assert done.returncode == 0, done.stderr
    done = _cli("--db", db, "user", "add", "dana", "--role", "csr", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    if setup:
        from models.setup_file import demo_setup_path

        done = _cli("--db", db, "setup", "import", str(demo_setup_path()))
        assert done.returncode == 0, done.stderr


class Instance:
    """One `csr-server run` process; its log goes to a file (a full pipe would stall the server)."""

    def __init__(self, db: str, log: Path, poll: float) -> None:
        self.log = log
        self.handle = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sync.server_cli",
                "--db",
                db,
                "--log-level",
                "DEBUG",
                "run",
                "--port",
                "0",
                "--poll-interval",
                str(poll),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.handle,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert "listening on ws://127.0.0.1:" in line, self.log_text()
        self.url = line.split("listening on ")[1].strip()
        self.wait_for_log("event=fanout_listening")

    def log_text(self) -> str:
        self.handle.flush()
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str, count: int = 1, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.log_text().count(needle) < count:
            assert self.proc.poll() is None, self.log_text()
            assert time.monotonic() < deadline, f"no {needle!r} x{count} in:\n{self.log_text()}"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(timeout=30) == 0, self.log_text()
            finally:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait()
        self.proc.stdout.close()
        self.handle.close()


@pytest.fixture
def instances(pg_db, tmp_path):
    started: list[Instance] = []

    def start(name: str, poll: float = 1.0) -> Instance:
        inst = Instance(pg_db, tmp_path / f"{name}.log", poll)
        started.append(inst)
        return inst

    yield start
    for inst in started:
        inst.stop()


# -- a bare websocket console --------------------------------------------------------------------------------
class Console:
    def __init__(self, ws, client_id: str) -> None:
        self.ws, self.client_id = ws, client_id
        self.seq = 0
        self.pokes: list[int] = []
        self.token = ""

    @classmethod
    async def open(cls, url: str, client_id: str | None = None, token: str | None = None) -> Console:
        """Hello with a token (as a console reconnecting), or hello + log-in when none is given.

        Tests that open many consoles log in once and share the token: several log-ins of one user at
        the same instant are throttled as if they had failed (sync/auth.py counts first).
        """
        ws = await websockets.connect(url, max_size=2**22)
        console = cls(ws, client_id or uuid.uuid4().hex)
        welcome = await console.ask(
            {"type": "hello", "protocol": 1, "client_id": console.client_id, "token": token}
        )
        assert welcome["type"] == "welcome", welcome
        if token:
            assert welcome["user"]["username"] == "dana", welcome
            console.token = token
            return console
        answer = await console.ask({"type": "login", "username": "dana", "password": PASSWORD})
        assert answer["type"] == "logged_in", answer
        console.token = answer["token"]
        return console

    async def ask(self, message: dict, timeout: float = 30.0) -> dict:
        await self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if answer["type"] == "poke":
                self.pokes.append(answer["server_version"])
                continue
            if answer["type"] == "error" and answer["code"] == "rate_limited":
                await asyncio.sleep(0.2)
                await self.ws.send(json.dumps(message))
                continue
            return answer

    async def wait_poke(self, at_least: int, timeout: float) -> float:
        """Seconds until a poke for ``at_least`` or later arrives (pokes already seen count)."""
        start = time.monotonic()
        while not any(v >= at_least for v in self.pokes):
            left = timeout - (time.monotonic() - start)
            assert left > 0, f"no poke >= {at_least} within {timeout}s (pokes: {self.pokes})"
            try:
                answer = json.loads(await asyncio.wait_for(self.ws.recv(), left))
            except TimeoutError:
                continue
            if answer["type"] == "poke":
                self.pokes.append(answer["server_version"])
        return time.monotonic() - start

    async def push_customer(self, name: str, phone: str) -> dict:
        self.seq += 1
        answer = await self.ask(
            {
                "type": "push",
                "mutations": [
                    {
                        "seq": self.seq,
                        "mutation_id": uuid.uuid4().hex,
                        "name": "create_customer",
                        "args": customer_args(name=name, phone=phone),
                    }
                ],
            }
        )
        assert answer["type"] == "receipts" and answer["receipts"][0]["status"] == "applied", answer
        return answer["receipts"][0]

    async def pull_all(self, cursor: int, limit: int = 1000) -> tuple[list[dict], int]:
        out = []
        while True:
            page = await self.ask({"type": "pull", "cursor": cursor, "limit": limit})
            assert page["type"] == "changes", page
            out += page["changes"]
            cursor = page["cursor"]
            if not page["more"]:
                return out, cursor

    async def close(self) -> None:
        await self.ws.close()


def _sessions(db: str):
    engine = create_engine(make_url(db).set(drivername="postgresql+psycopg"))
    return engine, sessionmaker(engine)


def _count(cache, model) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


async def _until(predicate, timeout: float) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "timed out"
        await asyncio.sleep(0.02)
    return time.monotonic() - start


# -- the tests ---------------------------------------------------------------------------------------------
def test_a_push_through_one_instance_pokes_and_reaches_consoles_on_the_other(pg_db, instances, tmp_path):
    _init(pg_db)
    # A long fallback poll: within the few seconds this test allows, only NOTIFY can deliver the poke.
    a, b = instances("a", poll=60), instances("b", poll=60)
    cache_a = open_cache(tmp_path / "console-a.sqlite3")
    cache_b = open_cache(tmp_path / "console-b.sqlite3")
    pulled_b: list[set[str]] = []

    async def scenario() -> None:
        client_a = SyncClient(cache_a, a.url, token=lambda: None)
        client_b = SyncClient(cache_b, b.url, token=lambda: None, on_pulled=pulled_b.append)
        login_a = await Console.open(a.url, client_a.client_id)
        login_b = await Console.open(b.url, client_b.client_id)
        await login_a.close()
        await login_b.close()
        client_a.token, client_b.token = (lambda: login_a.token), (lambda: login_b.token)
        observer = await Console.open(b.url, token=login_a.token)  # sees B's pokes on the wire
        tasks = [asyncio.create_task(client_a.run()), asyncio.create_task(client_b.run())]
        try:
            await _until(lambda: client_b.status.state == "online" and client_a.status.state == "online", 20)
            # The admin imports the company setup on the server: both consoles, on either instance,
            # are poked and pull it through the change log.
            from models.setup_file import demo_setup_path

            done = await asyncio.to_thread(_cli, "--db", pg_db, "setup", "import", str(demo_setup_path()))
            assert done.returncode == 0, done.stderr
            await _until(lambda: _count(cache_b, BusinessUnit) == 5 and _count(cache_a, BusinessUnit) == 5, 5)
            assert _count(cache_b, Customer) == 0
            writer = LocalWriter(cache_a.sessions)
            cid = writer.execute("create_customer", customer_args()).applied.entity_id
            client_a.wake()
            await _until(lambda: client_a.pending() == 0, 10)
            with cache_a.sessions() as s:
                version = client_a.cursor() or 0
                assert s.get(Customer, cid) is not None
            waited = await observer.wait_poke(1, timeout=5)
            assert waited < 5
            # B's console only pulls on a poke (or a reconnect): the customer arrives, so B was poked.
            await _until(lambda: _count(cache_b, Customer) == 1, 5)
            await _until(lambda: any(cid in ids for ids in pulled_b), 5)  # told after the commit
            with cache_b.sessions() as s:
                assert s.get(Customer, cid).name == "Maria Garcia"
            assert client_b.cursor() >= version
        finally:
            client_a.stop()
            client_b.stop()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
            await observer.close()

    try:
        asyncio.run(scenario())
    finally:
        cache_a.close()
        cache_b.close()
    assert "event=fanout_notify_failed" not in a.log_text()


def test_a_setup_import_pokes_every_instance(pg_db, instances):
    _init(pg_db)
    a, b = instances("a", poll=60), instances("b", poll=60)

    async def scenario() -> None:
        on_a, on_b = await Console.open(a.url), await Console.open(b.url)
        from models.setup_file import demo_setup_path

        done = await asyncio.to_thread(_cli, "--db", pg_db, "setup", "import", str(demo_setup_path()))
        assert done.returncode == 0, done.stderr
        for console in (on_a, on_b):
            await console.wait_poke(1, timeout=5)
            changes, _cursor = await console.pull_all(0)
            assert len([c for c in changes if c["entity"] == "business_units"]) == 5
            await console.close()

    asyncio.run(scenario())


def test_a_commit_nobody_announced_is_poked_by_the_fallback_poll(pg_db, instances):
    _init(pg_db)
    a, b = instances("a", poll=0.5), instances("b", poll=0.5)
    engine, sessions = _sessions(pg_db)

    async def scenario() -> None:
        on_a, on_b = await Console.open(a.url), await Console.open(b.url)
        _cursor = (await on_a.pull_all(0))[1]
        # A writer that commits and never sends NOTIFY (or whose NOTIFY was lost).
        with sessions.begin() as s:
            s.execute(text("SELECT pg_advisory_xact_lock(7420001)"))
            row = ChangeRow(
                entity="company_settings",
                entity_id="note",
                op="upsert",
                data={"key": "note", "value": {"text": "hello"}},
            )
            s.add(row)
            s.flush()
            version = row.version
        for console in (on_a, on_b):
            assert await console.wait_poke(version, timeout=3) < 3
            await console.close()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()


def test_the_listener_reconnects_after_its_connection_is_killed(pg_db, instances):
    _init(pg_db)
    a, b = instances("a", poll=60), instances("b", poll=60)
    engine, sessions = _sessions(pg_db)

    async def scenario() -> None:
        writer, observer = await Console.open(a.url), await Console.open(b.url)
        with engine.connect() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :app AND datname = current_database()"
                ),
                {"app": LISTEN_APP_NAME},
            ).scalar()
        assert killed == 2
        for inst in (a, b):
            await asyncio.to_thread(inst.wait_for_log, "event=fanout_listening", 2)
        assert "event=fanout_listener_lost" in b.log_text()
        receipt = await writer.push_customer("After The Drop", "(214) 555-0177")
        assert await observer.wait_poke(receipt["server_version"], timeout=5) < 5
        await writer.close()
        await observer.close()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()


SEAT = {"sip_address": "sip:dana@acme.sip.example.com", "registrar": "sip:acme.sip.example.com",
        "sip_user": "dana", "transport": "tls"}  # fmt: skip


async def _admin(url: str) -> Console:
    ws = await websockets.connect(url)
    admin = Console(ws, uuid.uuid4().hex)
    welcome = await admin.ask({"type": "hello", "protocol": 1, "client_id": admin.client_id, "token": None})
    assert welcome["type"] == "welcome", welcome
    answer = await admin.ask({"type": "login", "username": "admin", "password": "admin password 1"})
    assert answer["type"] == "logged_in", answer
    return admin


async def _seat_messages(console: Console, seconds: float) -> list[dict]:
    """The ``phone_seat`` messages a console gets within ``seconds`` (anything else skipped)."""
    heard, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(console.ws.recv(), left))
        except TimeoutError:
            break
        if message["type"] == "phone_seat":
            heard.append(message)
    return heard


def test_a_seat_set_through_one_instance_reaches_the_users_console_on_the_other(pg_db, instances, tmp_path):
    _init(pg_db)
    # A long fallback poll: only the NOTIFY can carry the seat (a seat is not in the change log anyway).
    a, b = instances("a", poll=60), instances("b", poll=60)
    cache_b = open_cache(tmp_path / "console-b.sqlite3")
    heard: list[dict | None] = []
    engine, sessions = _sessions(pg_db)

    async def scenario() -> None:
        client_b = SyncClient(cache_b, b.url, token=lambda: None, on_seat=heard.append)
        on_a = await Console.open(a.url)  # dana on A too: she must get each change once, not twice
        client_b.token = lambda: on_a.token
        task = asyncio.create_task(client_b.run())
        admin = await _admin(a.url)
        try:
            await _until(lambda: client_b.status.state == "online", 20)
            assert heard == [None]  # the welcome: no seat yet
            answer = await admin.ask(
                {"type": "manage_user", "id": "s1", "action": "set_seat", "username": "dana", **SEAT}
            )
            assert answer["type"] == "user_managed" and answer["user"]["phone_seat"], answer
            stored = answer["user"]["phone_seat"]
            assert await _until(lambda: len(heard) == 2, 3) < 3, (heard, b.log_text())
            assert heard[1] == stored and stored["sip_address"] == SEAT["sip_address"]
            # A's console: once (the local send); A's own note coming back sends nothing more.
            assert [m["seat"] for m in await _seat_messages(on_a, 1.5)] == [stored]

            cleared = await admin.ask(
                {"type": "manage_user", "id": "s2", "action": "clear_seat", "username": "dana"}
            )
            assert cleared["type"] == "user_managed", cleared
            assert await _until(lambda: len(heard) == 3, 3) < 3, (heard, b.log_text())
            assert heard[2] is None
            assert [m.get("seat") for m in await _seat_messages(on_a, 1.5)] == [None]

            # Set again, then notes that are malformed or lie: nothing changes, nothing is sent.
            await admin.ask(
                {"type": "manage_user", "id": "s3", "action": "set_seat", "username": "dana", **SEAT}
            )
            await _until(lambda: len(heard) == 4, 3)
            assert [m["seat"] for m in await _seat_messages(on_a, 1.0)] == [stored]
            dana_id = answer["user"]["id"]
            with engine.connect() as conn:
                for payload in ("seat:", "seat:../x y", "seat:" + "9" * 65, f"seat:{dana_id} {{}}", "seat"):
                    conn.execute(text("SELECT pg_notify('csr_changes', :p)"), {"p": payload})
                # Well formed, but the store is the truth: the seat she has already, so nothing is sent.
                conn.execute(text("SELECT pg_notify('csr_changes', :p)"), {"p": f"seat:{dana_id}"})
                conn.commit()
            await asyncio.to_thread(b.wait_for_log, "event=fanout_bad_payload", 5, 5)
            await asyncio.to_thread(b.wait_for_log, f"event=remote_seat user={dana_id}", 4, 5)
            assert await _seat_messages(on_a, 1.0) == []
            assert len(heard) == 4 and heard[3] == stored
            assert client_b.status.state == "online"
        finally:
            client_b.stop()
            await asyncio.wait_for(task, timeout=15)
            await admin.close()
            await on_a.close()

    try:
        asyncio.run(scenario())
    finally:
        cache_b.close()
        engine.dispose()
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM phone_seats")) == 1
    assert "event=fanout_notify_failed" not in a.log_text()


def test_a_seat_set_with_the_cli_reaches_the_users_consoles_on_every_instance(pg_db, instances, tmp_path):
    """`csr-server phone-seat set|clear` writes the store directly, then sends the same ``seat:<user id>``
    note: dana's console on B (the real sync client) and her bare socket on A get the change at once."""
    _init(pg_db)
    a, b = instances("a", poll=60), instances("b", poll=60)  # only the NOTIFY can carry it
    cache_b = open_cache(tmp_path / "console-b.sqlite3")
    heard: list[dict | None] = []
    cli_set = ["--db", pg_db, "phone-seat", "set", "dana", "--address", SEAT["sip_address"],
               "--registrar", SEAT["registrar"], "--sip-user", "dana", "--transport", "tls"]  # fmt: skip

    async def scenario() -> None:
        client_b = SyncClient(cache_b, b.url, token=lambda: None, on_seat=heard.append)
        on_a = await Console.open(a.url)
        client_b.token = lambda: on_a.token
        task = asyncio.create_task(client_b.run())
        try:
            await _until(lambda: client_b.status.state == "online", 20)
            assert heard == [None]  # the welcome: no seat yet
            done = await asyncio.to_thread(_cli, *cli_set)
            assert done.returncode == 0, done.stderr
            stored = json.loads(done.stdout)
            assert "the running servers were told; dana's connected consoles get this now" in done.stderr
            assert await _until(lambda: len(heard) == 2, 3) < 3, (heard, b.log_text())
            assert heard[1] == stored and stored["sip_address"] == SEAT["sip_address"]
            assert [m["seat"] for m in await _seat_messages(on_a, 1.5)] == [stored]

            done = await asyncio.to_thread(_cli, "--db", pg_db, "phone-seat", "clear", "dana")
            assert done.returncode == 0, done.stderr
            assert await _until(lambda: len(heard) == 3, 3) < 3, (heard, b.log_text())
            assert heard[2] is None
            assert [m.get("seat") for m in await _seat_messages(on_a, 1.5)] == [None]
            assert client_b.status.state == "online"
        finally:
            client_b.stop()
            await asyncio.wait_for(task, timeout=15)
            await on_a.close()

    try:
        asyncio.run(scenario())
    finally:
        cache_b.close()
    for inst in (a, b):  # each instance heard both notes (A's bare socket never reconnects: live)
        inst.wait_for_log("event=remote_seat user=", 2, 5)


WRITERS_PER_INSTANCE = 4
PUSHES_PER_WRITER = 30


def test_concurrent_writers_on_two_instances_never_make_a_cursor_skip_a_change(pg_db, instances):
    _init(pg_db)
    a, b = instances("a"), instances("b")
    engine, sessions = _sessions(pg_db)
    seen: dict[str, list[dict]] = {"reader-a": [], "reader-b": []}

    token = ""

    async def write(url: str, n: int) -> None:
        console = await Console.open(url, token=token)
        for i in range(PUSHES_PER_WRITER):
            await console.push_customer(f"Writer {n} Customer {i}", f"(214) 555-{n:02d}{i:02d}")
        await console.close()

    async def read(url: str, name: str, done: asyncio.Event) -> None:
        console = await Console.open(url, token=token)
        cursor = 0
        while True:
            finished = done.is_set()  # read before the pull: a final pass after the writers
            while True:
                page = await console.ask({"type": "pull", "cursor": cursor, "limit": 7})
                assert page["type"] == "changes", page
                seen[name] += page["changes"]
                cursor = page["cursor"]
                if not page["more"]:
                    break
            if finished:
                break
            await asyncio.sleep(0.01)
        await console.close()

    async def scenario() -> None:
        nonlocal token
        first = await Console.open(a.url)
        token = first.token
        await first.close()
        done = asyncio.Event()
        readers = [
            asyncio.create_task(read(a.url, "reader-a", done)),
            asyncio.create_task(read(b.url, "reader-b", done)),
        ]
        await asyncio.gather(*[write(url, n) for n, url in enumerate([a.url, b.url] * WRITERS_PER_INSTANCE)])
        done.set()
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)

    try:
        asyncio.run(scenario())
        with sessions() as s:
            log = [
                (v, e, i)
                for v, e, i in s.execute(
                    select(ChangeRow.version, ChangeRow.entity, ChangeRow.entity_id).order_by(
                        ChangeRow.version
                    )
                )
            ]
            customers = s.scalar(select(func.count()).select_from(Customer))
        assert customers == 2 * WRITERS_PER_INSTANCE * PUSHES_PER_WRITER
        for name, changes in seen.items():
            versions = [c["version"] for c in changes]
            assert versions == sorted(set(versions)), f"{name}: a version twice or out of order"
            assert [(c["version"], c["entity"], c["entity_id"]) for c in changes] == log, (
                f"{name}: missed {sorted({v for v, _, _ in log} - set(versions))[:10]}"
            )
        assert len([e for _v, e, _i in log if e == "customers"]) == customers
    finally:
        engine.dispose()


@pytest.mark.skipif(os.name == "nt", reason="signals")
def test_instances_stop_cleanly_with_the_listener_running(pg_db, instances):
    _init(pg_db)
    inst = instances("a")
    inst.proc.send_signal(signal.SIGTERM)
    assert inst.proc.wait(timeout=30) == 0
    assert "event=stopped" in inst.log_text()
