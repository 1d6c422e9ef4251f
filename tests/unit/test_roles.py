"""Roles are checked on every message and on every pushed intent: a CSR can't push a setup change,
a manager can; a CSR can't push a call review edit, a supervisor can; the supervisors' feed name is
reserved for supervisors and up. Over a real loopback server (sync/server.py + sync/server_auth.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import pytest
import websockets
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from models.availability import AVAILABILITY_INTENTS
from models.call_review import REVIEW_INTENTS, REVIEW_ROLES
from models.call_store import record_events
from models.calls import Call, CallClass, CallEventKind, NeutralEvent
from models.customers import Customer
from models.db import open_server_db
from models.merge import MERGE_INTENTS
from models.setup_edit import SETUP_EDIT_INTENTS
from models.sync_tables import ReceiptRow
from sync.apply import Applier
from sync.auth import Accounts, token_secret
from sync.server import SyncServer
from sync.server_auth import (
    ROLE_MESSAGES,
    SETUP_INTENTS,
    SUPERVISORS,
    AccountsAuthenticator,
    intent_roles,
    message_allowed,
    mutation_allowed,
    scorecard_allowed,
)
from tests.unit.booking_setup import NOW
from tests.unit.conftest import customer_args

PASSWORD = "correct horse battery"
ROLES = ("csr", "supervisor", "manager", "admin")


def _user(role: str) -> dict:
    return {"id": "u", "username": role, "display_name": role, "role": role}


def test_every_role_may_push_pull_and_ping():
    for role in ROLES:
        for kind in ("push", "pull", "ping"):
            assert message_allowed(_user(role), kind), (role, kind)
        assert {"push", "pull", "ping"} <= ROLE_MESSAGES[role]


def test_floor_feed_is_for_supervisors_and_up():
    assert not message_allowed(_user("csr"), "subscribe_floor")
    for role in ("supervisor", "manager", "admin"):
        assert message_allowed(_user(role), "subscribe_floor")


def test_floor_messages_and_scorecards_by_role():
    for role in ROLES:
        assert message_allowed(_user(role), "set_agent_state") and message_allowed(_user(role), "scorecard")
    for kind in ("close_stale_call", "unsubscribe_floor"):
        assert not message_allowed(_user("csr"), kind)
        for role in ("supervisor", "manager", "admin"):
            assert message_allowed(_user(role), kind)


def test_a_csr_may_ask_only_for_their_own_scorecard():
    csr = _user("csr")
    assert scorecard_allowed(csr, "u")
    assert not scorecard_allowed(csr, "someone-else") and not scorecard_allowed(csr, None)
    for role in ("supervisor", "manager", "admin"):
        assert scorecard_allowed(_user(role), None) and scorecard_allowed(_user(role), "someone-else")


def test_unknown_roles_and_message_types_are_refused():
    assert not message_allowed(_user("csr"), "drop_tables")
    assert not message_allowed({"role": "intern"}, "pull")
    assert not message_allowed(None, "pull")
    assert not mutation_allowed({"role": "intern"}, "create_customer")
    assert not mutation_allowed(None, "create_customer")


def test_setup_intents_need_a_manager_or_admin():
    assert "import_setup" in SETUP_INTENTS
    for name in ("import_setup", "upsert_business_unit", "setup_anything_new"):
        assert not mutation_allowed(_user("csr"), name)
        assert not mutation_allowed(_user("supervisor"), name)
        assert mutation_allowed(_user("manager"), name)
        assert mutation_allowed(_user("admin"), name)


def test_every_registered_intent_but_call_review_is_for_every_role():
    # Every other handler is CSR work (customers, leads, bookings, closing a call); none writes the
    # company setup.
    from models.handlers import HANDLERS

    assert HANDLERS and REVIEW_INTENTS <= set(HANDLERS)
    for name in set(HANDLERS) - REVIEW_INTENTS - MERGE_INTENTS - SETUP_EDIT_INTENTS - AVAILABILITY_INTENTS:
        assert not name.startswith("setup_") and name not in SETUP_INTENTS, name
        for role in ROLES:
            assert mutation_allowed(_user(role), name), (role, name)


def test_setup_edits_need_a_manager_or_admin():
    # models/setup_edit.py's intents are "setup_" intents: the server's rule covers them by their name.
    assert SETUP_EDIT_INTENTS == {"setup_save", "setup_retire", "setup_delete"}
    for name in SETUP_EDIT_INTENTS:
        for role in ("csr", "supervisor"):
            assert not mutation_allowed(_user(role), name), (role, name)
        for role in ("manager", "admin"):
            assert mutation_allowed(_user(role), name), (role, name)


def test_merging_customers_needs_a_manager_or_admin():
    assert MERGE_INTENTS == {"merge_customers", "undo_merge"}
    for name in MERGE_INTENTS:
        for role in ("csr", "supervisor"):
            assert not mutation_allowed(_user(role), name), (role, name)
        for role in ("manager", "admin"):
            assert mutation_allowed(_user(role), name), (role, name)


def test_availability_changes_need_a_manager_or_admin():
    assert AVAILABILITY_INTENTS == {
        "add_time_off",
        "add_holiday",
        "adjust_capacity",
        "remove_availability_entry",
    }
    from models.handlers import HANDLERS

    assert AVAILABILITY_INTENTS <= set(HANDLERS)
    for name in AVAILABILITY_INTENTS:
        for role in ("csr", "supervisor"):
            assert not mutation_allowed(_user(role), name), (role, name)
        for role in ("manager", "admin"):
            assert mutation_allowed(_user(role), name), (role, name)


def test_call_review_intents_need_a_supervisor_or_up():
    assert REVIEW_INTENTS == {"attach_agent", "reclassify_call", "excuse_call", "unexcuse_call", "tag_call"}
    assert REVIEW_ROLES == SUPERVISORS
    for name in REVIEW_INTENTS:
        assert intent_roles(name) == SUPERVISORS
        assert not mutation_allowed(_user("csr"), name)
        assert not mutation_allowed({"role": "intern"}, name) and not mutation_allowed(None, name)
        for role in ("supervisor", "manager", "admin"):
            assert mutation_allowed(_user(role), name), (role, name)
    assert mutation_allowed(_user("csr"), "close_call")  # the CSR's own close and classify


# -- over a real endpoint ------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    accounts = Accounts(sessions)
    for role in ROLES:
        accounts.add_user(f"{role}1", role.title(), role, PASSWORD)
    yield sessions, accounts
    engine.dispose()


class Console:
    """A bare websocket console: hello, log-in, then requests answered in order."""

    def __init__(self, ws, client_id: str) -> None:
        self.ws, self.client_id, self.seq = ws, client_id, 0

    @classmethod
    async def open(cls, url: str, username: str) -> Console:
        ws = await websockets.connect(url)
        console = cls(ws, uuid.uuid4().hex)
        assert (await console.ask({"type": "hello", "protocol": 1, "client_id": console.client_id}))[
            "type"
        ] == "welcome"
        answer = await console.ask({"type": "login", "username": username, "password": PASSWORD})
        assert answer["type"] == "logged_in", answer
        return console

    async def ask(self, message: dict) -> dict:
        await self.ws.send(json.dumps(message))
        while True:
            answer = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if answer["type"] != "poke":
                return answer

    async def push(self, name: str, args: dict, seq: int | None = None) -> dict:
        return await self.ask(
            {
                "type": "push",
                "mutations": [
                    {"seq": seq or self.seq + 1, "mutation_id": uuid.uuid4().hex, "name": name, "args": args}
                ],
            }
        )


def _serve(sessions, accounts, scenario) -> None:
    async def main() -> None:
        server = SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        )
        endpoint = await server.serve("127.0.0.1", 0)
        try:
            await scenario(f"ws://127.0.0.1:{endpoint.sockets[0].getsockname()[1]}")
        finally:
            endpoint.close()
            await endpoint.wait_closed()
            await server.aclose()

    asyncio.run(main())


def _count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_csr_setup_intent_is_a_rejected_receipt_and_changes_nothing(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        csr = await Console.open(url, "csr1")
        answer = await csr.ask(
            {
                "type": "push",
                "mutations": [
                    {"seq": 1, "mutation_id": uuid.uuid4().hex, "name": "import_setup", "args": {}},
                    {
                        "seq": 2,
                        "mutation_id": uuid.uuid4().hex,
                        "name": "create_customer",
                        "args": customer_args(),
                    },
                ],
            }
        )
        # Refused for the role, as a receipt: the sequence advances, so the console's queue never
        # blocks on it (sync rule 3), and the CSR's ordinary work in the same push goes through.
        assert answer["type"] == "receipts", answer
        refused, ok = answer["receipts"]
        assert refused["status"] == "rejected" and "role" in refused["errors"]
        assert ok["status"] == "applied"
        assert (await csr.ask({"type": "ping"}))["type"] == "pong"
        pulled = await csr.ask({"type": "pull", "cursor": 0, "limit": 100})
        assert pulled["type"] == "changes" and any(c["entity"] == "customers" for c in pulled["changes"])
        await csr.ws.close()

    _serve(sessions, accounts, scenario)
    assert _count(sessions, Customer) == 1


def test_a_supervisor_is_refused_a_setup_intent_too(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        sup = await Console.open(url, "supervisor1")
        answer = await sup.push("upsert_business_unit", {"name": "Plumbing"})
        assert answer["receipts"][0]["status"] == "rejected", answer
        assert "role" in answer["receipts"][0]["errors"]
        await sup.ws.close()

    _serve(sessions, accounts, scenario)


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_a_manager_or_admin_may_push_a_setup_intent(store, role):
    # No setup intent has a handler yet, so it is answered like any unknown action — with a rejected
    # receipt that advances the sequence — but it is not refused for the role.
    sessions, accounts = store

    async def scenario(url: str) -> None:
        boss = await Console.open(url, f"{role}1")
        answer = await boss.push("import_setup", {})
        assert answer["type"] == "receipts", answer
        assert answer["receipts"][0]["status"] == "rejected" and "intent" in answer["receipts"][0]["errors"]
        await boss.ws.close()

    _serve(sessions, accounts, scenario)
    assert _count(sessions, ReceiptRow) == 1


def test_roles_apply_to_a_token_session_as_well(store):
    # A console that reconnects with its token (no log-in message) is held to the same rules.
    sessions, accounts = store

    async def scenario(url: str) -> None:
        first = await Console.open(url, "csr1")
        await first.ws.send(json.dumps({"type": "login", "username": "csr1", "password": PASSWORD}))
        token = json.loads(await first.ws.recv())["token"]
        await first.ws.close()
        async with websockets.connect(url) as ws:
            await ws.send(
                json.dumps({"type": "hello", "protocol": 1, "client_id": first.client_id, "token": token})
            )
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome" and welcome["user"]["role"] == "csr"
            again = Console(ws, first.client_id)
            refused = (await again.push("set_capacity", {}))["receipts"][0]
            assert refused["status"] == "rejected" and "role" in refused["errors"]
            assert (await again.push("create_customer", customer_args(), seq=2))["type"] == "receipts"

    _serve(sessions, accounts, scenario)


def _ended_call(sessions) -> str:
    """An Abandoned call in the server's store: rang 30 s, the caller hung up."""
    events = [
        NeutralEvent(
            "twilio",
            "CA-review",
            f"CA-review:{kind}",
            kind,
            NOW + timedelta(seconds=s),
            from_number="+12145550101",
            to_number="+12145550100",
            end_reason=reason,
        )
        for kind, s, reason in ((CallEventKind.OFFERED, 0, ""), (CallEventKind.ENDED, 30, "caller-hangup"))
    ]
    with sessions.begin() as s:
        return record_events(s, events).calls[0].id


def test_a_csrs_call_review_push_is_a_rejected_receipt_and_a_supervisors_is_applied(store):
    sessions, accounts = store
    call_id = _ended_call(sessions)

    async def scenario(url: str) -> None:
        csr = await Console.open(url, "csr1")
        answer = await csr.push("excuse_call", {"call_id": call_id, "memo": "Not a customer"})
        refused = answer["receipts"][0]
        assert refused["status"] == "rejected" and refused["errors"] == {
            "role": "Your role may not make this change."
        }
        sup = await Console.open(url, "supervisor1")
        answer = await sup.push("excuse_call", {"call_id": call_id, "memo": "Not a customer"})
        assert answer["receipts"][0]["status"] == "applied", answer
        pulled = await sup.ask({"type": "pull", "cursor": 0, "limit": 100})
        assert any(c["entity"] == "calls" and c["data"]["excused"] for c in pulled["changes"])
        await csr.ws.close()
        await sup.ws.close()

    _serve(sessions, accounts, scenario)
    with sessions() as s:
        call = s.get(Call, call_id)
        assert call.excused and call.classification is CallClass.EXCUSED
        assert call.excuse_memo == "Not a customer"
