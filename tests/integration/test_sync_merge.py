"""Two consoles and a real server over loopback: per-field three-way merge, conflict records both
CSRs see and settle with one click, tags merged as sets, a refused change undone locally and reported,
unsent edits that survive a pull, and a new console's paged initial sync with progress."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.conflicts import Conflict
from models.customers import ContactMethod, Customer, Location
from models.db import open_cache, open_server_db
from models.journal import OutboxEntry
from models.records import load_customer_record
from models.search import CustomerSearch
from models.setup import BusinessUnit, JobType
from models.writer import LocalWriter
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.changes import row_data
from sync.client import SyncClient
from sync.server import SyncServer
from sync.server_auth import AccountsAuthenticator
from tests.integration.test_sync_loopback import PASSWORD, _login, _until
from tests.unit.booking_setup import NOW, build_setup
from tests.unit.conftest import customer_args

CONSOLES = ("a", "b", "c")


@pytest.fixture
def world(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as s:
        build_setup(s)
    accounts = Accounts(sessions)
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)
    accounts.add_user("lee", "Lee Park", "csr", PASSWORD)
    caches = {name: open_cache(tmp_path / f"console-{name}.sqlite3") for name in CONSOLES}
    yield sessions, accounts, caches
    for c in caches.values():
        c.close()
    engine.dispose()


class Desk:
    """One headless console: cache, writer, sync client and what it was told."""

    def __init__(self, cache, url: str, actor: str) -> None:
        self.cache = cache
        self.writer = LocalWriter(cache.sessions, actor=actor, clock=lambda: NOW)
        self.outcomes: list = []
        self.progress: list = []
        self.client = SyncClient(
            cache,
            url,
            token=lambda: None,
            on_outcomes=self.outcomes.extend,
            on_initial=self.progress.append,
            backoff=(0.05, 0.5),
            snapshot_page=7,
        )
        self.task: asyncio.Task | None = None

    async def start(self, url: str, user: str) -> None:
        token = await _login_as(url, self.client.client_id, user)
        self.client.token = lambda: token
        self.task = asyncio.create_task(self.client.run())
        await _until(lambda: self.client.status.state == "online")

    async def stop(self) -> None:
        self.client.stop()
        await asyncio.wait_for(self.task, 10)

    def customer(self, cid: str) -> Customer:
        with self.cache.sessions() as s:
            row = s.get(Customer, cid)
            s.expunge(row)
            return row


async def _login_as(url: str, client_id: str, user: str) -> str:
    if user == "dana":
        return await _login(url, client_id)
    import json

    import websockets

    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": client_id}))
        await ws.recv()
        await ws.send(json.dumps({"type": "login", "username": user, "password": PASSWORD}))
        return json.loads(await ws.recv())["token"]


def _run(world, scenario) -> None:
    sessions, accounts, caches = world

    async def main() -> None:
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        )
        endpoint = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}"
        try:
            await scenario(url, sessions, caches)
        finally:
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()

    asyncio.run(main())


def _count(cache, model, *where) -> int:
    with cache.sessions() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_initial_sync_copies_the_server_in_pages_with_progress(world):
    async def scenario(url, sessions, caches):
        a = Desk(caches["a"], url, "Dana Reyes")
        await a.start(url, "dana")
        # The new console received the company setup by snapshot, page by page.
        assert _count(a.cache, BusinessUnit) == 3 and _count(a.cache, JobType) > 0
        assert a.progress[-1].finished and a.progress[-1].rows_done == a.progress[-1].rows_total > 0
        assert len(a.progress) > 5  # pages of 7 rows: many progress steps
        cid = a.writer.execute("create_customer", customer_args()).applied.entity_id
        a.client.wake()
        await _until(lambda: a.client.pending() == 0)
        # A third console joining later copies the customer, its location and contacts, and can find them.
        c = Desk(caches["c"], url, "Lee Park")
        await c.start(url, "lee")
        with c.cache.sessions() as s:
            record = load_customer_record(s, cid)
            assert record is not None and record.name == "Maria Garcia"
            assert (
                s.scalar(select(func.count()).select_from(Location).where(Location.customer_id == cid)) == 1
            )
        # The joined cache finds the customer by name and by phone (search documents built in bulk).
        conn = c.cache.raw_connection()
        try:
            assert cid in CustomerSearch(conn).search("Garcia").ids
            assert cid in CustomerSearch(conn).search("214-555-0134").ids
        finally:
            conn.close()
        await a.stop()
        await c.stop()

    _run(world, scenario)


def _two_phones() -> dict:
    args = customer_args()
    args["contacts"].append({"kind": "Phone", "value": "(214) 555-0199", "memo": "office"})
    return args


def test_per_field_merge_conflict_both_see_and_one_click_settles(world):
    async def scenario(url, sessions, caches):
        a, b = Desk(caches["a"], url, "Dana Reyes"), Desk(caches["b"], url, "Lee Park")
        await a.start(url, "dana")
        await b.start(url, "lee")
        created = a.writer.execute("create_customer", _two_phones())
        cid = created.applied.entity_id
        a.writer.execute("set_customer_tags", {"customer_id": cid, "tags": ["Dog"], "old_tags": []})
        a.client.wake()
        await _until(
            lambda: (
                _count(b.cache, Customer) == 1
                and b.client.pending() == 0
                and a.client.pending() == 0
                and [t.name for t in _tags(b, cid)] == ["Dog"]
            )
        )
        with b.cache.sessions() as s:
            office = s.scalar(
                select(ContactMethod.id).where(
                    ContactMethod.customer_id == cid, ContactMethod.memo == "office"
                )
            )
        await b.stop()  # B loses the network and keeps working
        a.writer.execute(
            "update_customer",
            {
                "customer_id": cid,
                "changes": {"name": ["Maria Garcia", "Maria Lopez"], "city": ["Dallas", "Plano"]},
            },
        )
        a.writer.execute(
            "set_customer_tags", {"customer_id": cid, "tags": ["Dog", "VIP"], "old_tags": ["Dog"]}
        )
        a.writer.execute("remove_contact", {"contact_id": office})
        a.client.wake()
        await _until(lambda: a.client.pending() == 0)
        # Offline, B edits the same name differently, another field, the tags, and the contact A removed.
        b.writer.execute(
            "update_customer",
            {
                "customer_id": cid,
                "changes": {"name": ["Maria Garcia", "Mary Garcia"], "street": ["12 Main St", "14 Main St"]},
            },
        )
        b.writer.execute("set_customer_tags", {"customer_id": cid, "tags": [], "old_tags": ["Dog"]})
        b.writer.execute(
            "update_contact", {"contact_id": office, "changes": {"memo": ["office", "front desk"]}}
        )
        assert b.customer(cid).name == "Mary Garcia"
        await b.start(url, "lee")
        await _until(
            lambda: (
                b.client.pending() == 0
                and a.client.pending() == 0
                and _count(a.cache, Conflict) == 1
                and _count(b.cache, Conflict) == 1
                and _count(b.cache, ContactMethod, ContactMethod.id == office) == 0
            )
        )
        for desk in (a, b):
            row = desk.customer(cid)
            # Different fields both apply; the same field keeps the stored value (theirs) …
            assert (row.name, row.city, row.street) == ("Maria Lopez", "Plano", "14 Main St")
            # … tags merge as sets: A's VIP added, B's Dog removed.
            assert [t.name for t in _tags(desk, cid)] == ["VIP"]
        # … and a conflict record both CSRs see.
        with b.cache.sessions() as s:
            conflict = s.scalar(select(Conflict))
            assert (conflict.field, conflict.mine, conflict.theirs, conflict.base) == (
                "name",
                "Mary Garcia",
                "Maria Lopez",
                "Maria Garcia",
            )
            assert (conflict.mine_by, conflict.theirs_by, conflict.status) == (
                "Lee Park",
                "Dana Reyes",
                "open",
            )
        # B's edit of the contact A removed was refused: B is told, and the contact is gone on B too.
        assert [(o.kind, o.name) for o in b.outcomes] == [("rejected", "update_contact")]
        # One click settles it for everyone: B keeps theirs… no, keeps mine.
        b.writer.execute("resolve_conflict", {"conflict_id": conflict.id, "choice": "mine"})
        b.client.wake()
        await _until(
            lambda: (
                a.customer(cid).name == "Mary Garcia"
                and _count(a.cache, Conflict, Conflict.status == "open") == 0
            )
        )
        with sessions() as s:
            assert s.get(Customer, cid).name == "Mary Garcia"
            assert s.get(Conflict, conflict.id).status == "resolved"
        await a.stop()
        await b.stop()

    _run(world, scenario)


def test_unsent_edit_stays_visible_when_a_pull_brings_the_row(world):
    async def scenario(url, sessions, caches):
        a = Desk(caches["a"], url, "Dana Reyes")
        await a.start(url, "dana")
        cid = a.writer.execute("create_customer", customer_args()).applied.entity_id
        a.client.wake()
        await _until(lambda: a.client.pending() == 0)
        await a.stop()
        with a.cache.sessions() as s:
            stale = row_data(s, s.get(Customer, cid))
        a.writer.execute(
            "update_customer", {"customer_id": cid, "changes": {"name": ["Maria Garcia", "Maria G"]}}
        )
        # A pulled change of the same row (another CSR's edit of another field) arrives first.
        a.client.puller.apply_changes(
            [{"entity": "customers", "entity_id": cid, "op": "upsert", "data": stale | {"city": "Irving"}}],
            None,
        )
        row = a.customer(cid)
        assert (row.name, row.city) == ("Maria G", "Irving")
        assert _count(a.cache, OutboxEntry) == 1

    _run(world, scenario)


def _tags(desk, cid):
    with desk.cache.sessions() as s:
        tags = sorted(s.get(Customer, cid).tags, key=lambda t: t.name)
        for t in tags:
            s.expunge(t)
        return tags


def test_foreign_console_id_and_expired_token_are_refused_without_harm(world):
    import json
    from datetime import timedelta

    import websockets

    async def scenario(url, sessions, caches):
        a = Desk(caches["a"], url, "Dana Reyes")
        await a.start(url, "dana")
        # Lee presents Dana's console id: refused (fatal for that connection only).
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": a.client.client_id}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            await ws.send(json.dumps({"type": "login", "username": "lee", "password": PASSWORD}))
            answer = json.loads(await ws.recv())
            assert answer["code"] == "foreign_client", answer
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        # A token from a server clock 13 hours later is expired here… as is any token past its 12 h.
        from models.setup import User
        from sync.auth import issue_token

        secret = token_secret(sessions)
        with sessions() as s:
            lee = s.scalar(select(User).where(User.username == "lee"))
            old = issue_token(lee, secret, timedelta(hours=12), NOW - timedelta(hours=13))
        async with websockets.connect(url) as ws:
            await ws.send(
                json.dumps({"type": "hello", "protocol": 1, "client_id": "console-of-lee", "token": old})
            )
            assert json.loads(await ws.recv())["code"] == "token_expired"
            await ws.send(json.dumps({"type": "ping"}))  # the connection lives on
            assert json.loads(await ws.recv())["type"] == "pong"
        # Dana's console never noticed: it still syncs.
        a.writer.execute("create_customer", customer_args())
        a.client.wake()
        await _until(lambda: a.client.pending() == 0)
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(Customer)) == 1
        await a.stop()

    _run(world, scenario)
