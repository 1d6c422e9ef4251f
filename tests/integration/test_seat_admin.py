"""Phone seats assigned by an admin over a real loopback server (``manage_user`` ``set_seat`` /
``clear_seat``, ``list_phone_seats``): through the same functions as `csr-server phone-seat`
(sync/phone_seats.py), admins only, audited (the seat before/after), bad input refused with a sentence
and nothing changed; the user's connected console gets its new seat at once (``phone_seat``), and the
next sign-in and welcome carry it."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from sqlalchemy import func, select

from models.journal import AuditEntry
from models.phone_seats import PhoneSeat
from models.setup import User
from tests.servers import role_store
from tests.unit.test_roles import PASSWORD, Console, _serve

SEAT = {"sip_address": "sip:csr1@acme.sip.example.com", "registrar": "sip:acme.sip.example.com",
        "sip_user": "csr1", "transport": "tls"}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with role_store(request, tmp_path) as made:
        yield made


def _seat(action: str, username: str, **extra) -> dict:
    return {"type": "manage_user", "id": "s1", "action": action, "username": username, **extra}


def _seats(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(PhoneSeat))


async def _next_of(console: Console, kind: str) -> dict:
    """The next message of ``kind`` on a console's connection (pokes and live calls skipped)."""
    while True:
        message = json.loads(await asyncio.wait_for(console.ws.recv(), 10))
        if message["type"] == kind:
            return message


def test_only_an_admin_may_assign_or_list_seats(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        for role in ("csr", "supervisor", "manager"):
            who = await Console.open(url, f"{role}1")
            answer = await who.ask(_seat("set_seat", f"{role}1", **SEAT))
            assert answer["type"] == "error" and answer["code"] == "forbidden" and answer["id"] == "s1"
            assert answer["message"] == "Your role may not do that."
            listed = await who.ask({"type": "list_phone_seats", "id": "l1"})
            assert listed["code"] == "forbidden"
            await who.ws.close()

    _serve(sessions, accounts, scenario)
    assert _seats(sessions) == 0
    with sessions() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.entity == "users")).all() == []


def test_admin_assigns_and_clears_a_seat_and_the_users_console_hears_it(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        admin = await Console.open(url, "admin1")
        csr = await Console.open(url, "csr1")  # signed in: the seat reaches this connection live
        assert (await admin.ask({"type": "list_phone_seats", "id": "l0"}))["seats"] == {}
        # Bad input: refused with the sentence, nothing stored, the connection lives on.
        for bad, sentence in (
            (
                {**SEAT, "registrar": "acme.sip.example.com"},
                "The registrar “acme.sip.example.com” is not a SIP",
            ),
            ({**SEAT, "sip_user": "  "}, "The seat needs a SIP user name."),
            ({**SEAT, "transport": "ws"}, "The transport “ws” is not one of UDP, TCP or TLS."),
        ):
            answer = await admin.ask(_seat("set_seat", "csr1", **bad))
            assert answer["code"] == "user_refused" and sentence in answer["message"], answer
            assert answer["details"]["reason"] == "seat_refused"
        unknown = await admin.ask(_seat("set_seat", "nobody", **SEAT))
        assert unknown["code"] == "user_refused" and "no user named nobody" in unknown["message"]
        empty = await admin.ask(_seat("set_seat", "", **SEAT))
        assert empty["code"] == "bad_message" and empty["id"] == "s1"
        none = await admin.ask(_seat("clear_seat", "csr1"))
        assert none["code"] == "user_refused" and none["message"] == "Csr has no phone seat."
        assert _seats(sessions) == 0

        answer = await admin.ask(_seat("set_seat", "csr1", **SEAT))
        assert answer["type"] == "user_managed" and answer["action"] == "set_seat", answer
        stored = {"sip_address": SEAT["sip_address"], "registrar": SEAT["registrar"], "proxy": "",
                  "user": "csr1", "transport": "tls", "input_device": "", "output_device": "",
                  "ring_device": ""}  # fmt: skip
        assert answer["user"]["username"] == "csr1" and answer["user"]["phone_seat"] == stored
        live = await _next_of(csr, "phone_seat")
        assert live == {"type": "phone_seat", "seat": stored}
        csr_id = answer["user"]["id"]
        assert (await admin.ask({"type": "list_phone_seats", "id": "l1"}))["seats"] == {csr_id: stored}
        # A new connection of the CSR: the welcome carries the seat (a seat changed while away).
        token = (await csr.ask({"type": "login", "username": "csr1", "password": PASSWORD}))["token"]
        async with websockets.connect(url) as ws:
            hello = {"type": "hello", "protocol": 1, "client_id": uuid.uuid4().hex, "token": token}
            await ws.send(json.dumps(hello))
            welcome = json.loads(await ws.recv())
            assert welcome["type"] == "welcome" and welcome["user"]["phone_seat"] == stored

        cleared = await admin.ask(_seat("clear_seat", "csr1"))
        assert cleared["type"] == "user_managed" and cleared["user"].get("phone_seat") is None
        assert (await _next_of(csr, "phone_seat")).get("seat") is None
        assert (await admin.ask({"type": "list_phone_seats", "id": "l2"}))["seats"] == {}

    _serve(sessions, accounts, scenario)
    assert _seats(sessions) == 0
    with sessions() as s:
        csr_id = s.scalar(select(User.id).where(User.username == "csr1"))
        audit = s.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == csr_id).order_by(AuditEntry.id)
        ).all()
    # Refusals left no trace; the two changes did, with the seat before and after.
    assert [a.action for a in audit] == ["user_set_seat", "user_clear_seat"]
    assert audit[0].details["before"] == {"phone_seat": None}
    assert audit[0].details["after"]["phone_seat"]["registrar"] == SEAT["registrar"]
    assert audit[1].details["after"] == {"phone_seat": None} and audit[0].actor == "Admin"
    assert PASSWORD not in json.dumps([a.details for a in audit])


