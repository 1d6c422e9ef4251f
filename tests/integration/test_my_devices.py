"""A signed-in user picks the sound devices of their own phone seat (``set_my_devices``) over a real
loopback server, SQLite and PostgreSQL: only the three device names change, only on their own seat (the
user is the session's; a message naming anyone or anything else is refused), bad names and a user with
no seat are refused with a sentence and change nothing, the change is audited, and each of the user's
consoles hears the seat (``phone_seat``) — on another server instance too (a ``seat:`` note)."""

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
from sync.requests import RequestFailed
from tests.integration import test_multi_instance as multi
from tests.integration.test_multi_instance import instances, pg_db  # noqa: F401 - fixtures
from tests.servers import role_store
from tests.unit.test_roles import PASSWORD, Console, _serve

SEAT = {"sip_address": "sip:csr1@acme.sip.example.com", "registrar": "sip:acme.sip.example.com",
        "sip_user": "csr1", "transport": "tls", "input_device": "Old mic", "output_device": "Old headset",
        "ring_device": ""}  # fmt: skip
DEVICES = {"input_device": "USB Headset: Mic (hw:1,0)", "output_device": "USB Headset (hw:1,0)",
           "ring_device": "Desk speaker"}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    with role_store(request, tmp_path) as made:
        yield made


def _devices(**fields) -> dict:
    return {"type": "set_my_devices", "id": "d1", **fields}


def _rows(sessions) -> dict[str, dict]:
    """username → the seat as stored."""
    with sessions() as s:
        rows = s.execute(select(User.username, PhoneSeat).join(PhoneSeat, PhoneSeat.user_id == User.id))
        return {name: seat.as_dict() for name, seat in rows}


def _audit(sessions) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "users").order_by(AuditEntry.id)))


async def _next_of(console: Console, kind: str, timeout: float = 10) -> dict:
    while True:
        message = json.loads(await asyncio.wait_for(console.ws.recv(), timeout))
        if message["type"] == kind:
            return message


async def _nothing_of(console: Console, kind: str, seconds: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await _next_of(console, kind, seconds)


def test_a_csr_sets_their_own_devices_and_each_of_their_consoles_hears_it(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        admin = await Console.open(url, "admin1")
        for who in ("csr1", "supervisor1"):
            seat = {**SEAT, "sip_address": f"sip:{who}@acme.sip.example.com", "sip_user": who}
            answer = await admin.ask({"type": "manage_user", "id": "s", "action": "set_seat", "username": who,
                                      **seat})  # fmt: skip
            assert answer["type"] == "user_managed", answer
        first, second = await Console.open(url, "csr1"), await Console.open(url, "csr1")
        other = await Console.open(url, "supervisor1")
        before = _rows(sessions)

        answer = await first.ask(_devices(**{k: f"  {v} " for k, v in DEVICES.items()}))
        assert answer["type"] == "my_devices_set" and answer["id"] == "d1", answer
        expected = {**before["csr1"], **DEVICES}  # trimmed; the SIP side as the admin set it
        assert answer["seat"] == expected
        for console in (first, second):  # the sender's own connection too: one phone_seat each
            assert (await _next_of(console, "phone_seat"))["seat"] == expected
        await _nothing_of(other, "phone_seat")
        assert _rows(sessions) == {**before, "csr1": expected}

        # Back to the defaults ("" each, fields left out too): the headset rings again.
        answer = await second.ask(_devices(input_device="", output_device=""))
        assert answer["seat"] == {**expected, "input_device": "", "output_device": "", "ring_device": ""}
        for console in (first, second):
            assert (await _next_of(console, "phone_seat"))["seat"] == answer["seat"]
        # The same devices again: stored as they are, nobody is told twice.
        again = await second.ask(_devices())
        assert again["type"] == "my_devices_set" and again["seat"] == answer["seat"]
        for console in (first, second):
            await _nothing_of(console, "phone_seat")
        for console in (admin, first, second, other):
            await console.ws.close()

    _serve(sessions, accounts, scenario)
    audit = [a for a in _audit(sessions) if a.action == "user_set_devices"]
    assert len(audit) == 2 and audit[0].actor == "Csr"  # the same devices again left no row
    assert audit[0].details["before"] == {"input_device": "Old mic", "output_device": "Old headset",
                                          "ring_device": ""}  # fmt: skip
    assert audit[0].details["after"] == DEVICES
    with sessions() as s:
        csr_id = s.scalar(select(User.id).where(User.username == "csr1"))
    assert audit[0].entity_id == csr_id and audit[0].details["by_user_id"] == csr_id


def test_bad_names_someone_elses_seat_or_no_seat_are_refused_and_change_nothing(store):
    sessions, accounts = store

    async def scenario(url: str) -> None:
        admin = await Console.open(url, "admin1")
        answer = await admin.ask({"type": "manage_user", "id": "s", "action": "set_seat", "username": "csr1",
                                  **SEAT})  # fmt: skip
        assert answer["type"] == "user_managed", answer
        csr = await Console.open(url, "csr1")
        stored = _rows(sessions)
        audit = len(_audit(sessions))
        for fields, sentence in (
            ({"input_device": "x" * 121}, "The microphone's name is longer than 120 characters."),
            ({"output_device": "Head\nset"}, "The headset's name has control characters in it."),
            ({"ring_device": "Bell\x07"}, "The ring device's name has control characters in it."),
            ({"ring_device": "Bell\u202e"}, "The ring device's name has control characters in it."),
        ):
            refused = await csr.ask(_devices(**fields))
            assert refused["type"] == "error" and refused["code"] == "devices_refused", refused
            assert refused["message"] == sentence and refused["details"] == {"reason": "bad_device"}
            assert refused["id"] == "d1"
        for fields in (
            {"input_device": 5},  # not text
            {"output_device": None},
            {"input_device": "x" * 1001},  # past what the protocol carries at all
            {"username": "supervisor1"},  # someone else's seat: the user is the session's
            {"user_id": "someone"},
            {"sip_address": "sip:evil@example.com"},  # the SIP side is the admin's
            {"registrar": "sip:evil.example.com"},
            {"transport": "udp"},
        ):
            refused = await csr.ask(_devices(**fields))
            assert refused["type"] == "error" and refused["code"] == "bad_message", (fields, refused)
            assert refused["id"] == "d1" and refused["message"].startswith("The message does not match")
        await _nothing_of(csr, "phone_seat")
        # Someone with no seat: told so plainly.
        manager = await Console.open(url, "manager1")
        none = await manager.ask(_devices(**DEVICES))
        assert none["code"] == "devices_refused" and none["details"] == {"reason": "no_seat"}
        assert none["message"].startswith("You have no phone seat")
        assert _rows(sessions) == stored and len(_audit(sessions)) == audit
        # Before signing in: refused, as every request.
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "protocol": 1, "client_id": uuid.uuid4().hex}))
            await ws.recv()
            await ws.send(json.dumps(_devices(**DEVICES)))
            assert json.loads(await ws.recv())["code"] == "not_authenticated"
        for console in (admin, csr, manager):
            await console.ws.close()

    _serve(sessions, accounts, scenario)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(PhoneSeat)) == 1


