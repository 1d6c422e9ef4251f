"""Strict messages (issue 12, item 6): every intent's arguments have a schema; unknown arguments and
wrong JSON types are refused on the console and on the server; a refused frame's answer repeats its id;
datetimes travel as ISO 8601 UTC ending in ``Z``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
import websockets
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from models.customers import Customer
from models.handlers import HANDLERS
from models.intent_schemas import SCHEMAS, check_intent_args
from models.validation import ValidationFailed
from sync.apply import Applier
from sync.changes import apply_change
from sync.protocol import Mutation, ProtocolError, parse_client_message

from .booking_setup import NOW
from .conftest import customer_args

PASSWORD = "correct horse battery"


# -- schemas -------------------------------------------------------------------------------------------------
def test_every_registered_intent_has_a_schema():
    """A new intent without a schema fails here: its arguments would go unchecked and undocumented."""
    assert sorted(HANDLERS) == sorted(SCHEMAS)
    for name, model in SCHEMAS.items():
        assert model.model_config.get("extra") == "forbid", name
        assert model.__doc__, f"{name}: the docs need a one-line summary"
        for field, info in model.model_fields.items():
            assert info.description, f"{name}.{field} has no description"


def test_a_misspelled_argument_is_refused_with_a_suggestion(writer):
    args = customer_args()
    args["location"] = args.pop("locations")
    with pytest.raises(ValidationFailed) as err:
        writer.execute("create_customer", args)
    assert err.value.errors == {
        "location": "Unknown argument 'location' for create_customer (did you mean 'locations'?)."
    }
    assert writer.pending_count() == 0


@pytest.mark.parametrize(
    ("name", "args", "key", "sentence"),
    [
        (
            "update_customer",
            {"customer_id": 5, "changes": {"name": ["A", "B"]}},
            "customer_id",
            "'customer_id' must be text.",
        ),
        (
            "update_customer",
            {"customer_id": "c1", "changes": {"name": ["A"]}},
            "changes.name",
            "'changes.name' must be a pair [old, new].",
        ),
        (
            "book_job",
            {"job": {"summry": "Warm air"}, "appointment": {}},
            "job.summry",
            "Unknown argument 'job.summry' for book_job (did you mean 'summary'?).",
        ),
        (
            "book_job",
            {"job": {"line_items": [{"code": "DIAG", "quantity": "2"}]}},
            "job.line_items.0.quantity",
            "'job.line_items.0.quantity' must be a number.",
        ),
        (
            "add_contact",
            {"contact": {"kind": "Phone", "value": "2145550100", "notifications": "yes"}},
            "contact.notifications",
            "'contact.notifications' must be true or false.",
        ),
        (
            "cancel_job",
            {"job_id": "j1", "reason": "x", "why": "y"},
            "why",
            "Unknown argument 'why' for cancel_job.",
        ),
        ("create_customer", {"customer": "Maria"}, "customer", "'customer' must be an object."),
        (
            "create_customer",
            {"customer": {"street": 12}},
            "customer.street",
            "'customer.street' must be text.",
        ),
        (
            "update_location",
            {"location_id": "l", "changes": {"zip": "75201"}},
            "changes.zip",
            "'changes.zip' must be a pair [old, new].",
        ),
    ],
)
def test_wrong_types_and_unknown_fields_are_sentences(name, args, key, sentence):
    with pytest.raises(ValidationFailed) as err:
        check_intent_args(name, args)
    assert err.value.errors[key] == sentence


def test_what_the_console_sends_still_passes():
    check_intent_args(
        "create_customer", {**customer_args(email="m@example.com"), "tags": ["VIP"], "note": "Hi"}
    )
    check_intent_args(
        "book_job",
        {
            "job": {
                "customer_id": "c",
                "location_id": "l",
                "business_unit_id": "b",
                "job_type_id": "t",
                "campaign_id": "k",
                "priority": "High",
                "summary": "s",
                "tags": [],
                "technician_ids": [],
                "line_items": [{"code": "DIAG", "quantity": 1, "price": 89.5}],
                "booked_from": "Call",
                "lead_id": "x",
            },
            "appointment": {"day": "2026-12-01", "arrival_window_id": "w"},
            "booked_at": NOW.isoformat(),
            "call_id": "call",
        },
    )
    check_intent_args("update_location", {"location_id": "l", "changes": {"latitude": [None, 32.7]}})
    check_intent_args(
        "close_call",
        {
            "call_id": "c",
            "call_reason_id": None,
            "lead": {"summary": "", "follow_up_on": None, "created_by_id": "u"},
        },
    )


def test_the_server_refuses_an_unknown_argument_as_a_receipt(cache, writer, tmp_path):
    from models.db import open_cache

    server = open_cache(tmp_path / "server.sqlite3")
    try:
        applier = Applier(server.sessions, clock=lambda: NOW)
        args = customer_args()
        args["location"] = args.pop("locations")
        result = applier.push(
            "console-1", "user-1", [Mutation(seq=1, mutation_id="m1", name="create_customer", args=args)]
        )
        receipt = result.receipts[0]
        assert receipt.status == "rejected" and "did you mean 'locations'" in receipt.errors["location"]
        with server.sessions() as s:
            assert s.scalar(select(Customer.id)) is None
    finally:
        server.close()


# -- the wire ------------------------------------------------------------------------------------------------
def test_a_string_where_a_number_belongs_is_refused_and_the_id_repeated():
    frame = json.dumps({"type": "hello", "id": "h-7", "protocol": "1", "client_id": "c1"})
    with pytest.raises(ProtocolError) as err:
        parse_client_message(frame)
    answer = err.value.to_message()
    assert (answer.code, answer.id) == ("bad_message", "h-7")
    assert "hello.protocol" in answer.details["problems"][0]
    for frame in (
        {"type": "hello", "protocol": 1, "client_id": "c", "agent_state": 1},
        {"type": "pull", "cursor": "5"},
        {"type": "push", "mutations": [{"seq": "1", "mutation_id": "m", "name": "add_note", "args": {}}]},
    ):
        with pytest.raises(ProtocolError):
            parse_client_message(json.dumps(frame))
    assert parse_client_message(json.dumps({"type": "pull", "id": "p", "cursor": 5})).cursor == 5


def test_a_console_reads_z_times_back_as_stored_utc(cache):
    """Pulled rows carry "…Z"; the cache keeps UTC, naive, like every datetime SQLite hands back."""
    cid = "01a2476751287fdfa3b0f6fae7b6ed79"
    with cache.sessions.begin() as s:
        apply_change(
            s,
            "customers",
            cid,
            "upsert",
            {
                "id": cid,
                "name": "Maria",
                "type": "Residential",
                "created_at": "2026-12-05T18:07:57.123456Z",
                "updated_at": "2026-12-05T18:07:57Z",
            },
        )
    with cache.sessions() as s:
        row = s.get(Customer, cid)
        assert row.created_at == dt.datetime(2026, 12, 5, 18, 7, 57, 123456)
        assert row.updated_at == dt.datetime(2026, 12, 5, 18, 7, 57)


# -- through a real server ---------------------------------------------------------------------------------------
@pytest.fixture
def endpoint(tmp_path, postal_list):
    from models.db import open_server_db
    from sync.auth import Accounts, token_secret
    from sync.server import SyncServer
    from sync.server_auth import AccountsAuthenticator

    engine = open_server_db(str(tmp_path / "server.sqlite3"))
    sessions = sessionmaker(engine, expire_on_commit=False)
    accounts = Accounts(sessions)
    accounts.add_user("dana", "Dana Reyes", "csr", PASSWORD)

    def make() -> SyncServer:
        return SyncServer(
            Applier(sessions, clock=lambda: NOW),
            AccountsAuthenticator(accounts, token_secret(sessions), clock=lambda: NOW),
        )

    yield make
    engine.dispose()


def _run(make, talk):
    async def scenario():
        server = make()
        ws_server = await server.serve("127.0.0.1", 0)
        url = f"ws://127.0.0.1:{ws_server.sockets[0].getsockname()[1]}"
        try:
            async with websockets.connect(url) as ws:

                async def ask(message: dict) -> dict:
                    await ws.send(json.dumps(message))
                    while True:
                        answer = json.loads(await ws.recv())
                        if answer["type"] not in ("poke", "live_calls", "agent_state"):
                            return answer

                return await talk(ask)
        finally:
            ws_server.close()
            await ws_server.wait_closed()
            await server.aclose()

    return asyncio.run(scenario())


async def _signed_in(ask) -> dict:
    hello = await ask({"type": "hello", "id": "h2", "protocol": 1, "client_id": "console-z"})
    assert hello["type"] == "welcome"
    login = await ask({"type": "login", "id": "l1", "username": "dana", "password": PASSWORD})
    assert login["type"] == "logged_in", login
    return login


def test_through_a_server_a_wrong_type_is_bad_message_with_the_id_repeated(endpoint):
    async def talk(ask):
        return await ask({"type": "hello", "id": "h1", "protocol": "1", "client_id": "console-z"})

    bad = _run(endpoint, talk)
    assert (bad["type"], bad["code"], bad["id"]) == ("error", "bad_message", "h1")
    assert bad["details"]["problems"] == ["hello.protocol: Input should be a valid integer"]


def test_through_a_server_an_unknown_argument_is_a_rejected_receipt(endpoint):
    async def talk(ask):
        await _signed_in(ask)
        args = customer_args()
        args["location"] = args.pop("locations")
        return await ask(
            {
                "type": "push",
                "id": "p1",
                "mutations": [{"seq": 1, "mutation_id": "m1", "name": "create_customer", "args": args}],
            }
        )

    typo = _run(endpoint, talk)
    receipt = typo["receipts"][0]
    assert (typo["id"], receipt["mutation_id"], receipt["status"]) == ("p1", "m1", "rejected")
    assert receipt["errors"] == {
        "location": "Unknown argument 'location' for create_customer (did you mean 'locations'?)."
    }


def test_through_a_server_times_end_in_z(endpoint):
    async def talk(ask):
        login = await _signed_in(ask)
        good = await ask(
            {
                "type": "push",
                "id": "p2",
                "mutations": [
                    {"seq": 1, "mutation_id": "m2", "name": "create_customer", "args": customer_args()}
                ],
            }
        )
        assert good["receipts"][0]["status"] == "applied", good
        pulled = await ask({"type": "pull", "id": "q1", "cursor": 0})
        page = await ask({"type": "snapshot", "id": "s1", "table": "customers"})
        return login, pulled, page

    login, pulled, page = _run(endpoint, talk)
    assert login["expires_at"].endswith("Z")
    customers = [c["data"] for c in pulled["changes"] if c["entity"] == "customers"]
    assert customers and customers[0]["created_at"].endswith("Z") and customers[0]["updated_at"].endswith("Z")
    dt.datetime.fromisoformat(customers[0]["created_at"])
    created = page["columns"].index("created_at")
    assert page["rows"] and all(row[created].endswith("Z") for row in page["rows"])
