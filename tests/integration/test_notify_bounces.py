"""Email bounces that arrive later (docs/notifications.md, "Bounces"), over real SMTP both ways: the
sender's VERP envelope sender seen by a real relay (aiosmtpd), then delivery status notifications fed by
smtplib into the server's bounce receiver (aiosmtpd inside csr-server's loop), and the message shown as
bounced with its reason (the store, the change log consoles pull, the console's Messages tab model)."""

from __future__ import annotations

import asyncio
import signal
import smtplib
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from models.customers import ContactMethod
from models.message_queries import customer_messages
from models.notifications import Channel, NoticeKind, NoticeStatus, Notification
from models.sync_tables import ChangeRow
from sync.bounce_receiver import BounceStore, start_bounce_receiver
from sync.messaging import SmtpEmail
from sync.notify_sender import NotifySender
from tests.unit.booking_setup import NOW
from tests.unit.notify_setup import NOTIFY, make_store

DOMAIN = "bounce.test.example"


class Relay:
    """The company's outbound relay: takes every mail and keeps its envelope."""

    def __init__(self) -> None:
        self.mail: list[tuple[str, list[str], object]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        msg = message_from_bytes(envelope.content, policy=policy.default)
        self.mail.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def relay():
    inbox = Relay()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    channel = SmtpEmail(
        "127.0.0.1",
        port,
        from_address="Test Co <service@example.com>",
        require_tls=False,
        bounce_domain=DOMAIN,
    )
    yield inbox, channel
    controller.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, cache):
    """The server's store: the SQLite cache, or a fresh PostgreSQL database (the row lock of the write
    path is PostgreSQL's FOR UPDATE there)."""
    notify = {**NOTIFY, "quiet_hours": {}}
    if request.param == "sqlite":
        yield make_store(cache.sessions, notify=notify, clock=lambda: NOW)
        return
    from sqlalchemy.orm import sessionmaker

    from models.db import open_server_db
    from tests.web_setup import fresh_postgres

    gen = fresh_postgres(request.getfixturevalue("postgres_url"))
    engine = open_server_db(next(gen))
    try:
        yield make_store(sessionmaker(engine, expire_on_commit=False), notify=notify, clock=lambda: NOW)
    finally:
        engine.dispose()
        gen.close()


def _emailed(store, relay) -> tuple[str, str, Notification]:
    """A customer who can only be emailed, booked; the confirmation sent through the relay."""
    _inbox, email = relay
    cid, loc = store.customer(email="ann@example.com")
    with store.sessions.begin() as s:
        s.scalar(select(ContactMethod).where(ContactMethod.kind == "MobilePhone")).do_not_text = True
    store.book(cid, loc)

    async def send():
        sender = NotifySender(store.sessions, email=email, clock=lambda: NOW)
        assert await sender.drain_once() == 1

    asyncio.run(asyncio.wait_for(send(), 30))
    (mail,) = store.messages(kind=NoticeKind.CONFIRMATION, channel=Channel.EMAIL)
    assert mail.status is NoticeStatus.SENT
    return cid, loc, mail


def dsn(
    to: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <ann@example.com>: Recipient address rejected: User unknown",
    recipient: str = "ann@example.com",
    report_type: str = "delivery-status",
) -> bytes:
    head, _, tail = diagnostic.rpartition(" ") if len(diagnostic) > 40 else (diagnostic, "", "")
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        f"To: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="BOUNDARY"\r\n'
        f"\r\n"
        f"--BOUNDARY\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n"
        f"\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"\r\n"
        f"--BOUNDARY\r\n"
        f"Content-Type: message/delivery-status\r\n"
        f"\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n"
        f"Arrival-Date: Mon, 30 Nov 2026 15:00:00 +0000\r\n"
        f"\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Original-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mail.example.com\r\n"
        f"Diagnostic-Code: {head}\r\n"
        f"    {tail}\r\n"
        f"\r\n"
        f"--BOUNDARY\r\n"
        f"Content-Type: text/rfc822-headers\r\n"
        f"\r\n"
        f"From: Test Co <service@example.com>\r\n"
        f"To: {recipient}\r\n"
        f"Subject: Your appointment with Test Co on Tue Dec 1\r\n"
        f"\r\n"
        f"--BOUNDARY--\r\n"
    ).encode()


class Receiver:
    """The server's bounce receiver on a loop of its own thread (as inside csr-server's loop)."""

    def __init__(self, sessions, *, lmtp: bool = False) -> None:
        self.versions: list[int] = []
        self.store = BounceStore(sessions, DOMAIN, clock=lambda: NOW, on_committed=self.versions.append)
        self.lmtp = lmtp

    async def __aenter__(self):
        self.running = await start_bounce_receiver(self.store, "127.0.0.1", 0, lmtp=self.lmtp)
        return self

    async def __aexit__(self, *exc):
        await self.running.stop()

    async def send(self, rcpts: list[str], raw: bytes, mail_from: str = "") -> dict:
        def go():
            cls = smtplib.LMTP if self.lmtp else smtplib.SMTP
            with cls("127.0.0.1", self.running.port, timeout=10) as client:
                return client.sendmail(mail_from, rcpts, raw)

        return await asyncio.to_thread(go)


