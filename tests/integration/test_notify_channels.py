"""The sender over real channels: the Messages API stand-in over real HTTP with real signed status and
inbound webhooks into the server's ingress, and a real SMTP server (aiosmtpd, STARTTLS and AUTH)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from datetime import timedelta
from email import message_from_bytes, policy

import aiohttp
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bench.notify_rig import COMPANY_NUMBER, TOKEN, start_rig
from models.customers import ContactMethod
from models.jobs import Appointment
from models.journal import AuditEntry
from models.notifications import Channel, InboundKind, InboundMessage, NoticeKind, NoticeStatus, Notification
from models.timeutil import as_utc
from sync.messaging import SmtpEmail
from sync.msgsim import Behaviour
from sync.notify_sender import NotifySender
from sync.notify_webhooks import INBOUND_PATH, STATUS_PATH
from tests.unit.booking_setup import NOW
from tests.unit.notify_setup import NOTIFY, make_store

CUSTOMER = "+12145550134"


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("bounce"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp():
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    inbox = Inbox()

    def check(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"notify" and auth_data.password == b"s3cret"
        return AuthResult(success=ok)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=check,
        auth_require_tls=True,
    )
    controller.start()
    channel = SmtpEmail(
        "127.0.0.1",
        port,
        from_address="Test Co <service@example.com>",
        username="notify",
        password="s3cret",
        ssl_context=client_ctx,
    )
    yield inbox, channel
    controller.stop()


@pytest.fixture
def store(cache):
    return make_store(cache.sessions, notify={**NOTIFY, "quiet_hours": {}}, clock=lambda: NOW)


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def _settle(sessions, predicate, timeout=10.0):
    for _ in range(int(timeout / 0.05)):
        with sessions() as s:
            if predicate(s):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("not settled in time")


def test_confirmation_leaves_by_text_and_email_and_the_callbacks_follow(store, smtp):
    inbox, email = smtp
    cid, loc = store.customer(email="maria@example.com")
    job = store.book(cid, loc)  # Maria can be texted: a text
    ann, ann_loc = store.customer(name="Ann Lee", phone="(214) 555-0177", email="ann@example.com")
    with store.sessions.begin() as s:  # Ann can't: an email
        s.scalar(select(ContactMethod).where(ContactMethod.value == "+12145550177")).do_not_text = True
    ann_job = store.book(ann, ann_loc)

    async def scenario():
        rig = await start_rig(store.sessions, clock=lambda: NOW)
        try:
            sender = NotifySender(store.sessions, sms=rig.sms(), email=email, clock=lambda: NOW)
            async with aiohttp.ClientSession() as http:
                sender._http = http
                assert await sender.drain_once() == 2  # the two confirmations; reminders are for later
                await _settle(
                    store.sessions,
                    lambda s: (
                        s.scalar(
                            select(Notification.status).where(
                                Notification.channel == Channel.SMS,
                                Notification.kind == NoticeKind.CONFIRMATION,
                            )
                        )
                        is NoticeStatus.DELIVERED
                    ),
                )
            return rig.sim.messages
        finally:
            await rig.close()

    sent = _run(scenario())
    assert [(m.to, m.from_) for m in sent] == [(CUSTOMER, COMPANY_NUMBER)]
    assert sent[0].body.startswith("Hi Maria Garcia: Tue Dec 1 between 8 AM and 12 PM, job ")
    assert [rcpt for rcpt, _ in inbox.messages] == [["ann@example.com"]]
    assert inbox.messages[0][1]["Subject"] == "Your appointment with Test Co on Tue Dec 1"
    assert "Hi Ann Lee," in inbox.messages[0][1].get_content()
    (text,) = store.messages(job_id=job, kind=NoticeKind.CONFIRMATION)
    assert text.status is NoticeStatus.DELIVERED and text.provider_id == sent[0].sid and text.sent_at
    (mail,) = store.messages(job_id=ann_job, kind=NoticeKind.CONFIRMATION)
    assert mail.channel is Channel.EMAIL and mail.status is NoticeStatus.SENT


def test_bad_signatures_and_malformed_webhooks_are_403_and_store_nothing(store):
    async def scenario():
        rig = await start_rig(store.sessions, clock=lambda: NOW)
        try:
            async with aiohttp.ClientSession() as http:
                params = {
                    "MessageSid": "SM" + "1" * 32,
                    "From": CUSTOMER,
                    "To": COMPANY_NUMBER,
                    "Body": "STOP",
                }
                url = rig.base + INBOUND_PATH
                bad = {"X-Twilio-Signature": RequestValidator("wrong-token").compute_signature(url, params)}
                async with http.post(url, data=params, headers=bad) as r:
                    forged = r.status
                async with http.post(url, data=params) as r:
                    unsigned = r.status
                no_sid = {"From": CUSTOMER, "Body": "STOP"}
                good = {"X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(url, no_sid)}
                async with http.post(url, data=no_sid, headers=good) as r:
                    malformed = r.status
                status = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"}
                surl = rig.base + STATUS_PATH
                bad = {"X-Twilio-Signature": RequestValidator("wrong-token").compute_signature(surl, status)}
                async with http.post(surl, data=status, headers=bad) as r:
                    forged_status = r.status
            return forged, unsigned, malformed, forged_status
        finally:
            await rig.close()

    cid, loc = store.customer()
    assert _run(scenario()) == (403, 403, 403, 403)
    with store.sessions() as s:
        assert s.scalar(select(InboundMessage.id)) is None
        assert not any(s.scalars(select(ContactMethod.do_not_text)))


def test_inbound_keywords_opt_out_opt_in_help_confirm_and_replies(store):
    cid, loc = store.customer()
    job = store.book(cid, loc)

    async def scenario():
        rig = await start_rig(store.sessions, clock=lambda: NOW)
        try:
            statuses = []
            for body in (" stop ", "Stop please", "START", "help", "c", "Is the tech bringing a ladder?"):
                statuses.append(await rig.sim.text_in(CUSTOMER, COMPANY_NUMBER, body))
                if body == " stop ":
                    with store.sessions() as s:  # at once, before anything else arrives
                        assert s.scalar(
                            select(ContactMethod.do_not_text).where(ContactMethod.value == CUSTOMER)
                        )
            return statuses
        finally:
            await rig.close()

    assert _run(scenario()) == [200] * 6
    with store.sessions() as s:
        inbound = list(s.scalars(select(InboundMessage).order_by(InboundMessage.created_at)))
        assert [m.kind for m in inbound] == [
            InboundKind.OPT_OUT,
            InboundKind.MESSAGE,  # not the whole message: not an opt-out
            InboundKind.OPT_IN,
            InboundKind.HELP,
            InboundKind.CONFIRM,
            InboundKind.MESSAGE,
        ]
        assert [m.handled for m in inbound] == [True, False, True, True, True, False]
        assert not s.scalar(select(ContactMethod.do_not_text).where(ContactMethod.value == CUSTOMER))
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.entity == "contact")))
        assert actions == ["opt_out", "opt_in"]
        assert s.scalar(select(Appointment.confirmed_at).where(Appointment.job_id == job)) is not None
        help_reply = s.scalar(select(Notification).where(Notification.kind == NoticeKind.HELP))
        assert help_reply.to_address == CUSTOMER and "Reply C to confirm, STOP to opt out" in help_reply.body


def test_error_21610_marks_the_number_opted_out_and_the_failure_is_visible(store):
    cid, loc = store.customer()
    store.book(cid, loc)

    async def scenario():
        rig = await start_rig(store.sessions, clock=lambda: NOW)
        rig.sim.behave[CUSTOMER] = Behaviour(api_error="21610")
        try:
            sender = NotifySender(store.sessions, sms=rig.sms(), clock=lambda: NOW)
            async with aiohttp.ClientSession() as http:
                sender._http = http
                await sender.drain_once()
        finally:
            await rig.close()

    _run(scenario())
    msg = store.messages(kind=NoticeKind.CONFIRMATION)[0]
    assert msg.status is NoticeStatus.FAILED and msg.error_code == "21610"
    assert "opted out" in msg.error
    with store.sessions() as s:
        assert s.scalar(select(ContactMethod.do_not_text).where(ContactMethod.value == CUSTOMER))
    # The pending reminder to that number is now suppressed when it falls due, never sent.
    reminder = store.messages(kind=NoticeKind.REMINDER)[0]
    later = NOW + timedelta(days=1)

    async def due():
        sender = NotifySender(store.sessions, clock=lambda: later)
        await sender.drain_once()

    _run(due())
    assert store.messages(id=reminder.id)[0].status is NoticeStatus.SUPPRESSED


def test_a_landline_falls_back_to_email_and_a_5xx_is_retried(store, smtp):
    inbox, email = smtp
    cid, loc = store.customer(email="maria@example.com")
    store.book(cid, loc)  # by text: Maria's mobile (the stand-in says it is a landline)
    now = [NOW]

    async def scenario():
        rig = await start_rig(store.sessions, clock=lambda: NOW)
        rig.sim.behave[CUSTOMER] = Behaviour(delivery_error="30006")
        rig.sim.fail_next = 1
        try:
            sender = NotifySender(store.sessions, sms=rig.sms(), email=email, clock=lambda: now[0])
            async with aiohttp.ClientSession() as http:
                sender._http = http
                await sender.drain_once()  # the text meets a 500: retried later; the email goes
                sms = store.messages(kind=NoticeKind.CONFIRMATION, channel=Channel.SMS)[0]
                assert sms.status is NoticeStatus.PENDING and "Will retry" in sms.error and sms.attempts == 1
                assert as_utc(sms.next_attempt_at) > NOW
                now[0] = NOW + timedelta(minutes=1)
                await sender.drain_once()
                await _settle(
                    store.sessions,
                    lambda s: (
                        s.scalar(select(Notification.status).where(Notification.id == sms.id))
                        is NoticeStatus.UNDELIVERED
                    ),
                )
                await sender.drain_once()  # the fallback email
        finally:
            await rig.close()

    _run(scenario())
    sms = store.messages(kind=NoticeKind.CONFIRMATION, channel=Channel.SMS)[0]
    assert sms.error_code == "30006" and "landline" in sms.error
    (fallback,) = store.messages(kind=NoticeKind.CONFIRMATION, channel=Channel.EMAIL)
    assert fallback.status is NoticeStatus.SENT and fallback.to_address == "maria@example.com"
    assert [rcpt for rcpt, _ in inbox.messages] == [["maria@example.com"]]


def test_a_bounced_address_is_recorded_on_the_message(store, smtp):
    inbox, email = smtp
    cid, loc = store.customer(email="bounce@example.com")
    with store.sessions.begin() as s:
        s.scalar(select(ContactMethod).where(ContactMethod.kind == "MobilePhone")).do_not_text = True
    store.book(cid, loc)

    async def scenario():
        sender = NotifySender(store.sessions, email=email, clock=lambda: NOW)
        await sender.drain_once()

    _run(scenario())
    mail = store.messages(kind=NoticeKind.CONFIRMATION, channel=Channel.EMAIL)[0]
    assert mail.status is NoticeStatus.FAILED and mail.error_code == "550" and "bounced" in mail.error
    assert inbox.messages == []


def test_a_burst_of_status_callbacks_is_stored_in_groups_and_each_answered(store):
    cid, loc = store.customer()
    store.book(cid, loc)

    async def scenario():
        rig = await start_rig(store.sessions, clock=lambda: NOW)
        try:
            sender = NotifySender(store.sessions, sms=rig.sms(), clock=lambda: NOW)
            async with aiohttp.ClientSession() as http:
                sender._http = http
                await sender.drain_once()
            (msg,) = store.messages(kind=NoticeKind.CONFIRMATION)
            url = rig.base + STATUS_PATH
            validator = RequestValidator(TOKEN)
            # The same callbacks Twilio may deliver again, out of order, all at once.
            bursts = [
                {"MessageSid": msg.provider_id, "MessageStatus": status, "AccountSid": "AC1"}
                for status in ("delivered", "sent", "sent", "delivered", "queued") * 10
            ]
            async with aiohttp.ClientSession() as http:

                async def post(params):
                    headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
                    async with http.post(url, data=params, headers=headers) as r:
                        return r.status

                return await asyncio.gather(*(post(p) for p in bursts))
        finally:
            await rig.close()

    assert _run(scenario()) == [200] * 50
    (msg,) = store.messages(kind=NoticeKind.CONFIRMATION)
    assert msg.status is NoticeStatus.DELIVERED  # a late "sent" or "queued" never undoes it