def test_the_console_sync_client_sends_them_and_hears_the_seat(store, tmp_path):
    """sync/client.py ``set_my_devices``: the seat as stored, the live ``phone_seat`` through ``on_seat``;
    a refusal is a RequestFailed with the server's sentence; offline, a sentence too."""
    sessions, accounts = store
    from models.db import open_cache
    from sync.client import SyncClient
    from sync.phone_seats import set_seat

    set_seat(sessions, "csr1", {**SEAT, "user": "csr1"})
    cache = open_cache(tmp_path / "console.sqlite3")
    heard: list[dict | None] = []

    async def scenario(url: str) -> None:
        client = SyncClient(cache, url, token=lambda: None, on_seat=heard.append)
        with pytest.raises(RequestFailed) as offline:
            await client.set_my_devices(DEVICES)
        assert offline.value.code == "offline" and "you're offline" in str(offline.value)
        signed = await Console.open(url, "csr1")
        token = (await signed.ask({"type": "login", "username": "csr1", "password": PASSWORD}))["token"]
        await signed.ws.close()
        client.token = lambda: token
        task = asyncio.create_task(client.run())
        try:
            await multi._until(lambda: len(heard) == 1, 10)
            assert heard[0]["input_device"] == "Old mic"
            seat = await client.set_my_devices(DEVICES)
            assert {k: seat[k] for k in DEVICES} == DEVICES and seat["sip_address"] == SEAT["sip_address"]
            await multi._until(lambda: len(heard) == 2, 10)
            assert heard[1] == seat
            with pytest.raises(RequestFailed) as refused:
                await client.set_my_devices({"input_device": "y" * 130})
            assert refused.value.code == "devices_refused"
            assert str(refused.value) == "The microphone's name is longer than 120 characters."
        finally:
            client.stop()
            await asyncio.wait_for(task, 10)

    try:
        _serve(sessions, accounts, scenario)
    finally:
        cache.close()


@pytest.mark.postgres
def test_devices_set_through_one_instance_reach_the_users_console_on_the_other(pg_db, instances):  # noqa: F811
    multi._init(pg_db)
    a, b = instances("a", poll=60), instances("b", poll=60)  # only the note can carry it
    engine, sessions = multi._sessions(pg_db)

    async def scenario() -> None:
        admin = await multi._admin(a.url)
        answer = await admin.ask(
            {"type": "manage_user", "id": "s1", "action": "set_seat", "username": "dana", **multi.SEAT}
        )
        assert answer["type"] == "user_managed", answer
        on_a = await multi.Console.open(a.url)
        on_b = await multi.Console.open(b.url, token=on_a.token)
        try:
            answer = await on_a.ask({"type": "set_my_devices", "id": "d1", **DEVICES})
            assert answer["type"] == "my_devices_set", answer
            seat = answer["seat"]
            assert {k: seat[k] for k in DEVICES} == DEVICES and seat["registrar"] == multi.SEAT["registrar"]
            on_b_heard = await multi._seat_messages(on_b, 3)
            assert [m["seat"] for m in on_b_heard] == [seat], b.log_text()
            # A's own connection: once (the local send); its own note coming back sends nothing more.
            assert [m["seat"] for m in await multi._seat_messages(on_a, 1.0)] == [seat]
        finally:
            for console in (admin, on_a, on_b):
                await console.ws.close()

    try:
        asyncio.run(scenario())
    finally:
        engine.dispose()
    with sessions() as s:
        row = s.scalars(select(PhoneSeat)).one()
        assert (row.input_device, row.output_device, row.ring_device) == tuple(DEVICES.values())
        assert row.sip_user == "dana" and row.transport == "tls"