def _changes(sessions, message_id: str) -> int:
    with sessions() as s:
        return s.scalar(
            select(func.count()).where(ChangeRow.entity == "notifications", ChangeRow.entity_id == message_id)
        )


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_verp_sender_then_a_dsn_bounces_the_message_once_and_the_csr_sees_why(store, relay, qapp):
    inbox, _email = relay
    cid, _loc, mail = _emailed(store, relay)
    ((mail_from, rcpts, msg),) = inbox.mail
    assert mail_from == f"bounces+{mail.id}@{DOMAIN}"  # the envelope sender names the message
    assert rcpts == ["ann@example.com"]
    assert msg["From"] == "Test Co <service@example.com>"  # the visible From stays the company's
    before = _changes(store.sessions, mail.id)

    async def scenario(receiver_box: list):
        async with Receiver(store.sessions) as receiver:
            receiver_box.append(receiver)
            assert await receiver.send([mail_from], dsn(mail_from)) == {}
            first = store.messages(id=mail.id)[0]
            again = await receiver.send([mail_from.upper().replace("BOUNCES", "bounces")], dsn(mail_from))
            return first, again

    box: list = []
    first, again = _run(scenario(box))
    assert first.status is NoticeStatus.FAILED and first.error_code == "5.1.1"
    assert first.error.startswith("The address bounced (5.1.1): 550 5.1.1 <ann@example.com>:")
    assert "Recipient address rejected: User unknown" in first.error
    assert again == {}  # accepted ("Already recorded"): the same report twice changes nothing more
    (after,) = store.messages(id=mail.id)
    assert (after.status, after.error, after.status_at) == (first.status, first.error, first.status_at)
    assert _changes(store.sessions, mail.id) == before + 1  # one change-log row: consoles see it once
    assert len(box[0].versions) == 1 and box[0].running.handler.stored == 1

    # What the CSR reads on the customer's Messages tab (the query and the tab's own model).
    with store.sessions() as s:
        (row,) = [r for r in customer_messages(s, cid) if r.id == mail.id]
    assert row.state == "Failed" and row.why.startswith("The address bounced (5.1.1)")
    from PySide6.QtCore import Qt

    from widgets.messages_tab import MessagesModel

    model = MessagesModel()
    model.set_rows([row])
    cols = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(6)]
    state = model.data(model.index(0, cols.index("State")))
    why = model.data(model.index(0, cols.index("Why")))
    assert state == "Failed" and "User unknown" in why


def test_unknown_forged_or_non_dsn_mail_is_refused_and_nothing_changes(store, relay):
    _cid, _loc, mail = _emailed(store, relay)
    good = f"bounces+{mail.id}@{DOMAIN}"
    unknown = f"bounces+{'0' * 32}@{DOMAIN}"
    before = _changes(store.sessions, mail.id)

    async def scenario():
        answers = {}
        async with Receiver(store.sessions) as receiver:
            for name, rcpt in (
                ("unknown id", unknown),
                ("other domain", f"bounces+{mail.id}@evil.example"),
                ("not an id", f"bounces+nothex@{DOMAIN}"),
                ("other mailbox", f"postmaster@{DOMAIN}"),
            ):
                with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                    await receiver.send([rcpt], dsn(rcpt))
                answers[name] = refused.value.recipients[rcpt]
            plain = (
                f"From: ann@example.com\r\nTo: {good}\r\nSubject: Re: your appointment\r\n\r\n"
                "Thanks, see you Tuesday!\r\n"
            ).encode()
            for name, raw in (
                ("a reply", plain),
                ("a read receipt", dsn(good, report_type="disposition-notification")),
                ("garbage action", dsn(good, action="exploded")),
                ("garbage status", dsn(good, status="five")),
            ):
                with pytest.raises(smtplib.SMTPDataError) as refused:
                    await receiver.send([good], raw)
                answers[name] = (refused.value.smtp_code, refused.value.smtp_error)
            return answers, receiver.running.handler.refused

    answers, refused = _run(scenario())
    for name in ("unknown id", "other domain", "not an id", "other mailbox"):
        code, text = answers[name]
        assert code == 550 and b"5.1.1 Unknown bounce address" in text, (name, text)
    assert b"no such message" in answers["unknown id"][1]
    for name in ("a reply", "a read receipt", "garbage action", "garbage status"):
        code, text = answers[name]
        assert code == 550 and text.startswith(b"5.6.0 Not stored"), (name, text)
    assert b"disposition-notification" in answers["a read receipt"][1]
    assert refused == 8
    (after,) = store.messages(id=mail.id)
    assert after.status is NoticeStatus.SENT and after.error == "" and after.error_code == ""
    assert _changes(store.sessions, mail.id) == before


