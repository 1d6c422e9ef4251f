"""The "online booking received" message: a request stored through the real Web Scheduler (real HTTP,
SQLite and PostgreSQL) queues one message to the requester in the same transaction — a text with
consent to a number that can take it, else an email — and a sender delivers it to the Messages API
stand-in exactly once (docs/notifications.md)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import requests
from sqlalchemy import select

from models.customers import ContactKind, ContactMethod, Customer, Location
from models.jobs import OnlineBooking
from models.notifications import Channel, NoticeKind, NoticeStatus, Notification
from models.notify_online import queue_online_booking_received, textable
from models.setup import CompanySetting
from models.sync_tables import ChangeRow
from sync.notify_sender import NotifySender
from tests.web_setup import WEDNESDAY, RunningScheduler, build_store, fresh_postgres

from .test_web_scheduler import CONTACT, _details, _submit

pytestmark = pytest.mark.timeout(120)
NOTIFY = {
    "enabled": True,
    "company_phone": "(972) 555-0100",
    "quiet_hours": {},
    "templates": {
        "online_booking": {"sms": "{company}: got your request, {customer}: {window}. {company_phone}"}
    },
}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        yield build_store(str(tmp_path / "server.sqlite3"))
        return
    gen = fresh_postgres(request.getfixturevalue("postgres_url"))
    try:
        yield build_store(next(gen))
    finally:
        gen.close()


@pytest.fixture
def web(store):
    with store.sessions.begin() as s:
        s.merge(CompanySetting(key="notifications", value=NOTIFY))
    with RunningScheduler(store) as running:
        yield running


def _request(web, store, slot: str | None = None, **contact) -> OnlineBooking:
    http = requests.Session()
    _, fields = _details(web, http, store, slot=slot)
    store.clock.advance(20)
    done = _submit(web, http, fields, **contact)
    assert done.status_code == 200, done.text[:500]
    with store.sessions() as s:
        return s.scalars(select(OnlineBooking).order_by(OnlineBooking.created_at.desc())).first()


def _messages(store, request_id: str) -> list[Notification]:
    with store.sessions() as s:
        return list(
            s.scalars(
                select(Notification).where(Notification.key.startswith(f"online_booking:{request_id}:"))
            )
        )


def test_a_request_with_text_consent_is_answered_by_one_text_in_the_same_transaction(web, store):
    request = _request(web, store, sms_consent="1")
    [msg] = _messages(store, request.id)
    assert (msg.kind, msg.channel, msg.to_address, msg.status) == (
        NoticeKind.ONLINE_BOOKING,
        Channel.SMS,
        "+12145550142",
        NoticeStatus.PENDING,
    )
    # The company's template, the window asked for in the requester's local time (Dallas).
    assert msg.body.endswith(
        ": got your request, Maria Lopez: Wed Dec 2 between 8 AM and 12 PM. (972) 555-0100"
    )
    with store.sessions() as s:  # consoles see it (the customer's Texts tab) through the change log
        assert s.scalar(select(ChangeRow.version).where(ChangeRow.entity_id == msg.id)) is not None
    with store.sessions.begin() as s:  # queued once per request, however often asked
        assert queue_online_booking_received(s, request.id, store.clock()) is None
    assert len(_messages(store, request.id)) == 1


def test_without_text_consent_or_with_a_number_that_cannot_take_texts_it_goes_by_email(web, store):
    request = _request(web, store)  # no consent
    [msg] = _messages(store, request.id)
    assert (msg.channel, msg.to_address) == (Channel.EMAIL, CONTACT["email"])
    assert "received your request" in msg.body and msg.subject.startswith("We received your request")
    assert not textable("+18005550100")  # toll-free: no texts
    assert textable("+12145550142")


def test_an_opted_out_number_gets_an_email_and_a_do_not_service_match_gets_nothing(web, store):
    with store.sessions.begin() as s:
        c = Customer(name="Maria Lopez")
        s.add(c)
        s.flush()
        s.add(
            ContactMethod(customer_id=c.id, kind=ContactKind.MOBILE, value="+12145550142", do_not_text=True)
        )
    request = _request(web, store, sms_consent="1")
    assert [(m.channel, m.to_address) for m in _messages(store, request.id)] == [
        (Channel.EMAIL, CONTACT["email"])
    ]
    with store.sessions.begin() as s:
        barred = Customer(name="Barred Person", do_not_service=True, do_not_service_reason="Unpaid")
        s.add(barred)
        s.flush()
        s.add(ContactMethod(customer_id=barred.id, kind=ContactKind.MOBILE, value="+12145550188"))
        s.add(Location(customer_id=barred.id, street="9 Oak St", city="Dallas", state="TX", zip="75201"))
    other_window = f"{WEDNESDAY.isoformat()}|{store.ids.w12_4}"
    refused = _request(web, store, slot=other_window, phone="(214) 555-0188", sms_consent="1")
    assert refused.customer_match == "do_not_service" and _messages(store, refused.id) == []


def test_notifications_off_queue_nothing(store):
    with RunningScheduler(store) as web:
        request = _request(web, store, sms_consent="1")
    assert _messages(store, request.id) == []


def test_the_text_reaches_the_stand_in_once(web, store):
    from bench.notify_rig import start_rig

    request = _request(web, store, sms_consent="1")

    async def send() -> list:
        rig = await start_rig(store.sessions)
        try:
            sender = NotifySender(store.sessions, sms=rig.sms())
            async with aiohttp.ClientSession() as http:
                sender._http = http
                await sender.drain_once()
                await sender.drain_once()  # nothing left: never twice
            return [m for m in rig.sim.messages if m.to == "+12145550142"]
        finally:
            await rig.close()

    sent = asyncio.run(send())
    assert len(sent) == 1 and "got your request" in sent[0].body
    [msg] = _messages(store, request.id)
    assert msg.provider_id == sent[0].sid and msg.sent_at is not None