def test_the_cli_shows_and_clears_what_an_admin_set_over_the_protocol(store, capsys):
    """`csr-server phone-seat show|clear` and ``manage_user`` go through the same seat functions."""
    sessions, accounts = store
    from sync.server_cli import main as server_main

    async def scenario(url: str) -> None:
        admin = await Console.open(url, "admin1")
        answer = await admin.ask(_seat("set_seat", "manager1", **{**SEAT, "transport": "TCP", "proxy": " "}))
        assert answer["user"]["phone_seat"]["transport"] == "tcp"  # cleaned as the CLI cleans it

    _serve(sessions, accounts, scenario)
    db = sessions.kw["bind"].url.render_as_string(hide_password=False)
    capsys.readouterr()
    assert server_main(["--db", db, "phone-seat", "show", "manager1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (
        shown["sip_address"] == SEAT["sip_address"] and shown["transport"] == "tcp" and shown["proxy"] == ""
    )
    assert server_main(["--db", db, "phone-seat", "clear", "manager1"]) == 0
    assert _seats(sessions) == 0


def test_the_console_sync_client_hands_on_the_seat_at_welcome_and_live(store, tmp_path):
    """sync/client.py ``on_seat``: a seat set with the CLI's function while the console was away comes in
    the welcome; an admin's clear comes live."""
    sessions, accounts = store
    from models.db import open_cache
    from sync.client import SyncClient
    from sync.phone_seats import set_seat

    set_seat(sessions, "csr1", {**SEAT, "user": "csr1"})  # `csr-server phone-seat set`, before it connects
    cache = open_cache(tmp_path / "console.sqlite3")
    heard: list[dict | None] = []

    async def scenario(url: str) -> None:
        client = SyncClient(cache, url, token=lambda: None, on_seat=heard.append)
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": client.client_id}))
            await ws.recv()
            await ws.send(json.dumps({"type": "login", "username": "csr1", "password": PASSWORD}))
            token = json.loads(await ws.recv())["token"]
        client.token = lambda: token
        task = asyncio.create_task(client.run())
        try:
            for _ in range(500):
                if heard:
                    break
                await asyncio.sleep(0.02)
            assert heard and heard[0]["sip_address"] == SEAT["sip_address"] and heard[0]["user"] == "csr1"
            admin = await Console.open(url, "admin1")
            assert (await admin.ask(_seat("clear_seat", "csr1")))["type"] == "user_managed"
            for _ in range(500):
                if len(heard) == 2:
                    break
                await asyncio.sleep(0.02)
            assert heard[1:] == [None]
        finally:
            client.stop()
            await asyncio.wait_for(task, 10)

    try:
        _serve(sessions, accounts, scenario)
    finally:
        cache.close()