def test_a_text_or_an_unsent_message_takes_no_bounce(store, relay):
    cid, loc = store.customer()  # a mobile: a text; nothing sent yet
    store.book(cid, loc)
    (text,) = store.messages(kind=NoticeKind.CONFIRMATION, channel=Channel.SMS)

    async def scenario():
        async with Receiver(store.sessions) as receiver:
            rcpt = f"bounces+{text.id}@{DOMAIN}"
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                await receiver.send([rcpt], dsn(rcpt))
            return refused.value.recipients[rcpt]

    code, said = _run(scenario())
    assert code == 550 and b"no such message" in said
    assert store.messages(id=text.id)[0].status is NoticeStatus.PENDING


def test_delayed_is_a_note_then_a_plain_text_bounce_fails_it(store, relay):
    cid, _loc, mail = _emailed(store, relay)
    rcpt = f"bounces+{mail.id}@{DOMAIN}"
    plain = (
        f"From: MAILER-DAEMON@old-mx.example.org\r\nTo: {rcpt}\r\nSubject: failure notice\r\n\r\n"
        "Hi. This is the qmail-send program at old-mx.example.org.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"
        "<ann@example.com>:\r\n"
        "Remote host said: 552 5.2.2 Mailbox full\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        f"Return-Path: <{rcpt}>\r\nFrom: Test Co <service@example.com>\r\n"
    ).encode()

    async def scenario():
        async with Receiver(store.sessions) as receiver:
            delayed = dsn(
                rcpt,
                action="delayed",
                status="4.4.7",
                diagnostic="smtp; 451 4.4.7 Try again later, greylisted",
            )
            await receiver.send([rcpt], delayed, mail_from="")
            noted = store.messages(id=mail.id)[0]
            await receiver.send([rcpt], delayed)  # again: nothing more
            count = _changes(store.sessions, mail.id)
            await receiver.send([rcpt], plain)
            return noted, count

    before = _changes(store.sessions, mail.id)
    noted, count = _run(scenario())
    assert noted.status is NoticeStatus.SENT and noted.error_code == "4.4.7"
    assert noted.error.startswith("Delayed (4.4.7), the mail server is still trying: 451 4.4.7")
    assert count == before + 1
    (bounced,) = store.messages(id=mail.id)
    assert bounced.status is NoticeStatus.FAILED and bounced.error_code == "5.2.2"
    assert "Mailbox full" in bounced.error
    with store.sessions() as s:
        (row,) = [r for r in customer_messages(s, cid) if r.id == mail.id]
    assert row.state == "Failed" and "5.2.2" in row.why


def test_lmtp_answers_each_recipient(store, relay):
    _cid, _loc, mail = _emailed(store, relay)
    good = f"bounces+{mail.id}@{DOMAIN}"

    async def scenario():
        async with Receiver(store.sessions, lmtp=True) as receiver:
            return await receiver.send([good, f"bounces+{'1' * 32}@{DOMAIN}"], dsn(good))

    refused = _run(scenario())
    assert list(refused.values())[0][0] == 550  # the unknown one, at RCPT
    assert store.messages(id=mail.id)[0].status is NoticeStatus.FAILED


def test_csr_server_run_reads_bounces_by_smtp(tmp_path):
    """The real `csr-server run --bounce-smtp … --bounce-domain …`: a DSN for an email it sent fails
    the message; an unknown id is refused; the receiver without a domain refuses to start."""
    import subprocess
    import sys
    from pathlib import Path

    from sync.server_cli import _sessions

    root = Path(__file__).resolve().parents[2]
    db = str(tmp_path / "server.sqlite3")
    cli = [sys.executable, "-m", "sync.server_cli", "--db", db]
    init = subprocess.run([*cli, "init", "--password-stdin"], input="admin password 1\n", text=True, cwd=root)
    assert init.returncode == 0
    missing = subprocess.run(
        [*cli, "run", "--port", "0", "--bounce-smtp", "127.0.0.1:0"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "need --bounce-domain" in missing.stderr
    sessions = _sessions(db)
    with sessions.begin() as s:
        row = Notification(
            key="test:bounce|email:ann@example.com",
            kind=NoticeKind.CONFIRMATION,
            channel=Channel.EMAIL,
            status=NoticeStatus.SENT,
            to_address="ann@example.com",
            subject="Your appointment",
            body="Hi Ann",
        )
        s.add(row)
        s.flush()
        message_id = row.id
    proc = subprocess.Popen(
        [*cli, "run", "--port", "0", "--bounce-smtp", "127.0.0.1:0", "--bounce-domain", DOMAIN],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert f"bounces for *@{DOMAIN} read by SMTP on 127.0.0.1:" in line, proc.stderr.read()
        port = int(line.rsplit(":", 1)[1])
        assert "listening on ws://" in proc.stdout.readline()
        rcpt = f"bounces+{message_id}@{DOMAIN}"
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.sendmail("", [rcpt], dsn(rcpt)) == {}
            unknown = f"bounces+{'2' * 32}@{DOMAIN}"
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                client.sendmail("", [unknown], dsn(unknown))
        with sessions() as s:
            stored = s.get(Notification, message_id)
            assert stored.status is NoticeStatus.FAILED and stored.error_code == "5.1.1"
        assert _changes(sessions, message_id) == 1  # the bounce's change-log row (the insert wrote none)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
